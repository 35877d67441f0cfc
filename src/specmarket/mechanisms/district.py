"""District-D: the Bayesian-optimal truthful spectrum double auction with local markets (seed 003).

Reconstructed from the appendices of Wang, Liang and Li, "Designing truthful spectrum double
auctions with local markets" (seed ``003``); the choices where the seed is silent are listed in
``docs/district.md``.

Model
-----
``M`` sellers, each with one channel, an ask ``a_m`` and a known ask distribution ``F^s_m``; ``N``
buyers, each with a per-channel bid ``b_n``, a demand of ``r_n ≥ 1`` channels from *different*
sellers (all or nothing) and a bid distribution ``F^b_n``. A conflict graph on the buyers: a
seller's channel may be reused by several buyers, no two of which conflict. Optionally each buyer
may only use the sellers listed in ``eligible`` (local markets / license areas).

Virtual values (seed 003 eqs. (13)–(14)): a buyer's ``φ_n(b) = b − (1 − F^b_n(b)) / f^b_n(b)``, a
seller's ``ψ_m(a) = a + F^s_m(a) / f^s_m(a)``, both *ironed* when the distribution is irregular.

Winner determination (Algorithm 7, budget-balanced; Algorithm 10, profit-driven): starting from
``γ = 0`` and no transactions ``T``, repeatedly take the feasible transaction ``(S, n)`` of maximum
marginal revenue (eq. (30))

    ``Δ_{S,n}(T) = r_n φ_n(b_n) − Σ_{i ∈ S, i ∉ T^s} ψ_i(a_i)``

and add it while ``γ + Δ ≥ 0`` (Algorithm 7) or ``Δ ≥ 0`` (Algorithm 10). The best seller set of a
buyer is built by Algorithm 9: the sellers it can use that are already sold (free to reuse) first,
then the unsold ones of least virtual ask.

Tie-breaking (deterministic): sellers are ranked by increasing ``ψ`` and then by input order, and
Algorithm 9's "arbitrary subset" of reusable sellers is the first ones in that ranking; among
transactions of equal ``Δ`` the buyer listed first wins.

Pricing (critical values; Algorithms 11–12 and the budget-balanced counterparts of the proofs of
Propositions 10–11): the run without the agent gives, round by round, the virtual value (buyer) or
virtual ask (seller) the agent would need to be chosen; the best of these thresholds is turned into
a bid/ask by the inverse of the (ironed) virtual value. A winning buyer pays ``r_n c_n``; a winning
seller receives ``p_m``. Losers pay nothing.

Reports must lie in the support of the declared distribution (rejected otherwise, see
:class:`Instance`). The greedy and its reruns run compiled (:mod:`._district_kernels`; Python twin
:class:`_State`); ``clear(instance, engine="reference")`` runs the literal transcription
(:mod:`.district_reference`) instead, with identical outcomes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal, Self

import numpy as np
from pydantic import model_validator

from specmarket.core import (
    Id,
    InvalidInput,
    MechanismSpec,
    Model,
    NonNegative,
    Outcome,
    PositiveCount,
    require_spectrum_market,
)
from specmarket.core.spec import scalar_grid
from specmarket.distributions import Distribution, DistributionField, Uniform

if TYPE_CHECKING:
    import networkx as nx

Variant = Literal["budget-balanced", "profit"]


# --------------------------------------------------------------------------------------------------
# distributions: what District-D needs from a value distribution
# --------------------------------------------------------------------------------------------------


def support(dist: Distribution) -> tuple[float, float]:
    """``(low, high)`` of ``dist`` (``high`` may be ``inf``): the reports it admits."""
    lo, hi = dist.support
    return float(lo), float(hi)


def buyer_phi(dist: Distribution, x: float) -> float:
    """Ironed buyer virtual value ``φ̄(x)`` (seed 003 eq. (14); Myerson ironing if irregular).

    As everywhere in :mod:`specmarket.distributions`, reports outside the support are clipped
    into it, so ``φ̄`` is flat below ``low`` and above ``high`` (reached only with
    ``outside_support="clip"``; by default such reports are rejected, see :class:`Instance`).
    """
    return float(dist.buyer.ironed_virtual_value(x))


def seller_psi(dist: Distribution, x: float) -> float:
    """Ironed seller virtual ask ``ψ̄(x)`` (seed 003 eq. (13); ironed if irregular)."""
    return float(dist.seller.ironed_virtual_value(x))


def inverse_buyer_phi(dist: Distribution, y: float) -> float:
    """``inf{b ∈ [low, high] : φ̄(b) ≥ y}``: the bid that solves Algorithm 11 line 4 / line 8
    for a virtual threshold ``y`` (ties counted as wins)."""
    return float(dist.buyer.inverse_ironed_virtual_value(y))


def inverse_seller_psi(dist: Distribution, z: float) -> float:
    """``sup{a ∈ [low, high] : ψ̄(a) ≤ z}``: the ask that solves Algorithm 12 line 4 / line 8
    for a virtual threshold ``z`` (ties counted as wins)."""
    return float(dist.seller.inverse_ironed_virtual_value(z))


# --------------------------------------------------------------------------------------------------
# input model
# --------------------------------------------------------------------------------------------------


class Seller(Model):
    """A seller with one channel: its ask and its ask distribution ``F^s_m``."""

    id: Id
    ask: NonNegative
    distribution: DistributionField


class Buyer(Model):
    """A buyer: per-channel bid, demand ``r_n`` (channels from different sellers) and ``F^b_n``."""

    id: Id
    bid: NonNegative
    demand: PositiveCount = 1
    distribution: DistributionField


OutsideSupport = Literal["reject", "clip"]


class Instance(Model):
    """A District-D market (JSON format: ``docs/district.md``).

    ``conflicts`` lists pairs of buyer ids that may not share a channel; ``eligible`` (optional)
    maps a buyer id to the seller ids it may buy from (default: every seller).

    ``outside_support``: what to do with a bid or ask outside the support ``[low, high]`` of the
    participant's declared distribution. ``"reject"`` (default) raises :class:`InvalidInput`
    naming the report: Myerson's virtual values (seed 003 eqs. (13)–(14)) are defined only on the
    support, and a report outside it breaks individual rationality (a buyer bidding 1 under a
    ``U[2, 12]`` prior would be treated as bidding 2 and could pay 2). ``"clip"`` treats such a
    report as the nearest end of the support (individual rationality then holds only for true
    values inside the support).
    """

    variant: Variant = "budget-balanced"
    sellers: tuple[Seller, ...]
    buyers: tuple[Buyer, ...]
    conflicts: tuple[tuple[Id, Id], ...] = ()
    eligible: dict[Id, tuple[Id, ...]] | None = None
    outside_support: OutsideSupport = "reject"

    @model_validator(mode="after")
    def _check(self) -> Self:
        check_reports(self)
        buyer_ids, seller_ids = require_spectrum_market(self.buyers, self.sellers, self.conflicts)
        if self.eligible is not None:
            for bid, sellers in self.eligible.items():
                if bid not in buyer_ids:
                    raise InvalidInput(f"eligible.{bid}", bid, "unknown buyer id")
                for k, sid in enumerate(sellers):
                    if sid not in seller_ids:
                        raise InvalidInput(f"eligible.{bid}[{k}]", sid, "unknown seller id")
                if len(set(sellers)) != len(sellers):
                    raise InvalidInput(f"eligible.{bid}", list(sellers), "duplicate seller id")
        return self


def check_reports(instance: Instance) -> None:
    """Raise :class:`InvalidInput` for the first bid or ask outside its distribution's support,
    unless ``instance.outside_support == "clip"`` (see :class:`Instance`)."""
    if instance.outside_support == "clip":
        return
    reports = [(f"buyers[{k}].bid", b.bid, b.distribution) for k, b in enumerate(instance.buyers)]
    reports += [
        (f"sellers[{k}].ask", s.ask, s.distribution) for k, s in enumerate(instance.sellers)
    ]
    for name, x, dist in reports:
        lo, hi = support(dist)
        if not lo <= x <= hi:
            raise InvalidInput(
                name,
                x,
                f"outside the support [{lo:g}, {hi:g}] of its distribution (virtual values are"
                " defined only there; set outside_support to 'clip' to clip it)",
            )


# --------------------------------------------------------------------------------------------------
# the numeric market and the winner determination (Algorithms 7, 9, 10)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Market:
    """A District-D market on index level (sellers kept in input order).

    Attributes
    ----------
    phi
        ``(N,)`` buyers' (ironed) virtual values ``φ_n(b_n)``.
    psi
        ``(M,)`` sellers' (ironed) virtual asks ``ψ_m(a_m)`` (≥ 0 for asks ≥ 0).
    demand
        ``(N,)`` demands ``r_n ≥ 1``.
    conflict
        ``(N, N)`` symmetric boolean adjacency of the conflict graph (no self-loops).
    eligible
        ``(N, M)`` ``eligible[n, m]``: buyer ``n`` may use seller ``m``'s channel.
    profit
        ``True``: Algorithm 10 (``Δ ≥ 0``); ``False``: Algorithm 7 (``γ + Δ ≥ 0``).

    Derived (computed once, lazily where only one implementation needs them): ``order`` sellers
    by ``(ψ, index)`` and ``rank`` its inverse; per buyer its eligible sellers as a bit set over
    that ranking, as ``uint64`` words (``eligible_words``, compiled path) or a Python ``int``
    (``eligible_bits``, Python twin); the conflict graph as CSR arrays (``nbr_ptr``, ``nbr_idx``)
    or tuples (``neighbors``).
    """

    phi: np.ndarray
    psi: np.ndarray
    demand: np.ndarray
    conflict: np.ndarray
    eligible: np.ndarray
    profit: bool = False
    order: np.ndarray = field(init=False)
    rank: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        phi = np.asarray(self.phi, dtype=float)
        psi = np.asarray(self.psi, dtype=float)
        demand = np.asarray(self.demand, dtype=np.int64)
        conflict = np.asarray(self.conflict, dtype=bool)
        eligible = np.asarray(self.eligible, dtype=bool)
        n, m = phi.size, psi.size
        if demand.shape != (n,) or conflict.shape != (n, n) or eligible.shape != (n, m):
            raise ValueError("inconsistent market shapes")
        conflict = conflict | conflict.T
        np.fill_diagonal(conflict, False)
        order = np.lexsort((np.arange(m), psi))  # by ψ, then input order
        rank = np.empty(m, dtype=np.int64)
        rank[order] = np.arange(m)
        for name, val in (
            ("phi", phi),
            ("psi", psi),
            ("demand", demand),
            ("conflict", conflict),
            ("eligible", eligible),
            ("order", order),
            ("rank", rank),
        ):
            val.setflags(write=False)
            object.__setattr__(self, name, val)

    @property
    def n_buyers(self) -> int:
        return int(self.phi.size)

    @property
    def n_sellers(self) -> int:
        return int(self.psi.size)

    @cached_property
    def _packed(self) -> np.ndarray:
        """``(N, 8W)`` bytes: the eligibility rows in rank order, little-endian bit order."""
        n, m = self.eligible.shape
        words = max(1, -(-m // 64))
        ranked = np.zeros((n, 64 * words), dtype=bool)
        ranked[:, :m] = self.eligible[:, self.order]
        return np.packbits(ranked, axis=1, bitorder="little")

    @cached_property
    def eligible_words(self) -> np.ndarray:
        """``(N, W)`` ``uint64``: bit ``p`` of word ``p // 64`` is set iff the buyer may use the
        seller of rank ``p`` (compiled path)."""
        return np.ascontiguousarray(self._packed.view("<u8").astype(np.uint64))

    @cached_property
    def eligible_bits(self) -> tuple[int, ...]:
        """The same bit sets as Python ``int`` (Python twin)."""
        return tuple(int.from_bytes(row.tobytes(), "little") for row in self._packed)

    @cached_property
    def _csr(self) -> tuple[np.ndarray, np.ndarray]:
        rows, cols = np.nonzero(self.conflict)
        ptr = np.zeros(self.n_buyers + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=self.n_buyers), out=ptr[1:])
        return ptr, cols.astype(np.int64)

    @property
    def nbr_ptr(self) -> np.ndarray:
        """CSR row pointers of the conflict graph: buyer ``k``'s neighbours are
        ``nbr_idx[nbr_ptr[k] : nbr_ptr[k + 1]]``."""
        return self._csr[0]

    @property
    def nbr_idx(self) -> np.ndarray:
        """CSR column indices of the conflict graph (see :attr:`nbr_ptr`)."""
        return self._csr[1]

    @cached_property
    def neighbors(self) -> tuple[tuple[int, ...], ...]:
        """Conflict neighbours per buyer as tuples (Python twin)."""
        ptr, idx = self._csr
        flat = idx.tolist()
        return tuple(tuple(flat[ptr[k] : ptr[k + 1]]) for k in range(self.n_buyers))

    @cached_property
    def psi_ranked(self) -> np.ndarray:
        """Virtual asks in rank order (``psi[order]``)."""
        return np.ascontiguousarray(self.psi[self.order])

    @cached_property
    def rphi(self) -> np.ndarray:
        """``r_n φ_n`` per buyer (the first term of eq. (30))."""
        out: np.ndarray = self.demand * self.phi
        return out


@dataclass(frozen=True)
class Transaction:
    """One transaction ``(S, n)``: buyer ``n`` gets the channels of sellers ``S`` (input indices),
    adding marginal revenue ``delta`` (eq. (30)) when the running virtual surplus was ``gamma``."""

    buyer: int
    sellers: tuple[int, ...]
    delta: float
    gamma: float


class _State:
    """Mutable state of one run of Algorithm 7/10, kept incrementally.

    Sellers are ranked by (ψ, input order) and each buyer's usable channels (eligible and not
    blocked by a conflicting holder) are a bit set over that ranking (a Python ``int``), so that
    "reuse first, then the cheapest unsold" (Algorithm 9) is "lowest bits first". ``cost[n]`` is the
    virtual cost of buyer ``n``'s best set of ``r_n`` channels and ``cost1[n]`` of ``r_n − 1``
    channels (``inf`` if impossible); ``score[n] = r_n φ_n − cost[n]`` for active buyers (``−inf``
    otherwise). A transaction changes only the rows of the winner's conflict neighbours and, when
    it sells new channels, the rows that could use them.
    """

    def __init__(self, market: Market, skip_buyer: int | None, skip_seller: int | None) -> None:
        self.market = market
        n = market.n_buyers
        self.psi_r: list[float] = [float(x) for x in market.psi[market.order]]
        self.rphi: list[float] = [float(x) for x in market.rphi]
        self.r: list[int] = [int(x) for x in market.demand]
        self.usable: list[int] = list(market.eligible_bits)
        self.sold = 0
        self.active: list[bool] = [True] * n
        self.observer = skip_buyer
        if skip_buyer is not None:
            self.active[skip_buyer] = False
        self.cost = np.full(n, np.inf)
        self.cost1 = np.full(n, np.inf)
        self.score = np.full(n, -np.inf)
        self.gamma = 0.0
        self.trace: list[Transaction] = []
        if skip_seller is not None:
            keep = ~(1 << int(market.rank[skip_seller]))
            self.usable = [u & keep for u in self.usable]
        for k in range(n):
            self._update(k)

    def copy(self) -> _State:
        new = object.__new__(_State)
        new.__dict__.update(self.__dict__)
        new.usable = list(self.usable)
        new.active = list(self.active)
        new.cost = self.cost.copy()
        new.cost1 = self.cost1.copy()
        new.score = self.score.copy()
        new.trace = list(self.trace)
        return new

    def row_costs(self, k: int) -> tuple[float, float]:
        """Buyer ``k``'s Algorithm-9 costs for ``r_k`` and for ``r_k − 1`` channels."""
        u = self.usable[k]
        r = self.r[k]
        have = (u & self.sold).bit_count()  # reusable channels cost nothing
        if have >= r:
            return 0.0, 0.0
        fresh = u & ~self.sold
        c1 = c = 0.0 if have >= r - 1 else math.inf
        total = 0.0
        for got in range(have + 1, r + 1):
            if not fresh:
                c = math.inf
                if got <= r - 1:
                    c1 = math.inf
                break
            low = fresh & -fresh
            total += self.psi_r[low.bit_length() - 1]
            fresh ^= low
            if got == r - 1:
                c1 = total
            if got == r:
                c = total
        return c, c1

    def _update(self, k: int) -> None:
        """Refresh buyer ``k``'s costs and score."""
        c, c1 = self.row_costs(k)
        self.cost[k] = c
        self.cost1[k] = c1
        self.score[k] = self.rphi[k] - c if self.active[k] else -math.inf

    def apply(self, buyer: int, bits: int, delta: float) -> None:
        """Add transaction ``(S, buyer)`` (``bits`` = ranked positions of ``S`` as a bit set)."""
        m = self.market
        sellers = tuple(sorted(int(m.order[c]) for c in _bit_positions(bits)))
        self.trace.append(Transaction(buyer, sellers, float(delta), self.gamma))
        self.gamma += delta
        new = bits & ~self.sold
        self.sold |= bits
        self.active[buyer] = False
        self.score[buyer] = -math.inf
        self.cost1[buyer] = math.inf
        keep = ~bits
        dirty: set[int] = set()
        usable = self.usable
        for k in m.neighbors[buyer]:
            if usable[k] & bits:
                usable[k] &= keep
                dirty.add(k)
        if new:
            # rows that cannot get r − 1 channels stay so (usable sets only shrink): skip them
            live = np.flatnonzero(self.cost1 < math.inf).tolist()
            if self.observer is not None:
                live.append(self.observer)
            dirty.update(k for k in live if usable[k] & new)
        obs = self.observer
        for k in dirty:
            if self.active[k] or k == obs:
                self._update(k)

    def choose_sellers(self, buyer: int) -> int:
        """The seller set ``S*`` of Algorithm 9 for ``buyer`` (a bit set of ranked positions)."""
        r = self.r[buyer]
        u = self.usable[buyer]
        pick = 0
        for pool in (u & self.sold, u & ~self.sold):
            while pool and r:
                low = pool & -pool
                pick |= low
                pool ^= low
                r -= 1
        return pick

    def step(self) -> tuple[int, float] | None:
        """``MaxMarginalRev(T)``: the best buyer and its ``Δ``, or ``None`` if none is feasible."""
        if self.score.size == 0:
            return None
        k = int(np.argmax(self.score))  # first maximum: ties to the buyer listed first
        best = float(self.score[k])
        if best == -math.inf:
            return None
        return k, best

    def accepts(self, delta: float) -> bool:
        """Line 4 of Algorithm 7 (``γ + Δ ≥ 0``) or of Algorithm 10 (``Δ ≥ 0``)."""
        return delta >= 0.0 if self.market.profit else self.gamma + delta >= 0.0

    def final_target(self) -> float:
        """Marginal revenue an extra transaction needs after the last round: ``−γ_k`` or ``0``."""
        return 0.0 if self.market.profit else -self.gamma


