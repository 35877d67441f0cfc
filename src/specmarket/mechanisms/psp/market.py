"""The distributed data-exchange market of seed 002 §3 (the 2cm platform of CMHK).

Buyers and sellers are separate users. Every seller ``j`` runs its own local PSP auction
(:mod:`specmarket.mechanisms.psp.local_auction`, eqs. (18), (20), (21), (25), (27)) and knows only
the bids sent to it; every buyer ``i`` knows the public offers ``(D^j, p_*^j)`` and the bid vectors
of the auctions it queries. The ISP is seller ``κ`` with unlimited data at the overage price
``p^κ``, which also caps every price (§3.4.4).

Buyer strategy (Lemma 3.2, §3.4.1, Algorithm 2, the opt-out function σ): at a unit price ``y`` the
buyer ranks the sellers by the quantity available to it (eq. (18)), takes the fewest ``n`` of them
whose consistent capacity ``n · D̄_(n)`` covers its target (eq. (22), read as in seed 001 Prop. 0.1),
and sends the same bid ``(x/n, y')`` to each of them, ``y'`` the highest of ``y`` and the pool's
reserves; it sends a zero bid (opts out) to every other seller. The price is truthful,
``y = min(θ_i'(x), p^κ)``; the target ``x`` is the largest quantity the buyer can obtain at its
own marginal value, ``sup{z ≤ D_i : C_i(θ_i'(z)) ≥ z}`` (the ε-best reply of Lazar–Semret with
the consistent capacity ``C_i`` in place of ``Q_i``). What the sellers cannot cover and is worth
more than ``p^κ`` is bought from the ISP. A buyer rebuilds its pool only after a partial
allocation, being outbid, a new seller, or (if it still lacks data) freed supply. It plans with
the "≥" availability (bids at its own price come first), keeps its pool when that still covers
its target with as few sellers, and keeps its price when the new one is within ε of it (seed 002
§4.1) unless that costs more than half an ε-step of data. See docs/psp.md for why.

Seller strategy (Lemma 3.3, Algorithm 1): the seller allocates to the highest prices first
(eq. (20), equal prices share in proportion to quantity), returns data when a winner opts out,
and moves its reserve to the highest price outside its minimal covering set plus ε (eqs. (25),
(27)). The auction ends when no bid changes during a round.

The simulation (:func:`simulate`) is event driven and round structured: in each round the buyers
that have a reason to act send their bids — all against the same snapshot (``order =
"synchronous"``, the seed's worked example) or one after the other in a seeded random order
(``"asynchronous"``) — then each seller whose bid vector changed recomputes its auction and
notifies its bidders. Buyers and sellers may join at any round. Every round is written to a
JSON-lines trace; messages are counted. A buyer's reply runs in compiled loops over every seller's
sorted bid row (:class:`_Book`, :mod:`._kernels`, numba); the per-seller Python reply
is kept as the reference (``simulate(..., reference=True)``), with identical results.

Welfare and efficiency are measured against :func:`centralised_optimum`, the exact maximiser of
``Σ_i θ_i(x_i) − p^κ · (data bought from κ)`` subject to the sellers' supply.
"""

from __future__ import annotations

import bisect
import itertools
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Self, TextIO

import numpy as np
from pydantic import Field, model_validator

from specmarket.core import (
    Count,
    Id,
    MechanismSpec,
    Model,
    Outcome,
    Positive,
    PositiveCount,
    require_nonempty,
    require_unique_ids,
)
from specmarket.errors import InvalidInput
from specmarket.mechanisms.psp import _kernels
from specmarket.mechanisms.psp.local_auction import costs, reserve_after

__all__ = [
    "DataBuyer",
    "DataMarket",
    "DataSeller",
    "MarketResult",
    "centralised_optimum",
    "random_market",
    "simulate",
    "worked_example",
]

_TOL = 1e-9
ISP_ID = "isp"
DEAF_RESET = 50  # every this many rounds all buyers listen to lots again (choice 7d)


# ----------------------------------------------------------------------------------------------
# Input model
# ----------------------------------------------------------------------------------------------


class DataBuyer(Model):
    """A buyer with an elastic valuation (seed 002 Lemma 3.1, Definition 1.2).

    Marginal value ``θ_i'(z) = value · (1 − elasticity · z / demand)`` for ``z ≤ demand`` and 0
    beyond: ``elasticity = 0`` is the flat "bid total @ unit price" buyer of the worked example;
    ``elasticity = 1`` is the Lazar–Semret family ``θ'(0)(1 − z/q̄)^+`` with ``q̄ = demand``.
    """

    id: Id
    demand: Positive
    value: Positive
    elasticity: float = Field(default=0.0, ge=0.0, le=1.0, allow_inf_nan=False, strict=True)
    join_round: Count = 0


