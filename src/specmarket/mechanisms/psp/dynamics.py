"""Asynchronous truthful ε-best-reply dynamics of classic PSP, and the welfare optimum.

Lazar & Semret's game (seed 002 §1.1.1 and Proposition 4.2 restricted to one resource): ``I``
buyers with elastic valuations ``θ_i`` (:class:`~.replies.ElasticValuation`) and budgets
``b_i``, a seller with ``Q`` units and reserve bid ``(Q, p_0)``. All buyers start with the empty
bid ``(0, 0)``.
Each round visits the buyers one at a time in a seeded random order; the visited buyer computes its
truthful ε-best reply ``t_i`` (:func:`~.replies.best_reply`) and rebids — one *bid* — only if that
raises its utility ``θ_i(a_i) − c_i`` by more than ``ε`` (its first bid, joining the auction,
only needs a positive gain: ``join_free``). The dynamics stop after the first round
in which nobody moves: every buyer is then within ``ε`` of its truthful ε-best reply, an ε-Nash
equilibrium of the truthful game.

Welfare counts the seller's kept units at the reserve: ``W = Σ_i θ_i(a_i) + p_0 a_0``. The optimum
``max Σ θ_i(x_i) + p_0 (Q − Σ x_i)`` s.t. ``Σ x_i ≤ Q`` is found exactly by water-filling on the
marginal values (:func:`water_filling`); the efficiency ratio is ``W / W*``. Lazar & Semret bound
the loss at equilibrium by ``4 Q √(ε κ)`` with ``κ = max_i sup |θ_i''|`` (our reading; the seed
does not restate it).

Two engines give the same trajectory: ``"fast"`` keeps the bids sorted by price and evaluates a
buyer in ``O(I)`` against that order (:class:`~.replies.Others`, :func:`~.replies.bid_outcome`);
``"reference"`` re-sorts and re-runs the auction with and without the buyer for every evaluation,
with the allocation computed pairwise in ``O(I^2)`` — the straightforward implementation used by
the benchmark and the tests.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from specmarket.errors import InvalidInput
from specmarket.mechanisms.psp.replies import ElasticValuation, Others, best_reply, bid_outcome
from specmarket.mechanisms.psp.rules import TIE_RULES, psp_outcome

__all__ = [
    "MAX_PLAYERS",
    "MAX_ROUNDS",
    "DynamicsResult",
    "efficiency_bound",
    "random_population",
    "run_dynamics",
    "water_filling",
]


#: Most buyers :func:`random_population` draws and :func:`run_dynamics` accepts. One buyer's
#: valuation takes about 0.6 kB (memory is not the limit) but one round evaluates every buyer
#: against the others' sorted bids in ``O(I)``, so a round costs ``O(I²)``: a two-round run of
#: 10⁴ buyers took 7 CPU-seconds (a loaded 2-core machine), so 10⁵ buyers take about
#: 10 CPU-minutes per round and 10⁶ would take about 16 CPU-hours per round.
MAX_PLAYERS = 100_000
#: Most rounds :func:`run_dynamics` accepts as ``max_rounds`` (each round at least ``O(I)``).
MAX_ROUNDS = 1_000_000


def _check_players(players: int) -> None:
    if players > MAX_PLAYERS:
        raise InvalidInput(
            "players",
            players,
            f"at most {MAX_PLAYERS:,} buyers (a round of the dynamics costs O(players²): "
            f"10⁵ buyers take minutes per round, more would take hours)",
        )


@dataclass
class DynamicsResult:
    """Outcome of :func:`run_dynamics`.

    Attributes
    ----------
    quantities, prices
        Final bids ``(q_i, p_i)`` of the buyers.
    allocation, costs
        ``a_i`` and ``c_i`` under the final bids (tie rule of the run).
    seller_kept
        ``a_0``.
    bids
        Bids submitted by each buyer (rebids that changed its bid).
    rounds
        Rounds played, the last (quiet) one included.
    converged
        Whether a quiet round was reached before ``max_rounds``.
    welfare, optimum, efficiency
        ``W``, ``W*`` and ``W / W*``.
    optimal_allocation
        The water-filling allocation ``x*``.
    loss_bound
        ``4 Q √(ε κ)``.
    trace
        One dict per submitted bid (round, buyer, quantity, price, utility gain), if requested.
    """

    quantities: np.ndarray
    prices: np.ndarray
    allocation: np.ndarray
    costs: np.ndarray
    seller_kept: float
    bids: np.ndarray
    rounds: int
    converged: bool
    welfare: float
    optimum: float
    efficiency: float
    optimal_allocation: np.ndarray
    loss_bound: float
    trace: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total_bids(self) -> int:
        """Bids submitted by all buyers."""
        return int(self.bids.sum())

    @property
    def bids_per_player(self) -> float:
        """Average bids per buyer."""
        return float(self.bids.mean()) if len(self.bids) else 0.0

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary (per-buyer arrays as lists)."""
        return {
            "players": len(self.bids),
            "rounds": self.rounds,
            "converged": self.converged,
            "total_bids": self.total_bids,
            "bids_per_player": self.bids_per_player,
            "welfare": self.welfare,
            "optimum": self.optimum,
            "efficiency": self.efficiency,
            "welfare_loss": self.optimum - self.welfare,
            "loss_bound": self.loss_bound,
            "seller_kept": self.seller_kept,
            "revenue": float(self.costs.sum()),
            "bids": [
                {
                    "quantity": float(q),
                    "price": float(p),
                    "allocation": float(a),
                    "cost": float(c),
                    "bids": int(n),
                }
                for q, p, a, c, n in zip(
                    self.quantities,
                    self.prices,
                    self.allocation,
                    self.costs,
                    self.bids,
                    strict=True,
                )
            ],
            "optimal_allocation": [float(x) for x in self.optimal_allocation],
        }