def _bit_positions(bits: int) -> list[int]:
    out = []
    while bits:
        low = bits & -bits
        out.append(low.bit_length() - 1)
        bits ^= low
    return out


def _run(
    state: _State, on_round: Callable[[_State, Transaction | None], bool | None] | None
) -> _State:
    """The loop of Algorithms 7/10 from ``state``; ``on_round(state, t)`` is called before each
    round is applied (``t = None`` for the final, failing or empty, round ``k + 1``); if it
    returns ``True`` the run stops early (the caller needs nothing more from it)."""
    market = state.market
    while True:
        best = state.step()
        if best is None or not state.accepts(best[1]):
            if on_round is not None:
                on_round(state, None)
            return state
        buyer, delta = best
        bits = state.choose_sellers(buyer)
        if on_round is not None:
            sellers = tuple(sorted(int(market.order[c]) for c in _bit_positions(bits)))
            if on_round(state, Transaction(buyer, sellers, delta, state.gamma)):
                return state
        state.apply(buyer, bits, delta)


def _kernels() -> Any:
    """The compiled kernels (imported on first use: numba is slow to import)."""
    from specmarket.mechanisms import _district_kernels

    return _district_kernels


def _transactions(
    market: Market,
    buyers: np.ndarray,
    picks: np.ndarray,
    deltas: np.ndarray,
    gammas: np.ndarray,
) -> list[Transaction]:
    """The kernels' trace (seller sets as ``uint64`` bit-set rows) as :class:`Transaction` s."""
    if buyers.size == 0:
        return []
    bits = np.unpackbits(picks.astype("<u8").view(np.uint8), axis=1, bitorder="little")
    order = market.order
    out = []
    for t in range(buyers.size):
        ranks = np.flatnonzero(bits[t, : market.n_sellers])
        sellers = tuple(sorted(int(order[p]) for p in ranks))
        out.append(Transaction(int(buyers[t]), sellers, float(deltas[t]), float(gammas[t])))
    return out