class DataSeller(Model):
    """A seller offering ``supply`` units (``D^j``); joins the market at ``join_round``."""

    id: Id
    supply: Positive
    join_round: Count = 0


class DataMarket(Model):
    """A data-exchange market scenario (seed 002 §3).

    ``isp_price`` is the overage price ``p^κ`` (ISP = seller κ, unlimited data, §3.4.4);
    ``epsilon`` the bid fee / price increment ε of eq. (27); ``reserve_policy`` whether the
    reserve is ``"sticky"`` (never falls), recomputed from the ``"current"`` bids, or sticky with
    a ``"decay"`` of ε per quiet round while data is unsold (our option, not in the seed); ``order``
    synchronous or seeded asynchronous buyer moves; ``seed`` the random order's seed.
    """

    buyers: tuple[DataBuyer, ...]
    sellers: tuple[DataSeller, ...]
    isp_price: Positive = 10.0
    epsilon: Positive = 0.01
    reserve_policy: Literal["sticky", "current", "decay", "patient"] = "sticky"
    order: Literal["synchronous", "asynchronous"] = "synchronous"
    seed: Count = 0
    max_rounds: PositiveCount = 1000

    @model_validator(mode="after")
    def _check(self) -> Self:
        require_nonempty(self.buyers, "buyers")
        require_nonempty(self.sellers, "sellers")
        ids = [b.id for b in self.buyers] + [s.id for s in self.sellers]
        require_unique_ids(ids, "buyers/sellers")
        if ISP_ID in ids:
            raise InvalidInput("buyers/sellers", ISP_ID, "id 'isp' is reserved for the ISP κ")
        if self.epsilon >= self.isp_price:
            raise InvalidInput("epsilon", self.epsilon, "must be below isp_price")
        return self


# ----------------------------------------------------------------------------------------------
# Valuations
# ----------------------------------------------------------------------------------------------


def marginal_value(b: DataBuyer, z: float) -> float:
    """``θ_i'(z)`` (0 beyond the demand)."""
    if z >= b.demand:
        return 0.0 if z > b.demand else b.value * (1.0 - b.elasticity)
    return b.value * (1.0 - b.elasticity * max(z, 0.0) / b.demand)


def valuation(b: DataBuyer, z: float) -> float:
    """``θ_i(z) = ∫_0^z θ_i'`` (Lemma 3.1)."""
    z = min(max(z, 0.0), b.demand)
    return b.value * (z - b.elasticity * z * z / (2.0 * b.demand))


def _demand_at(value: np.ndarray, dem: np.ndarray, el: np.ndarray, lam: float) -> np.ndarray:
    """Each buyer's welfare-maximising quantity at marginal price ``lam`` (strict: θ' > lam)."""
    out = np.where(value > lam, dem, 0.0)
    el_pos = el > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        z = dem * (1.0 - lam / value) / np.where(el_pos, el, 1.0)
    return np.where(el_pos, np.clip(np.where(value > lam, z, 0.0), 0.0, dem), out)


@dataclass(frozen=True)
class Optimum:
    """Centralised optimum: welfare, per-buyer quantities, data from the ISP, shadow price."""

    welfare: float
    quantities: dict[str, float]
    isp: float
    price: float


def centralised_optimum(
    buyers: tuple[DataBuyer, ...] | list[DataBuyer], supply: float, isp_price: float
) -> Optimum:
    """Exact maximum of ``Σ θ_i(x_i) − p^κ y`` s.t. ``Σ x_i ≤ S + y``, ``y ≥ 0`` (issue item 9).

    A concave separable problem with piecewise-linear marginal values: water-filling. The shadow
    price ``λ`` of the sellers' supply ``S`` is found by bisection on the (monotone) aggregate
    demand ``X(λ)`` down to adjacent floating-point numbers; then the buyers whose demand jumps
    inside the final bracket (flat valuations at exactly ``λ``) share what is left, which is exact
    because they all have marginal value ``λ`` there. If ``λ > p^κ``, the price is ``p^κ`` and the
    excess demand is bought from the ISP.
    """
    value = np.array([b.value for b in buyers], dtype=float)
    dem = np.array([b.demand for b in buyers], dtype=float)
    el = np.array([b.elasticity for b in buyers], dtype=float)

    def total(lam: float) -> float:
        return float(_demand_at(value, dem, el, lam).sum())

    lo, hi = 0.0, float(value.max())
    if total(0.0) <= supply:
        x = _demand_at(value, dem, el, 0.0)
        flat = el == 0
        x[flat] = dem[flat]
        lam = 0.0
    else:
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            if mid <= lo or mid >= hi:
                break
            if total(mid) > supply:
                lo = mid
            else:
                hi = mid
        lam = hi
        if lam > isp_price:
            x = _demand_at(value, dem, el, isp_price)
            isp = float(x.sum()) - supply
            w = sum(valuation(b, float(xi)) for b, xi in zip(buyers, x, strict=True))
            return Optimum(
                welfare=float(w - isp_price * isp),
                quantities={b.id: float(xi) for b, xi in zip(buyers, x, strict=True)},
                isp=isp,
                price=isp_price,
            )
        x_hi = _demand_at(value, dem, el, hi)
        x_lo = _demand_at(value, dem, el, lo)
        # flat buyers with value in (lo, hi] are fully in x_lo but not x_hi: share the rest
        gap = x_lo - x_hi
        rest = supply - float(x_hi.sum())
        x = x_hi + (gap * (rest / gap.sum()) if gap.sum() > 0 and rest > 0 else 0.0)
    w = sum(valuation(b, float(xi)) for b, xi in zip(buyers, x, strict=True))
    return Optimum(
        welfare=float(w),
        quantities={b.id: float(xi) for b, xi in zip(buyers, x, strict=True)},
        isp=0.0,
        price=float(lam),
    )


