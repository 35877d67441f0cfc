"""McAfee's trade-reduction double auction (McAfee 1992) — a baseline.

Unit-demand buyers with bids ``b`` and unit-supply sellers with asks ``s``. Sort bids descending,
``b_(1) ≥ b_(2) ≥ …``, and asks ascending, ``s_(1) ≤ s_(2) ≤ …`` (ties: the participant listed first
comes first). Let ``k`` be the number of efficient trades, the largest ``k`` with ``b_(k) ≥ s_(k)``.
With the candidate price ``p0 = (b_(k+1) + s_(k+1)) / 2``:

* if ``s_(k) ≤ p0 ≤ b_(k)``: the ``k`` top buyers and sellers trade, all at ``p0`` (budget
balanced);
* otherwise the ``k``-th pair is sacrificed: ``k − 1`` pairs trade, buyers pay ``b_(k)`` and sellers
  receive ``s_(k)``; the auctioneer keeps ``(k − 1)(b_(k) − s_(k)) ≥ 0``.

Where the ``(k+1)``-th buyer or seller does not exist we add a dummy buyer bidding 0 and a dummy
seller asking +∞ (so ``p0 = +∞`` when there is no ``(k+1)``-th seller): dummies do not depend on any
report, so truthfulness is kept. Dominant-strategy IC, IR and weakly budget balanced.

JSON: ``{"buyers": [{"id": "b1", "bid": 9}], "sellers": [{"id": "s1", "ask": 2}]}`` → ``winners``
(ids of trading buyers and sellers), ``payments`` (buyers pay > 0, sellers receive < 0).
The numeric core :func:`clear_arrays` clears a million bids and asks in well under a second.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
from pydantic import model_validator

from specmarket.core import (
    Id,
    MechanismSpec,
    Model,
    NonNegative,
    Outcome,
    Role,
    require_nonempty,
    require_unique_ids,
)
from specmarket.core.spec import near_points, scalar_grid, scalar_misreports
from specmarket.errors import InvalidInput


class Buyer(Model):
    id: Id
    bid: NonNegative


class Seller(Model):
    id: Id
    ask: NonNegative


class Instance(Model):
    """A double auction: at least one buyer and one seller, ids unique across both sides."""

    buyers: tuple[Buyer, ...]
    sellers: tuple[Seller, ...]

    @model_validator(mode="after")
    def _check(self) -> Self:
        require_nonempty(self.buyers, "buyers")
        require_nonempty(self.sellers, "sellers")
        require_unique_ids([b.id for b in self.buyers], "buyers")
        require_unique_ids([s.id for s in self.sellers], "sellers")
        buyer_ids = {b.id for b in self.buyers}
        for j, s in enumerate(self.sellers):
            if s.id in buyer_ids:
                raise InvalidInput(f"sellers[{j}].id", s.id, "id is also used by a buyer")
        return self


@dataclass(frozen=True)
class Clearing:
    """Result of :func:`clear_arrays` on index level.

    ``buyers`` / ``sellers``: indices (into the input arrays) of the trading participants;
    ``buyer_price``: what each trading buyer pays; ``seller_price``: what each trading seller
    receives; ``efficient_trades``: ``k``; ``reduced``: whether the k-th pair was sacrificed.
    """

    buyers: np.ndarray
    sellers: np.ndarray
    buyer_price: float
    seller_price: float
    efficient_trades: int
    reduced: bool


def efficient_trades(b_sorted: np.ndarray, s_sorted: np.ndarray) -> int:
    """Largest ``k`` with ``b_(k) ≥ s_(k)``: ``b − s`` is non-increasing along the sorted prefix."""
    n = min(b_sorted.size, s_sorted.size)
    return int(np.count_nonzero(b_sorted[:n] >= s_sorted[:n]))


def clear_arrays(bids: np.ndarray, asks: np.ndarray) -> Clearing:
    """McAfee's rule on arrays of bids and asks (validated finite and ≥ 0 by the caller).

    Sorting dominates: ``O(n log n)``; stable sorts give the documented tie-breaking.
    """
    bids = np.asarray(bids, dtype=float)
    asks = np.asarray(asks, dtype=float)
    border = np.argsort(-bids, kind="stable")
    sorder = np.argsort(asks, kind="stable")
    b = bids[border]
    s = asks[sorder]
    k = efficient_trades(b, s)
    if k == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Clearing(empty, empty, 0.0, 0.0, 0, False)
    b_next = b[k] if k < b.size else 0.0  # dummy buyer bids 0
    s_next = s[k] if k < s.size else np.inf  # dummy seller asks +inf
    p0 = 0.5 * b_next + 0.5 * s_next  # no overflow for huge reports
    if s[k - 1] <= p0 <= b[k - 1]:
        return Clearing(border[:k], sorder[:k], float(p0), float(p0), k, False)
    return Clearing(border[: k - 1], sorder[: k - 1], float(b[k - 1]), float(s[k - 1]), k, True)


def clear(instance: Instance) -> Outcome:
    """Clear a McAfee double auction (see module docstring)."""
    bids = np.array([b.bid for b in instance.buyers], dtype=float)
    asks = np.array([s.ask for s in instance.sellers], dtype=float)
    c = clear_arrays(bids, asks)
    bwin = set(c.buyers.tolist())
    swin = set(c.sellers.tolist())
    alloc: dict[str, int] = {}
    pay: dict[str, float] = {}
    val: dict[str, float] = {}
    for i, bu in enumerate(instance.buyers):
        alloc[bu.id] = int(i in bwin)
        pay[bu.id] = c.buyer_price if i in bwin else 0.0
        val[bu.id] = bu.bid if i in bwin else 0.0
    for j, se in enumerate(instance.sellers):
        alloc[se.id] = int(j in swin)
        pay[se.id] = -c.seller_price if j in swin else 0.0
        val[se.id] = -se.ask if j in swin else 0.0
    winners = [instance.buyers[i].id for i in c.buyers.tolist()] + [
        instance.sellers[j].id for j in c.sellers.tolist()
    ]
    return Outcome(
        mechanism="mcafee",
        allocation=alloc,
        payments=pay,
        values=val,
        details={
            "winners": winners,
            "buyer_price": c.buyer_price,
            "seller_price": c.seller_price,
            "efficient_trades": c.efficient_trades,
            "trade_reduction": c.reduced,
        },
    )


def roles(instance: Instance) -> dict[str, Role]:
    r: dict[str, Role] = {b.id: "buyer" for b in instance.buyers}
    r.update({s.id: "seller" for s in instance.sellers})
    return r


def true_value(instance: Instance, pid: str, allocation: Any) -> float:
    """A buyer values a unit at its bid; a seller's value of selling is minus its ask."""
    for b in instance.buyers:
        if b.id == pid:
            return b.bid * float(allocation)
    ask = next(s.ask for s in instance.sellers if s.id == pid)
    return -ask * float(allocation)