def _full_run(
    market: Market, skip_buyer: int, skip_rank: int, with_thresholds: bool
) -> tuple[list[Transaction], np.ndarray]:
    k = _kernels()
    buyers, picks, deltas, gammas, thr = k.full_run(
        market.eligible_words,
        market.demand,
        market.rphi,
        market.psi_ranked,
        market.profit,
        market.nbr_ptr,
        market.nbr_idx,
        skip_buyer,
        skip_rank,
        with_thresholds,
    )
    return _transactions(market, buyers, picks, deltas, gammas), thr


def determine_winners(
    market: Market, skip_buyer: int | None = None, skip_seller: int | None = None
) -> list[Transaction]:
    """Winner determination, Algorithm 7 (budget-balanced) or Algorithm 10 (profit-driven).

    ``skip_buyer`` / ``skip_seller`` run the market without that agent (line 1 of Algorithms
    11–12). Returns the transactions ``((S_1, j_1), …, (S_k, j_k))`` in the order they were added.
    Compiled (:mod:`._district_kernels`); the Python twin is :func:`_determine_winners_python`.
    """
    rank = -1 if skip_seller is None else int(market.rank[skip_seller])
    return _full_run(market, -1 if skip_buyer is None else skip_buyer, rank, False)[0]


def _determine_winners_python(
    market: Market, skip_buyer: int | None = None, skip_seller: int | None = None
) -> list[Transaction]:
    """Python twin of :func:`determine_winners` (same operations, Python-int bit sets)."""
    return _run(_State(market, skip_buyer, skip_seller), None).trace