def water_filling(
    valuations: Sequence[ElasticValuation], total: float, reserve: float = 0.0
) -> tuple[np.ndarray, float]:
    """Exact welfare-maximising allocation ``x*`` and its water level ``λ``.

    Maximises ``Σ θ_i(x_i) + reserve · (Q − Σ x_i)`` s.t. ``Σ x_i ≤ Q``: ``x_i = θ_i'^{-1}(λ)`` with
    ``λ ≥ reserve`` the smallest level at which demand fits. Total demand is piecewise linear in
    ``λ`` between the marginals' breakpoint values, so ``λ`` is found by bisection over those
    breakpoints and one linear interpolation.
    """
    if not valuations:
        return np.zeros(0), reserve

    def demand(lam: float) -> float:
        return math.fsum(float(v.demand(lam)) for v in valuations)

    if demand(reserve) <= total:
        lam = reserve
    else:
        cuts = np.unique(np.concatenate([v.marginal for v in valuations]))
        cuts = cuts[cuts > reserve]
        lo_i, hi_i = -1, len(cuts) - 1  # demand(cuts[hi]) ≤ total (top breakpoint: demand 0)
        while hi_i - lo_i > 1:
            mid = (lo_i + hi_i) // 2
            if demand(float(cuts[mid])) <= total:
                hi_i = mid
            else:
                lo_i = mid
        lo = reserve if lo_i < 0 else float(cuts[lo_i])
        hi = float(cuts[hi_i])
        d_lo, d_hi = demand(lo), demand(hi)
        lam = hi if d_lo == d_hi else lo + (d_lo - total) / (d_lo - d_hi) * (hi - lo)
    x = np.array([float(v.demand(lam)) for v in valuations])
    return x, lam


