"""The buyer (seed 002 Lemma 3.2, §3.4.1, Algorithm 2; seed 001 Proposition 0.1).

At a unit price ``y`` the buyer ranks the sellers by the quantity available to it (eq. (18)),
takes the fewest ``n`` of them whose consistent capacity ``n · D̄_(n)(y)`` covers its target
(eq. (22), read as in seed 001 Prop. 0.1), and sends the same bid ``(x/n, y')`` to each of them
(``y'`` the highest of ``y`` and the pool's reserves) and a zero bid (opt-out) to every other
seller. The price is truthful, ``y = min(θ_i'(x), p^κ)``; the target is the truthful ε-best reply
of §4.1. Data still worth more than ``p^κ`` is bought from the ISP κ. The buyer plans with the
"≥" availability (bids at its own price are served first, docs/psp.md choice 1).

This module also holds the buyer-side rules of :class:`~.policy.Policy`: the quantity hold
(:func:`_holds`), the lot wake-ups (:func:`_lot_wakes`), lot deafness (:func:`_listen`) and the
utility of a reply (:func:`utility`, :func:`gain`) for the strict-improvement rule.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from specmarket.mechanisms.psp.local_auction import reserve_after
from specmarket.mechanisms.psp.market.engine import (
    _Book,
    allocate_fast,
    candidates_fast,
    hint,
    outsider_price_fast,
    own_cost_fast,
    own_cost_with,
    probe,
)
from specmarket.mechanisms.psp.market.model import DataBuyer
from specmarket.mechanisms.psp.market.seller import _Seller
from specmarket.mechanisms.psp.market.valuation import (
    Valuations,
    isp_quantity,
    marginal_value,
    quantity_at_price,
    valuation,
)

__all__ = [
    "_Buyer",
    "_apply",
    "_holds",
    "_listen",
    "_lot_uses",
    "_lot_wakes",
    "_plan",
    "best_reply_reference",
    "gain",
    "gain_reference",
    "utility",
]

_TOL = 1e-9


@dataclass
class _Buyer:
    """A buyer's bid state: its pool ``I_i`` (seller → quantity), price, ISP purchase."""

    spec: DataBuyer
    pool: dict[str, float] = field(default_factory=dict)
    price: float = 0.0
    isp: float = 0.0
    target: float = 0.0  # what the buyer wants from the sellers
    last_seen: dict[str, float] = field(default_factory=dict)
    # lots at reserves ≥ this no longer wake the buyer: a lot wake at this price changed nothing
    deaf: float = math.inf


def _capacity_candidates(
    b: _Buyer, sellers: list[_Seller], y: float, epsilon: float
) -> list[tuple[float, int, str, float]]:
    """Sellers usable at price ``y``: (available, rank, id, effective price), best first.

    A seller whose reserve exceeds ``y`` by more than ε is out of reach; one within ε is usable
    at its reserve (the bid fee absorbs the difference, §3.4.3 last paragraph; it is how buyer A
    bids ``p^{(1)} = 1 + ε`` in the worked example).
    """
    out = []
    for s in sellers:
        if s.reserve > y + epsilon + _TOL:
            continue
        yj = max(y, s.reserve)
        a = s.available_to(b.spec.id, yj)
        if a > _TOL:
            out.append((a, s.rank, s.id, yj))
    out.sort(key=lambda t: (-t[0], t[1]))
    return out


def _plan(cands: list[tuple[float, int, str, float]], x: float) -> tuple[list[int], float]:
    """Fewest sellers whose consistent capacity ``n · D̄_(n)`` covers ``x`` (eq. (22)).

    Returns the pool's size as index list and the per-seller quantity; if no ``n`` covers ``x``,
    the ``n`` of largest capacity.
    """
    best_n, best_cap = 0, 0.0
    for n in range(1, len(cands) + 1):
        cap = n * cands[n - 1][0]
        if cap >= x - _TOL:
            return list(range(n)), x / n
        if cap > best_cap + _TOL:
            best_n, best_cap = n, cap
    if best_n == 0:
        return [], 0.0
    return list(range(best_n)), best_cap / best_n