def _buyer_rounds(state: _State, n: int) -> float:
    """Finish the run without buyer ``n`` from ``state``; the least virtual value ``φ_n`` that
    would have made ``n`` chosen in one of the remaining rounds (Algorithm 11 lines 3–9)."""
    r = float(state.market.demand[n])
    best = math.inf

    def on_round(st: _State, t: Transaction | None) -> bool:
        nonlocal best
        c = float(st.cost[n])
        if c == math.inf:
            # usable sets only shrink: once n cannot get r_n channels it never can again
            return st.usable[n].bit_count() < st.r[n]
        target = t.delta if t is not None else st.final_target()
        best = min(best, (target + c) / r)
        return False

    _run(state, on_round)
    return best


def _seller_rounds(state: _State, m: int) -> float:
    """Finish the run without seller ``m`` from ``state``; the largest virtual ask ``ψ_m`` that
    would have made ``m`` chosen in one of the remaining rounds (Algorithm 12 lines 3–9):
    ``max_j r_j φ_j − C^{−m}_j − Δ_l`` over active buyers ``j`` that may use ``m``, where
    ``C^{−m}_j`` is the cost of ``j``'s best ``r_j − 1`` other channels (Algorithm 8, Lemma 3)."""
    mk = state.market
    rphi = mk.rphi
    elig = mk.eligible[:, m]
    best = -math.inf

    def on_round(st: _State, t: Transaction | None) -> bool:
        nonlocal best
        # cost1 is inf for inactive buyers and for those that cannot get r − 1 channels, forever
        v = float(np.max(np.where(elig, rphi - st.cost1, -np.inf)))
        if v == -math.inf:
            return True
        target = t.delta if t is not None else st.final_target()
        best = max(best, v - target)
        return False

    _run(state, on_round)
    return best


