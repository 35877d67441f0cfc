"""The classic progressive second price (PSP) auction of one divisible resource.

Lazar & Semret's PSP as restated in seed 002 §1.1.1. Each player ``i`` bids ``s_i = (q_i, p_i)``: a
quantity and a unit price. The seller takes part as player 0 with the reserve bid ``s_0 = (Q, p_0)``
(it "buys back" its own resource at the reserve price), so a buyer never gets a unit it values below
``p_0`` and pays at least ``p_0`` per unit it takes from the seller.

Quantity available to ``i`` at price ``y`` (seed 002 eq. (2)) and allocation (eq. (3)), with one
of two tie rules:

* ``"lazar-semret"`` (the original rule): ``Q_i(y; s_-i) = [Q − Σ_{k≠i, p_k ≥ y} q_k]^+`` and
  ``a_i = min(q_i, Q_i(p_i; s_-i))``. Equal prices are *not* split: every bid at the same price
  counts against the others, so over-demanded ties may leave units with the seller.
* ``"split"`` (Tuffin's revision, seed 002 eq. (20)): ``D_i(y) = [Q − Σ_{k≠i, p_k > y} q_k]^+``
  (strict, eq. (18)) and ``a_i = min(q_i, q_i / Σ_{p_k = p_i} q_k · D_i(p_i))``: what is left at a
  price level is shared in proportion to quantity.

Cost (eq. (4)): ``c_i = Σ_{k≠i} p_k [a_k(0; s_-i) − a_k(s_i; s_-i)]`` — what ``i``'s bid displaces,
valued at the displaced bids' prices, the seller's reserve included (``k = 0``).

Both rules are computed for all players at once in ``O(I log I)`` by one sort and prefix sums
(:func:`psp_outcome`); :func:`literal_outcome` is the definition, word for word, in ``O(I^3)`` and
serves as the test reference.

JSON (``specmarket clear psp FILE.json``)::

    {"quantity": 100, "reserve": 0.0, "tie_rule": "lazar-semret",
     "bids": [{"id": "1", "quantity": 60, "price": 4}, ...]}

→ ``allocation`` (units per id), ``payments`` (the costs ``c_i``), ``welfare`` (Σ of the bids'
declared values ``p_i a_i``), ``revenue`` (Σ c_i, what the seller receives) and details
``seller_kept`` (``a_0``), ``reserve``, ``tie_rule``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal, Self

import numpy as np
from pydantic import model_validator

from specmarket.core import (
    Id,
    MechanismSpec,
    Model,
    NonNegative,
    Outcome,
    Positive,
    require_nonempty,
    require_unique_ids,
)
from specmarket.core.spec import scalar_grid
from specmarket.errors import InvalidInput

__all__ = [
    "TIE_RULES",
    "Bid",
    "Instance",
    "TieRule",
    "clear",
    "literal_outcome",
    "psp_outcome",
]

TieRule = Literal["lazar-semret", "split"]
#: The two documented tie rules.
TIE_RULES: tuple[str, ...] = ("lazar-semret", "split")


class Bid(Model):
    """One PSP bid ``s_i = (q_i, p_i)``: a quantity and a unit price (seed 002 §1.1.1)."""

    id: Id
    quantity: NonNegative
    price: NonNegative


class Instance(Model):
    """One PSP auction: resource ``Q``, the seller's reserve price ``p_0``, the tie rule, bids."""

    quantity: Positive
    reserve: NonNegative = 0.0
    tie_rule: TieRule = "lazar-semret"
    bids: tuple[Bid, ...]

    @model_validator(mode="after")
    def _check(self) -> Self:
        require_nonempty(self.bids, "bids")
        require_unique_ids([b.id for b in self.bids], "bids")
        return self


