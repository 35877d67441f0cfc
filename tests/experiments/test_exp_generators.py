"""Generators: the two-sided VCG reading of ``vcg`` against a brute-force Clarke computation, and
the metrics' invariants on random markets."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from specmarket.errors import InvalidInput
from specmarket.experiments import generators, get_generator
from specmarket.experiments.generators import DoubleAuctionMarket, optimal_gains
from specmarket.mechanisms import get

DA = get_generator("double-auction")

values = st.lists(st.floats(0, 10, allow_nan=False, allow_infinity=False), min_size=1, max_size=6)
int_values = st.lists(st.integers(0, 5).map(float), min_size=1, max_size=6)


def brute_vcg_revenue(
    m: DoubleAuctionMarket, buyers_trading: set[int], sellers_trading: set[int]
) -> float:
    """Two-sided VCG budget from the definition: buyer i pays W*_{-i} − (W* − b_i x_i); seller j
    receives (W* + s_j y_j) − W*_{-j}; W* the optimal gains from trade (brute-force sums)."""
    best = optimal_gains(m)
    total = 0.0
    for i in buyers_trading:
        without = DoubleAuctionMarket(np.delete(m.bids, i), m.asks)
        total += optimal_gains(without) - (best - m.bids[i])
    for j in sellers_trading:
        without = DoubleAuctionMarket(m.bids, np.delete(m.asks, j))
        total -= (best + m.asks[j]) - optimal_gains(without)
    return float(total)


def _vcg_rows(m: DoubleAuctionMarket) -> tuple[dict[str, float], set[int], set[int]]:
    spec = get("vcg")
    params = DA.params.parse({"buyers": m.bids.size, "sellers": m.asks.size})
    adapter = DA.adapters["vcg"]
    out = spec.clear(spec.parse(adapter.to_instance(m, params)))
    bt = {i for i in range(m.bids.size) if out.allocation[f"b{i}"] > 0}
    sy = {j for j in range(m.asks.size) if out.allocation[f"s{j}"] == 0}
    return adapter.metrics(m, params, out), bt, sy


@settings(max_examples=80, deadline=None)
@given(values, values)
def test_vcg_double_auction_revenue_is_the_clarke_budget(
    bids: list[float], asks: list[float]
) -> None:
    m = DoubleAuctionMarket(np.array(bids), np.array(asks))
    metrics, bt, sy = _vcg_rows(m)
    assert len(bt) == len(sy) == metrics["trades"]
    assert metrics["efficiency"] == pytest.approx(1.0)
    assert metrics["welfare"] == pytest.approx(optimal_gains(m), abs=1e-9)
    assert metrics["revenue"] == pytest.approx(brute_vcg_revenue(m, bt, sy), abs=1e-9)
    assert metrics["revenue"] <= 1e-9  # VCG never has a surplus here (the classic deficit)


@settings(max_examples=50, deadline=None)
@given(int_values, int_values)
def test_vcg_with_ties_is_still_efficient_and_clarke(bids: list[float], asks: list[float]) -> None:
    m = DoubleAuctionMarket(np.array(bids), np.array(asks))
    metrics, bt, sy = _vcg_rows(m)
    assert metrics["welfare"] == pytest.approx(optimal_gains(m))
    assert metrics["revenue"] == pytest.approx(brute_vcg_revenue(m, bt, sy))


@settings(max_examples=80, deadline=None)
@given(values, values)
def test_mcafee_metrics(bids: list[float], asks: list[float]) -> None:
    m = DoubleAuctionMarket(np.array(bids), np.array(asks))
    params = DA.params.parse({"buyers": m.bids.size, "sellers": m.asks.size})
    row = DA.run(get("mcafee"), params, m, np.random.default_rng(0))
    best = optimal_gains(m)
    assert 0.0 <= row["efficiency"] <= 1.0 + 1e-12
    assert row["revenue"] >= -1e-9  # weak budget balance
    assert row["optimal_welfare"] == pytest.approx(best)
    # trade reduction loses at most the least valuable efficient trade
    vcg_trades = _vcg_rows(m)[0]["trades"]
    assert vcg_trades - 1 <= row["trades"] <= vcg_trades


def test_worked_double_auction() -> None:
    # b = 9, 7, 3; s = 1, 4, 8: k = 2 efficient trades, p0 = (3 + 8)/2 = 5.5 in [4, 7] -> both trade
    m = DoubleAuctionMarket(np.array([9.0, 7.0, 3.0]), np.array([1.0, 4.0, 8.0]))
    params = DA.params.parse({"buyers": 3})
    mc = DA.run(get("mcafee"), params, m, np.random.default_rng(0))
    assert mc == {
        "welfare": 11.0,
        "optimal_welfare": 11.0,
        "efficiency": 1.0,
        "trades": 2.0,
        "revenue": 0.0,
    }
    vcg, _, _ = _vcg_rows(m)
    # buyers pay max(b3, s2) = 4 each; sellers receive min(b2, s3) = 7 each: 8 − 14 = −6
    assert vcg["revenue"] == pytest.approx(-6.0) and vcg["trades"] == 2.0


def test_single_item_generator_feeds_vickrey_and_vcg_identically() -> None:
    gen = get_generator("single-item")
    params = gen.params.parse({"bidders": 4})
    rng = np.random.default_rng(3)
    market = gen.draw(params, rng)
    a = gen.run(get("vickrey"), params, market, rng)
    b = gen.run(get("vcg"), params, market, rng)
    assert a == pytest.approx(b)
    assert a["efficiency"] == 1.0 and a["revenue"] == pytest.approx(np.sort(market)[-2])


def test_random_instance_generator_supports_any_mechanism_with_a_generator() -> None:
    gen = get_generator("random-instance")
    for name in ("vickrey", "vcg", "mcafee"):
        assert gen.supports(get(name))
        row = gen.run(get(name), gen.params.parse({}), None, np.random.default_rng(1))
        assert set(row) == {"welfare", "revenue"}


def test_registry_and_bad_params() -> None:
    assert {"double-auction", "single-item", "random-instance"} <= set(generators())
    with pytest.raises(InvalidInput, match="generator"):
        get_generator("nope")
    with pytest.raises(InvalidInput) as info:
        DA.params.parse({"cost_low": -1.0})
    assert info.value.field == "cost_low"
    with pytest.raises(InvalidInput) as info:
        DA.params.parse({"value_low": 2.0, "value_high": 1.0})
    assert info.value.field == "value_high"