def buyer_threshold(market: Market, n: int) -> float:
    """Critical *virtual value* of buyer ``n``: the least ``φ_n`` with which it wins.

    Algorithm 11 (profit-driven) / proof of Proposition 10 (budget-balanced) in virtual space:
    rerun without ``n``; in round ``l`` it would be chosen iff ``r_n φ − C_n(T_{l−1}) ≥ Δ_l``
    (line 4; ``C_n`` = cost of its Algorithm-9 set), after the last round iff
    ``r_n φ − C_n(T_k) ≥ 0`` (Alg. 10) or ``≥ −γ_k`` (Alg. 7) (line 8). Simple version (one
    Python rerun from scratch); :func:`critical_thresholds` computes all of them faster.
    """
    return _buyer_rounds(_State(market, n, None), n)


def seller_threshold(market: Market, m: int) -> float:
    """Critical *virtual ask* of seller ``m``: the largest ``ψ_m`` with which it sells.

    Algorithm 12 / proof of Proposition 11 in virtual space: rerun without ``m``; in round ``l``
    it would be chosen with buyer ``j`` iff ``r_j φ_j − ψ_m − C^{−m}_j(T_{l−1}) ≥ Δ_l`` (line 4,
    Algorithm 8's set, Lemma 3), after the last round iff the left side is ``≥ 0`` / ``≥ −γ_k``.
    Python rerun from scratch (the twin of ``_district_kernels.seller_rerun``).
    """
    return _seller_rounds(_State(market, None, m), m)


@dataclass(frozen=True)
class Thresholds:
    """Winner determination plus the critical virtual values of every winner."""

    trace: tuple[Transaction, ...]
    buyer: dict[int, float]
    seller: dict[int, float]


Engine = Literal["fast", "reference"]


