"""Tests of the CAT team auction (seed 000): examples, fast-vs-enumeration, Shapley, theorems."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from specmarket.errors import InvalidInput
from specmarket.mechanisms import cat
from specmarket.mechanisms.cat_teams import (
    clock_price,
    enumerate_teams,
    last_met_step,
    top_two_fast,
    top_two_reference,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "cat.json"


def _inst(bands: int, users: list[tuple[int, float]], sharing: bool = True, theta: float = 0.1):
    return cat.Instance(
        bands=bands,
        increment=theta,
        sharing=sharing,
        users=tuple(cat.User(id=f"u{i}", demand=d, wtp=w) for i, (d, w) in enumerate(users)),
    )


def test_example_with_sharing() -> None:
    data = json.loads(EXAMPLE.read_text())
    out = cat.SPEC.clear_json(data)
    assert out["team"] == ["u1", "u2"]
    assert out["runner_up"] == ["u3", "u4"]
    assert out["price"] == pytest.approx(2.2)
    assert out["allocation"] == {"u1": 4, "u2": 6, "u3": 0, "u4": 0, "u5": 0, "u6": 0}
    assert out["welfare"] == pytest.approx(4 * 3.0 + 6 * 1.9)
    assert out["revenue"] == pytest.approx(22.0)
    # u2 (wtp 1.9) is 0.3 per band short of 2.2: delta = 6 * 0.3, paid by u1 (section D)
    assert out["delta"]["u2"] == pytest.approx(1.8)
    assert out["contributions"]["u1"] == pytest.approx(1.8)
    # residual 23.4 - 22 = 1.4 split equally (unanimity game)
    assert out["shapley"] == pytest.approx({"u1": 0.7, "u2": 0.7})
    assert out["transfers"]["u1"] == pytest.approx(4 * (3.0 - 2.2) - 0.7)
    assert math.fsum(out["transfers"].values()) == pytest.approx(0.0, abs=1e-12)
    assert out["payments"]["u1"] == pytest.approx(4 * 2.2 + 2.5)
    assert out["idle_bands"] == 0
    assert out["excluded"] == ["u5", "u6"]  # in no legal team: cannot bid (section C)


def test_example_without_sharing_picks_other_team() -> None:
    data = json.loads(EXAMPLE.read_text())
    data["sharing"] = False
    out = cat.SPEC.clear_json(data)
    assert out["team"] == ["u3", "u4"]  # bottleneck 2.0 beats {u1, u2} whose bottleneck is 1.9
    assert out["price"] == pytest.approx(2.0)
    assert out["welfare"] == pytest.approx(21.0)  # < 23.4 with sharing: Theorem 2 needs sharing
    assert out["shapley"] == pytest.approx({"u3": 5 * 0.0, "u4": 5 * 0.2})
    assert all(v == 0.0 for v in out["transfers"].values())


def test_section_d_two_teams() -> None:
    # Team 1 = {u0, u1} bids up to 2.5; team 2 = {u2, u3} has bottleneck u2 with 2.05, but u3 has
    # surplus: without sharing team 2 drops at 2.1, with sharing it bids on and wins (section D).
    users = [(4, 2.5), (6, 2.5), (3, 2.05), (7, 4.0)]
    no = cat.clear(_inst(10, users, sharing=False))
    yes = cat.clear(_inst(10, users, sharing=True))
    assert no.details["team"] == ["u0", "u1"]
    assert no.details["price"] == pytest.approx(2.1)
    assert no.welfare == pytest.approx(25.0)
    assert yes.details["team"] == ["u2", "u3"]
    assert yes.details["price"] == pytest.approx(2.6)
    assert yes.welfare == pytest.approx(3 * 2.05 + 7 * 4.0)
    assert yes.details["delta"]["u2"] == pytest.approx(3 * (2.6 - 2.05))
    assert yes.details["contributions"]["u3"] == pytest.approx(3 * (2.6 - 2.05))
    # eq. (5): the rich member is better off sharing than losing
    assert yes.utility("u3") > 0.0 == no.utility("u3")


def test_no_legal_team_leaves_bands_idle() -> None:
    out = cat.clear(_inst(10, [(3, 1.0), (4, 2.0), (11, 5.0)]))
    assert out.details["team"] == [] and out.details["idle_bands"] == 10
    assert out.details["excluded"] == ["u0", "u1", "u2"]
    assert out.revenue == 0.0 and out.welfare == 0.0


def test_single_team_pays_opening_price() -> None:
    out = cat.clear(_inst(5, [(2, 1.0), (3, 2.0), (6, 5.0)]))
    assert out.details["team"] == ["u0", "u1"] and out.details["price"] == 0.0
    assert out.details["runner_up"] is None


def test_clock_price_rules() -> None:
    assert last_met_step(2.0, 0.1) == 20
    assert last_met_step(0.3, 0.1) == 3  # 3 * 0.1 = 0.30000000000000004, within tolerance
    assert clock_price(5.0, 2.0, 0.1)[0] == pytest.approx(2.1)
    assert clock_price(2.05, 2.0, 0.1)[0] == pytest.approx(2.05)  # capped by winner's limit
    assert clock_price(2.0, 2.0, 0.1)[0] == pytest.approx(2.0)
    assert clock_price(2.0, None, 0.1) == (0.0, 0)


def test_tie_break_prefers_earlier_users() -> None:
    out = cat.clear(_inst(4, [(2, 1.0), (2, 1.0), (2, 1.0)]))
    assert out.details["team"] == ["u0", "u1"] and out.details["runner_up"] == ["u0", "u2"]
    assert out.details["price"] == pytest.approx(1.0)


def test_enumeration_lists_exact_sums() -> None:
    teams = list(enumerate_teams([1, 2, 3, 3], [1.0, 1.0, 1.0, 1.0], 3))
    assert sorted(t.members for t in teams) == [(0, 1), (2,), (3,)]


small_users = st.lists(
    st.tuples(st.integers(1, 9), st.integers(0, 24).map(lambda x: x / 4)), min_size=1, max_size=10
)


@settings(max_examples=150, deadline=None)
@given(users=small_users, bands=st.integers(1, 9), sharing=st.booleans())
def test_fast_equals_enumeration(users: list[tuple[int, float]], bands: int, sharing: bool) -> None:
    demand = [d for d, _ in users]
    wtp = [w for _, w in users]
    assert top_two_fast(demand, wtp, bands, sharing) == top_two_reference(
        demand, wtp, bands, sharing
    )


@settings(max_examples=80, deadline=None)
@given(
    users=small_users,
    bands=st.integers(1, 9),
    sharing=st.booleans(),
    theta=st.sampled_from([0.1, 0.25, 0.3, 1.0]),
)
def test_clear_equals_reference_clock(
    users: list[tuple[int, float]], bands: int, sharing: bool, theta: float
) -> None:
    inst = _inst(bands, users, sharing, theta)
    fast, ref = cat.clear(inst), cat.clear_reference(inst)
    assert fast.to_json() == ref.to_json()
    # invariants of the settlement
    assert fast.revenue == pytest.approx(
        fast.details["price"] * bands if fast.details["team"] else 0
    )
    assert math.fsum(fast.details["transfers"].values()) == pytest.approx(0.0, abs=1e-9)
    for pid in fast.details["team"]:
        assert fast.utility(pid) >= -1e-9  # IR
        assert fast.utility(pid) == pytest.approx(fast.details["shapley"][pid], abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(users=small_users, bands=st.integers(1, 9))
def test_theorem2_with_sharing(users: list[tuple[int, float]], bands: int) -> None:
    inst = _inst(bands, users, True)
    teams = list(enumerate_teams([d for d, _ in users], [w for _, w in users], bands))
    out = cat.clear(inst)
    best = max((t.welfare for t in teams), default=0.0)
    assert out.welfare == pytest.approx(best)


@settings(max_examples=60, deadline=None)
@given(
    surplus=st.lists(st.floats(-5, 5, allow_nan=False), min_size=1, max_size=7),
    sharing=st.booleans(),
)
def test_shapley_closed_form_is_exact(surplus: list[float], sharing: bool) -> None:
    game = cat.legal_game(surplus, sharing)
    ref = cat.shapley_by_subsets(game, len(surplus))
    assert cat.shapley_closed_form(surplus, sharing) == pytest.approx(ref, abs=1e-9)


def test_theorem1_counterexample_demand() -> None:
    # documented in docs/cat.md: u0 needs 2 bands; reporting 1 completes a team with u2 and pays
    inst = _inst(9, [(2, 1.0), (2, 4.0), (8, 3.0)], sharing=True)
    truthful = cat.clear(inst)
    lie = cat.clear(
        inst.model_copy(
            update={"users": (inst.users[0].model_copy(update={"demand": 1}), *inst.users[1:])}
        )
    )
    u_true = truthful.utility("u0")
    u_lie = cat.true_value(inst, "u0", lie.allocation["u0"]) - lie.payments["u0"]
    assert u_true == 0.0 and u_lie > 1.0


def test_deviations_and_random_instance() -> None:
    rng = np.random.default_rng(0)
    inst = cat.random_instance(rng)
    labels = [lab for lab, _ in cat.deviations(inst, inst.users[0].id, rng)]
    assert any(lab.startswith("demand=") for lab in labels)
    assert any(lab.startswith("wtp=") for lab in labels)


def test_welfare_eq4() -> None:
    assert cat.welfare_eq4(4, 4, 2.0) == 8.0
    assert cat.welfare_eq4(6, 4, 2.0) == 8.0
    assert cat.welfare_eq4(2, 4, 2.0) == pytest.approx(2 * 0.5 * 2.0)


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"bands": 0}, "bands"),
        ({"bands": "10"}, "bands"),
        ({"increment": 0.0}, "increment"),
        ({"increment": float("nan")}, "increment"),
        ({"sharing": "yes"}, "sharing"),
        ({"users": []}, "users"),
        ({"extra": 1}, "extra"),
    ],
)
def test_bad_top_level_input(patch: dict, field: str) -> None:
    data = json.loads(EXAMPLE.read_text())
    data.update(patch)
    with pytest.raises(InvalidInput) as err:
        cat.Instance.parse(data)
    assert err.value.field.startswith(field)


@pytest.mark.parametrize(
    ("key", "value", "field"),
    [
        ("demand", 0, "users[1].demand"),
        ("demand", 2.5, "users[1].demand"),
        ("wtp", -1.0, "users[1].wtp"),
        ("id", "u1", "users[1].id"),
        ("wtp", "3", "users[1].wtp"),
    ],
)
def test_bad_user_input(key: str, value: object, field: str) -> None:
    data = json.loads(EXAMPLE.read_text())
    data["users"][1][key] = value
    with pytest.raises(InvalidInput) as err:
        cat.Instance.parse(data)
    assert err.value.field == field


def test_cli_clear_cat() -> None:
    from typer.testing import CliRunner

    from specmarket.cli import app

    res = CliRunner().invoke(app, ["clear", "cat", str(EXAMPLE)])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["team"] == ["u1", "u2"]


def _gain(inst: cat.Instance, k: int, **report: float) -> tuple[float, float]:
    users = list(inst.users)
    users[k] = users[k].model_copy(update=report)
    pid = users[k].id
    truth = cat.clear(inst)
    lie = cat.clear(inst.model_copy(update={"users": tuple(users)}))
    u_lie = cat.true_value(inst, pid, lie.allocation[pid]) - lie.payments[pid]
    return truth.utility(pid), u_lie


def test_documented_counterexamples() -> None:
    """The Theorem 1 counterexamples of docs/cat.md, exactly."""
    # (a) sharing, demand: no legal team; u0 reports 1 band and joins u2
    a = _inst(9, [(2, 1.0), (2, 4.0), (8, 3.0)], sharing=True)
    assert _gain(a, 0, demand=1) == pytest.approx((0.0, 12.0))
    # (b) no sharing, demand: u0 needs 7, reports 6 and forms {u0, u3}
    b = _inst(8, [(7, 4.5), (8, 0.5), (8, 2.0), (2, 3.75)], sharing=False)
    assert _gain(b, 0, demand=6) == pytest.approx((0.0, 6 * (6 / 7) * 4.5 - 6 * 2.1))
    # (c) sharing, WTP shading: u1 of examples/cat.json reports 2.8 instead of 3.0
    c = cat.Instance.parse(json.loads(EXAMPLE.read_text()))
    assert _gain(c, 0, wtp=2.8) == pytest.approx((0.7, 1.1))
    # (d) no sharing, bottleneck shading inside one increment
    d = _inst(10, [(4, 2.08), (6, 5.0), (3, 2.0), (7, 2.0)], sharing=False)
    assert _gain(d, 0, wtp=2.01) == pytest.approx((0.0, 4 * 0.07))
    # (e) no sharing, raising WTP wins a bottleneck tie on welfare
    e = _inst(10, [(4, 2.0), (6, 3.0), (3, 2.0), (7, 4.0)], sharing=False)
    assert _gain(e, 1, wtp=5.0) == pytest.approx((0.0, 6.0))


def test_dp_size_limit_names_bands() -> None:
    inst = _inst(10**8, [(1, 1.0), (2, 1.0), (3, 1.0)])
    with pytest.raises(InvalidInput) as err:
        cat.clear(inst)
    assert err.value.field == "bands"
