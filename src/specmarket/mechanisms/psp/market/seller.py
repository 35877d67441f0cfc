"""The seller (seed 002 Lemma 3.3, Algorithm 1): one local auction and its reserve.

Seller ``j`` knows only the bids ``s_i^j = (d_i^j, p_i^j)`` sent to it. Each time its bid vector
changes it allocates to the highest prices first (eq. (20); equal prices share in proportion to
quantity), returns data when a winner opts out, and moves its reserve to the price of ``i*``, the
highest bid outside its minimal covering set ``I^j``, plus ε (eqs. (25), (27)), capped at the
ISP's overage price ``p^κ`` (§3.4.4). The rules on one bid vector are the pure functions of
:mod:`specmarket.mechanisms.psp.local_auction` (the readable reference); the allocation run here
uses their compiled twins from :mod:`.engine`.
"""

from __future__ import annotations

import bisect
import copy
import itertools
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from specmarket.mechanisms.psp.local_auction import reserve_after
from specmarket.mechanisms.psp.market.engine import (
    allocate_fast,
    outsider_price_fast,
    own_cost_excl,
    own_cost_pair,
)

if TYPE_CHECKING:
    from specmarket.mechanisms.psp.market.engine import _Book

__all__ = ["_Seller"]

_TOL = 1e-9