def critical_thresholds(market: Market, engine: Engine = "fast") -> Thresholds:
    """All critical virtual values at once (behind :func:`clear`).

    ``engine="fast"``: compiled (:mod:`._district_kernels`). The run without a winning buyer
    coincides with the full run until the round in which that buyer won (removing an agent that is
    not chosen changes no earlier choice), so its rerun starts from a copy of the full run's state
    at that round, and its candidates of the earlier rounds are read off the full run itself. The
    run without a sold seller starts from scratch (a seller's presence changes other buyers'
    sets). ``engine="reference"``: the literal transcription (:mod:`.district_reference`).
    """
    if engine == "reference":
        return _thresholds_reference(market)
    if engine != "fast":
        raise InvalidInput("engine", engine, "must be 'fast' or 'reference'")
    trace, thr = _full_run(market, -1, -1, True)
    buyer = {t.buyer: float(y) for t, y in zip(trace, thr, strict=True)}
    k = _kernels()
    seller: dict[int, float] = {}
    for i in sorted({i for t in trace for i in t.sellers}):
        seller[i] = float(
            k.seller_rerun(
                int(market.rank[i]),
                market.eligible_words,
                np.ascontiguousarray(market.eligible[:, i]),
                market.demand,
                market.rphi,
                market.psi_ranked,
                market.profit,
                market.nbr_ptr,
                market.nbr_idx,
            )
        )
    return Thresholds(tuple(trace), buyer, seller)


def _thresholds_python(market: Market) -> Thresholds:
    """Python twin of :func:`critical_thresholds` (``engine="fast"``): the same one-pass structure
    and floating-point operations on Python-int bit sets; tests compare the two with ``==``."""
    state = _State(market, None, None)
    early = np.full(market.n_buyers, np.inf)
    r = market.demand.astype(float)
    rerun: dict[int, float] = {}

    def on_round(st: _State, t: Transaction | None) -> None:
        target = t.delta if t is not None else st.final_target()
        cand = np.where(np.asarray(st.active), (target + st.cost) / r, np.inf)
        if t is not None:
            cand[t.buyer] = np.inf  # its own round is taken from its rerun
        np.minimum(early, cand, out=early)
        if t is not None:
            sub = st.copy()
            sub.active[t.buyer] = False
            sub.score[t.buyer] = -math.inf
            sub.observer = t.buyer
            rerun[t.buyer] = _buyer_rounds(sub, t.buyer)

    _run(state, on_round)
    trace = tuple(state.trace)
    buyer = {t.buyer: min(float(early[t.buyer]), rerun[t.buyer]) for t in trace}
    sold = sorted({i for t in trace for i in t.sellers})
    return Thresholds(trace, buyer, {i: seller_threshold(market, i) for i in sold})


def _thresholds_reference(market: Market) -> Thresholds:
    """:class:`Thresholds` from the literal transcription (:mod:`.district_reference`)."""
    from specmarket.mechanisms import district_reference as ref

    lit = ref.winner_determination(market)
    trace, gamma = [], 0.0
    for t in lit:
        trace.append(Transaction(t.buyer, t.sellers, t.delta, gamma))
        gamma += t.delta
    buyer = {t.buyer: ref.buyer_virtual_threshold(market, t.buyer) for t in lit}
    sold = sorted(ref.sold(lit))
    seller = {i: ref.seller_virtual_threshold(market, i) for i in sold}
    return Thresholds(tuple(trace), buyer, seller)


# --------------------------------------------------------------------------------------------------
# the mechanism on an Instance
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    """An :class:`Instance` turned into a :class:`Market` plus its distributions."""

    instance: Instance
    market: Market
    buyer_dists: tuple[Any, ...]
    seller_dists: tuple[Any, ...]


def prepare(instance: Instance) -> Prepared:
    """Compute virtual values, the conflict matrix and the eligibility matrix of ``instance``.

    Reports are checked against the supports again (:func:`check_reports`): ``model_copy``
    does not re-run the validators.
    """
    check_reports(instance)
    buyers, sellers = instance.buyers, instance.sellers
    bd = tuple(b.distribution for b in buyers)
    sd = tuple(s.distribution for s in sellers)
    bidx = {b.id: k for k, b in enumerate(buyers)}
    sidx = {s.id: k for k, s in enumerate(sellers)}
    n, m = len(buyers), len(sellers)
    conflict = np.zeros((n, n), dtype=bool)
    if instance.conflicts:
        pairs = np.array([(bidx[u], bidx[v]) for u, v in instance.conflicts], dtype=np.int64)
        conflict[pairs[:, 0], pairs[:, 1]] = True
        conflict[pairs[:, 1], pairs[:, 0]] = True
    if instance.eligible is None:
        eligible = np.ones((n, m), dtype=bool)
    else:
        eligible = np.ones((n, m), dtype=bool)
        for bid, sl in instance.eligible.items():
            eligible[bidx[bid]] = False
            eligible[bidx[bid], [sidx[s] for s in sl]] = True
    market = Market(
        phi=np.array([buyer_phi(d, b.bid) for d, b in zip(bd, buyers, strict=True)]),
        psi=np.array([seller_psi(d, s.ask) for d, s in zip(sd, sellers, strict=True)]),
        demand=np.array([b.demand for b in buyers]),
        conflict=conflict,
        eligible=eligible,
        profit=instance.variant == "profit",
    )
    return Prepared(instance, market, bd, sd)


def conflict_graph(instance: Instance) -> nx.Graph[str]:
    """The conflict graph ``G`` of ``instance`` as a :mod:`networkx` graph on buyer ids."""
    import networkx as nx

    graph: nx.Graph[str] = nx.Graph()
    graph.add_nodes_from(b.id for b in instance.buyers)
    graph.add_edges_from(instance.conflicts)
    return graph