def _select_pool(
    b: _Buyer, cands: list[tuple[float, int, str, float]], x: float
) -> tuple[list[int], float]:
    """:func:`_plan`, but keep the current pool when it still covers ``x`` with as few sellers.

    No lateral moves between equally good pools: they only free and grab data back and forth.
    """
    idx, q = _plan(cands, x)
    pos = {c[2]: k for k, c in enumerate(cands)}
    cur = [pos[j] for j in b.pool if j in pos]
    keep = cur and len(cur) == len(b.pool) and len(cur) <= max(len(idx), 1)
    if keep and len(cur) * min(cands[k][0] for k in cur) >= x - _TOL:
        return sorted(cur), x / len(cur)
    return idx, q


def _lot_uses(
    value: np.ndarray,
    demand: np.ndarray,
    el: np.ndarray,
    total: np.ndarray,
    lot_reserve: np.ndarray,
    lot_free: np.ndarray,
    epsilon: float,
) -> np.ndarray:
    """Which lots of a round's freed data wake which buyers (``Policy.lot_filter``, choice 7).

    Seller ``j`` freed data this round: a lot of ``f_j`` units at reserve ``r_j``, ``f_j`` what
    it returned this round (or all its unsold data if its reserve fell; data that was already
    unsold at that reserve was already announced). Buyer ``i``, holding ``x_i``, wakes when some
    lot can add more than one ε-step of data to it: ``min(f_j, ρ_i(r_j − ε) − x_i) > ε/θ_i'(0)``,
    with ``ρ_i`` the quantity worth a unit price (:func:`quantity_at_price`) and ``r_j − ε`` the
    reach of a bid. A lot smaller than the step ``ε/θ_i'(0)`` of the ε-best reply is worth less
    than ε to the buyer; waking it for a sliver only costs a reply.
    """
    step = epsilon / value  # (buyers,)
    y = np.maximum(lot_reserve - epsilon, 0.0)[:, None]  # (lots, 1)
    want = Valuations(value, demand, el).demand(y)  # (lots, buyers)
    gain = np.minimum(lot_free[:, None], want - total)
    wakes: np.ndarray = gain > step + 1e-7  # (lots, buyers): the lots that wake each buyer
    return wakes


def _capacity(cands: list[tuple[float, int, str, float]]) -> float:
    return max((n * c[0] for n, c in enumerate(cands, start=1)), default=0.0)


def best_reply_reference(
    b: _Buyer, sellers: list[_Seller], epsilon: float, isp_price: float, hold: bool = True
) -> tuple[dict[str, float], float, float, float]:
    """Algorithm 2 / Lemma 3.2 reply: (pool seller → quantity, price, ISP quantity, target).

    The target is the truthful ε-best reply ``x = [sup{z ≤ D_i : C_i(θ_i'(z)) ≥ z} − ε/θ_i'(0)]^+``
    (``C_i(y) = max_n n · D̄_(n)(y)``, the consistent capacity of eq. (22)); the pool the fewest
    sellers covering ``x`` (:func:`_select_pool`); the price ``min(θ_i'(x), p^κ)`` raised to the
    pool's highest reserve. ``hold`` (``Policy.price_hold``) keeps a price within ε of the old one.
    The slow, obviously-correct twin of :func:`.engine.best_reply_fast`.
    """
    spec = b.spec
    y_max = min(spec.value, isp_price)
    usable = [s for s in sellers if s.reserve <= y_max + epsilon + _TOL]
    # sellers with nothing available even at the highest price the buyer would ever pay
    usable = [s for s in usable if s.available_to(spec.id, max(y_max, s.reserve)) > _TOL]

    def price_of(z: float) -> float:
        return min(marginal_value(spec, z), isp_price)

    if spec.elasticity == 0.0:
        x = spec.demand
        cands = _capacity_candidates(b, usable, y_max, epsilon)
    else:
        # sup{z ≤ D : C(θ'(z)) ≥ z} by bisection (C non-decreasing in y, θ' non-increasing)
        cands = _capacity_candidates(b, usable, price_of(spec.demand), epsilon)
        if _capacity(cands) >= spec.demand - _TOL:
            x = spec.demand
        else:
            lo, hi = 0.0, spec.demand
            best = _capacity_candidates(b, usable, price_of(0.0), epsilon)
            cands = best if _capacity(best) > _TOL else []
            if cands:
                h = hint(b, epsilon)
                for k in range(32):
                    mid = probe(lo, hi, k, h, 0.02 * spec.demand)
                    c = _capacity_candidates(b, usable, price_of(mid), epsilon)
                    if _capacity(c) >= mid:
                        lo, cands = mid, c
                    else:
                        hi = mid
                    if hi - lo <= 1e-4 * spec.demand:
                        break
            x = lo
        # the ε-best reply shades the supremum by ε/θ'(0) (Lazar–Semret; seed 002 §4.1): a new
        # bid then outbids the one it displaces by a finite step instead of a hair
        x = max(0.0, x - epsilon / spec.value)
        cands = _capacity_candidates(b, usable, price_of(x), epsilon)
    idx, q = _select_pool(b, cands, x)
    price = max((cands[k][3] for k in idx), default=0.0)
    if hold and b.pool and idx and abs(price - b.price) < epsilon - _TOL and b.price > 0:
        # a new price must differ from the last by at least ε (seed 002 §4.1): hold the price
        # and take what is available at it, up to the quantity worth that price
        y = b.price
        c_hold = _capacity_candidates(b, usable, y, epsilon)
        x_hold = min(quantity_at_price(spec, y), _capacity(c_hold))
        # hold unless it costs more than half an ε-step's worth of data (ε/θ'(0)·D/2)
        if x_hold > _TOL and x_hold >= q * len(idx) - 0.5 * epsilon / spec.value * spec.demand:
            cands, x = c_hold, x_hold
            idx, q = _select_pool(b, cands, x)
            price = max(y, max((cands[k][3] for k in idx), default=0.0))
    pool = {cands[k][2]: q for k in idx}
    return pool, price, isp_quantity(spec, isp_price, q * len(idx)), x