def welfare(
    valuations: Sequence[ElasticValuation], allocation: np.ndarray, reserve: float, total: float
) -> float:
    """``Σ θ_i(a_i) + p_0 (Q − Σ a_i)``."""
    kept = max(total - float(np.sum(allocation)), 0.0)
    return math.fsum(float(v.value(a)) for v, a in zip(valuations, allocation, strict=True)) + (
        reserve * kept
    )


def efficiency_bound(valuations: Sequence[ElasticValuation], total: float, epsilon: float) -> float:
    """Lazar–Semret's bound on the welfare loss at an ε-Nash equilibrium, ``4 Q √(ε κ)``."""
    kappa = max((v.kappa for v in valuations), default=0.0)
    return 4.0 * total * math.sqrt(epsilon * kappa)


def random_population(
    rng: np.random.Generator,
    players: int,
    theta0: tuple[float, float] = (10.0, 20.0),
    qbar: tuple[float, float] = (50.0, 100.0),
) -> list[ElasticValuation]:
    """Lazar–Semret's experiment population: ``θ'_i(0) ~ U[10, 20]``, ``q̄_i ~ U[50, 100]``.

    At most :data:`MAX_PLAYERS` buyers (:class:`~specmarket.errors.InvalidInput` naming
    ``players`` beyond).
    """
    if isinstance(players, bool) or not isinstance(players, (int, np.integer)) or players < 0:
        raise InvalidInput("players", players, "must be a whole number ≥ 0")
    _check_players(int(players))
    t = rng.uniform(*theta0, size=players)
    q = rng.uniform(*qbar, size=players)
    return [
        ElasticValuation.linear(float(a), float(b), f"players[{k}]")
        for k, (a, b) in enumerate(zip(t, q, strict=True))
    ]


def _naive_allocation(q: np.ndarray, p: np.ndarray, total: float, tie_rule: str) -> np.ndarray:
    """Pairwise ``O(I^2)`` allocation, eq. (3) / eq. (20) (reference engine)."""
    if tie_rule == "split":
        above = (p[None, :] > p[:, None]).astype(float)
        avail = np.maximum(total - above @ q, 0.0)
        tied = (p[None, :] == p[:, None]).astype(float) @ q
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(tied > 0, np.minimum(q, q / np.where(tied > 0, tied, 1) * avail), 0.0)
    ge = (p[None, :] >= p[:, None]).astype(float)
    np.fill_diagonal(ge, 0.0)
    out: np.ndarray = np.minimum(q, np.maximum(total - ge @ q, 0.0))
    return out


def _naive_bid_outcome(
    x: float, y: float, q_o: np.ndarray, p_o: np.ndarray, total: float, tie_rule: str
) -> tuple[float, float]:
    """``(a_i, c_i)`` by re-running the whole auction with and without the bid (reference)."""
    q = np.append(q_o, x)
    p = np.append(p_o, y)
    a = _naive_allocation(q, p, total, tie_rule)
    a0 = _naive_allocation(q_o, p_o, total, tie_rule)
    return float(a[-1]), max(float(np.dot(p_o, a0 - a[:-1])), 0.0)


def _check(
    valuations: Sequence[ElasticValuation],
    budgets: np.ndarray,
    total: float,
    reserve: float,
    epsilon: float,
    tie_rule: str,
) -> None:
    if len(valuations) == 0:
        raise InvalidInput("players", 0, "must not be empty")
    _check_players(len(valuations))
    if not (math.isfinite(total) and total > 0):
        raise InvalidInput("quantity", total, "must be a finite number > 0")
    if not (math.isfinite(reserve) and reserve >= 0):
        raise InvalidInput("reserve", reserve, "must be a finite number ≥ 0")
    if not (math.isfinite(epsilon) and epsilon > 0):
        raise InvalidInput("epsilon", epsilon, "must be a finite number > 0")
    if tie_rule not in TIE_RULES:
        raise InvalidInput("tie_rule", tie_rule, f"must be one of {', '.join(TIE_RULES)}")
    if budgets.shape != (len(valuations),) or np.any(np.isnan(budgets)) or np.any(budgets <= 0):
        raise InvalidInput(
            "budget", budgets.tolist()[:5], "one budget > 0 per player (inf allowed)"
        )