def _check_arrays(q: np.ndarray, p: np.ndarray, total: float, tie_rule: str) -> None:
    if tie_rule not in TIE_RULES:
        raise InvalidInput("tie_rule", tie_rule, f"must be one of {', '.join(TIE_RULES)}")
    if q.shape != p.shape or q.ndim != 1:
        raise InvalidInput(
            "bids", (q.shape, p.shape), "quantities and prices must be 1-d, same size"
        )
    if not (np.all(np.isfinite(q)) and np.all(np.isfinite(p))):
        raise InvalidInput("bids", "non-finite", "quantities and prices must be finite")
    if np.any(q < 0) or np.any(p < 0):
        raise InvalidInput("bids", "negative", "quantities and prices must be ≥ 0")
    if not (np.isfinite(total) and total > 0):
        raise InvalidInput("quantity", total, "must be a finite number > 0")


# --------------------------------------------------------------------------------------------
# fast path: one sort + prefix sums
# --------------------------------------------------------------------------------------------


class _Levels:
    """Bids sorted by price (descending), quantity ascending within a price level.

    ``order`` maps sorted positions to players; ``lev`` is each sorted bid's level index; per level:
    ``y`` price, ``start``/``end`` positions, ``T`` total quantity, ``G`` cumulative quantity of all
    bids with price ≥ the level's (``Σ_{p_k ≥ y} q_k``).
    """

    def __init__(self, q: np.ndarray, p: np.ndarray) -> None:
        self.order = np.lexsort((q, -p))
        self.qs = q[self.order]
        self.ps = p[self.order]
        n = len(q)
        new = np.ones(n, dtype=bool)
        new[1:] = self.ps[1:] != self.ps[:-1]
        self.start = np.flatnonzero(new)
        self.end = np.append(self.start[1:], n)
        self.lev = np.cumsum(new) - 1
        self.y = self.ps[self.start]
        self.T = np.add.reduceat(self.qs, self.start) if n else np.zeros(0)
        self.G = np.cumsum(self.T)
        self.cq = np.concatenate(([0.0], np.cumsum(self.qs)))

    def level_sum_above(self, lev_idx: np.ndarray, e: np.ndarray) -> np.ndarray:
        """``h_m(e) = Σ_{k in level m} (q_k − e)^+`` for query pairs ``(m, e)``, exactly.

        Items and queries are merged in one lexicographic sort (level, value, items first), so each
        query sees how many items of its level are ≤ e and their sum.
        """
        nq = len(lev_idx)
        if nq == 0:
            return np.zeros(0)
        keys_lev = np.concatenate((self.lev, lev_idx))
        keys_val = np.concatenate((self.qs, e))
        kind = np.concatenate((np.zeros(len(self.qs), dtype=np.int8), np.ones(nq, dtype=np.int8)))
        merged = np.lexsort((kind, keys_val, keys_lev))
        is_item = kind[merged] == 0
        n_items_before = np.cumsum(is_item) - is_item
        sum_before = np.concatenate(([0.0], np.cumsum(np.where(is_item, keys_val[merged], 0.0))))[
            :-1
        ]
        qpos = np.empty(nq, dtype=np.int64)
        qpos[merged[~is_item] - len(self.qs)] = np.flatnonzero(~is_item)
        st = self.start[lev_idx]
        en = self.end[lev_idx]
        cnt_le = n_items_before[qpos] - st
        sum_le = sum_before[qpos] - self.cq[st]
        total = self.cq[en] - self.cq[st]
        out: np.ndarray = (total - sum_le) - e * ((en - st) - cnt_le)
        return out