def _lot_wakes(
    value: np.ndarray,
    demand: np.ndarray,
    el: np.ndarray,
    held: np.ndarray,
    deaf: np.ndarray,
    lot_reserve: np.ndarray,
    lot_free: np.ndarray,
    epsilon: float,
    filtered: bool = True,
) -> np.ndarray:
    """Per buyer, the lowest reserve among the lots that wake it (``inf``: none), in
    ``O((L + B) log L)`` — :func:`_lot_uses` and lot deafness (``r_j < deaf_i``) without the
    lots × buyers matrix.

    A lot wakes buyer ``i`` iff ``f_j > s_i``, ``ρ_i(r_j − ε) − x_i > s_i`` (``s_i = ε/θ_i'(0)``
    + 10⁻⁷) and ``r_j < deaf_i``; the last two only get easier as ``r_j`` falls, so the cheapest
    lot among those with ``f_j > s_i`` decides: sort the lots by size, keep running minima of
    their reserves, and look each buyer's threshold up. Same arithmetic on the deciding lot as
    :func:`_lot_uses` (the tests compare the two). Without ``filtered`` (``Policy.lot_filter``
    off) the step ``s_i`` is 10⁻⁷: any lot the buyer wants more of wakes it.
    """
    s = epsilon / value + 1e-7 if filtered else np.full(value.shape, 1e-7)
    order = np.argsort(-lot_free, kind="stable")
    cheapest = np.minimum.accumulate(lot_reserve[order])  # over the k largest lots
    k = np.searchsorted(-lot_free[order], -s, side="left")  # lots with f_j > s_i
    best = np.where(k > 0, cheapest[np.maximum(k - 1, 0)], np.inf)
    y = np.maximum(best - epsilon, 0.0)
    want = Valuations(value, demand, el).demand(y)
    ok = (k > 0) & (want - held > s) & (best < deaf)
    return np.where(ok, best, np.inf)


def _listen(
    b: _Buyer, sent: list[dict[str, Any]], waiting: dict[str, float]
) -> list[dict[str, Any]]:
    """Lot deafness (``Policy.deafness``): a buyer woken only by freed data whose reply sends
    nothing stops
    listening to lots at that reserve or above; any bid it sends makes it listen again, and every
    ``DEAF_RESET`` rounds all buyers listen again (``simulate``)."""
    if sent:
        b.deaf = math.inf
    elif b.spec.id in waiting:
        b.deaf = min(b.deaf, waiting[b.spec.id])
    return sent