def _with_bid(prep: Prepared, n: int, bid: float) -> Market:
    mk = prep.market
    phi = mk.phi.copy()
    phi[n] = buyer_phi(prep.buyer_dists[n], bid)
    return Market(phi, mk.psi, mk.demand, mk.conflict, mk.eligible, mk.profit)


def _with_ask(prep: Prepared, m: int, ask: float) -> Market:
    mk = prep.market
    psi = mk.psi.copy()
    psi[m] = seller_psi(prep.seller_dists[m], ask)
    return Market(mk.phi, psi, mk.demand, mk.conflict, mk.eligible, mk.profit)


def _winners(market: Market, engine: Engine) -> list[Transaction]:
    if engine == "reference":
        from specmarket.mechanisms import district_reference as ref

        return [
            Transaction(t.buyer, t.sellers, t.delta, 0.0) for t in ref.winner_determination(market)
        ]
    return determine_winners(market)


def _buyer_wins(market: Market, n: int, engine: Engine = "fast") -> bool:
    return any(t.buyer == n for t in _winners(market, engine))


def _seller_wins(market: Market, m: int, engine: Engine = "fast") -> bool:
    return any(m in t.sellers for t in _winners(market, engine))


#: Relative width above which an interval of reports with the same (ironed) virtual value counts as
#: a flat ironed piece rather than rounding noise.
_FLAT = 1e-6


def critical_bid(
    prep: Prepared, n: int, threshold: float | None = None, engine: Engine = "fast"
) -> float:
    """Critical per-channel bid ``c_n`` of winning buyer ``n``: ``inf{b : n wins}``.

    The virtual threshold ``y*`` of :func:`buyer_threshold` is inverted through ``φ̄_n``. Where
    ``φ̄_n`` is flat at level ``y*`` (ironing), whether the flat interval wins depends on the
    tie-breaking, so one extra run (of ``engine``'s winner determination) inside the interval
    decides between its two ends.
    """
    y = buyer_threshold(prep.market, n) if threshold is None else threshold
    dist = prep.buyer_dists[n]
    price = inverse_buyer_phi(dist, y)
    eps = 1e-9 * (1.0 + abs(y))
    lo = inverse_buyer_phi(dist, y - eps)
    hi = inverse_buyer_phi(dist, y + eps)
    if not hi - lo > _FLAT * (1.0 + abs(lo)):
        return float(price)
    mid = 0.5 * (lo + hi)
    return float(lo) if _buyer_wins(_with_bid(prep, n, mid), n, engine) else float(hi)


def critical_ask(
    prep: Prepared, m: int, threshold: float | None = None, engine: Engine = "fast"
) -> float:
    """Critical ask ``p_m`` of winning seller ``m``: ``sup{a : m sells}``.

    The virtual threshold ``z*`` of :func:`seller_threshold` is inverted through ``ψ̄_m``; a flat
    ironed interval at level ``z*`` is settled by one extra run, as in :func:`critical_bid`.
    """
    z = seller_threshold(prep.market, m) if threshold is None else threshold
    dist = prep.seller_dists[m]
    price = inverse_seller_psi(dist, z)
    eps = 1e-9 * (1.0 + abs(z))
    hi = inverse_seller_psi(dist, z + eps)
    lo = inverse_seller_psi(dist, z - eps)
    if not hi - lo > _FLAT * (1.0 + abs(hi)):
        return float(price)
    mid = 0.5 * (lo + hi)
    return float(hi) if _seller_wins(_with_ask(prep, m, mid), m, engine) else float(lo)


def clear(instance: Instance, engine: Engine = "fast") -> Outcome:
    """Clear a District-D market: winners by Algorithm 7 or 10, critical-value prices.

    ``engine="fast"`` (default) runs the compiled kernels; ``engine="reference"`` the literal
    transcription of the appendix's algorithms (:mod:`.district_reference`, slow). Both give the
    same outcome (the tests compare them exactly).
    """
    if engine not in ("fast", "reference"):
        raise InvalidInput("engine", engine, "must be 'fast' or 'reference'")
    prep = prepare(instance)
    market = prep.market
    th = critical_thresholds(market, engine)
    trace = th.trace
    buyers, sellers = instance.buyers, instance.sellers
    alloc: dict[str, Any] = {b.id: [] for b in buyers}
    alloc.update({s.id: [] for s in sellers})
    pay: dict[str, float] = {pid: 0.0 for pid in alloc}
    vals: dict[str, float] = {pid: 0.0 for pid in alloc}
    sold: dict[int, list[str]] = {}
    for t in trace:
        b = buyers[t.buyer]
        alloc[b.id] = [sellers[i].id for i in t.sellers]
        for i in t.sellers:
            sold.setdefault(i, []).append(b.id)
        price = critical_bid(prep, t.buyer, th.buyer[t.buyer], engine)
        pay[b.id] = b.demand * price
        vals[b.id] = b.demand * b.bid
    for i, holders in sorted(sold.items()):
        s = sellers[i]
        alloc[s.id] = holders
        pay[s.id] = -critical_ask(prep, i, th.seller[i], engine)
        vals[s.id] = -s.ask
    virtual = math.fsum(t.delta for t in trace)
    return Outcome(
        mechanism="district",
        allocation=alloc,
        payments=pay,
        values=vals,
        details={
            "variant": instance.variant,
            "virtual_surplus": virtual,
            "channels_used": len(sold),
            "buyers_served": len(trace),
            "rounds": [
                {
                    "buyer": buyers[t.buyer].id,
                    "sellers": [sellers[i].id for i in t.sellers],
                    "delta": t.delta,
                }
                for t in trace
            ],
        },
    )


