"""The compiled engine: the only module that imports the numba kernels (:mod:`.._kernels`).

* :class:`_Book` — every seller's bid vector as a sorted row with prefix sums in flat buffers;
* :func:`best_reply_fast` — the buyer's reply of :func:`.buyer.best_reply_reference` computed in
  compiled loops over the book (bit for bit the same bids; the tests compare whole traces);
* :func:`allocate_fast`, :func:`outsider_price_fast` — compiled twins of
  :func:`~specmarket.mechanisms.psp.local_auction.allocate` (eq. (20)) and
  :func:`~specmarket.mechanisms.psp.local_auction.outsider_price` (eq. (25));
* :func:`own_cost_fast` — one bidder's eq. (21) cost at one seller.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from specmarket.mechanisms.psp import _kernels
from specmarket.mechanisms.psp.market.valuation import isp_quantity

if TYPE_CHECKING:
    from specmarket.mechanisms.psp.market.buyer import _Buyer
    from specmarket.mechanisms.psp.market.seller import _Seller

__all__ = [
    "_Book",
    "allocate_fast",
    "best_reply_fast",
    "candidates_fast",
    "hint",
    "outsider_price_fast",
    "own_cost_excl",
    "own_cost_fast",
    "own_cost_pair",
    "own_cost_with",
    "probe",
]


def allocate_fast(qp: np.ndarray, supply: float, reserve: float) -> np.ndarray:
    """Eq. (20) on the bids ``qp[k] = (quantity, price)`` (compiled ``local_auction.allocate``)."""
    out: np.ndarray = _kernels.allocate(qp, supply, reserve)
    return out


def outsider_price_fast(qp: np.ndarray, supply: float) -> float:
    """Price of ``i*`` of eq. (25), NaN if no bid lies outside ``I^j``."""
    return float(_kernels.outsider_price(qp, supply))


def own_cost_fast(qp: np.ndarray, supply: float, reserve: float) -> tuple[float, float]:
    """Allocation and eq. (21) cost of the *last* bid of ``qp`` at one seller.

    ``c = Σ_k p_k [a_k(without) − a_k(with)] + p_* [unsold(without) − unsold(with)]``, the
    reserve valuing the seller's unsold data (as :func:`~..local_auction.costs`).
    """
    with_ = _kernels.allocate(qp, supply, reserve)
    mine = float(with_[-1])
    if mine <= 1e-12:
        return 0.0, 0.0
    without = _kernels.allocate(qp[:-1], supply, reserve)
    diff = without - with_[:-1]
    unsold_diff = float(with_.sum()) - float(without.sum())
    return mine, float(np.dot(qp[:-1, 1], diff)) + reserve * unsold_diff


def own_cost_excl(
    bids: np.ndarray, row: int, mine: tuple[float, float], supply: float, reserve: float
) -> tuple[float, float]:
    """:func:`own_cost_fast` of ``bids`` without row ``row`` (``-1``: none) plus ``mine`` last,
    in one compiled call (:func:`.._kernels.own_cost_excl`: no array is built in Python; the
    eq. (21) sums are taken left to right, so the last bits may differ from numpy's)."""
    got, cost = _kernels.own_cost_excl(bids, row, mine[0], mine[1], supply, reserve)
    return float(got), float(cost)


def own_cost_pair(
    bids: np.ndarray,
    row: int,
    new: tuple[float, float],
    cur: tuple[float, float],
    supply: float,
    reserve: float,
) -> tuple[float, float, float, float]:
    """:func:`own_cost_excl` for the bids ``new`` and ``cur`` of one bidder at one seller in one
    compiled call (:func:`.._kernels.own_cost_pair`, the others' allocation computed once): the
    seed 002 eq. (20) allocations and eq. (21) costs ``(a_new, c_new, a_cur, c_cur)``, bit for bit
    those of two :func:`own_cost_excl` calls; a bid of quantity ``≤ 0`` gives ``(0, 0)``."""
    out: tuple[float, float, float, float] = _kernels.own_cost_pair(
        bids, row, new[0], new[1], cur[0], cur[1], supply, reserve
    )
    return out


def own_cost_with(
    base: tuple[np.ndarray, np.ndarray, float],
    mine: tuple[float, float],
    supply: float,
    reserve: float,
) -> tuple[float, float]:
    """:func:`own_cost_fast` of the bids ``base[0]`` plus ``mine`` (last), given the allocation
    ``base[1]`` of ``base[0]`` alone and its sum ``base[2]`` at this ``reserve`` (the same
    floating-point operations, the allocation without the bidder computed once)."""
    rest, without, without_sum = base
    qp = np.empty((rest.shape[0] + 1, 2))
    qp[:-1] = rest
    qp[-1, 0], qp[-1, 1] = mine
    with_ = _kernels.allocate(qp, supply, reserve)
    got = float(with_[-1])
    if got <= 1e-12:
        return 0.0, 0.0
    diff = without - with_[:-1]
    unsold_diff = float(with_.sum()) - without_sum
    return got, float(np.dot(rest[:, 1], diff)) + reserve * unsold_diff


def probe(lo: float, hi: float, k: int, hint_: float, width: float) -> float:
    """The target search's ``k``-th test point (:func:`.._kernels.probe`)."""
    return float(_kernels.probe(lo, hi, k, hint_, width))


def hint(b: _Buyer, epsilon: float) -> float:
    """Where the target search starts (:func:`.._kernels.probe`): the supremum of the buyer's
    last reply, its target plus the shading step (−1, no hint, before its first positive one)."""
    return b.target + epsilon / b.spec.value if b.target > 0 else -1.0


class _Book:
    """All sellers' bid vectors as sorted rows in flat buffers, for the compiled buyer reply.

    Row ``j`` (the seller's rank) holds its bid prices sorted in decreasing order (stable in the
    bid dictionary's order, exactly like :meth:`.seller._Seller._index`) at ``price[start[j]:]``
    and the
    prefix sums of their quantities at ``cum[start[j]:]``, so ``Σ_{p_k > y} d_k`` of a seller is one
    binary search and one read, with the same floating-point sums as the per-seller index. Each
    row has room for ``room[j]`` bids; a row that outgrows it moves to the end of the buffers
    (which double when full) with twice the room, and :meth:`pack` lays all rows out again,
    contiguously, once per round. Rows are rebuilt
    only for sellers whose bids changed (``dirty``); reserves are refreshed once per round (they
    move only in the sellers' phase).
    """

    def __init__(self, sellers: list[_Seller]) -> None:
        n = len(sellers)
        self.sellers = sellers  # by rank
        self.ids = [s.id for s in sellers]
        self.rank_of = {s.id: s.rank for s in sellers}
        self.supply = np.array([s.supply for s in sellers], dtype=float)
        self.reserve = np.array([s.reserve for s in sellers], dtype=float)
        self.active = np.zeros(n, dtype=bool)
        self.count = np.zeros(n, dtype=np.int64)
        self.room = np.full(n, 8, dtype=np.int64)
        self.start = np.arange(n, dtype=np.int64) * 9  # a row of room r uses r + 1 cum slots
        self.end = 9 * n
        self.price = np.zeros(2 * self.end)
        self.cum = np.zeros(2 * self.end)
        self.dirty: set[int] = set(range(n))
        self.own_q = np.zeros(n)  # scratch: the replying buyer's own bids (eq. (18) excludes them)
        self.own_p = np.full(n, -np.inf)

    def _grow(self, j: int, k: int) -> None:
        """Give row ``j`` room for ``k`` bids at the end of the buffers."""
        room = max(2 * k, 8)  # rooms at least double, so abandoned blocks total < 2x the live rows
        need = self.end + room + 1
        if need > self.price.size:
            size = max(2 * self.price.size, need)
            self.price = np.resize(self.price, size)
            self.cum = np.resize(self.cum, size)
        self.start[j] = self.end
        self.room[j] = room
        self.end += room + 1

    def pack(self) -> None:
        """Rewrite the rows contiguously in rank order, each with room ``max(8, 2 · count)``.

        Called once per round. Moved rows and rooms that once grew for a crowd of bids leave the
        buffers mostly empty (10,000 × 1,000: 200,000 slots for 21,000 bids), and the replies'
        binary searches then miss the cache; packed, the rows of 1,000 sellers fit in L2 (a
        reply on a snapshot: −25 %). Same contents, so the same quotes.
        """
        self.refresh()
        room = np.maximum(8, 2 * self.count)
        start = np.zeros_like(self.start)
        np.cumsum(room[:-1] + 1, out=start[1:])
        end = int(start[-1] + room[-1] + 1)
        size = end + end // 2  # spare room for the rows that grow before the next packing
        price, cum = np.zeros(size), np.zeros(size)
        _kernels.repack(self.price, self.cum, self.start, self.count, price, cum, start)
        self.price, self.cum, self.start, self.room, self.end = price, cum, start, room, end

    def refresh(self) -> None:
        """Rebuild the rows of the sellers whose bids changed (one compiled call for all), from
        each seller's cached bid matrix (:meth:`.seller._Seller.bid_matrix`: the bids in
        dictionary order, as the bid dictionary itself gives them, and holes of quantity 0 that
        :func:`.._kernels.set_row` skips), so no bid is copied in Python."""
        if not self.dirty:
            return
        rows = list(self.dirty)
        self.dirty.clear()
        mats = [self.sellers[j].bid_matrix() for j in rows]
        sizes = np.array([m.shape[0] for m in mats], dtype=np.int64)
        for j, k in zip(rows, sizes.tolist(), strict=True):
            if k > self.room[j]:
                self._grow(j, k)
        qp = mats[0] if len(mats) == 1 else np.concatenate(mats)
        _kernels.set_rows(self.price, self.cum, self.start, self.count, np.array(rows), sizes, qp)

    def set_reserves(self) -> None:
        self.reserve = np.array([s.reserve for s in self.sellers], dtype=float)


def candidates_fast(
    b: _Buyer, book: _Book, epsilon: float, y: float
) -> list[tuple[float, int, str, float]]:
    """:func:`.buyer._capacity_candidates` over the book's active sellers at price ``y``:
    (available, rank, id, effective price), best first, from one compiled pass (the same
    eq. (18) arithmetic, :func:`.._kernels.quotes`; the tests compare the two)."""
    book.refresh()
    own_q, own_p = book.own_q, book.own_p
    mine = []
    for j in b.pool:
        r = book.rank_of[j]
        own = book.sellers[r].bids.get(b.spec.id)
        if own is not None:
            own_q[r], own_p[r] = own
            mine.append(r)
    try:
        usable = np.flatnonzero(book.active).astype(np.int64)
        a, ix, yy = _kernels.quotes(
            book.price, book.cum, book.start, book.count, book.supply, book.reserve, usable,
            own_q, own_p, epsilon, y,
        )  # fmt: skip
    finally:
        for r in mine:
            own_q[r] = 0.0
            own_p[r] = -np.inf
    order = _kernels.best_first(a, ix, np.arange(a.size))
    ids = book.ids
    return [(float(a[k]), int(ix[k]), ids[ix[k]], float(yy[k])) for k in order.tolist()]


def best_reply_fast(
    b: _Buyer, book: _Book, epsilon: float, isp_price: float, hold: bool = True
) -> tuple[dict[str, float], float, float, float]:
    """:func:`.buyer.best_reply_reference` with every seller evaluated in compiled loops
    (identical results).

    The search for the target, the pool choice and the price hold run in
    :func:`._kernels.reply` over the book's arrays; only the ISP purchase is computed here.
    """
    spec = b.spec
    own_q, own_p = book.own_q, book.own_p  # the buyer's own bids, reset before returning
    ranks = [book.rank_of[j] for j in b.pool]
    mine = []
    for r in ranks:
        own = book.sellers[r].bids.get(spec.id)
        if own is not None:
            own_q[r], own_p[r] = own
            mine.append(r)
    try:
        x, price, q, pool_ranks = _kernels.reply(
            book.price,
            book.cum,
            book.start,
            book.count,
            book.supply,
            book.reserve,
            book.active,
            own_q,
            own_p,
            epsilon,
            isp_price,
            spec.value,
            spec.demand,
            spec.elasticity,
            np.array(ranks, dtype=np.int64),
            b.price,
            hint(b, epsilon),
            hold,
        )
    finally:
        for r in mine:  # a few sellers: scalar stores beat fancy indexing
            own_q[r] = 0.0
            own_p[r] = -np.inf
    pool = {book.ids[r]: q for r in pool_ranks.tolist()}
    return pool, float(price), isp_quantity(spec, isp_price, q * pool_ranks.size), float(x)