# ----------------------------------------------------------------------------------------------
# Simulation state
# ----------------------------------------------------------------------------------------------


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
    naive: bool = False
    _prev_out: float | None = None
    book: _Book | None = None

    def set_bid(self, buyer: str, q: float, p: float) -> None:
        if q <= 0:
            self.bids.pop(buyer, None)
        else:
            self.bids[buyer] = (q, p)
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

    def run_auction(self, epsilon: float, cap: float, sticky: bool, patient: bool = False) -> None:
        """Eq. (20) allocation, then the eq. (27) reserve for the next round.

        ``patient`` (our option): raise the reserve only when a bid was left outside ``I^j`` in
        two consecutive runs, to the lower of the two outsider prices + ε.
        """
        n = len(self.bids)
        qp = np.fromiter(itertools.chain.from_iterable(self.bids.values()), float, 2 * n)
        qp = qp.reshape(n, 2)
        # compiled twins of local_auction.allocate / outsider_price (the tests compare them)
        a = _kernels.allocate(qp, self.supply, self.reserve)
        self.alloc = dict(zip(self.bids, a.tolist(), strict=True))
        o = float(_kernels.outsider_price(qp, self.supply))
        out = None if math.isnan(o) else o
        if not patient:
            self.reserve = reserve_after(self.reserve, out, epsilon, cap, sticky)
            return
        if out is not None and self._prev_out is not None:
            self.reserve = min(max(self.reserve, min(out, self._prev_out) + epsilon), cap)
        self._prev_out = out

    @property
    def sold(self) -> float:
        return float(sum(self.alloc.values()))


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


@dataclass(frozen=True)
class MarketResult:
    """Outcome of :func:`simulate` plus its statistics and (optional) trace lines."""

    outcome: Outcome
    rounds: int
    messages: int
    converged: bool
    welfare: float
    optimum: Optimum
    efficiency: float
    trace: tuple[dict[str, Any], ...]


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


def quantity_at_price(spec: DataBuyer, y: float) -> float:
    """``sup{z ≤ D_i : θ_i'(z) ≥ y}``: the quantity worth unit price ``y`` (demand ρ_i, eq. (7))."""
    if y > spec.value + _TOL:
        return 0.0
    if spec.elasticity == 0.0:
        return spec.demand
    return float(min(spec.demand, max(0.0, spec.demand * (1.0 - y / spec.value) / spec.elasticity)))


def _quantities_at_price(
    value: np.ndarray, demand: np.ndarray, el: np.ndarray, y: np.ndarray
) -> np.ndarray:
    """:func:`quantity_at_price` for arrays of buyers (and prices, broadcast)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        z = demand * (1.0 - y / value) / np.where(el > 0.0, el, 1.0)
    want = np.where(el > 0.0, np.clip(z, 0.0, demand), demand)
    return np.where(y > value + _TOL, 0.0, want)


def _lot_uses(
    value: np.ndarray,
    demand: np.ndarray,
    el: np.ndarray,
    total: np.ndarray,
    lot_reserve: np.ndarray,
    lot_free: np.ndarray,
    epsilon: float,
) -> np.ndarray:
    """Which lots of a round's freed data wake which buyers (our rule, docs/psp.md choice 7).

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
    want = _quantities_at_price(value, demand, el, y)  # (lots, buyers)
    gain = np.minimum(lot_free[:, None], want - total)
    return gain > step + 1e-7  # (lots, buyers): the lots that wake each buyer


