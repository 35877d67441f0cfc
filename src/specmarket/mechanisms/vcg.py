"""VCG (Vickrey–Clarke–Groves) auction of ``k`` identical units — a baseline.

Each bidder reports non-increasing marginal values ``m_i1 ≥ m_i2 ≥ …`` (unit demand: one value).
Allocation: the ``k`` highest marginal values overall win one unit each (this maximises reported
welfare because marginal values are non-increasing). Ties: higher value first, then the bidder
listed first, then its earlier unit — deterministic.

Clarke pivot payment of bidder ``i`` winning ``x_i`` units:
``p_i = W_{-i}(k) − (W(k) − Σ_{j≤x_i} m_ij)``, the welfare the others would get without ``i`` minus
what they get with it. With non-increasing marginal values this is the sum of the ``x_i`` highest
marginal values of the others that lose when ``i`` is present, i.e. the others' sorted values at
positions ``k − x_i … k − 1`` (0-based; missing positions count 0).

JSON: ``{"units": 3, "bidders": [{"id": "a", "marginal_values": [5, 4, 1]}, ...]}`` →
``allocation`` (units per bidder) and ``payments``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Self

import numpy as np
from pydantic import model_validator

from specmarket.core import (
    Id,
    MechanismSpec,
    Model,
    NonNegative,
    Outcome,
    PositiveCount,
    require_nonempty,
    require_unique_ids,
)
from specmarket.errors import InvalidInput


class Bidder(Model):
    """A bidder's id and its non-increasing, non-negative marginal values (at least one)."""

    id: Id
    marginal_values: tuple[NonNegative, ...]

    @model_validator(mode="after")
    def _check(self) -> Self:
        mv = self.marginal_values
        if len(mv) == 0:
            raise InvalidInput("marginal_values", list(mv), "must list at least one value")
        for j in range(1, len(mv)):
            if mv[j] > mv[j - 1]:
                raise InvalidInput(
                    f"marginal_values[{j}]",
                    mv[j],
                    f"marginal values must be non-increasing (previous {mv[j - 1]})",
                )
        return self


class Instance(Model):
    """``units`` identical units (≥ 1) and the bidders."""

    units: PositiveCount
    bidders: tuple[Bidder, ...]

    @model_validator(mode="after")
    def _check(self) -> Self:
        require_nonempty(self.bidders, "bidders")
        require_unique_ids([b.id for b in self.bidders], "bidders")
        return self


def allocate(values: list[np.ndarray], k: int) -> np.ndarray:
    """Units per bidder: the ``k`` largest marginal values overall (ties: bidder order, unit
    order)."""
    owner = np.concatenate([np.full(len(v), i) for i, v in enumerate(values)])
    flat = np.concatenate(values)
    order = np.lexsort((np.arange(flat.size), -flat))  # value desc, then position (bidder, unit)
    win = order[:k]
    return np.bincount(owner[win], minlength=len(values))


def clarke_payments(values: list[np.ndarray], x: np.ndarray, k: int) -> np.ndarray:
    """Clarke pivot payments given the allocation ``x`` (see module docstring)."""
    pay = np.zeros(len(values))
    for i, xi in enumerate(x):
        if xi == 0:
            continue
        others = np.sort(
            np.concatenate([v for j, v in enumerate(values) if j != i] or [np.zeros(0)])
        )[::-1]
        # positions k − x_i … k − 1; slicing past the end counts missing positions as 0
        pay[i] = float(others[max(k - xi, 0) : k].sum())
    return pay


def clear(instance: Instance) -> Outcome:
    """Clear a k-unit VCG auction with Clarke pivot payments."""
    ids = [b.id for b in instance.bidders]
    values = [np.asarray(b.marginal_values, dtype=float) for b in instance.bidders]
    k = instance.units
    x = allocate(values, k)
    pay = clarke_payments(values, x, k)
    return Outcome(
        mechanism="vcg",
        allocation={pid: int(x[i]) for i, pid in enumerate(ids)},
        payments={pid: float(pay[i]) for i, pid in enumerate(ids)},
        values={pid: float(values[i][: x[i]].sum()) for i, pid in enumerate(ids)},
    )


def true_value(instance: Instance, pid: str, allocation: Any) -> float:
    """Sum of the first ``allocation`` true marginal values of ``pid``."""
    mv = next(b.marginal_values for b in instance.bidders if b.id == pid)
    return float(sum(mv[: int(allocation)]))


def random_instance(rng: np.random.Generator) -> Instance:
    """1–5 units, 1–5 bidders with 1–4 non-increasing marginal values on [0, 10]."""
    k = int(rng.integers(1, 6))
    n = int(rng.integers(1, 6))
    bidders = []
    for i in range(n):
        mv = np.sort(rng.uniform(0, 10, size=int(rng.integers(1, 5))))[::-1]
        if rng.random() < 0.3:
            mv = np.round(mv)
        bidders.append(Bidder(id=f"b{i}", marginal_values=tuple(float(v) for v in mv)))
    return Instance(units=k, bidders=tuple(bidders))


def deviations(
    instance: Instance, pid: str, rng: np.random.Generator
) -> Iterator[tuple[str, Instance]]:
    """Misreports of ``pid``: scaled and shifted vectors, truncated or padded demand (quantity),
    unit-demand reports on a grid, and random non-increasing vectors."""
    k = next(i for i, b in enumerate(instance.bidders) if b.id == pid)
    true = np.asarray(instance.bidders[k].marginal_values)
    reports: list[tuple[str, np.ndarray]] = []
    for f in (0.0, 0.5, 0.9, 1.1, 2.0):
        reports.append((f"scale={f}", true * f))
    for d in (-1.0, 1.0):
        reports.append((f"shift={d}", np.maximum(true + d, 0.0)))
    for q in range(1, instance.units + 2):
        if q != true.size:
            rep = (
                true[:q]
                if q < true.size
                else np.concatenate([true, np.full(q - true.size, true[-1])])
            )
            reports.append((f"quantity={q}", rep))
    for v in (0.0, 2.5, 5.0, 7.5, 10.0):
        reports.append((f"unit={v}", np.array([v])))
    for _ in range(3):
        reports.append(("random", np.sort(rng.uniform(0, 12, size=int(rng.integers(1, 5))))[::-1]))
    for label, rep in reports:
        bidders = list(instance.bidders)
        bidders[k] = bidders[k].model_copy(update={"marginal_values": tuple(float(v) for v in rep)})
        yield (
            f"{label} -> {np.round(rep, 6).tolist()}",
            instance.model_copy(update={"bidders": tuple(bidders)}),
        )


SPEC = MechanismSpec(
    name="vcg",
    title="VCG auction of k identical units (Clarke pivot payments)",
    source="baseline: Vickrey (1961), Clarke (1971), Groves (1973); compared against in seed 000",
    instance_type=Instance,
    clear=clear,
    roles=lambda inst: {b.id: "buyer" for b in inst.bidders},
    true_value=true_value,
    claims=frozenset({"ic", "ir", "bb", "npt"}),
    random_instance=random_instance,
    deviations=deviations,
    example="vcg.json",
)