# --------------------------------------------------------------------------------------------------
# auditor hooks
# --------------------------------------------------------------------------------------------------


def true_value(instance: Instance, pid: str, allocation: Any) -> float:
    """Value of ``allocation`` to ``pid``: a buyer values its ``r_n`` channels at ``r_n b_n`` (all
    or nothing), a seller values selling at ``−a_m`` (its channel is sold once, whatever the reuse).
    """
    for b in instance.buyers:
        if b.id == pid:
            return b.demand * b.bid if len(allocation) >= b.demand else 0.0
    s = next(s for s in instance.sellers if s.id == pid)
    return -s.ask if len(allocation) > 0 else 0.0


def roles(instance: Instance) -> dict[str, Literal["buyer", "seller"]]:
    out: dict[str, Literal["buyer", "seller"]] = {b.id: "buyer" for b in instance.buyers}
    out.update({s.id: "seller" for s in instance.sellers})
    return out


_UNIFORMS = ((0.0, 10.0), (0.0, 6.0), (2.0, 12.0))


def random_instance(rng: np.random.Generator, variant: Variant | None = None) -> Instance:
    """A small random market: 1–4 sellers, 1–5 buyers, demands 1–2 (half the instances unit
    demand), a random conflict graph, sometimes local markets; uniform distributions and reports
    drawn from them (so that ex-ante budget balance can be checked)."""
    m = int(rng.integers(1, 5))
    n = int(rng.integers(1, 6))
    multi = bool(rng.random() < 0.5)
    var: Variant = variant or ("profit" if rng.random() < 0.5 else "budget-balanced")

    def dist() -> Uniform:
        lo, hi = _UNIFORMS[int(rng.integers(len(_UNIFORMS)))]
        return Uniform(lo, hi)

    sellers = []
    for k in range(m):
        d = dist()
        sellers.append(Seller(id=f"s{k}", ask=float(rng.uniform(d.low, d.high)), distribution=d))
    buyers = []
    for k in range(n):
        d = dist()
        r = int(rng.integers(1, min(2, m) + 1)) if multi else 1
        buyers.append(
            Buyer(id=f"b{k}", bid=float(rng.uniform(d.low, d.high)), demand=r, distribution=d)
        )
    p = float(rng.uniform(0, 0.7))
    conflicts = tuple(
        (f"b{i}", f"b{j}") for i in range(n) for j in range(i + 1, n) if rng.random() < p
    )
    eligible = None
    if rng.random() < 0.3:
        eligible = {
            f"b{i}": tuple(f"s{k}" for k in range(m) if rng.random() < 0.7) for i in range(n)
        }
    return Instance(
        variant=var,
        sellers=tuple(sellers),
        buyers=tuple(buyers),
        conflicts=conflicts,
        eligible=eligible,
    )


def _admissible(points: list[float], dist: Distribution, mode: OutsideSupport) -> list[float]:
    """Misreports the instance admits: clipped into the support unless reports are clipped
    anyway (``mode == "clip"``), without repeats, in the given order."""
    if mode == "reject":
        lo, hi = support(dist)
        points = [min(max(x, lo), hi) for x in points]
    return list(dict.fromkeys(points))


def deviations(
    instance: Instance, pid: str, rng: np.random.Generator
) -> Iterator[tuple[str, Instance]]:
    """Misreports of ``pid``: bid/ask on a grid over [0, 13], next to the truth and next to the
    other reports, and random points, kept inside the support of ``pid``'s distribution (the
    reports the instance admits by default). Demands are not misreported (the seed takes them as
    known).
    """
    buyers, sellers = list(instance.buyers), list(instance.sellers)
    others = [b.bid for b in buyers if b.id != pid] + [s.ask for s in sellers if s.id != pid]
    mode = instance.outside_support
    for k, b in enumerate(buyers):
        if b.id == pid:
            pts = scalar_grid(b.bid, 0.0, 13.0, 6, 3, rng) + [o + 1e-6 for o in others]
            for x in _admissible(pts, b.distribution, mode):
                nb = list(buyers)
                nb[k] = b.model_copy(update={"bid": float(x)})
                yield f"bid={x:.6g}", instance.model_copy(update={"buyers": tuple(nb)})
            return
    for k, s in enumerate(sellers):
        if s.id == pid:
            pts = scalar_grid(s.ask, 0.0, 13.0, 6, 3, rng) + [max(o - 1e-6, 0.0) for o in others]
            for x in _admissible(pts, s.distribution, mode):
                ns = list(sellers)
                ns[k] = s.model_copy(update={"ask": float(x)})
                yield f"ask={x:.6g}", instance.model_copy(update={"sellers": tuple(ns)})
            return


SPEC = MechanismSpec(
    name="district",
    title="District-D: Bayesian-optimal truthful spectrum double auction with local markets",
    source="seed 003 (Wang, Liang, Li, IEEE TMC), Appendices A–C, Algorithms 7–12",
    instance_type=Instance,
    clear=clear,
    roles=roles,
    true_value=true_value,
    claims=frozenset({"ic", "ir", "npt", "bb-ex-ante"}),
    random_instance=random_instance,
    deviations=deviations,
    example="district.json",
)