def _capacity(cands: list[tuple[float, int, str, float]]) -> float:
    return max((n * c[0] for n, c in enumerate(cands, start=1)), default=0.0)


def _best_reply(
    b: _Buyer, sellers: list[_Seller], epsilon: float, isp_price: float
) -> tuple[dict[str, float], float, float, float]:
    """Algorithm 2 / Lemma 3.2 reply: (pool seller → quantity, price, ISP quantity, target)."""
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
                hint = _hint(b, epsilon)
                for k in range(32):
                    mid = _kernels.probe(lo, hi, k, hint, 0.02 * spec.demand)
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
    if b.pool and idx and abs(price - b.price) < epsilon - _TOL and b.price > 0:
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
    return pool, price, _isp_quantity(spec, isp_price, q * len(idx)), x


def _hint(b: _Buyer, epsilon: float) -> float:
    """Where the target search starts (:func:`._kernels.probe`): the supremum of the buyer's
    last reply, its target plus the shading step (−1, no hint, before its first positive one)."""
    return b.target + epsilon / b.spec.value if b.target > 0 else -1.0


def _isp_quantity(spec: DataBuyer, isp_price: float, got: float) -> float:
    """Data still worth more than ``p^κ`` beyond what the sellers give: bought from κ."""
    if spec.value <= isp_price:
        return 0.0
    z_kappa = (
        spec.demand
        if spec.elasticity == 0.0
        else min(spec.demand, spec.demand * (1.0 - isp_price / spec.value) / spec.elasticity)
    )
    return max(0.0, z_kappa - got)


# ----------------------------------------------------------------------------------------------
# Vectorised buyer replies (same arithmetic as the per-seller path above, all sellers at once)
# ----------------------------------------------------------------------------------------------


class _Book:
    """All sellers' bid vectors as sorted rows in flat buffers, for the compiled buyer reply.

    Row ``j`` (the seller's rank) holds its bid prices sorted in decreasing order (stable in the
    bid dictionary's order, exactly like :meth:`_Seller._index`) at ``price[start[j]:]`` and the
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
        """Rebuild the rows of the sellers whose bids changed (one compiled call for all)."""
        if not self.dirty:
            return
        rows = list(self.dirty)
        self.dirty.clear()
        sizes = []
        flat: list[tuple[float, float]] = []
        for j in rows:
            vals = self.sellers[j].bids.values()
            k = len(vals)
            if k > self.room[j]:
                self._grow(j, k)
            sizes.append(k)
            flat.extend(vals)
        n = len(flat)  # fromiter over the flattened pairs: ~4x faster than np.array(flat)
        qp = np.fromiter(itertools.chain.from_iterable(flat), float, 2 * n).reshape(n, 2)
        _kernels.set_rows(
            self.price, self.cum, self.start, self.count, np.array(rows), np.array(sizes), qp
        )

    def set_reserves(self) -> None:
        self.reserve = np.array([s.reserve for s in self.sellers], dtype=float)


def _best_reply_vec(
    b: _Buyer, book: _Book, epsilon: float, isp_price: float
) -> tuple[dict[str, float], float, float, float]:
    """:func:`_best_reply` with every seller evaluated in compiled loops (identical results).

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
            _hint(b, epsilon),
        )
    finally:
        for r in mine:  # a few sellers: scalar stores beat fancy indexing
            own_q[r] = 0.0
            own_p[r] = -np.inf
    pool = {book.ids[r]: q for r in pool_ranks.tolist()}
    return pool, float(price), _isp_quantity(spec, isp_price, q * pool_ranks.size), float(x)


# ----------------------------------------------------------------------------------------------
# Simulation
# ----------------------------------------------------------------------------------------------


