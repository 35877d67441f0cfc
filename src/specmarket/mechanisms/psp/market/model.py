"""Input model of the data-exchange market (seed 002 §3.1–§3.2): buyers, sellers, the ISP κ.

Buyer ``i``: demand ``D_i`` and an elastic valuation (Lemma 3.1) with marginal value
``θ_i'(z) = value · (1 − elasticity · z / D_i)`` on ``[0, D_i]``; seller ``j``: supply ``D^j``;
the ISP is seller ``κ`` with unlimited data at the overage price ``p^κ`` (§3.4.4).
"""

from __future__ import annotations

from typing import Literal, Self

import numpy as np
from pydantic import Field, model_validator

from specmarket.core import (
    Count,
    Id,
    Model,
    Positive,
    PositiveCount,
    require_nonempty,
    require_unique_ids,
)
from specmarket.errors import InvalidInput
from specmarket.mechanisms.psp.market.policy import PolicyName

__all__ = ["ISP_ID", "DataBuyer", "DataMarket", "DataSeller", "random_market", "worked_example"]

ISP_ID = "isp"


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
    synchronous or seeded asynchronous buyer moves; ``seed`` the random order's seed; ``policy``
    the stabilisers added to the seed's rules (:mod:`.policy`); ``max_rounds`` the round limit.
    """

    buyers: tuple[DataBuyer, ...]
    sellers: tuple[DataSeller, ...]
    isp_price: Positive = 10.0
    epsilon: Positive = 0.01
    reserve_policy: Literal["sticky", "current", "decay", "patient"] = "patient"
    policy: PolicyName = "converging"
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


# scenarios


def worked_example(
    epsilon: float = 0.01,
    policy: PolicyName = "seed-only",
    reserve_policy: Literal["sticky", "current", "decay", "patient"] = "sticky",
) -> DataMarket:
    """The seed's worked example (§3.4.4): sellers of 65 and 85 units, buyers A–E.

    By default under the seed's own rules (policy ``seed-only``, sticky eq. (27) reserves), with
    which the synchronous run is exactly the seed's (docs/psp.md, choice 9).
    """
    table = [("A", 50.0, 1.0), ("B", 40.0, 1.2), ("C", 26.0, 1.5), ("D", 20.0, 2.0)]
    table.append(("E", 14.0, 2.2))
    return DataMarket(
        buyers=tuple(DataBuyer(id=i, demand=d, value=v) for i, d, v in table),
        sellers=(DataSeller(id="1", supply=65.0), DataSeller(id="2", supply=85.0)),
        isp_price=10.0,
        epsilon=epsilon,
        policy=policy,
        reserve_policy=reserve_policy,
    )


def random_market(
    n_buyers: int,
    n_sellers: int,
    seed: int,
    *,
    isp_price: float = 5.0,
    epsilon: float = 0.05,
    order: Literal["synchronous", "asynchronous"] = "asynchronous",
    reserve_policy: Literal["sticky", "current", "decay", "patient"] = "patient",
    elastic: bool = True,
    max_rounds: int = 1000,
    policy: PolicyName = "converging",
) -> DataMarket:
    """A seeded random market (the benchmark family of docs/psp.md).

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
        policy=policy,
    )
