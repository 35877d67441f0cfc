"""The registered mechanism ``data-market`` (``specmarket clear data-market FILE.json``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import numpy as np

from specmarket.core import MechanismSpec, Outcome
from specmarket.mechanisms.psp.market.model import ISP_ID, DataMarket, random_market
from specmarket.mechanisms.psp.market.simulation import simulate
from specmarket.mechanisms.psp.market.valuation import valuation

__all__ = ["SPEC", "clear", "true_value"]


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


def _roles(inst: DataMarket) -> dict[str, Literal["buyer", "seller"]]:
    roles: dict[str, Literal["buyer", "seller"]] = {b.id: "buyer" for b in inst.buyers}
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