def _holds(b: _Buyer, pool: dict[str, float], price: float, epsilon: float) -> bool:
    """The quantity hold (``Policy.quantity_hold``, docs/psp.md choice 7): keep the bid when
    the reply only moves the
    total quantity, on the same pool at the same price, by at most one ε-step ``ε/θ_i'(0)``.

    Such a move changes the buyer's value by at most ``ε`` — the ε-best reply ignores it
    (Lazar–Semret: a player rebids only when it gains more than ε) — yet every one of them
    reshuffles its sellers' allocations and wakes other buyers.
    """
    new = {j: q for j, q in pool.items() if q > _TOL}
    if not b.pool or new.keys() != b.pool.keys() or abs(price - b.price) > 1e-12:
        return False
    return abs(sum(new.values()) - sum(b.pool.values())) <= epsilon / b.spec.value


def _apply(
    b: _Buyer,
    reply: tuple[dict[str, float], float, float, float],
    sellers: dict[str, _Seller],
    epsilon: float,
    quantity_hold: bool = True,
) -> list[dict[str, Any]]:
    """Send the new consistent bid to the pool and zero bids (opt-outs) to the sellers left,
    unless the buyer holds its bid (:func:`_holds`, with ``quantity_hold``)."""
    pool, price, isp, target = reply
    out: list[dict[str, Any]] = []
    if quantity_hold and _holds(b, pool, price, epsilon):
        return out
    bid_id = b.spec.id
    # old pool then new sellers, in dict order: the trace does not depend on string hashing
    for j in [*b.pool, *(j for j in pool if j not in b.pool)]:
        new_q = pool.get(j, 0.0)
        old = sellers[j].bids.get(bid_id)
        new = (new_q, price) if new_q > _TOL else None
        same = (old is None and new is None) or (
            old is not None
            and new is not None
            and abs(old[0] - new[0]) <= 1e-9 * max(1.0, new[0])
            and abs(old[1] - new[1]) <= 1e-12
        )
        if not same:
            sellers[j].set_bid(bid_id, new_q if new else 0.0, price)
            out.append({"buyer": bid_id, "seller": j, "quantity": new_q, "price": price})
    b.pool = {j: q for j, q in pool.items() if q > _TOL}
    b.price, b.isp, b.target = price, isp, target
    return out


def utility(
    spec: DataBuyer,
    sellers: dict[str, _Seller],
    bids: dict[str, tuple[float, float]],
    at: Iterable[str],
    isp: float,
    isp_price: float,
    epsilon: float | None = None,
    sticky: bool = True,
    memo: dict[str, tuple[np.ndarray, np.ndarray, float]] | None = None,
) -> float:
    """Buyer ``spec``'s utility ``θ_i(Σ_j a_i^j + isp) − Σ_j c_i^j − p^κ · isp`` (eq. (6)) if it
    bid ``bids[j]`` at each seller ``j`` of ``at`` (nothing where absent), the others' bids as
    they are: allocation eq. (20), cost eq. (21) (:func:`.engine.own_cost_fast`).

    With ``epsilon`` (``Policy.foresight``) each seller's reserve is first moved as the seller's
    own rule, eq. (27), would move it on that bid vector (:func:`~..local_auction.reserve_after`):
    the buyer evaluates the outcome of the step its bid triggers, not the stale reserve.

    Used by ``Policy.strict_improvement``; the end-of-run verdict recomputes it independently
    with :mod:`~specmarket.mechanisms.psp.local_auction` (:mod:`.verdict`).

    ``memo`` (without ``epsilon`` only: the reserve then does not depend on the buyer's bid)
    keeps, per seller, the others' bids and their eq. (20) allocation without the buyer, which
    are the same for every bid the buyer tries (:func:`widen` tries many): the same numbers as
    :func:`.engine.own_cost_fast` computes afresh.
    """
    got, cost = isp, isp_price * isp
    for j in at:
        mine = bids.get(j)
        if mine is None or mine[0] <= _TOL:
            continue
        s = sellers[j]
        if memo is not None and epsilon is None:
            base = memo.get(j)
            if base is None:
                rest = s.others(spec.id, mine)[:-1]
                without = allocate_fast(rest, s.supply, s.reserve)
                base = memo[j] = (rest, without, float(without.sum()))
            a, c = own_cost_with(base, mine, s.supply, s.reserve)
            got += a
            cost += c
            continue
        if epsilon is None:  # the current reserve: one compiled call on the cached bids
            a, c = s.own_cost(spec.id, mine)
        else:
            qp = s.others(spec.id, mine)
            o = outsider_price_fast(qp, s.supply)
            r = reserve_after(s.reserve, None if math.isnan(o) else o, epsilon, isp_price, sticky)
            a, c = own_cost_fast(qp, s.supply, r)
        got += a
        cost += c
    return valuation(spec, got) - cost