def _fast_ge(q: np.ndarray, p: np.ndarray, total: float) -> tuple[np.ndarray, np.ndarray]:
    """Allocation and costs under the "≥" rule, all players, ``O(I log I)``.

    With ``G(y) = Σ_{p_k ≥ y} q_k`` and excess ``E(y) = (G(y) − Q)^+``, eq. (3) reads
    ``a_k = (q_k − E(p_k))^+``. Removing ``i`` (bid ``(x, p_i)``) lowers ``G`` by ``x`` on every
    level ``y ≤ p_i``: levels with ``G(y) ≤ Q + x`` get back all they lost (prefix sums of
    ``y · lost_y``), the first level with ``G(y) > Q + x`` gets back
    ``h_y(G(y) − x − Q) − h_y(E(y))``, and lower levels lose everything either way.
    """
    L = _Levels(q, p)
    n = len(q)
    E = np.maximum(L.G - total, 0.0)
    a_s = np.maximum(L.qs - E[L.lev], 0.0)
    alloc_lev = np.add.reduceat(a_s, L.start)
    lost = L.T - alloc_lev
    pl = np.concatenate(([0.0], np.cumsum(L.y * lost)))
    x = L.qs
    lv = L.lev
    count = np.searchsorted(L.G, total + x, side="right")  # levels [0, count) have G ≤ Q + x
    in_range = count > lv
    c = np.where(in_range, pl[np.maximum(count, lv)] - pl[lv] - L.ps * (x - a_s), 0.0)
    m2 = np.maximum(count, lv)
    has2 = m2 < len(L.y)
    idx = np.flatnonzero(has2)
    if idx.size:
        m = m2[idx]
        e2 = L.G[m] - x[idx] - total
        h = L.level_sum_above(m, e2)
        own = np.where(m == lv[idx], np.maximum(x[idx] - e2, 0.0) - a_s[idx], 0.0)
        c[idx] += L.y[m] * (h - alloc_lev[m] - own)
    a = np.empty(n)
    cost = np.empty(n)
    a[L.order] = a_s
    cost[L.order] = np.maximum(c, 0.0)
    return a, cost


def _prefix_integral(
    bounds: np.ndarray, fb: np.ndarray, ps: np.ndarray, w: np.ndarray
) -> np.ndarray:
    """``F(w) = ∫_0^w P(z) dz`` for the step "price at cumulative position" curve ``P``."""
    n = len(ps)
    k = np.clip(np.searchsorted(bounds, w, side="right") - 1, 0, max(n - 1, 0))
    qk = bounds[k + 1] - bounds[k]
    out: np.ndarray = fb[k] + ps[k] * np.clip(w - bounds[k], 0.0, qk)
    return out


def _fast_split(q: np.ndarray, p: np.ndarray, total: float) -> tuple[np.ndarray, np.ndarray]:
    """Allocation (eq. (20)) and costs (eq. (4)) under the tie-splitting rule, ``O(I log I)``.

    The split allocation serves price levels greedily, so ``Σ_k p_k a_k = F(Q)`` with
    ``F(w) = ∫_0^w P`` (``P`` = price at cumulative position ``w``), and eq. (4) is the Clarke
    pivot ``c_i = W*_{-i} − (F(Q) − p_i a_i)`` where ``W*_{-i} = F(min(Q, S_i − x)) +
    [S_i − x < Q] (F(Q + x) − F(S_i))``, ``S_i = Σ_{p_k ≥ p_i} q_k`` and ``x = q_i``.
    """
    L = _Levels(q, p)
    n = len(q)
    S_gt = L.G - L.T
    D = np.maximum(total - S_gt, 0.0)
    T_k = L.T[L.lev]
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(T_k > 0, L.qs / np.where(T_k > 0, T_k, 1.0) * D[L.lev], 0.0)
    a_s = np.minimum(L.qs, share)
    bounds = L.cq
    fb = np.concatenate(([0.0], np.cumsum(L.ps * L.qs)))
    x = L.qs
    S = L.G[L.lev]

    def F(w: np.ndarray) -> np.ndarray:
        return _prefix_integral(bounds, fb, L.ps, np.asarray(w, dtype=float))

    fq = F(np.array([total]))[0]
    w_opt = F(np.minimum(total, S - x)) + np.where(S - x < total, F(total + x) - F(S), 0.0)
    c = w_opt - fq + L.ps * a_s
    a = np.empty(n)
    cost = np.empty(n)
    a[L.order] = a_s
    cost[L.order] = np.maximum(c, 0.0)
    return a, cost


