"""Vickrey, VCG and McAfee: hand-checked examples and cross-checks against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from specmarket import get_mechanism
from specmarket.mechanisms import mcafee, vcg


def clear(name: str, data: dict) -> dict:
    return get_mechanism(name).clear_json(data)


def test_vickrey_second_price() -> None:
    out = clear(
        "vickrey",
        {"bidders": [{"id": "a", "bid": 3.0}, {"id": "b", "bid": 7.5}, {"id": "c", "bid": 5.0}]},
    )
    assert out["winner"] == "b" and out["price"] == 5.0
    assert out["payments"] == {"a": 0.0, "b": 5.0, "c": 0.0}
    assert out["welfare"] == 7.5 and out["revenue"] == 5.0


def test_vickrey_tie_goes_to_first_listed_and_single_bidder_pays_zero() -> None:
    out = clear("vickrey", {"bidders": [{"id": "a", "bid": 4}, {"id": "b", "bid": 4}]})
    assert out["winner"] == "a" and out["payments"]["a"] == 4.0
    out = clear("vickrey", {"bidders": [{"id": "solo", "bid": 4}]})
    assert out["payments"] == {"solo": 0.0}


def test_vcg_example() -> None:
    out = clear(
        "vcg",
        {
            "units": 3,
            "bidders": [
                {"id": "a", "marginal_values": [5, 4, 1]},
                {"id": "b", "marginal_values": [3]},
                {"id": "c", "marginal_values": [4.5, 2]},
            ],
        },
    )
    assert out["allocation"] == {"a": 2, "b": 0, "c": 1}
    # a: others' welfare without a = 4.5 + 3 + 2, with a = 4.5  → 5
    # c: others' welfare without c = 5 + 4 + 3, with c = 5 + 4   → 3
    assert out["payments"] == {"a": 5.0, "b": 0.0, "c": 3.0}
    assert out["welfare"] == 13.5 and out["revenue"] == 8.0


def test_vcg_more_units_than_demand_is_free() -> None:
    out = clear(
        "vcg",
        {
            "units": 10,
            "bidders": [
                {"id": "a", "marginal_values": [5, 4]},
                {"id": "b", "marginal_values": [3]},
            ],
        },
    )
    assert out["allocation"] == {"a": 2, "b": 1}
    assert out["payments"] == {"a": 0.0, "b": 0.0}


def brute_vcg(values: list[list[float]], k: int) -> tuple[float, list[float]]:
    """Welfare-maximising allocation by enumerating unit splits; Clarke payments by definition."""

    def best(idx: list[int]) -> tuple[float, tuple[int, ...]]:
        top = (-1.0, ())
        ranges = [range(min(len(values[i]), k) + 1) for i in idx]
        for x in itertools.product(*ranges):
            if sum(x) <= k:
                w = sum(sum(values[i][: x[j]]) for j, i in enumerate(idx))
                if w > top[0] + 1e-12:
                    top = (w, x)
        return top

    n = len(values)
    w_all, x_all = best(list(range(n)))
    pays = []
    for i in range(n):
        others = [j for j in range(n) if j != i]
        w_without = best(others)[0] if others else 0.0
        w_others_with = w_all - sum(values[i][: x_all[i]])
        pays.append(w_without - w_others_with)
    return w_all, pays


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 4),
    st.lists(st.lists(st.integers(0, 6), min_size=1, max_size=3), min_size=1, max_size=4),
)
def test_vcg_matches_brute_force(k: int, raw: list[list[int]]) -> None:
    values = [sorted((float(v) for v in mv), reverse=True) for mv in raw]
    inst = vcg.Instance(
        units=k,
        bidders=tuple(
            vcg.Bidder(id=f"b{i}", marginal_values=tuple(v)) for i, v in enumerate(values)
        ),
    )
    out = vcg.clear(inst)
    w, pays = brute_vcg(values, k)
    assert out.welfare == pytest.approx(w)
    # with ties several allocations are optimal; payments of the chosen one must match Clarke's
    # formula for it, which for the brute-force's allocation equals `pays` whenever they coincide
    x = [out.allocation[f"b{i}"] for i in range(len(values))]
    for i in range(len(values)):
        others = [j for j in range(len(values)) if j != i]
        w_without = brute_vcg([values[j] for j in others], k)[0] if others else 0.0
        expected = w_without - (out.welfare - sum(values[i][: x[i]]))
        assert out.payments[f"b{i}"] == pytest.approx(expected, abs=1e-9)
    assert sum(pays) >= -1e-9


def test_mcafee_price_p0_case() -> None:
    out = clear(
        "mcafee",
        {
            "buyers": [{"id": "b1", "bid": 9}, {"id": "b2", "bid": 7}, {"id": "b3", "bid": 3}],
            "sellers": [{"id": "s1", "ask": 2}, {"id": "s2", "ask": 4}, {"id": "s3", "ask": 8}],
        },
    )
    # k = 2, p0 = (3 + 8) / 2 = 5.5 ∈ [s2, b2] = [4, 7]: both pairs trade at 5.5
    assert out["winners"] == ["b1", "b2", "s1", "s2"]
    assert out["payments"] == {"b1": 5.5, "b2": 5.5, "b3": 0.0, "s1": -5.5, "s2": -5.5, "s3": 0.0}
    assert out["revenue"] == 0.0 and not out["trade_reduction"]


def test_mcafee_trade_reduction_case() -> None:
    out = clear(
        "mcafee",
        {
            "buyers": [{"id": "b1", "bid": 9}, {"id": "b2", "bid": 7}, {"id": "b3", "bid": 6}],
            "sellers": [{"id": "s1", "ask": 2}, {"id": "s2", "ask": 4}, {"id": "s3", "ask": 5}],
        },
    )
    # k = 3, no 4th pair: dummy seller asks +inf, p0 = +inf → sacrifice pair 3; pay b3 = 6, get
    # s3 = 5
    assert out["winners"] == ["b1", "b2", "s1", "s2"] and out["trade_reduction"]
    assert out["payments"] == {"b1": 6.0, "b2": 6.0, "b3": 0.0, "s1": -5.0, "s2": -5.0, "s3": 0.0}
    assert out["revenue"] == 2.0 and out["welfare"] == 10.0


def test_mcafee_no_trade() -> None:
    out = clear("mcafee", {"buyers": [{"id": "b", "bid": 1}], "sellers": [{"id": "s", "ask": 2}]})
    assert out["winners"] == [] and out["payments"] == {"b": 0.0, "s": 0.0}


def mcafee_pure_python(
    bids: list[float], asks: list[float]
) -> tuple[list[int], list[int], float, float]:
    """The textbook rule, written as plainly as possible."""
    bo = sorted(range(len(bids)), key=lambda i: (-bids[i], i))
    so = sorted(range(len(asks)), key=lambda j: (asks[j], j))
    k = 0
    while k < min(len(bids), len(asks)) and bids[bo[k]] >= asks[so[k]]:
        k += 1
    if k == 0:
        return [], [], 0.0, 0.0
    b_next = bids[bo[k]] if k < len(bids) else 0.0
    s_next = asks[so[k]] if k < len(asks) else float("inf")
    p0 = (b_next + s_next) / 2
    if asks[so[k - 1]] <= p0 <= bids[bo[k - 1]]:
        return bo[:k], so[:k], p0, p0
    return bo[: k - 1], so[: k - 1], bids[bo[k - 1]], asks[so[k - 1]]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(0, 20), min_size=1, max_size=12),
    st.lists(st.integers(0, 20), min_size=1, max_size=12),
)
def test_mcafee_arrays_match_pure_python(bids: list[int], asks: list[int]) -> None:
    c = mcafee.clear_arrays(np.array(bids, float), np.array(asks, float))
    bw, sw, bp, sp = mcafee_pure_python([float(b) for b in bids], [float(a) for a in asks])
    assert c.buyers.tolist() == sorted(bw) and c.sellers.tolist() == sorted(sw)
    assert mcafee.rank_order(np.array(bids, float), c.buyers, low=False).tolist() == bw
    assert mcafee.rank_order(np.array(asks, float), c.sellers, low=True).tolist() == sw
    assert (c.buyer_price, c.seller_price) == (bp, sp)
    assert c.buyer_price >= c.seller_price  # weak budget balance


@pytest.mark.parametrize("name", ["vickrey", "vcg", "mcafee"])
def test_examples_clear(name: str) -> None:
    from pathlib import Path

    from specmarket.io import read_json

    path = Path(__file__).resolve().parents[2] / "examples" / f"{name}.json"
    out = get_mechanism(name).clear_json(read_json(path))
    assert out["mechanism"] == name
    assert set(out) >= {"allocation", "payments", "welfare", "revenue"}