def gain(
    b: _Buyer,
    reply: tuple[dict[str, float], float, float, float],
    sellers: dict[str, _Seller],
    isp_price: float,
    epsilon: float | None = None,
    sticky: bool = True,
    memo: dict[str, tuple[np.ndarray, np.ndarray, float]] | None = None,
) -> float:
    """What ``reply`` adds to the buyer's utility over keeping its bid (:func:`utility`).

    Without ``epsilon`` and ``memo`` (the strict-improvement test of ``simulate``) both
    utilities are summed in one pass over the sellers with one compiled call per seller
    (:meth:`.seller._Seller.own_cost_pair`); :func:`gain_reference` is the plain twin (same
    numbers bit for bit, the tests compare the two).
    """
    if epsilon is None and memo is None:
        return _gain_paired(b, reply, sellers, isp_price)
    return gain_reference(b, reply, sellers, isp_price, epsilon, sticky, memo)


def _bid_maps(
    b: _Buyer,
    reply: tuple[dict[str, float], float, float, float],
    sellers: dict[str, _Seller],
) -> tuple[dict[str, tuple[float, float]], dict[str, tuple[float, float]]]:
    """The bids ``reply`` would place (seller → ``(q, p)``, empty lots dropped) and the bids the
    buyer holds now: the two bid vectors whose utilities :func:`gain` compares."""
    pool, price = reply[0], reply[1]
    new = {j: (q, price) for j, q in pool.items() if q > _TOL}
    sid = b.spec.id
    cur = {j: sellers[j].bids[sid] for j in b.pool if sid in sellers[j].bids}
    return new, cur


def _gain_paired(
    b: _Buyer,
    reply: tuple[dict[str, float], float, float, float],
    sellers: dict[str, _Seller],
    isp_price: float,
) -> float:
    """:func:`gain_reference` at the current reserves: the two :func:`utility` sums (eq. (6)
    with the eq. (20) allocations and eq. (21) costs) accumulated side by side, in the same
    order, from one :meth:`~.seller._Seller.own_cost_pair` call per seller."""
    isp = reply[2]
    sid = b.spec.id
    new, cur = _bid_maps(b, reply, sellers)
    got1, cost1 = isp, isp_price * isp
    got0, cost0 = b.isp, isp_price * b.isp
    none = (0.0, 0.0)
    for j in sorted(set(new) | set(cur)):  # the order of utility()'s sums
        m1 = new.get(j)
        m0 = cur.get(j)
        u1 = m1 is not None and m1[0] > _TOL
        u0 = m0 is not None and m0[0] > _TOL
        if not (u1 or u0):
            continue
        a1, c1, a0, c0 = sellers[j].own_cost_pair(
            sid, m1 if u1 and m1 is not None else none, m0 if u0 and m0 is not None else none
        )
        if u1:
            got1 += a1
            cost1 += c1
        if u0:
            got0 += a0
            cost0 += c0
    return (valuation(b.spec, got1) - cost1) - (valuation(b.spec, got0) - cost0)


def gain_reference(
    b: _Buyer,
    reply: tuple[dict[str, float], float, float, float],
    sellers: dict[str, _Seller],
    isp_price: float,
    epsilon: float | None = None,
    sticky: bool = True,
    memo: dict[str, tuple[np.ndarray, np.ndarray, float]] | None = None,
) -> float:
    """:func:`gain` as the difference of two :func:`utility` calls (the plain twin)."""
    isp = reply[2]
    new, cur = _bid_maps(b, reply, sellers)
    # sorted: the float sums of utility() must not follow the set's hash order (PYTHONHASHSEED)
    at = sorted(set(new) | set(cur))
    return utility(b.spec, sellers, new, at, isp, isp_price, epsilon, sticky, memo) - utility(
        b.spec, sellers, cur, at, b.isp, isp_price, epsilon, sticky, memo
    )