def random_instance(rng: np.random.Generator) -> Instance:
    """1–6 buyers and 1–6 sellers, values uniform on [0, 10] (sometimes rounded, to force ties)."""
    n, m = int(rng.integers(1, 7)), int(rng.integers(1, 7))
    bids, asks = rng.uniform(0, 10, n), rng.uniform(0, 10, m)
    if rng.random() < 0.3:
        bids, asks = np.round(bids), np.round(asks)
    return Instance(
        buyers=tuple(Buyer(id=f"b{i}", bid=float(v)) for i, v in enumerate(bids)),
        sellers=tuple(Seller(id=f"s{j}", ask=float(v)) for j, v in enumerate(asks)),
    )


def deviations(
    instance: Instance, pid: str, rng: np.random.Generator
) -> Iterator[tuple[str, Instance]]:
    """Misreported bid (buyer) or ask (seller): grid on [0, 12], near every other report, random."""
    others = [b.bid for b in instance.buyers if b.id != pid] + [
        s.ask for s in instance.sellers if s.id != pid
    ]
    yield from scalar_misreports(
        instance,
        pid,
        (("buyers", "bid"), ("sellers", "ask")),
        lambda true: scalar_grid(true, 0.0, 12.0, 5, 2, rng) + near_points(true, others),
    )


SPEC = MechanismSpec(
    name="mcafee",
    title="McAfee's trade-reduction double auction",
    source="baseline: McAfee (1992); compared against in seed 003 (District-D)",
    instance_type=Instance,
    clear=clear,
    roles=roles,
    true_value=true_value,
    claims=frozenset({"ic", "ir", "bb", "npt"}),
    random_instance=random_instance,
    deviations=deviations,
    example="mcafee.json",
)