def simulate(
    market: DataMarket,
    trace: TextIO | None = None,
    keep_trace: bool = False,
    on_round: Callable[[int], None] | None = None,
    naive: bool = False,
    reference: bool = False,
) -> MarketResult:
    """Run the distributed data-exchange market to convergence (issue items 5–9).

    Parameters
    ----------
    market
        The scenario.
    trace
        If given, one JSON line per round is written to it.
    keep_trace
        Keep the trace records in the result (small markets only).
    on_round
        Progress callback, called with the round number.
    naive
        Use the straightforward availability computation (a scan of every bid instead of a
        sorted index with prefix sums) in the per-seller reply; for the benchmark's ratio.
    reference
        ``True``: the per-seller reply (one Python call of eq. (18) per seller and price, with the
        sorted per-seller index); ``False`` (default): the compiled reply (:class:`_Book`,
        :mod:`._kernels`; 3–7× faster from 8 sellers on, more on large markets). Identical results
        either way (the tests compare whole traces). ``naive`` implies ``True``.

    Returns
    -------
    MarketResult
        Final allocation and payments (eq. (21) per seller plus ``p^κ`` per unit from the ISP),
        rounds, messages, welfare, the centralised optimum and the efficiency ratio.
    """
    eps, cap = market.epsilon, market.isp_price
    sticky = market.reserve_policy != "current"
    decay = market.reserve_policy == "decay"
    patient = market.reserve_policy == "patient"
    rng = np.random.default_rng(market.seed)
    all_sellers = {
        s.id: _Seller(id=s.id, rank=k, supply=s.supply, reserve=eps, naive=naive)
        for k, s in enumerate(market.sellers)
    }
    all_buyers = {b.id: _Buyer(spec=b) for b in market.buyers}
    book: _Book | None = None
    if not (naive or reference):
        book = _Book(list(all_sellers.values()))
        for s in all_sellers.values():
            s.book = book
    seller_join = {s.id: s.join_round for s in market.sellers}
    buyer_join = {b.id: b.join_round for b in market.buyers}
    last_join = max(list(seller_join.values()) + list(buyer_join.values()))
    active_s: list[_Seller] = []
    active_b: list[_Buyer] = []
    spec_cols = _spec_columns(active_b)  # (value, demand, elasticity) of the active buyers
    to_act: set[str] = set()
    pos: dict[str, int] = {}  # buyer id → index in active_b
    held = np.zeros(0)  # what each active buyer holds (sellers + ISP), kept across rounds
    lot_only: dict[str, float] = {}  # buyers woken only by freed data → lowest waking reserve
    messages = 0
    records: list[dict[str, Any]] = []
    converged = False
    rounds = 0

    for t in range(market.max_rounds + 1):
        if on_round is not None:
            on_round(t)
        joined: list[str] = []
        new_seller = False
        for sid, r in seller_join.items():
            if r == t:
                active_s.append(all_sellers[sid])
                if book is not None:
                    book.active[all_sellers[sid].rank] = True
                joined.append(sid)
                new_seller = True
                messages += 1  # the seller's public offer (D^j, ε), §3.4.4
        for bid_, r in buyer_join.items():
            if r == t:
                pos[bid_] = len(active_b)
                active_b.append(all_buyers[bid_])
                joined.append(bid_)
                to_act.add(bid_)
        if len(held) < len(active_b):  # the round's new buyers hold nothing yet (one copy)
            held = np.concatenate((held, np.zeros(len(active_b) - len(held))))
        if new_seller:  # everyone looks at the new offers
            to_act.update(b.spec.id for b in active_b)
            lot_only.clear()
        acting = [b for b in active_b if b.spec.id in to_act]
        to_act = set()
        waiting, lot_only = lot_only, {}
        if market.order == "asynchronous":
            perm = rng.permutation(len(acting))
            acting = [acting[k] for k in perm]
        # ---- buyers move
        changes: list[dict[str, Any]] = []
        replies = []
        if book is not None:
            book.set_reserves()
            book.pack()
        for b in acting:
            if book is not None:
                book.refresh()
                reply = _best_reply_vec(b, book, eps, cap)
                messages += 2 * (len(active_s) - len(b.pool))  # quotes (the pool is active)
            else:
                reply = _best_reply(b, active_s, eps, cap)
                messages += 2 * sum(1 for s in active_s if s.id not in b.pool)  # quotes
            if market.order == "asynchronous":
                changes.extend(_listen(b, _apply(b, reply, all_sellers, eps), waiting))
            else:
                replies.append((b, reply))
        for b, reply in replies:
            changes.extend(_listen(b, _apply(b, reply, all_sellers, eps), waiting))
        messages += len(changes)
        # ---- sellers move
        touched = {c["seller"] for c in changes}
        lots: list[tuple[float, float]] = []  # (reserve, freed units) of the round's lots
        ran: list[_Seller] = []  # sellers whose allocation was recomputed
        for s in active_s:
            if s.id not in touched and not (new_seller and s.id in joined):
                continue
            before_sold, before_res = s.sold, s.reserve
            s.run_auction(eps, cap, sticky, patient)
            ran.append(s)
            messages += len(s.bids)  # notify every bidder of the new bid vector
            if s.reserve < before_res - _TOL:  # all its unsold data is newly within reach
                lots.append((s.reserve, s.supply - s.sold))
            elif s.sold < before_sold - _TOL:  # only what it returned this round is new
                lots.append((s.reserve, before_sold - s.sold))
        if decay:
            # option (not in the seed): a seller left with unsold data in a quiet round lowers
            # its sticky reserve by ε, undoing the overshoot of the early rounds
            for s in active_s:
                if s.id in touched or s.reserve <= eps + _TOL:
                    continue
                if s.supply - s.sold > 1e-7:
                    s.reserve = max(eps, s.reserve - eps)
                    s.run_auction(eps, cap, sticky)
                    ran.append(s)
                    messages += 1 + len(s.bids)
                    lots.append((s.reserve, s.supply - s.sold))
        # ---- which buyers have a reason to act next round
        # only a buyer that moved or bids at a seller that reran its auction can see a change
        affected = {b.spec.id for b in acting}.union(*(s.bids.keys() for s in ran))
        for bid_ in affected:
            b = all_buyers[bid_]
            got = {j: all_sellers[j].alloc.get(bid_, 0.0) for j in b.pool}
            partial = any(got[j] < q - 1e-7 for j, q in b.pool.items())
            if partial and got != b.last_seen:
                to_act.add(bid_)
            b.last_seen = got
            held[pos[bid_]] = sum(got.values()) + b.isp
        if len(spec_cols[0]) != len(active_b):
            spec_cols = _spec_columns(active_b)
        if lots and active_b:
            # freed data (public offers) wakes the buyers it can give more than an ε-step to
            lot_r, lot_f = np.array(lots).T
            if (t + 1) % DEAF_RESET == 0:  # every buyer listens again (choice 7d)
                for b in active_b:
                    b.deaf = math.inf
            deaf = np.fromiter((b.deaf for b in active_b), float, len(active_b))
            lowest = _lot_wakes(*spec_cols, held, deaf, lot_r, lot_f, eps)
            for k in np.flatnonzero(lowest < math.inf):
                bid_ = active_b[k].spec.id
                if bid_ not in to_act:
                    lot_only[bid_] = float(lowest[k])
                to_act.add(bid_)
        rounds = t + 1
        if trace is not None or keep_trace:
            isp_held = np.fromiter((b.isp for b in active_b), float, len(active_b))
            rec = {
                "round": t,
                "joined": joined,
                "bids": changes,
                "sellers": {
                    s.id: {"sold": round(s.sold, 9), "reserve": round(s.reserve, 9)}
                    for s in active_s
                },
                "messages": messages,
                "welfare": _welfare(*spec_cols, held, isp_held, cap),
            }
            if trace is not None:
                trace.write(json.dumps(rec) + "\n")
            if keep_trace:
                records.append(rec)
        if not changes and not to_act and t >= last_join:
            converged = True
            break

    return _finish(market, all_buyers, all_sellers, rounds, messages, converged, records)