def widen(
    b: _Buyer,
    reply: tuple[dict[str, float], float, float, float],
    active: list[_Seller],
    sellers: dict[str, _Seller],
    epsilon: float,
    isp_price: float,
    foresight: float | None = None,
    sticky: bool = True,
    limit: int = 0,
    book: _Book | None = None,
    fill: bool = False,
) -> tuple[dict[str, float], float, float, float]:
    """``Policy.spread``: the reply, or the same total on a larger consistent pool if that is
    worth more than ε more to the buyer (:func:`gain`); with ``fill`` (``Policy.spread_fill``)
    also pools whose sellers have unequal data, up to the reply's target.

    Lemma 3.2 asks the *fewest* sellers whose consistent capacity ``n · D̄_(n)`` (eq. (22))
    covers the target. When the fewest is one seller whose data is held by lower bids, the
    buyer pays their displacement (eq. (21)) in full, while asking two sellers for half each
    displaces less and uses data another seller cannot sell; the seed's reply never considers
    it (docs/psp.md, "Efficiency"). Pools of ``n + 1, n + 2, …`` sellers, best available first,
    at the reply's price (raised to the pool's highest reserve) are tried: all of them, or with
    ``limit = k > 0`` (``Policy.spread_limit``) only up to ``k`` sellers more than the reply's
    pool, so that a reply costs ``O(k)`` eq. (21) evaluations instead of ``O(M)`` (``M²`` seller
    visits). ``book`` (the compiled engine) lists the candidates with
    :func:`.engine.candidates_fast` instead of :func:`_capacity_candidates` (same list).

    ``fill``: the seed's consistent bid is the same *bid* ``(q, y)`` at every seller of the pool
    (§3.4.1, §4 "``d_i^j = d_i^k``"), not the same allocation: a seller with less than ``q``
    available gives all it has. So a pool of the ``n`` best sellers can serve up to
    ``Σ_j a_j`` with ``q`` the water level of :func:`water_level`, not only ``n · D̄_(n)``
    (eq. (22)). Each such pool is tried for the reply's total raised to its target ``x`` (the
    data the fewest-sellers pool could not reach), the reply's own pool too when it was capped
    below ``x``; as always, only a gain of more than ε more is taken.
    """
    pool, price, isp, x = reply
    if not pool or price <= 0:
        return reply
    total = sum(pool.values())
    if book is None:
        cands = _capacity_candidates(b, active, price, epsilon)
    else:
        cands = candidates_fast(b, book, epsilon, price)
    last = len(cands) if limit <= 0 else min(len(cands), len(pool) + limit)
    memo: dict[str, tuple[np.ndarray, np.ndarray, float]] = {}  # the others' bids, per seller
    best, best_gain = reply, gain(b, reply, sellers, isp_price, foresight, sticky, memo) + epsilon
    first = max(len(pool) if fill and total < x - _TOL else len(pool) + 1, 1)  # refill: capped
    room = sum(c[0] for c in cands[: first - 1])  # Σ a_j over the pool before the first tried
    for n in range(first, last + 1):
        room += cands[n - 1][0]
        if fill:
            avail = [c[0] for c in cands[:n]]
            want = min(max(total, x), room)
            if want < total - _TOL or (n == len(pool) and want <= total + _TOL):
                continue
            q, isp_n = water_level(avail, want), isp_quantity(b.spec, isp_price, want)
        elif n * cands[n - 1][0] < total - _TOL:
            continue
        else:
            q, isp_n = total / n, isp
        y = max(price, max(c[3] for c in cands[:n]))
        alt = ({c[2]: q for c in cands[:n]}, y, isp_n, x)
        g = gain(b, alt, sellers, isp_price, foresight, sticky, memo)
        if g > best_gain:
            best, best_gain = alt, g
    return best


def water_level(avail: list[float], want: float) -> float:
    """The one bid quantity ``q`` with ``Σ_j min(q, a_j) = want`` over the pool's availabilities
    ``a_j`` (``want ≤ Σ a_j``): a *consistent* bid (the same quantity at every seller of the
    pool, seed 002 §3.4.1) that takes everything a small seller has and the rest evenly from
    the larger ones. With ``n · min a ≥ want`` it is Lemma 3.2's ``want / n``."""
    rest, left = want, len(avail)
    for a in sorted(avail):
        if a * left >= rest:
            return rest / left
        rest -= a
        left -= 1
    return max(avail)

