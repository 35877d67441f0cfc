"""Classic PSP allocation and cost rules, seed 002 eqs. (2)–(4) and (20)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from specmarket.cli import app
from specmarket.errors import InvalidInput
from specmarket.mechanisms import get
from specmarket.mechanisms.psp.rules import (
    SPEC,
    Instance,
    clear,
    literal_outcome,
    psp_outcome,
)

ROOT = Path(__file__).resolve().parents[2]
RULES = ("lazar-semret", "split")


def _inst(total: float, reserve: float, rule: str, bids: list[tuple[float, float]]) -> Instance:
    return Instance.parse(
        {
            "quantity": total,
            "reserve": reserve,
            "tie_rule": rule,
            "bids": [
                {"id": str(k + 1), "quantity": q, "price": p} for k, (q, p) in enumerate(bids)
            ],
        }
    )


# ---- exact numbers worked by hand --------------------------------------------------------------


@pytest.mark.parametrize("rule", RULES)
def test_distinct_prices_greedy_and_displacement_costs(rule: str) -> None:
    # Q = 100, no reserve: 1 (60 @ 4), 2 (30 @ 3), 3 (40 @ 2) → 60, 30, 10;
    # c1 = 30 units of 3 at 2 = 60; c2 = 30 units of 3 at 2 = 60; c3 = the seller's 10 at 0 = 0.
    out = clear(_inst(100.0, 0.0, rule, [(60.0, 4.0), (30.0, 3.0), (40.0, 2.0)]))
    assert dict(out.allocation) == {"1": 60.0, "2": 30.0, "3": 10.0}
    assert dict(out.payments) == pytest.approx({"1": 60.0, "2": 60.0, "3": 0.0})
    assert out.details["seller_kept"] == 0.0
    assert out.welfare == pytest.approx(60 * 4 + 30 * 3 + 10 * 2)


@pytest.mark.parametrize("rule", RULES)
def test_reserve_is_player_zero(rule: str) -> None:
    # reserve 2.5: bid 3 (price 2) is below it and gets nothing; the seller keeps 10 units and
    # each buyer pays 2.5 per unit it takes from the seller: c1 = 60·2.5, c2 = 30·2.5.
    out = clear(_inst(100.0, 2.5, rule, [(60.0, 4.0), (30.0, 3.0), (40.0, 2.0)]))
    assert dict(out.allocation) == {"1": 60.0, "2": 30.0, "3": 0.0}
    assert dict(out.payments) == pytest.approx({"1": 150.0, "2": 75.0, "3": 0.0})
    assert out.details["seller_kept"] == pytest.approx(10.0)
    assert out.revenue == pytest.approx(225.0)


def test_tie_rule_lazar_semret_does_not_split() -> None:
    # Q = 10, A (10 @ 5) and B (5 @ 5): under "≥" each sees the other's bid at the same price.
    # A gets [10 − 5]^+ = 5, B gets [10 − 10]^+ = 0, 5 units stay unsold; each pays 25 for what it
    # displaces (B pays 25 for nothing: the ≥ rule is not individually rational at ties).
    out = clear(_inst(10.0, 0.0, "lazar-semret", [(10.0, 5.0), (5.0, 5.0)]))
    assert dict(out.allocation) == {"1": 5.0, "2": 0.0}
    assert dict(out.payments) == pytest.approx({"1": 25.0, "2": 25.0})
    assert out.details["seller_kept"] == 0.0  # the seller's own bid at 0 is also displaced


def test_tie_rule_split_eq20() -> None:
    # eq. (20): 10 units shared 2:1 → 20/3 and 10/3; costs by eq. (4): A displaces 5 − 10/3 of B
    # at 5 (25/3), B displaces 10 − 20/3 of A at 5 (50/3).
    out = clear(_inst(10.0, 0.0, "split", [(10.0, 5.0), (5.0, 5.0)]))
    assert out.allocation["1"] == pytest.approx(20 / 3)
    assert out.allocation["2"] == pytest.approx(10 / 3)
    assert out.payments["1"] == pytest.approx(25 / 3)
    assert out.payments["2"] == pytest.approx(50 / 3)


def test_split_with_seller_tied_at_reserve() -> None:
    # a buyer bidding exactly the reserve shares with the seller's (Q, p0) bid in proportion.
    out = clear(_inst(10.0, 2.0, "split", [(10.0, 2.0)]))
    assert out.allocation["1"] == pytest.approx(5.0)
    assert out.payments["1"] == pytest.approx(10.0)  # displaces 5 of the seller's units at 2
    ge = clear(_inst(10.0, 2.0, "lazar-semret", [(10.0, 2.0)]))
    assert ge.allocation["1"] == 0.0


# ---- fast path vs the literal definition --------------------------------------------------------

bid_st = st.tuples(
    st.sampled_from([0.0, 5.0, 10.0, 20.0, 35.0]) | st.floats(0, 60),
    st.sampled_from([0.0, 1.0, 2.0, 3.0]) | st.floats(0, 8),
)


@settings(max_examples=150, deadline=None)
@given(
    bids=st.lists(bid_st, min_size=1, max_size=7),
    total=st.sampled_from([10.0, 30.0, 55.5]) | st.floats(0.5, 120),
    reserve=st.sampled_from([0.0, 1.0, 2.0]) | st.floats(0, 5),
    rule=st.sampled_from(RULES),
)
def test_fast_matches_literal(
    bids: list[tuple[float, float]], total: float, reserve: float, rule: str
) -> None:
    q = np.array([total] + [b[0] for b in bids])
    p = np.array([reserve] + [b[1] for b in bids])
    a, c = psp_outcome(q, p, total, rule)
    a_ref, c_ref = literal_outcome(q, p, total, rule)
    np.testing.assert_allclose(a, a_ref, atol=1e-9)
    np.testing.assert_allclose(c, c_ref, atol=1e-7 * (1 + total * 8))


def test_fast_matches_literal_seeded_batch() -> None:
    rng = np.random.default_rng(7)
    for _ in range(300):
        n = int(rng.integers(1, 12))
        q = rng.uniform(0, 50, n)
        p = rng.uniform(0, 10, n)
        if rng.random() < 0.5:
            q, p = np.round(q / 10) * 10, np.round(p / 3)
        total = float(rng.uniform(5, 100))
        q = np.append(total, q)
        p = np.append(float(rng.choice([0.0, 1.0, 2.0])), p)
        for rule in RULES:
            a, c = psp_outcome(q, p, total, rule)
            a_ref, c_ref = literal_outcome(q, p, total, rule)
            np.testing.assert_allclose(a, a_ref, atol=1e-9)
            np.testing.assert_allclose(c, c_ref, atol=1e-7)


@settings(max_examples=80, deadline=None)
@given(
    bids=st.lists(bid_st, min_size=1, max_size=8),
    total=st.floats(1, 100),
    reserve=st.floats(0, 4),
    rule=st.sampled_from(RULES),
)
def test_feasibility_and_nonnegative_costs(
    bids: list[tuple[float, float]], total: float, reserve: float, rule: str
) -> None:
    q = np.array([total] + [b[0] for b in bids])
    p = np.array([reserve] + [b[1] for b in bids])
    a, c = psp_outcome(q, p, total, rule)
    assert a.sum() <= total + 1e-9
    assert np.all(a <= q + 1e-12) and np.all(a >= 0)
    assert np.all(c >= 0)
    if rule == "split":  # IR: cost ≤ declared value (VCG under the split rule)
        assert np.all(c[1:] <= p[1:] * a[1:] + 1e-7)


@settings(max_examples=60, deadline=None)
@given(
    bids=st.lists(st.tuples(st.floats(0, 50), st.floats(0, 8)), min_size=2, max_size=5),
    total=st.floats(5, 80),
    dev=st.tuples(st.floats(0, 80), st.floats(0, 10)),
)
def test_split_rule_truthful(
    bids: list[tuple[float, float]], total: float, dev: tuple[float, float]
) -> None:
    # the split rule is the Clarke mechanism for "p per unit up to q" types: no misreport pays
    inst = _inst(total, 0.5, "split", bids)
    truth = clear(inst)
    u_true = truth.utility("1")
    lie = _inst(total, 0.5, "split", [dev, *bids[1:]])
    out = clear(lie)
    q1, p1 = bids[0]
    u_lie = p1 * min(out.allocation["1"], q1) - out.payments["1"]
    assert u_lie <= u_true + 1e-7


def test_complexity_large_instance_is_fast() -> None:
    rng = np.random.default_rng(3)
    n = 200_000
    q = np.append(1000.0, rng.uniform(0, 10, n))
    p = np.append(0.5, np.round(rng.uniform(0, 10, n), 2))  # many ties
    for rule in RULES:
        t0 = time.perf_counter()
        a, c = psp_outcome(q, p, 1000.0, rule)
        assert time.perf_counter() - t0 < 3.0
        assert a.sum() <= 1000.0 + 1e-6 and np.all(c >= 0)


# ---- the registered mechanism, JSON and CLI ------------------------------------------------------


def test_spec_registered_and_example() -> None:
    spec = get("psp")
    assert spec is SPEC
    data = json.loads((ROOT / "examples" / "psp.json").read_text())
    res = spec.clear_json(data)
    assert res["allocation"] == {"1": 60.0, "2": 30.0, "3": 10.0, "4": 0.0}
    assert res["payments"] == pytest.approx({"1": 90.0, "2": 60.0, "3": 10.0, "4": 0.0})
    assert res["revenue"] == pytest.approx(160.0)
    assert res["welfare"] == pytest.approx(350.0)
    assert res["tie_rule"] == "lazar-semret"


def test_cli_clear_psp() -> None:
    r = CliRunner().invoke(app, ["clear", "psp", str(ROOT / "examples" / "psp.json")])
    assert r.exit_code == 0, r.output
    assert set(json.loads(r.stdout)) >= {"allocation", "payments", "welfare", "revenue"}


def test_random_instances_and_deviations_are_valid() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        inst = SPEC.random_instance(rng)  # type: ignore[misc]
        clear(inst)
        pid = inst.bids[0].id
        devs = list(SPEC.deviations(inst, pid, rng))  # type: ignore[misc]
        assert devs
        for _, d in devs[:5]:
            clear(d)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"quantity": 10, "bids": [{"id": "a", "quantity": 1, "price": -1.0}]}, "bids[0].price"),
        (
            {"quantity": 10, "bids": [{"id": "a", "quantity": -1.0, "price": 1.0}]},
            "bids[0].quantity",
        ),
        ({"quantity": 0.0, "bids": [{"id": "a", "quantity": 1.0, "price": 1.0}]}, "quantity"),
        (
            {"quantity": 10, "reserve": -1.0, "bids": [{"id": "a", "quantity": 1, "price": 1}]},
            "reserve",
        ),
        (
            {"quantity": 10, "tie_rule": "coin", "bids": [{"id": "a", "quantity": 1, "price": 1}]},
            "tie_rule",
        ),
        ({"quantity": 10, "bids": []}, "bids"),
        (
            {
                "quantity": 10,
                "bids": [
                    {"id": "a", "quantity": 1, "price": 1},
                    {"id": "a", "quantity": 1, "price": 2},
                ],
            },
            "bids[1].id",
        ),
        (
            {"quantity": 10, "bids": [{"id": "a", "quantity": 1, "price": float("nan")}]},
            "bids[0].price",
        ),
        ({"quantity": 10, "bids": [{"id": "a", "quantity": 1, "price": 1, "x": 1}]}, "bids[0].x"),
    ],
)
def test_bad_input_names_field(data: dict, field: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        Instance.parse(data)
    assert exc.value.field == field


def test_array_api_rejects_bad_arrays() -> None:
    with pytest.raises(InvalidInput):
        psp_outcome(np.array([1.0]), np.array([1.0]), 10.0, "coin")
    with pytest.raises(InvalidInput):
        psp_outcome(np.array([1.0, -1.0]), np.array([1.0, 1.0]), 10.0)
    with pytest.raises(InvalidInput):
        psp_outcome(np.array([1.0]), np.array([1.0]), 0.0)
