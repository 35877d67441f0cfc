"""TRUST: truthful double spectrum auction with spectrum reuse (Zhou & Zheng, INFOCOM 2009) —
the baseline of District-D (seed 003).

1. **Grouping** (independent of the bids): buyers are put into groups that are independent sets
   of the conflict graph — greedily, in input order, each buyer joins the first group holding no
   buyer it conflicts with (a new group otherwise). Members of a group can share one channel.
2. **Group bids**: ``σ_g = |g| · min_{n ∈ g} b_n``.
3. **McAfee-style clearing with trade reduction**: sort groups by ``σ`` descending and sellers by
   ask ascending (ties: first group / first seller listed first); let ``k`` be the largest index
   with ``σ_(k) ≥ a_(k)``. The first ``k − 1`` groups buy the first ``k − 1`` sellers' channels
   (the ``i``-th group gets the ``i``-th seller); the ``k``-th pair is sacrificed. Each winning
   seller receives ``a_(k)``; each winning group pays ``σ_(k)``, shared equally by its members.

Truthful, individually rational and budget balanced per instance (``σ_(k) ≥ a_(k)``). Buyers have
unit demand; there are no local markets (every buyer may use every seller).

JSON: ``{"sellers": [{"id": "s1", "ask": 2}], "buyers": [{"id": "b1", "bid": 7}],
"conflicts": [["b1", "b2"]]}`` → ``allocation`` (buyer → ``[seller]``, seller → its group),
``payments``, ``groups``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Self

import numpy as np
from pydantic import model_validator

from specmarket.core import (
    Id,
    MechanismSpec,
    Model,
    NonNegative,
    Outcome,
    require_spectrum_market,
)
from specmarket.core.spec import scalar_grid, scalar_misreports


class Seller(Model):
    id: Id
    ask: NonNegative


class Buyer(Model):
    id: Id
    bid: NonNegative


class Instance(Model):
    """A TRUST market: sellers, unit-demand buyers and a conflict graph on the buyers."""

    sellers: tuple[Seller, ...]
    buyers: tuple[Buyer, ...]
    conflicts: tuple[tuple[Id, Id], ...] = ()

    @model_validator(mode="after")
    def _check(self) -> Self:
        require_spectrum_market(self.buyers, self.sellers, self.conflicts)
        return self


def group_buyers(n: int, conflict: np.ndarray) -> list[list[int]]:
    """Bid-independent grouping into independent sets: greedy first-fit in index order."""
    groups: list[list[int]] = []
    for b in range(n):
        for g in groups:
            if not any(conflict[b, other] for other in g):
                g.append(b)
                break
        else:
            groups.append([b])
    return groups


@dataclass(frozen=True)
class TrustClearing:
    """Index-level result: winning groups (lists of buyer indices) with their seller indices,
    the buyers' per-member prices and the sellers' price."""

    groups: list[list[int]]
    winners: list[tuple[int, int]]  # (group index, seller index)
    group_price: float
    seller_price: float


def clear_arrays(
    bids: np.ndarray, asks: np.ndarray, groups: Sequence[Sequence[int]]
) -> TrustClearing:
    """TRUST on arrays (steps 2–3 of the module docstring)."""
    bids = np.asarray(bids, dtype=float)
    asks = np.asarray(asks, dtype=float)
    sigma = np.array([len(g) * bids[list(g)].min() for g in groups])
    gorder = np.argsort(-sigma, kind="stable")
    sorder = np.argsort(asks, kind="stable")
    n = min(gorder.size, sorder.size)
    k = int(np.count_nonzero(sigma[gorder[:n]] >= asks[sorder[:n]]))
    if k < 2:
        return TrustClearing([list(g) for g in groups], [], 0.0, 0.0)
    winners = [(int(gorder[i]), int(sorder[i])) for i in range(k - 1)]
    return TrustClearing(
        [list(g) for g in groups], winners, float(sigma[gorder[k - 1]]), float(asks[sorder[k - 1]])
    )


def clear(instance: Instance) -> Outcome:
    """Clear a TRUST market (see the module docstring)."""
    buyers, sellers = instance.buyers, instance.sellers
    idx = {b.id: k for k, b in enumerate(buyers)}
    n = len(buyers)
    conflict = np.zeros((n, n), dtype=bool)
    for u, v in instance.conflicts:
        conflict[idx[u], idx[v]] = conflict[idx[v], idx[u]] = True
    groups = group_buyers(n, conflict)
    res = clear_arrays(
        np.array([b.bid for b in buyers]), np.array([s.ask for s in sellers]), groups
    )
    alloc: dict[str, Any] = {b.id: [] for b in buyers}
    alloc.update({s.id: [] for s in sellers})
    pay = {pid: 0.0 for pid in alloc}
    vals = {pid: 0.0 for pid in alloc}
    for g, s in res.winners:
        members = groups[g]
        sid = sellers[s].id
        alloc[sid] = [buyers[b].id for b in members]
        pay[sid] = -res.seller_price
        vals[sid] = -sellers[s].ask
        for b in members:
            alloc[buyers[b].id] = [sid]
            pay[buyers[b].id] = res.group_price / len(members)
            vals[buyers[b].id] = buyers[b].bid
    return Outcome(
        mechanism="trust",
        allocation=alloc,
        payments=pay,
        values=vals,
        details={
            "groups": [[buyers[b].id for b in g] for g in groups],
            "channels_used": len(res.winners),
            "buyers_served": sum(len(groups[g]) for g, _ in res.winners),
        },
    )


def true_value(instance: Instance, pid: str, allocation: Any) -> float:
    for b in instance.buyers:
        if b.id == pid:
            return b.bid if allocation else 0.0
    s = next(s for s in instance.sellers if s.id == pid)
    return -s.ask if allocation else 0.0


def roles(instance: Instance) -> dict[str, Literal["buyer", "seller"]]:
    out: dict[str, Literal["buyer", "seller"]] = {b.id: "buyer" for b in instance.buyers}
    out.update({s.id: "seller" for s in instance.sellers})
    return out


def random_instance(rng: np.random.Generator) -> Instance:
    """2–6 sellers, 2–8 buyers with values uniform on [0, 10] (sometimes rounded, for ties), and a
    random conflict graph."""
    m, n = int(rng.integers(2, 7)), int(rng.integers(2, 9))
    asks, bids = rng.uniform(0, 10, m), rng.uniform(0, 10, n)
    if rng.random() < 0.3:
        asks, bids = np.round(asks), np.round(bids)
    p = float(rng.uniform(0, 0.6))
    conflicts = tuple(
        (f"b{i}", f"b{j}") for i in range(n) for j in range(i + 1, n) if rng.random() < p
    )
    return Instance(
        sellers=tuple(Seller(id=f"s{k}", ask=float(a)) for k, a in enumerate(asks)),
        buyers=tuple(Buyer(id=f"b{k}", bid=float(b)) for k, b in enumerate(bids)),
        conflicts=conflicts,
    )


def deviations(
    instance: Instance, pid: str, rng: np.random.Generator
) -> Iterator[tuple[str, Instance]]:
    """Misreported bid/ask of ``pid``: a grid on [0, 12], points around the truth and around the
    other reports, random points."""
    others = [b.bid for b in instance.buyers if b.id != pid]
    others += [s.ask for s in instance.sellers if s.id != pid]
    near = [o + d for o in others for d in (-1e-6, 1e-6) if o + d >= 0]
    yield from scalar_misreports(
        instance,
        pid,
        (("buyers", "bid"), ("sellers", "ask")),
        lambda true: scalar_grid(true, 0.0, 12.0, 7, 3, rng) + near,
    )


SPEC = MechanismSpec(
    name="trust",
    title="TRUST double spectrum auction with reuse (baseline of District-D)",
    source="Zhou & Zheng, INFOCOM 2009; baseline in seed 003's experiments",
    instance_type=Instance,
    clear=clear,
    roles=roles,
    true_value=true_value,
    claims=frozenset({"ic", "ir", "bb", "npt"}),
    random_instance=random_instance,
    deviations=deviations,
    example="trust.json",
)