def _lot_wakes(
    value: np.ndarray,
    demand: np.ndarray,
    el: np.ndarray,
    held: np.ndarray,
    deaf: np.ndarray,
    lot_reserve: np.ndarray,
    lot_free: np.ndarray,
    epsilon: float,
) -> np.ndarray:
    """Per buyer, the lowest reserve among the lots that wake it (``inf``: none), in
    ``O((L + B) log L)`` — :func:`_lot_uses` and lot deafness (``r_j < deaf_i``) without the
    lots × buyers matrix.

    A lot wakes buyer ``i`` iff ``f_j > s_i``, ``ρ_i(r_j − ε) − x_i > s_i`` (``s_i = ε/θ_i'(0)``
    + 10⁻⁷) and ``r_j < deaf_i``; the last two only get easier as ``r_j`` falls, so the cheapest
    lot among those with ``f_j > s_i`` decides: sort the lots by size, keep running minima of
    their reserves, and look each buyer's threshold up. Same arithmetic on the deciding lot as
    :func:`_lot_uses` (the tests compare the two).
    """
    s = epsilon / value + 1e-7
    order = np.argsort(-lot_free, kind="stable")
    cheapest = np.minimum.accumulate(lot_reserve[order])  # over the k largest lots
    k = np.searchsorted(-lot_free[order], -s, side="left")  # lots with f_j > s_i
    best = np.where(k > 0, cheapest[np.maximum(k - 1, 0)], np.inf)
    y = np.maximum(best - epsilon, 0.0)
    want = _quantities_at_price(value, demand, el, y)
    ok = (k > 0) & (want - held > s) & (best < deaf)
    return np.where(ok, best, np.inf)


def _listen(
    b: _Buyer, sent: list[dict[str, Any]], waiting: dict[str, float]
) -> list[dict[str, Any]]:
    """Lot deafness (choice 7d): a buyer woken only by freed data whose reply sends nothing stops
    listening to lots at that reserve or above; any bid it sends makes it listen again, and every
    ``DEAF_RESET`` rounds all buyers listen again (``simulate``)."""
    if sent:
        b.deaf = math.inf
    elif b.spec.id in waiting:
        b.deaf = min(b.deaf, waiting[b.spec.id])
    return sent