def run_dynamics(
    valuations: Sequence[ElasticValuation],
    total: float = 100.0,
    reserve: float = 0.1,
    epsilon: float = 5.0,
    budgets: float | Sequence[float] = math.inf,
    tie_rule: str = "lazar-semret",
    seed: int = 0,
    max_rounds: int = 10_000,
    engine: str = "fast",
    record_trace: bool = False,
    on_bid: Callable[[dict[str, Any]], None] | None = None,
    join_free: bool = True,
    threshold: float | None = None,
    order: str = "asynchronous",
) -> DynamicsResult:
    """Run asynchronous truthful ε-best-reply dynamics to an ε-Nash equilibrium.

    Parameters
    ----------
    valuations
        One elastic valuation per buyer (at most :data:`MAX_PLAYERS`).
    total, reserve
        ``Q`` and the seller's reserve price ``p_0`` (its bid is ``(Q, p_0)``).
    epsilon
        The bid fee ``ε``: replies shave ``ε/θ'(0)`` and a buyer moves only to gain more than ``ε``.
    budgets
        One budget or one per buyer (``∫_0^z P_i ≤ b_i``).
    tie_rule
        ``"lazar-semret"`` or ``"split"``: the rule used for allocations and costs.
    seed
        Seeds the visiting order (a fresh permutation each round).
    max_rounds
        Stop (``converged=False``) after this many rounds (at most :data:`MAX_ROUNDS`).
    engine
        ``"fast"`` or ``"reference"`` (see the module docstring).
    record_trace, on_bid
        Keep one dict per bid in ``trace`` and/or pass it to ``on_bid``.
    join_free
        A buyer's *first* bid (joining the auction) is submitted as soon as it gains anything; the
        ``ε`` threshold applies to *re*-bids (default). ``False``: every bid needs a gain ``> ε``.
    threshold
        The gain a re-bid needs (default ``ε``, that of the ε-best reply); for sensitivity runs.
    order
        ``"asynchronous"`` (default): one player at a time in a fresh seeded
        permutation each round, each seeing the bids made before it. ``"synchronous"``: every
        player replies to the same snapshot of the bids and all moves are applied at the end of
        the round (an option: it reproduces Lazar–Semret's magnitude of ~12 bids per player,
        docs/psp.md).
    """
    n = len(valuations)
    b = np.asarray(budgets, dtype=float)
    if b.ndim == 0:
        b = np.full(n, float(b))
    _check(valuations, b, total, reserve, epsilon, tie_rule)
    if engine not in ("fast", "reference"):
        raise InvalidInput("engine", engine, "must be 'fast' or 'reference'")
    if order not in ("asynchronous", "synchronous"):
        raise InvalidInput("order", order, "must be 'asynchronous' or 'synchronous'")
    sync = order == "synchronous"
    need = epsilon if threshold is None else float(threshold)
    if not (math.isfinite(need) and need >= 0):
        raise InvalidInput("threshold", threshold, "must be a finite number ≥ 0")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InvalidInput("seed", seed, "must be a whole number ≥ 0")
    if (
        isinstance(max_rounds, bool)
        or not isinstance(max_rounds, (int, np.integer))
        or not 1 <= max_rounds <= MAX_ROUNDS
    ):
        raise InvalidInput(
            "max_rounds", max_rounds, f"must be a whole number between 1 and {MAX_ROUNDS:,}"
        )
    rng = np.random.default_rng(seed)
    q = np.zeros(n + 1)
    p = np.zeros(n + 1)
    q[0], p[0] = total, reserve  # the seller, player 0
    # sorted view (descending price) of all bids, player ids alongside
    ids_s = np.arange(n + 1)
    qs = q.copy()
    ps = p.copy()
    rank = np.argsort(-ps, kind="stable")
    ids_s, qs, ps = ids_s[rank], qs[rank], ps[rank]
    bids = np.zeros(n, dtype=np.int64)
    version = 0
    seen = np.full(n + 1, -1)
    trace: list[dict[str, Any]] = []
    rounds = 0
    converged = False

    def move(i: int, v: float, w: float, gain: float) -> None:
        """Apply player ``i``'s new bid ``(v, w)``: bid arrays, sorted view, counts, trace."""
        nonlocal ids_s, qs, ps, version
        q[i], p[i] = v, w
        bids[i - 1] += 1
        version += 1
        pos = int(np.flatnonzero(ids_s == i)[0])
        ids_s = np.delete(ids_s, pos)
        qs = np.delete(qs, pos)
        ps = np.delete(ps, pos)
        new = int(np.searchsorted(-ps, -w, side="right"))
        ids_s = np.insert(ids_s, new, i)
        qs = np.insert(qs, new, v)
        ps = np.insert(ps, new, w)
        if record_trace or on_bid is not None:
            event = {"round": rounds, "player": int(i), "quantity": v, "price": w, "gain": gain}
            if record_trace:
                trace.append(event)
            if on_bid is not None:
                on_bid(event)

    while rounds < max_rounds:
        rounds += 1
        moved = False
        pending: list[tuple[int, float, float, float]] = []  # synchronous moves of the round
        for i in np.arange(1, n + 1) if sync else rng.permutation(n) + 1:
            if seen[i] == version:
                continue  # nothing changed since i last looked: same reply, no move
            val = valuations[i - 1]
            outcome: Callable[[float, float], tuple[float, float]]
            if engine == "fast":
                pos = int(np.flatnonzero(ids_s == i)[0])
                others = Others.from_sorted(np.delete(qs, pos), np.delete(ps, pos), total)

                def fast_outcome(x: float, y: float, o: Others = others) -> tuple[float, float]:
                    return bid_outcome(x, y, o, tie_rule)

                outcome = fast_outcome
            else:
                q_o = np.delete(q, i)
                p_o = np.delete(p, i)
                others = Others(q_o, p_o, total)

                def naive_outcome(
                    x: float, y: float, qo: np.ndarray = q_o, po: np.ndarray = p_o
                ) -> tuple[float, float]:
                    return _naive_bid_outcome(x, y, qo, po, total, tie_rule)

                outcome = naive_outcome

            v, w = best_reply(val, others, epsilon, float(b[i - 1]))
            a_new, c_new = outcome(v, w)
            a_old, c_old = outcome(float(q[i]), float(p[i]))
            gain = (float(val.value(a_new)) - c_new) - (float(val.value(a_old)) - c_old)
            joining = join_free and bids[i - 1] == 0 and v > 0
            if gain > need or (joining and gain > 0):
                moved = True
                if sync:
                    pending.append((int(i), v, w, gain))
                else:
                    move(int(i), v, w, gain)
            seen[i] = version
        for move_args in pending:  # synchronous: everyone replied to the same snapshot
            move(*move_args)
        if not moved:
            converged = True
            break
    a, c = psp_outcome(q, p, total, tie_rule)
    w_eq = welfare(valuations, a[1:], reserve, total)
    x_opt, _ = water_filling(valuations, total, reserve)
    w_opt = welfare(valuations, x_opt, reserve, total)
    return DynamicsResult(
        quantities=q[1:].copy(),
        prices=p[1:].copy(),
        allocation=a[1:],
        costs=c[1:],
        seller_kept=float(a[0]),
        bids=bids,
        rounds=rounds,
        converged=converged,
        welfare=w_eq,
        optimum=w_opt,
        efficiency=w_eq / w_opt if w_opt > 0 else 1.0,
        optimal_allocation=x_opt,
        loss_bound=efficiency_bound(valuations, total, epsilon),
        trace=trace,
    )