def psp_outcome(
    quantities: np.ndarray, prices: np.ndarray, total: float, tie_rule: str = "lazar-semret"
) -> tuple[np.ndarray, np.ndarray]:
    """Allocations ``a`` and costs ``c`` of all players in ``O(I log I)``, eqs. (2)–(4), (20).

    Parameters
    ----------
    quantities, prices
        Bids of *all* players, the seller's reserve bid ``(Q, p_0)`` included if it takes part
        (:func:`clear` puts it at index 0).
    total
        The resource ``Q``.
    tie_rule
        ``"lazar-semret"`` (≥ rule, no splitting) or ``"split"`` (eq. (20)).

    Returns
    -------
    (a, c)
        Arrays aligned with the input.
    """
    q = np.asarray(quantities, dtype=float)
    p = np.asarray(prices, dtype=float)
    _check_arrays(q, p, float(total), tie_rule)
    if len(q) == 0:
        return np.zeros(0), np.zeros(0)
    if tie_rule == "split":
        return _fast_split(q, p, float(total))
    return _fast_ge(q, p, float(total))


# --------------------------------------------------------------------------------------------
# reference: the literal definitions
# --------------------------------------------------------------------------------------------


def literal_allocation(
    quantities: np.ndarray, prices: np.ndarray, total: float, tie_rule: str = "lazar-semret"
) -> np.ndarray:
    """Eq. (3) (≥ rule) or eq. (20) (split rule), computed term by term in ``O(I^2)``."""
    q = np.asarray(quantities, dtype=float)
    p = np.asarray(prices, dtype=float)
    n = len(q)
    a = np.zeros(n)
    for i in range(n):
        if tie_rule == "split":
            avail = max(0.0, total - sum(q[k] for k in range(n) if k != i and p[k] > p[i]))
            tied = sum(q[k] for k in range(n) if p[k] == p[i])
            a[i] = min(q[i], q[i] / tied * avail) if tied > 0 else 0.0
        else:
            avail = max(0.0, total - sum(q[k] for k in range(n) if k != i and p[k] >= p[i]))
            a[i] = min(q[i], avail)
    return a


def literal_outcome(
    quantities: np.ndarray, prices: np.ndarray, total: float, tie_rule: str = "lazar-semret"
) -> tuple[np.ndarray, np.ndarray]:
    """Reference for :func:`psp_outcome`: eq. (4) by re-running the auction without each bidder.

    ``a_k(0; s_-i)`` is the allocation when ``i`` bids ``(0, 0)``. ``O(I^3)``: tests only.
    """
    q = np.asarray(quantities, dtype=float)
    p = np.asarray(prices, dtype=float)
    _check_arrays(q, p, float(total), tie_rule)
    a = literal_allocation(q, p, total, tie_rule)
    c = np.zeros(len(q))
    for i in range(len(q)):
        q0 = q.copy()
        p0 = p.copy()
        q0[i] = 0.0
        p0[i] = 0.0
        a0 = literal_allocation(q0, p0, total, tie_rule)
        c[i] = sum(p[k] * (a0[k] - a[k]) for k in range(len(q)) if k != i)
    return a, c


# --------------------------------------------------------------------------------------------
# the registered mechanism
# --------------------------------------------------------------------------------------------


def _arrays(instance: Instance) -> tuple[np.ndarray, np.ndarray]:
    """Bids with the seller's reserve bid ``(Q, p_0)`` as player 0."""
    q = np.array([instance.quantity] + [b.quantity for b in instance.bids], dtype=float)
    p = np.array([instance.reserve] + [b.price for b in instance.bids], dtype=float)
    return q, p