def _spec_columns(buyers: list[_Buyer]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The buyers' (value, demand, elasticity) as arrays, for the vectorised wake-up test."""
    cols = np.array([(b.spec.value, b.spec.demand, b.spec.elasticity) for b in buyers], float)
    cols = cols.reshape(len(buyers), 3)
    return cols[:, 0], cols[:, 1], cols[:, 2]


def _holds(b: _Buyer, pool: dict[str, float], price: float, epsilon: float) -> bool:
    """The quantity hold (docs/psp.md choice 7c): keep the bid when the reply only moves the
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
) -> list[dict[str, Any]]:
    """Send the new consistent bid to the pool and zero bids (opt-outs) to the sellers left,
    unless the buyer holds its bid (:func:`_holds`)."""
    pool, price, isp, target = reply
    out: list[dict[str, Any]] = []
    if _holds(b, pool, price, epsilon):
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


def _welfare(
    value: np.ndarray,
    demand: np.ndarray,
    el: np.ndarray,
    held: np.ndarray,
    isp: np.ndarray,
    isp_price: float,
) -> float:
    """The round's welfare ``Σ_i θ_i(x_i) − p^κ · Σ_i (ISP data)``, ``x_i`` what buyer ``i`` holds
    (:func:`valuation`, vectorised over the active buyers)."""
    z = np.clip(held, 0.0, demand)
    return float(np.sum(value * (z - el * z * z / (2.0 * demand))) - isp_price * np.sum(isp))


def _finish(
    market: DataMarket,
    buyers: dict[str, _Buyer],
    sellers: dict[str, _Seller],
    rounds: int,
    messages: int,
    converged: bool,
    records: list[dict[str, Any]],
) -> MarketResult:
    """Final allocation, eq. (21) payments, welfare, optimum and efficiency."""
    cap = market.isp_price
    pay: dict[str, float] = {b: 0.0 for b in buyers}
    by_seller: dict[str, dict[str, float]] = {b: {} for b in buyers}
    seller_alloc: dict[str, float] = {}
    seller_pay: dict[str, float] = {}
    prices: dict[str, float] = {}
    for s in sellers.values():
        ids = list(s.bids)
        q = np.array([s.bids[i][0] for i in ids], dtype=float)
        p = np.array([s.bids[i][1] for i in ids], dtype=float)
        a = np.array([s.alloc.get(i, 0.0) for i in ids], dtype=float)
        c = costs(q, p, s.supply, s.reserve) if ids else np.zeros(0)
        for i, ai, ci in zip(ids, a, c, strict=True):
            if ai > _TOL:
                by_seller[i][s.id] = float(ai)
                pay[i] += float(ci)
        seller_alloc[s.id] = float(a.sum())
        seller_pay[s.id] = -float(c.sum())
        prices[s.id] = s.reserve
    isp_total = 0.0
    values: dict[str, float] = {}
    allocation: dict[str, Any] = {}
    for bid_, b in buyers.items():
        x = sum(by_seller[bid_].values()) + b.isp
        pay[bid_] += cap * b.isp
        isp_total += b.isp
        values[bid_] = valuation(b.spec, x)
        allocation[bid_] = {"sellers": by_seller[bid_], "isp": b.isp, "total": x}
    allocation.update(seller_alloc)
    allocation[ISP_ID] = isp_total
    payments = {**pay, **seller_pay, ISP_ID: -cap * isp_total}
    values.update({s: 0.0 for s in seller_alloc})
    values[ISP_ID] = -cap * isp_total
    welfare = float(sum(values.values()))
    opt = centralised_optimum(market.buyers, sum(s.supply for s in market.sellers), cap)
    eff = welfare / opt.welfare if opt.welfare > 0 else 1.0
    bids = {
        bid_: {"pool": dict(b.pool), "price": b.price, "isp": b.isp} for bid_, b in buyers.items()
    }
    outcome = Outcome(
        mechanism="data-market",
        allocation=allocation,
        payments=payments,
        values=values,
        details={
            "rounds": rounds,
            "messages": messages,
            "converged": converged,
            "reserves": prices,
            "bids": bids,
            "optimum_welfare": opt.welfare,
            "optimum_price": opt.price,
            "efficiency": eff,
        },
    )
    return MarketResult(
        outcome=outcome,
        rounds=rounds,
        messages=messages,
        converged=converged,
        welfare=welfare,
        optimum=opt,
        efficiency=eff,
        trace=tuple(records),
    )


# ----------------------------------------------------------------------------------------------
# Scenarios
# ----------------------------------------------------------------------------------------------


def worked_example(epsilon: float = 0.01) -> DataMarket:
    """The seed's worked example (§3.4.4): sellers of 65 and 85 units, buyers A–E."""
    table = [("A", 50.0, 1.0), ("B", 40.0, 1.2), ("C", 26.0, 1.5), ("D", 20.0, 2.0)]
    table.append(("E", 14.0, 2.2))
    return DataMarket(
        buyers=tuple(DataBuyer(id=i, demand=d, value=v) for i, d, v in table),
        sellers=(DataSeller(id="1", supply=65.0), DataSeller(id="2", supply=85.0)),
        isp_price=10.0,
        epsilon=epsilon,
    )


def random_market(
    n_buyers: int,
    n_sellers: int,
    seed: int,
    *,
    isp_price: float = 5.0,
    epsilon: float = 0.05,
    order: Literal["synchronous", "asynchronous"] = "asynchronous",
    reserve_policy: Literal["sticky", "current", "decay", "patient"] = "sticky",
    elastic: bool = True,
    max_rounds: int = 1000,
) -> DataMarket:
    """A seeded random market (the benchmark family of issue item 11).

    Buyers: ``θ'(0) ~ U[1, 6]``, demand ``~ U[5, 30]``, elasticity ``~ U[0, 1]`` (0 if not
    ``elastic``). Sellers: supply ``~ U[20, 100]`` scaled so that total supply is 70 % of total
    demand (data is scarce, prices matter). ISP price ``isp_price``.
    """
    rng = np.random.default_rng(seed)
    value = rng.uniform(1.0, 6.0, n_buyers)
    dem = rng.uniform(5.0, 30.0, n_buyers)
    el = rng.uniform(0.0, 1.0, n_buyers) if elastic else np.zeros(n_buyers)
    sup = rng.uniform(20.0, 100.0, n_sellers)
    sup *= 0.7 * dem.sum() / sup.sum()
    return DataMarket(
        buyers=tuple(
            DataBuyer(id=f"b{k}", demand=float(d), value=float(v), elasticity=float(e))
            for k, (d, v, e) in enumerate(zip(dem, value, el, strict=True))
        ),
        sellers=tuple(DataSeller(id=f"s{k}", supply=float(s)) for k, s in enumerate(sup)),
        isp_price=isp_price,
        epsilon=epsilon,
        order=order,
        reserve_policy=reserve_policy,
        seed=seed,
        max_rounds=max_rounds,
    )


# ----------------------------------------------------------------------------------------------
# Mechanism spec (``specmarket clear data-market FILE.json``)
# ----------------------------------------------------------------------------------------------


def clear(instance: DataMarket) -> Outcome:
    """Simulate the market to convergence and return its outcome."""
    return simulate(instance).outcome


def true_value(instance: DataMarket, pid: str, allocation: Any) -> float:
    """A buyer's ``θ_i`` of its total; sellers and the ISP: minus the ISP's cost of its data."""
    for b in instance.buyers:
        if b.id == pid:
            return valuation(b, float(allocation["total"]))
    if pid == ISP_ID:
        return -instance.isp_price * float(allocation)
    return 0.0


def _random_instance(rng: np.random.Generator) -> DataMarket:
    return random_market(
        int(rng.integers(2, 7)),
        int(rng.integers(1, 4)),
        int(rng.integers(0, 10**9)),
        max_rounds=200,
    )


def _deviations(
    instance: DataMarket, pid: str, rng: np.random.Generator
) -> Iterator[tuple[str, DataMarket]]:
    """Misreported marginal value ``θ'(0)`` of a buyer (sellers have no private type here)."""
    k = next((i for i, b in enumerate(instance.buyers) if b.id == pid), None)
    if k is None:
        return
    true = instance.buyers[k].value
    for f in (0.5, 0.8, 1.25, 2.0, float(rng.uniform(0.3, 3.0))):
        buyers = list(instance.buyers)
        buyers[k] = buyers[k].model_copy(update={"value": true * f})
        yield f"value={true * f:.6g}", instance.model_copy(update={"buyers": tuple(buyers)})


def _roles(inst: DataMarket) -> dict[str, str]:
    roles = {b.id: "buyer" for b in inst.buyers}
    roles.update({s.id: "seller" for s in inst.sellers})
    roles[ISP_ID] = "seller"
    return roles


SPEC = MechanismSpec(
    name="data-market",
    title="Distributed PSP data-exchange market (2cm), simulated to convergence",
    source="seed 002 §3 (eqs. 18, 20, 21, 25, 27; Lemmas 3.2, 3.3; Algorithms 1, 2)",
    instance_type=DataMarket,
    clear=clear,
    roles=_roles,
    true_value=true_value,
    claims=frozenset(),
    random_instance=_random_instance,
    deviations=_deviations,
    example="data_market.json",
)
