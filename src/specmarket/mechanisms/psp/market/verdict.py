"""How a run ends: the ε-equilibrium check (seed 002 §4.1) and the cycle detector.

A run of :func:`~.simulation.simulate` ends with one of four statuses:

* ``"converged"`` — the market went quiet *and* :func:`check` confirms an ε-equilibrium: no
  buyer has a reply that raises its utility by more than ε (each buyer's reply is recomputed from
  scratch against the final bids, with the reference reply code on small markets, and its utility
  with the reference eq. (20)/(21) functions of
  :mod:`~specmarket.mechanisms.psp.local_auction`), and no seller would move its reserve by
  eq. (27) on its final bids (seed 002 §4.1, the ε-best reply set of eq. (46));
* ``"cycling"`` — :class:`CycleDetector` saw the same market state for the third time with a buyer
  changing sellers in between: the cycle's length and the buyers that move in it are reported;
* ``"stalled"`` — the market went quiet but the check found a buyer that could gain more than ε
  (a stabiliser of the policy suppressed that reply);
* ``"round-limit"`` — ``max_rounds`` rounds were run without any of the above.

With the cycle breaker (``Policy.break_cycles``) a detected cycle does not end the run: the
market switches to settling rules and goes on (:class:`Break`, listed in ``Verdict.breaks``);
the check is the same, run on the final state with the seller rules in force at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from specmarket.mechanisms.psp.local_auction import allocate, next_reserve
from specmarket.mechanisms.psp.market.valuation import valuation

if TYPE_CHECKING:
    from specmarket.mechanisms.psp.market.buyer import _Buyer
    from specmarket.mechanisms.psp.market.model import DataBuyer
    from specmarket.mechanisms.psp.market.seller import _Seller

__all__ = ["Break", "Cycle", "CycleDetector", "Status", "Verdict", "check"]

Status = Literal["converged", "cycling", "stalled", "round-limit"]
REFERENCE_CHECK_LIMIT = 100_000  # buyers × sellers up to which the check runs the reference reply
_TOL = 1e-9


@dataclass(frozen=True)
class Cycle:
    """A repeated state: first seen at ``start``, repeating every ``length`` rounds."""

    start: int
    length: int
    members: tuple[str, ...]  # the buyers whose bids changed within one period


@dataclass(frozen=True)
class Break:
    """One switch of the cycle breaker (``Policy.break_cycles``): at the end of round
    ``round`` the market moved to settling stage ``stage`` (``Policy.settled``), because the
    detector saw ``cycle`` (``reason = "cycle"``) or ``Policy.break_after`` rounds passed
    without the market going quiet (``"rounds"``)."""

    round: int
    stage: int
    reason: Literal["cycle", "rounds"]
    cycle: Cycle | None

    def to_json(self) -> dict[str, Any]:
        return {
            "round": self.round,
            "stage": self.stage,
            "reason": self.reason,
            "cycle": None if self.cycle is None else _cycle_json(self.cycle),
        }


def _cycle_json(c: Cycle) -> dict[str, Any]:
    return {"start": c.start, "length": c.length, "members": list(c.members)}


@dataclass(frozen=True)
class Verdict:
    """The status of a run and the evidence for it."""

    status: Status
    epsilon: float
    max_gain: float  # the largest utility gain of a from-scratch reply (−inf: not checked)
    worst_buyer: str | None
    unhappy: tuple[str, ...]  # buyers whose reply gains more than ε
    seller_moves: tuple[str, ...]  # sellers whose eq. (27) would move the reserve
    cycle: Cycle | None
    engine: str  # which reply code the check used
    breaks: tuple[Break, ...] = ()  # the cycle breaker's switches, in order (Policy.break_cycles)

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "epsilon": self.epsilon,
            "max_gain": None if self.max_gain == -np.inf else self.max_gain,
            "worst_buyer": self.worst_buyer,
            "unhappy": list(self.unhappy),
            "seller_moves": list(self.seller_moves),
            "cycle": None if self.cycle is None else _cycle_json(self.cycle),
            "engine": self.engine,
            "breaks": [b.to_json() for b in self.breaks],
        }


def _own(
    spec: DataBuyer,
    s: _Seller,
    mine: tuple[float, float] | None,
    foresight: tuple[float, float, bool] | None,
) -> tuple[float, float]:
    """Allocation and eq. (21) cost of ``spec`` bidding ``mine`` at seller ``s`` (reference);
    ``foresight = (ε, p^κ, sticky)``: at the reserve eq. (27) sets on that bid vector."""
    if mine is None or mine[0] <= _TOL:
        return 0.0, 0.0
    rows = [qp for k, qp in s.bids.items() if k != spec.id]
    q = np.array([r[0] for r in rows] + [mine[0]], dtype=float)
    p = np.array([r[1] for r in rows] + [mine[1]], dtype=float)
    r = s.reserve
    if foresight is not None:
        r = next_reserve(r, q, p, s.supply, *foresight)
    with_ = allocate(q, p, s.supply, r)
    if with_[-1] <= 1e-12:
        return 0.0, 0.0
    without = allocate(q[:-1], p[:-1], s.supply, r)
    diff = without - with_[:-1]
    unsold_diff = float(with_.sum()) - float(without.sum())
    return float(with_[-1]), float(np.dot(p[:-1], diff)) + r * unsold_diff


def reference_utility(
    spec: DataBuyer,
    sellers: dict[str, _Seller],
    bids: dict[str, tuple[float, float]],
    at: Iterable[str],
    isp: float,
    isp_price: float,
    foresight: tuple[float, float, bool] | None = None,
) -> float:
    """Eq. (6) utility of bidding ``bids`` at the sellers ``at``, from the local-auction rules."""
    got, cost = isp, isp_price * isp
    for j in at:
        a, c = _own(spec, sellers[j], bids.get(j), foresight)
        got, cost = got + a, cost + c
    return valuation(spec, got) - cost


def check(
    buyers: Sequence[_Buyer],
    sellers: dict[str, _Seller],
    active: Sequence[_Seller],
    epsilon: float,
    isp_price: float,
    sticky: bool,
    engine: str = "auto",
    foresight: bool = False,
    rule: Callable[[_Seller], bool] | None = None,
    eq27: bool = True,
) -> tuple[float, str | None, tuple[str, ...], tuple[str, ...], str]:
    """The ε-equilibrium test, independent of the dynamics' state (seed 002 §4.1).

    Each buyer's reply is computed from scratch (a fresh buyer: no price to hold, no warm
    start; its current pool only marks which bids are its own) against the final bids of the
    ``active`` sellers, with
    :func:`.buyer.best_reply_reference` (``engine="reference"``) or on a freshly built book with
    :func:`.engine.best_reply_fast` (``"fast"``, identical bids; ``"auto"``: reference up to
    ``REFERENCE_CHECK_LIMIT`` buyers × sellers). Its utility is compared with the buyer's
    current one, both with :func:`reference_utility`. Sellers: with ``eq27`` the eq. (27) reserve
    of the final bids (:func:`~..local_auction.next_reserve`) must equal the current one, and
    ``rule(seller)`` (the seller's own reserve rule run once more, e.g. the ``patient`` policy,
    which is not eq. (27)) must not move it either.

    Returns (largest gain, its buyer, buyers gaining more than ε, sellers that would move,
    engine used).
    """
    from specmarket.mechanisms.psp.market.buyer import _Buyer, best_reply_reference
    from specmarket.mechanisms.psp.market.engine import _Book, best_reply_fast

    if engine == "auto":
        engine = "reference" if len(buyers) * len(active) <= REFERENCE_CHECK_LIMIT else "fast"
    book: _Book | None = None
    if engine == "fast":
        ordered = sorted(sellers.values(), key=lambda s: s.rank)
        book = _Book(ordered)
        for s in active:
            book.active[s.rank] = True
        book.set_reserves()
        book.refresh()
    worst, worst_id, unhappy = -np.inf, None, []
    for b in buyers:
        fresh = _Buyer(spec=b.spec, pool=dict(b.pool))  # the pool marks its own bids only
        if book is not None:
            pool, price, isp, _ = best_reply_fast(fresh, book, epsilon, isp_price, hold=False)
        else:
            pool, price, isp, _ = best_reply_reference(
                fresh, list(active), epsilon, isp_price, hold=False
            )
        new = {j: (q, price) for j, q in pool.items() if q > _TOL}
        cur = {j: sellers[j].bids[b.spec.id] for j in b.pool if b.spec.id in sellers[j].bids}
        at = sorted(set(new) | set(cur))  # a fixed sum order, not the set's hash order
        fs = (epsilon, isp_price, sticky) if foresight else None
        g = reference_utility(b.spec, sellers, new, at, isp, isp_price, fs) - reference_utility(
            b.spec, sellers, cur, at, b.isp, isp_price, fs
        )
        if g > worst:
            worst, worst_id = g, b.spec.id
        if g > epsilon:
            unhappy.append(b.spec.id)
    moves = []
    for s in active:
        q = np.array([qp[0] for qp in s.bids.values()], dtype=float)
        p = np.array([qp[1] for qp in s.bids.values()], dtype=float)
        r = next_reserve(s.reserve, q, p, s.supply, epsilon, isp_price, sticky)
        if (eq27 and abs(r - s.reserve) > _TOL) or (rule is not None and rule(s)):
            moves.append(s.id)
    return float(worst), worst_id, tuple(unhappy), tuple(moves), engine


class CycleDetector:
    """Hashes the market state once per round and reports a cycle (:class:`Cycle`).

    The state is every buyer's pool, its total quantity in tenths of its ε-step ``ε/θ_i'(0)`` and
    its price in units of ε/100, and every seller's reserve in units of ε/100 — coarse enough
    that a cycle whose quantities drift by a hair per period still repeats, fine enough that the
    slow price creep of PSP replies (one shading step per move) is never taken for a repeat. A
    cycle is reported when a state is
    seen for the ``repeats``-th time and some buyer changed its pool since the previous time (a
    run that only creeps within one cell is not cycling).
    """

    def __init__(self, repeats: int = 3) -> None:
        self.repeats = repeats
        self.seen: dict[Hashable, list[int]] = {}
        self.movers: list[set[str]] = []  # per round: buyers whose bids changed
        self.hops: list[bool] = []  # per round: some buyer changed its pool

    def observe(self, t: int, key: Hashable, movers: set[str], hopped: bool) -> Cycle | None:
        self.movers.append(movers)
        self.hops.append(hopped)
        rounds = self.seen.setdefault(key, [])
        rounds.append(t)
        if len(rounds) < self.repeats:
            return None
        prev = rounds[-2]
        if not any(self.hops[prev + 1 : t + 1]):
            return None
        members = set().union(*self.movers[prev + 1 : t + 1])
        return Cycle(start=rounds[0], length=t - prev, members=tuple(sorted(members)))
