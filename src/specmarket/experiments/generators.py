"""Instance generators for experiments, independent of any one mechanism.

A :class:`Generator` draws one random *market* per run from a seeded ``numpy`` generator and knows,
through its *adapters*, how to write that market in the JSON format of each mechanism it can feed
(see ``docs/formats.md``) and which metrics to compute from the outcome. Every mechanism of a
scenario clears the **same** market in a run (common random numbers), so differences between
mechanisms are not blurred by different draws.

Bundled generators
------------------
``double-auction``
    ``buyers`` buyers with values uniform on ``[value_low, value_high]`` and ``sellers`` sellers
    (default: as many as buyers) with costs uniform on ``[cost_low, cost_high]``; feeds ``mcafee``
    and ``vcg``. Metrics: ``welfare`` (realised gains from trade ``Σ b − Σ s`` over the traders),
    ``optimal_welfare`` (the largest possible gains), ``efficiency`` (their ratio; 1 when no trade
    can gain anything), ``trades`` and ``revenue`` (the auctioneer's surplus).
``single-item``
    ``bidders`` bidders with values uniform on ``[value_low, value_high]``; feeds ``vickrey`` and
    ``vcg`` (one unit). Metrics: ``welfare``, ``optimal_welfare``, ``efficiency``, ``revenue``.
``random-instance``
    The mechanism's own ``MechanismSpec.random_instance`` (no parameters; any mechanism that has
    one; each mechanism then clears its *own* draw, from the stream
    ``default_rng([seed, crc32(mechanism name)])``). Metrics: ``welfare`` and ``revenue``.

How ``vcg`` clears a double auction
-----------------------------------
The k-unit VCG of :mod:`specmarket.mechanisms.vcg` is one-sided. A double auction with ``M`` sellers
is written as an auction of ``M`` units in which every seller is also a unit-demand bidder whose
value is its ask (a seller who "wins" a unit keeps it; the others sell). The ``M`` highest values
overall win, which is exactly the efficient set of trades; each winning buyer pays the
``(M+1)``-th highest value ``max(b_(k+1), s_(k))`` — the two-sided VCG buyer price. The seller side
of the two-sided VCG double auction is then paid by the Clarke pivot rule: each of the ``k`` trading
sellers receives ``min(b_(k), s_(k+1))`` (a missing ``s_(k+1)`` counts +∞). The ``revenue`` metric
of a ``vcg`` row is that two-sided budget, which is negative in general: the classic VCG deficit
that McAfee's trade reduction avoids (McAfee 1992).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Self

import numpy as np
from pydantic import model_validator

from specmarket.core import Finite, Model, Outcome, PositiveCount
from specmarket.core.spec import MechanismSpec
from specmarket.errors import InvalidInput

#: ``to_instance(market, params) -> dict`` (JSON of one instance for the mechanism).
ToInstance = Callable[[Any, Any], dict[str, Any]]
#: ``metrics(market, params, outcome) -> {metric: number}``.
MetricsFn = Callable[[Any, Any, Outcome], dict[str, float]]


@dataclass(frozen=True)
class Adapter:
    """How one mechanism clears the markets of one generator."""

    to_instance: ToInstance
    metrics: MetricsFn


@dataclass(frozen=True)
class Generator:
    """A named, seeded generator of random markets.

    Attributes
    ----------
    name
        Registry name used in scenario files (``generator = "double-auction"``).
    title
        One line: what it draws.
    params
        The pydantic :class:`~specmarket.core.Model` of its parameters (defaults, types, checks).
    draw
        ``draw(params, rng) -> market``: one random market.
    adapters
        Mechanism name → :class:`Adapter`.
    metrics
        Metric name → readable label with unit, in display order.
    param_labels
        Parameter name → readable label with unit (figure axes).
    any_mechanism
        ``True`` for a generator that works with every mechanism having ``random_instance``.
    """

    name: str
    title: str
    params: type[Model]
    draw: Callable[[Any, np.random.Generator], Any]
    adapters: Mapping[str, Adapter] = field(default_factory=dict)
    metrics: Mapping[str, str] = field(default_factory=dict)
    param_labels: Mapping[str, str] = field(default_factory=dict)
    any_mechanism: bool = False

    def supports(self, spec: MechanismSpec[Any]) -> bool:
        """Whether this generator can feed the mechanism ``spec``."""
        if self.any_mechanism:
            return spec.random_instance is not None
        return spec.name in self.adapters

    def run(
        self, spec: MechanismSpec[Any], params: Any, market: Any, rng: np.random.Generator
    ) -> dict[str, float]:
        """Clear ``market`` with ``spec`` and return the metrics of the outcome."""
        if self.any_mechanism:
            assert spec.random_instance is not None
            out = spec.clear(spec.random_instance(rng))
            return {"welfare": out.welfare, "revenue": out.revenue}
        adapter = self.adapters[spec.name]
        out = spec.clear(spec.parse(adapter.to_instance(market, params)))
        return adapter.metrics(market, params, out)


# --------------------------------------------------------------------------- double auction


class DoubleAuctionParams(Model):
    """Parameters of the ``double-auction`` generator (uniform values and costs)."""

    buyers: PositiveCount = 10
    sellers: PositiveCount | None = None
    value_low: Finite = 0.0
    value_high: Finite = 1.0
    cost_low: Finite = 0.0
    cost_high: Finite = 1.0

    @model_validator(mode="before")
    @classmethod
    def _balanced_by_default(cls, data: Any) -> Any:
        """``sellers`` defaults to ``buyers`` (so sweeping ``buyers`` sweeps a balanced market)."""
        if isinstance(data, dict) and data.get("sellers") is None:
            data = {**data, "sellers": data.get("buyers", 10)}
        return data

    @model_validator(mode="after")
    def _check(self) -> Self:
        for lo, hi in (("value_low", "value_high"), ("cost_low", "cost_high")):
            if getattr(self, lo) < 0:
                raise InvalidInput(lo, getattr(self, lo), "must be ≥ 0 (bids and asks are ≥ 0)")
            if getattr(self, hi) < getattr(self, lo):
                raise InvalidInput(hi, getattr(self, hi), f"must be ≥ {lo} = {getattr(self, lo)}")
        return self

    @property
    def n_sellers(self) -> int:
        return self.buyers if self.sellers is None else self.sellers  # None only if bypassed


@dataclass(frozen=True)
class DoubleAuctionMarket:
    """Buyer values ``bids`` and seller costs ``asks`` of one run."""

    bids: np.ndarray
    asks: np.ndarray


def _draw_double(p: DoubleAuctionParams, rng: np.random.Generator) -> DoubleAuctionMarket:
    bids = rng.uniform(p.value_low, p.value_high, size=p.buyers)
    asks = rng.uniform(p.cost_low, p.cost_high, size=p.n_sellers)
    return DoubleAuctionMarket(bids, asks)


def _sorted_sides(m: DoubleAuctionMarket) -> tuple[np.ndarray, np.ndarray, int]:
    b = np.sort(m.bids)[::-1]
    s = np.sort(m.asks)
    n = min(b.size, s.size)
    k = int(np.count_nonzero(b[:n] >= s[:n]))
    return b, s, k


def optimal_gains(m: DoubleAuctionMarket) -> float:
    """The largest gains from trade: ``Σ_{i≤k} (b_(i) − s_(i))`` over the ``k`` efficient trades."""
    b, s, k = _sorted_sides(m)
    return float(np.sum(b[:k] - s[:k]))


def _efficiency(gains: float, best: float) -> float:
    return 1.0 if best <= 0 else gains / best


def _mcafee_instance(m: DoubleAuctionMarket, _p: Any) -> dict[str, Any]:
    return {
        "buyers": [{"id": f"b{i}", "bid": float(v)} for i, v in enumerate(m.bids)],
        "sellers": [{"id": f"s{j}", "ask": float(v)} for j, v in enumerate(m.asks)],
    }


def _mcafee_metrics(m: DoubleAuctionMarket, _p: Any, out: Outcome) -> dict[str, float]:
    best = optimal_gains(m)
    gains = out.welfare  # buyers' values minus sellers' costs of the traders
    trades = sum(int(out.allocation[f"b{i}"]) for i in range(m.bids.size))
    return {
        "welfare": gains,
        "optimal_welfare": best,
        "efficiency": _efficiency(gains, best),
        "trades": float(trades),
        "revenue": out.revenue,
    }


def _vcg_double_instance(m: DoubleAuctionMarket, _p: Any) -> dict[str, Any]:
    bidders = [{"id": f"b{i}", "marginal_values": [float(v)]} for i, v in enumerate(m.bids)]
    bidders += [{"id": f"s{j}", "marginal_values": [float(v)]} for j, v in enumerate(m.asks)]
    return {"units": int(m.asks.size), "bidders": bidders}


def _vcg_double_metrics(m: DoubleAuctionMarket, _p: Any, out: Outcome) -> dict[str, float]:
    won_b = [i for i in range(m.bids.size) if out.allocation[f"b{i}"] > 0]
    sold = [j for j in range(m.asks.size) if out.allocation[f"s{j}"] == 0]
    gains = float(np.sum(m.bids[won_b]) - np.sum(m.asks[sold]))
    b, s, k = _sorted_sides(m)
    receipt = min(b[k - 1], s[k] if k < s.size else np.inf) if k > 0 else 0.0
    buyer_pay = float(sum(out.payments[f"b{i}"] for i in won_b))
    best = optimal_gains(m)
    return {
        "welfare": gains,
        "optimal_welfare": best,
        "efficiency": _efficiency(gains, best),
        "trades": float(len(won_b)),
        "revenue": buyer_pay - len(sold) * float(receipt),
    }


DOUBLE_AUCTION = Generator(
    name="double-auction",
    title="unit-demand buyers and unit-supply sellers, values and costs uniform",
    params=DoubleAuctionParams,
    draw=_draw_double,
    adapters={
        "mcafee": Adapter(_mcafee_instance, _mcafee_metrics),
        "vcg": Adapter(_vcg_double_instance, _vcg_double_metrics),
    },
    metrics={
        "efficiency": "efficiency (realised / optimal gains from trade)",
        "welfare": "gains from trade (value units)",
        "optimal_welfare": "optimal gains from trade (value units)",
        "trades": "number of trades",
        "revenue": "auctioneer surplus (value units)",
    },
    param_labels={
        "buyers": "number of buyers",
        "sellers": "number of sellers",
        "value_low": "lowest buyer value (value units)",
        "value_high": "highest buyer value (value units)",
        "cost_low": "lowest seller cost (value units)",
        "cost_high": "highest seller cost (value units)",
    },
)

# --------------------------------------------------------------------------- single item


class SingleItemParams(Model):
    """Parameters of the ``single-item`` generator."""

    bidders: PositiveCount = 5
    value_low: Finite = 0.0
    value_high: Finite = 1.0

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.value_low < 0:
            raise InvalidInput("value_low", self.value_low, "must be ≥ 0 (bids are ≥ 0)")
        if self.value_high < self.value_low:
            raise InvalidInput(
                "value_high", self.value_high, f"must be ≥ value_low = {self.value_low}"
            )
        return self


def _draw_single(p: SingleItemParams, rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(p.value_low, p.value_high, size=p.bidders)


def _single_metrics(values: np.ndarray, _p: Any, out: Outcome) -> dict[str, float]:
    best = float(values.max())
    return {
        "welfare": out.welfare,
        "optimal_welfare": best,
        "efficiency": _efficiency(out.welfare, best),
        "revenue": out.revenue,
    }


SINGLE_ITEM = Generator(
    name="single-item",
    title="one item, bidders' values uniform",
    params=SingleItemParams,
    draw=_draw_single,
    adapters={
        "vickrey": Adapter(
            lambda v, _p: {"bidders": [{"id": f"b{i}", "bid": float(x)} for i, x in enumerate(v)]},
            _single_metrics,
        ),
        "vcg": Adapter(
            lambda v, _p: {
                "units": 1,
                "bidders": [
                    {"id": f"b{i}", "marginal_values": [float(x)]} for i, x in enumerate(v)
                ],
            },
            _single_metrics,
        ),
    },
    metrics={
        "efficiency": "efficiency (winner's value / highest value)",
        "welfare": "welfare (value units)",
        "optimal_welfare": "optimal welfare (value units)",
        "revenue": "revenue (value units)",
    },
    param_labels={
        "bidders": "number of bidders",
        "value_low": "lowest value (value units)",
        "value_high": "highest value (value units)",
    },
)

# --------------------------------------------------------------------------- any mechanism


class NoParams(Model):
    """The ``random-instance`` generator takes no parameters."""


RANDOM_INSTANCE = Generator(
    name="random-instance",
    title="each mechanism's own random_instance (as used by the auditor)",
    params=NoParams,
    draw=lambda _p, _rng: None,
    metrics={"welfare": "welfare (value units)", "revenue": "revenue (value units)"},
    any_mechanism=True,
)

_REGISTRY: dict[str, Generator] = {
    g.name: g for g in (DOUBLE_AUCTION, SINGLE_ITEM, RANDOM_INSTANCE)
}


def register_generator(gen: Generator) -> Generator:
    """Add ``gen`` to the registry (a mechanism module may bring its own generator)."""
    if gen.name in _REGISTRY and _REGISTRY[gen.name] is not gen:
        raise ValueError(f"two generators named {gen.name!r}")
    _REGISTRY[gen.name] = gen
    return gen


def generators() -> dict[str, Generator]:
    """All registered generators, by name."""
    return dict(sorted(_REGISTRY.items()))


def get_generator(name: str) -> Generator:
    """The generator called ``name``; :class:`InvalidInput` on field ``generator`` otherwise."""
    if name not in _REGISTRY:
        raise InvalidInput(
            "generator", name, f"unknown generator; known: {', '.join(sorted(_REGISTRY))}"
        )
    return _REGISTRY[name]
