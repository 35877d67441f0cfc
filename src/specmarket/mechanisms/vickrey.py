"""Vickrey's second-price sealed-bid auction of one item (Vickrey 1961) — a baseline.

Allocation: the highest bid wins; ties go to the bidder listed first (deterministic).
Payment: the winner pays the highest *other* bid (0 if alone); losers pay 0.
Truthful (dominant-strategy IC), individually rational, no positive transfers, revenue ≥ 0.
It is the "static" baseline of seed 004 (ADAPTIVE) §V.

JSON: ``{"bidders": [{"id": "a", "bid": 3.0}, ...]}`` → ``winner``, ``price``, ``payments``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Self

from pydantic import model_validator

from specmarket.core import (
    Id,
    MechanismSpec,
    Model,
    NonNegative,
    Outcome,
    require_nonempty,
    require_unique_ids,
)
from specmarket.core.spec import near_points, scalar_grid, scalar_misreports

if TYPE_CHECKING:
    import numpy as np


class Bidder(Model):
    """One bidder: its id and its (reported) value ``bid`` for the item."""

    id: Id
    bid: NonNegative


class Instance(Model):
    """A single-item auction: at least one bidder, unique ids."""

    bidders: tuple[Bidder, ...]

    @model_validator(mode="after")
    def _check(self) -> Self:
        require_nonempty(self.bidders, "bidders")
        require_unique_ids([b.id for b in self.bidders], "bidders")
        return self


def second_price(bids: Sequence[float]) -> tuple[int, float]:
    """Index of the winner (first highest bid) and the price (highest other bid, 0 if alone).

    Plain Python over a sequence (a list or a numpy array): one pass each, and no numpy import,
    so that ``specmarket clear vickrey`` starts fast."""
    # max() returns the first maximal element: ties go to the earliest bidder
    winner = max(range(len(bids)), key=bids.__getitem__)
    others = [float(b) for k, b in enumerate(bids) if k != winner]
    return winner, max(others, default=0.0)


def clear(instance: Instance) -> Outcome:
    """Clear a Vickrey auction: highest bid wins, pays the second-highest bid."""
    ids = [b.id for b in instance.bidders]
    bids = [float(b.bid) for b in instance.bidders]
    w, price = second_price(bids)
    return Outcome(
        mechanism="vickrey",
        allocation={pid: int(k == w) for k, pid in enumerate(ids)},
        payments={pid: (price if k == w else 0.0) for k, pid in enumerate(ids)},
        values={pid: (float(bids[k]) if k == w else 0.0) for k, pid in enumerate(ids)},
        details={"winner": ids[w], "price": price},
    )


def true_value(instance: Instance, pid: str, allocation: Any) -> float:
    """Value of ``allocation`` (1 = the item) to ``pid`` whose true value is its bid in
    ``instance``."""
    bid = next(b.bid for b in instance.bidders if b.id == pid)
    return bid * float(allocation)


def random_instance(rng: np.random.Generator) -> Instance:
    """1–6 bidders with values uniform on [0, 10], some rounded to force ties."""
    n = int(rng.integers(1, 7))
    bids = rng.uniform(0, 10, size=n)
    if rng.random() < 0.3:
        bids = bids.round()  # the array's own method: numpy is imported by the rng's owner
    return Instance(bidders=tuple(Bidder(id=f"b{k}", bid=float(v)) for k, v in enumerate(bids)))


def deviations(
    instance: Instance, pid: str, rng: np.random.Generator
) -> Iterator[tuple[str, Instance]]:
    """Misreported bids of ``pid``: a grid on [0, 12], points next to the truth and just around the
    nearest other bids, and random points."""
    others = [b.bid for b in instance.bidders if b.id != pid]
    yield from scalar_misreports(
        instance,
        pid,
        (("bidders", "bid"),),
        lambda true: scalar_grid(true, 0.0, 12.0, 5, 2, rng) + near_points(true, others),
    )


SPEC = MechanismSpec(
    name="vickrey",
    title="Vickrey second-price auction of one item",
    source="baseline: Vickrey (1961); the static baseline of seed 004 §V",
    instance_type=Instance,
    clear=clear,
    roles=lambda inst: {b.id: "buyer" for b in inst.bidders},
    true_value=true_value,
    claims=frozenset({"ic", "ir", "bb", "npt"}),
    random_instance=random_instance,
    deviations=deviations,
    example="vickrey.json",
)