def clear(instance: Instance) -> Outcome:
    """Clear one PSP auction (seed 002 eqs. (2)–(4); eq. (20) with ``tie_rule="split"``).

    The seller is the auctioneer: it receives every cost (``revenue``) and keeps ``seller_kept``
    units. A buyer's value of its allocation under its bid is ``p_i a_i`` (a bid declares a unit
    value ``p_i`` for up to ``q_i`` units).
    """
    q, p = _arrays(instance)
    a, c = psp_outcome(q, p, instance.quantity, instance.tie_rule)
    ids = [b.id for b in instance.bids]
    return Outcome(
        mechanism="psp",
        allocation={pid: float(a[k + 1]) for k, pid in enumerate(ids)},
        payments={pid: float(c[k + 1]) for k, pid in enumerate(ids)},
        values={pid: float(p[k + 1] * a[k + 1]) for k, pid in enumerate(ids)},
        details={
            "tie_rule": instance.tie_rule,
            "reserve": instance.reserve,
            "seller_kept": float(a[0]),
        },
    )


def true_value(instance: Instance, pid: str, allocation: Any) -> float:
    """Value of ``allocation`` units to ``pid``: ``p_i · min(x, q_i)`` (its bid is its type)."""
    bid = next(b for b in instance.bids if b.id == pid)
    return bid.price * min(float(allocation), bid.quantity)


def random_instance(rng: np.random.Generator) -> Instance:
    """1–6 bids, quantities on [0, 60], prices on [0, 10] (rounded 30% of the time to force ties);
    ``Q`` on [10, 100]; reserve 0 or on [0, 3]; each tie rule half the time."""
    n = int(rng.integers(1, 7))
    qs = rng.uniform(0, 60, size=n)
    ps = rng.uniform(0, 10, size=n)
    if rng.random() < 0.3:
        ps = np.round(ps)
        qs = np.round(qs)
    reserve = 0.0 if rng.random() < 0.5 else float(rng.uniform(0, 3))
    return Instance(
        quantity=float(rng.uniform(10, 100)),
        reserve=reserve,
        tie_rule="split" if rng.random() < 0.5 else "lazar-semret",
        bids=tuple(
            Bid(id=f"b{k}", quantity=float(x), price=float(y))
            for k, (x, y) in enumerate(zip(qs, ps, strict=True))
        ),
    )


def deviations(
    instance: Instance, pid: str, rng: np.random.Generator
) -> Iterator[tuple[str, Instance]]:
    """Misreports of ``pid``: price on a grid and next to every other price, quantity on a grid."""
    k = next(i for i, b in enumerate(instance.bids) if b.id == pid)
    true = instance.bids[k]
    prices = scalar_grid(true.price, 0.0, 12.0, 7, 2, rng)
    prices += [b.price + d for b in instance.bids if b.id != pid for d in (-1e-6, 1e-6)]
    prices += [instance.reserve + 1e-6]
    quantities = scalar_grid(true.quantity, 0.0, instance.quantity * 1.2, 5, 2, rng)
    for label, upd in [(f"price={x:.6g}", {"price": float(x)}) for x in prices if x >= 0] + [
        (f"quantity={x:.6g}", {"quantity": float(x)}) for x in quantities if x >= 0
    ]:
        bids = list(instance.bids)
        bids[k] = bids[k].model_copy(update=upd)
        yield label, instance.model_copy(update={"bids": tuple(bids)})


SPEC = MechanismSpec(
    name="psp",
    title="Progressive second price auction of one divisible resource (Lazar–Semret)",
    source="seed 002 §1.1.1 eqs. (1)–(4) and eq. (20), after Lazar & Semret (2000)",
    instance_type=Instance,
    clear=clear,
    roles=lambda inst: {b.id: "buyer" for b in inst.bids},
    true_value=true_value,
    # "ic" and "ir" hold under the split rule (it is then the VCG/Clarke mechanism for bids read
    # as "p_i per unit up to q_i") but not under the original "≥" rule with tied prices: a tied
    # bidder can be left with nothing and still pay for what it displaces (docs/psp.md).
    claims=frozenset({"bb", "npt"}),
    random_instance=random_instance,
    deviations=deviations,
    example="psp.json",
)