@dataclass
class _Seller:
    """One local auction: bid vector, tentative allocation, reserve (Algorithm 1 state)."""

    id: str
    rank: int
    supply: float
    reserve: float
    bids: dict[str, tuple[float, float]] = field(default_factory=dict)
    alloc: dict[str, float] = field(default_factory=dict)
    _neg: list[float] = field(default_factory=list)
    _cum: list[float] = field(default_factory=list)
    _dirty: bool = True
    _qp: np.ndarray | None = None  # the bids as a matrix (:meth:`others`), None when stale
    _row: dict[str, int] = field(default_factory=dict)
    _buf: np.ndarray | None = None  # _qp is a view of its first rows (room to append)
    _holes: int = 0  # rows of _qp left as (0, 0) by withdrawn bids
    naive: bool = False
    _prev_out: float | None = None
    strikes: int = 0  # price-war runs since the reserve last rose (Policy.second_strike)
    _partial: dict[str, tuple[float, float]] | None = None  # partially served bids, last run
    book: _Book | None = None

    def _matrix(self) -> np.ndarray:
        """The bid vector as rows ``(quantity, price)`` in dictionary order (cached), with
        possibly some *holes*: rows ``(0, 0)`` left by withdrawn bids (:meth:`set_bid`).

        A hole changes no number of :func:`.engine.own_cost_excl` or
        :func:`.engine.own_cost_pair`: eq. (20) (``allocate``) skips bids of quantity 0, so the
        others' allocations and their order are those of the matrix without it, and its terms
        of the eq. (21) sums are exact zeros. The matrix is rebuilt when holes outnumber bids.
        """
        if self._qp is None:
            n = len(self.bids)
            flat = itertools.chain.from_iterable(self.bids.values())
            buf = np.empty((max(8, 2 * n), 2))
            buf[:n] = np.fromiter(flat, float, 2 * n).reshape(n, 2)
            self._buf, self._qp, self._holes = buf, buf[:n], 0
            self._row = {k: i for i, k in enumerate(self.bids)}
        return self._qp

    def bid_matrix(self) -> np.ndarray:
        """The cached bid matrix of :meth:`_matrix`: rows ``(quantity, price)`` in dictionary
        order, withdrawn bids as holes ``(0, 0)`` (the compiled book's rows skip them,
        :meth:`.engine._Book.refresh`)."""
        return self._matrix()

    def others(self, buyer: str, mine: tuple[float, float]) -> np.ndarray:
        """The bid vector as rows ``(quantity, price)`` with ``buyer``'s bid replaced by ``mine``
        as the last row (in dictionary order otherwise, no holes); the matrix is cached between
        changes."""
        self._matrix()
        assert self._qp is not None
        k = self._row.get(buyer)
        if self._holes:
            keep = self._qp[:, 0] > 0  # live bids have positive quantities, holes 0
            if k is not None:
                keep[k] = False
            qp = self._qp[keep]
        else:
            qp = self._qp if k is None else np.delete(self._qp, k, axis=0)
        return np.vstack((qp, np.array([mine], dtype=float)))

    def own_cost(self, buyer: str, mine: tuple[float, float]) -> tuple[float, float]:
        """``buyer``'s eq. (20) allocation and eq. (21) cost here if it bid ``mine`` instead of
        its bid, the others' bids as they are, at the current reserve: one compiled call
        (:func:`.engine.own_cost_excl`) on the cached bid matrix, the numbers of
        ``own_cost_fast(self.others(buyer, mine), supply, reserve)`` up to the order of sums."""
        qp = self._matrix()
        return own_cost_excl(qp, self._row.get(buyer, -1), mine, self.supply, self.reserve)

    def own_cost_pair(
        self, buyer: str, new: tuple[float, float], cur: tuple[float, float]
    ) -> tuple[float, float, float, float]:
        """:meth:`own_cost` of two bids of ``buyer`` (``new``, ``cur``; quantity ``≤ 0``: not
        evaluated, ``(0, 0)``) in one compiled call (:func:`.engine.own_cost_pair`), bit for bit
        two :meth:`own_cost` calls."""
        qp = self._matrix()
        return own_cost_pair(qp, self._row.get(buyer, -1), new, cur, self.supply, self.reserve)

    def set_bid(self, buyer: str, q: float, p: float) -> None:
        """Replace ``buyer``'s bid (``q ≤ 0``: withdraw it), keeping the cached matrix of
        :meth:`_matrix` in dictionary order without rebuilding it: a changed bid keeps its row,
        a new bidder (last in the dictionary) gets a new last row, a withdrawn bid leaves a
        hole."""
        qp = self._qp
        row = self._row.get(buyer) if qp is not None else None
        if q <= 0:
            if self.bids.pop(buyer, None) is not None and qp is not None and row is not None:
                qp[row, 0] = qp[row, 1] = 0.0
                del self._row[buyer]
                self._holes += 1
                if self._holes > max(4, len(self.bids)):  # mostly holes: rebuild when needed
                    self._qp = None
        else:
            self.bids[buyer] = (q, p)
            if qp is None:
                pass  # rebuilt when next needed
            elif row is None:  # a new bidder comes last in the dictionary: a new last row
                n = qp.shape[0]
                buf = self._buf
                assert buf is not None
                if n == buf.shape[0]:
                    buf = np.empty((2 * n, 2))
                    buf[:n] = qp
                    self._buf = buf
                buf[n, 0], buf[n, 1] = q, p
                self._qp = buf[: n + 1]
                self._row[buyer] = n
            else:  # a changed bid keeps its place in the dictionary, and its row
                qp[row, 0], qp[row, 1] = q, p
        self._dirty = True
        if self.book is not None:
            self.book.dirty.add(self.rank)

    def _index(self) -> None:
        items = sorted(self.bids.values(), key=lambda qp: -qp[1])
        self._neg = [-p for _, p in items]
        cum = [0.0]
        for q, _ in items:
            cum.append(cum[-1] + q)
        self._cum = cum
        self._dirty = False

    def above(self, y: float) -> float:
        """Σ d_k over bids with p_k > y (the subtrahend of eq. (18))."""
        if self.naive:  # the straightforward reference: scan every bid
            return sum(q for q, p in self.bids.values() if p > y + _TOL)
        if self._dirty:
            self._index()
        k = bisect.bisect_left(self._neg, -(y + _TOL))
        return self._cum[k]

    def available_to(self, buyer: str, y: float) -> float:
        """Eq. (18) for ``buyer`` at price ``y`` (its own bid excluded), counting equal prices.

        The buyer plans with the Lazar–Semret "≥" rule (bids at its own price are served before
        it): under the eq. (20) split it can then be sure to receive what it plans for, instead
        of being squeezed by a tie it cannot see in eq. (18)'s strict ">".
        """
        used = self.above(y - 2 * _TOL)
        own = self.bids.get(buyer)
        if own is not None and own[1] >= y - _TOL:
            used -= own[0]
        return max(0.0, self.supply - used)

    def run_auction(
        self,
        epsilon: float,
        cap: float,
        sticky: bool,
        patient: bool = False,
        second_strike: int = 0,
        winner_cap: bool = False,
        descend: bool = False,
        rise_limit: int = 0,
        step_down: bool = False,
    ) -> None:
        """Algorithm 1's step: the eq. (20) allocation, then the eq. (27) reserve for the next run.

        ``patient`` (reserve policy, our option): raise the reserve only when a bid was left
        outside ``I^j`` in two consecutive runs, to the lower of the two outsider prices + ε.
        ``second_strike = k > 0`` (:class:`~.policy.Policy`): a run is a *price war* when the
        seller is over-demanded (an admitted bid is not fully served) and its partially served
        bids differ from the previous run's (someone re-bid, the seller is still over-demanded);
        at the ``k``-th price war since the reserve last rose the reserve goes to the highest
        partially served price + ε. After any rise the allocation is recomputed at the new
        reserve, so that what the seller holds is what it would allocate.
        ``winner_cap`` (:class:`~.policy.Policy`): a rise of the reserve by eq. (27) or the
        patient rule stops at the lowest price in ``I^j`` (:func:`_lowest_winner`), so that the
        reserve never shuts out the bids that cover the supply. ``descend``: a seller left with
        unsold data while bids lie below its reserve lowers the reserve to the highest of them
        (the sticky reserve of eq. (27) remembers a demand that has since moved elsewhere).
        ``step_down`` (with ``descend``): left with unsold data and no bid below its reserve, the
        seller lowers the reserve by ε (not below ε): the bids its reserve priced out have left
        it, so ``descend`` alone no longer sees them (docs/psp.md, "Efficiency", loss 4).
        """
        n = len(self.bids)
        qp = np.fromiter(itertools.chain.from_iterable(self.bids.values()), float, 2 * n)
        qp = qp.reshape(n, 2)
        a = allocate_fast(qp, self.supply, self.reserve)
        self.alloc = dict(zip(self.bids, a.tolist(), strict=True))
        o = outsider_price_fast(qp, self.supply)
        out = None if math.isnan(o) else o
        before = self.reserve
        if patient:
            if out is not None and self._prev_out is not None:
                self.reserve = min(max(self.reserve, min(out, self._prev_out) + epsilon), cap)
            self._prev_out = out
        else:
            self.reserve = reserve_after(self.reserve, out, epsilon, cap, sticky)
        if winner_cap and self.reserve > before + _TOL:
            self.reserve = max(before, min(self.reserve, _lowest_winner(qp, self.supply)))
        if not second_strike:
            self._limit_rise(before, epsilon, rise_limit)
            self._descend(qp, a, epsilon, descend, step_down)
            return
        short = (qp[:, 0] - a > 1e-9) & (qp[:, 1] >= before - 1e-12) & (qp[:, 0] > 0)
        ids = list(self.bids)
        partial = {ids[k]: self.bids[ids[k]] for k in np.flatnonzero(short)}
        war = bool(partial) and self._partial is not None and partial != self._partial
        self._partial = partial or None
        if self.reserve <= before + _TOL and war:  # still over-demanded, but someone re-bid
            self.strikes += 1
            if self.strikes >= second_strike:
                self.reserve = min(max(self.reserve, float(qp[short, 1].max()) + epsilon), cap)
        self._limit_rise(before, epsilon, rise_limit)
        if self.reserve > before + _TOL:
            self.strikes = 0
            a = allocate_fast(qp, self.supply, self.reserve)
            self.alloc = dict(zip(self.bids, a.tolist(), strict=True))
        self._descend(qp, a, epsilon, descend, step_down)

    def _limit_rise(self, before: float, epsilon: float, rise_limit: int) -> None:
        """``Policy.rise_limit = k > 0``: one run raises the reserve by at most ``k · ε`` (an
        ascending clock instead of eq. (27)'s jump to ``p_{i*} + ε``)."""
        if rise_limit > 0 and self.reserve > before + rise_limit * epsilon + _TOL:
            self.reserve = before + rise_limit * epsilon

    def _descend(
        self, qp: np.ndarray, a: np.ndarray, epsilon: float, on: bool, step: bool = False
    ) -> None:
        """``Policy.descend``: with unsold data, lower the reserve to the highest bid below it;
        with ``step`` (``Policy.step_down``) and no bid below, lower it by ε (not below ε)."""
        if not on or self.supply - float(a.sum()) <= 1e-9:
            return
        below = (qp[:, 0] > 0) & (qp[:, 1] < self.reserve - 1e-12)
        if below.any():
            self.reserve = max(epsilon, float(qp[below, 1].max()))
        elif step and self.reserve > epsilon + _TOL:
            self.reserve = max(epsilon, self.reserve - epsilon)
        else:
            return
        a = allocate_fast(qp, self.supply, self.reserve)
        self.alloc = dict(zip(self.bids, a.tolist(), strict=True))

    def would_move(
        self,
        epsilon: float,
        cap: float,
        sticky: bool,
        patient: bool,
        second_strike: int,
        winner_cap: bool = False,
        descend: bool = False,
        rise_limit: int = 0,
        step_down: bool = False,
    ) -> bool:
        """Whether running the auction again on the same bids would move the reserve (a copy is
        run: ``patient`` and ``second_strike`` remember earlier runs)."""
        twin = copy.copy(self)
        twin.book = None
        twin.run_auction(
            epsilon, cap, sticky, patient, second_strike, winner_cap, descend, rise_limit,
            step_down,
        )  # fmt: skip
        return abs(twin.reserve - self.reserve) > _TOL

    @property
    def sold(self) -> float:
        return float(sum(self.alloc.values()))


def _lowest_winner(qp: np.ndarray, supply: float) -> float:
    """The lowest price in ``I^j``, the smallest set of highest-priced bids whose quantities
    reach the supply ``D^j`` (eq. (25)); ``inf`` if all bids together do not reach it."""
    live = qp[qp[:, 0] > 0]
    if len(live) == 0:
        return math.inf
    order = np.argsort(-live[:, 1], kind="stable")
    cum = np.cumsum(live[order, 0])
    k = int(np.searchsorted(cum, supply - 1e-9))
    return math.inf if k >= len(cum) else float(live[order[k], 1])
