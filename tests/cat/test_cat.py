"""Tests of the CAT team auction (seed 000): examples, §D auction, §E choice, twins, theorems."""

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
    PRICE_TOL,
    Ascent,
    Team,
    ascend,
    ascend_reference,
    bidding_teams_fast,
    can_pay_reference,
    capacity,
    choice_payoff,
    enumerate_teams,
    order_key,
    partition_reference,
    top_two_fast,
    top_two_reference,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "cat.json"


def _inst(
    bands: int, users: list[tuple[int, float]], sharing: bool = True, theta: float = 0.1
) -> cat.Instance:
    return cat.Instance(
        bands=bands,
        increment=theta,
        sharing=sharing,
        users=tuple(cat.User(id=f"u{i}", demand=d, wtp=w) for i, (d, w) in enumerate(users)),
    )


# ------------------------------------------------------------------ examples, exact numbers


def test_example_with_sharing() -> None:
    out = cat.SPEC.clear_json(json.loads(EXAMPLE.read_text()))
    assert out["bidding_teams"] == [["u1", "u2"], ["u3", "u4"]]
    assert out["team"] == ["u1", "u2"] and out["runner_up"] == ["u3", "u4"]
    # limits 2.34 and 2.10: caps 23 and 21; the two alternate from the opening bid (level 0,
    # {u1, u2}); {u3, u4} holds level 21 (odd), {u1, u2} raises to 22 and nobody can answer
    assert out["level"] == 22 and out["bids"] == 23
    assert out["price"] == pytest.approx(2.2)
    assert out["allocation"] == {"u1": 4, "u2": 6, "u3": 0, "u4": 0, "u5": 0, "u6": 0}
    assert out["welfare"] == pytest.approx(4 * 3.0 + 6 * 1.9)
    assert out["revenue"] == pytest.approx(22.0)
    # u2 (wtp 1.9) is 0.3 per band short of 2.2: delta = 6 * 0.3, paid by u1 (section D)
    assert out["delta"]["u2"] == pytest.approx(1.8)
    assert out["contributions"]["u1"] == pytest.approx(1.8)
    # residual 23.4 - 22 = 1.4 split by band slots: 4/10 and 6/10 (eq. (7), S_a = N_a / n)
    assert out["shapley"] == pytest.approx({"u1": 0.56, "u2": 0.84})
    assert out["shapley_share"] == pytest.approx({"u1": 0.4, "u2": 0.6})
    # net transfer N_i (m_i - L_T) with L_T = 2.34
    assert out["transfers"] == pytest.approx({"u1": 4 * (3.0 - 2.34), "u2": 6 * (1.9 - 2.34)})
    assert out["payments"]["u1"] == pytest.approx(4 * 2.2 + 2.64)
    assert out["idle_bands"] == 0
    assert out["excluded"] == ["u5", "u6"]  # in no legal team: cannot bid (section C)


def test_example_without_sharing_picks_other_team() -> None:
    data = json.loads(EXAMPLE.read_text())
    data["sharing"] = False
    out = cat.SPEC.clear_json(data)
    assert out["bidding_teams"] == [["u3", "u4"], ["u1", "u2"]]
    assert out["team"] == ["u3", "u4"]  # bottleneck 2.0 beats {u1, u2} whose bottleneck is 1.9
    assert out["level"] == 20 and out["price"] == pytest.approx(2.0)
    assert out["welfare"] == pytest.approx(21.0)  # < 23.4 with sharing: Theorem 2 needs sharing
    assert out["shapley"] == pytest.approx({"u3": 5 * 0.0, "u4": 5 * 0.2})
    assert all(v == 0.0 for v in out["transfers"].values())


# ------------------------------------------------------------------ section D, both ways

# Team 1 = {u0, u1}: limit 3.25 with or without sharing (its highest bid is x = 3).
# Team 2 = {u2, u3}: bottleneck u2 at x + alpha = 3.5 (alpha = 0.5 < theta = 1); u3 is rich.
SECTION_D = [(5, 3.25), (5, 3.25), (3, 3.5), (7, 6.0)]


def test_section_d_without_sharing_team_1_wins_at_x() -> None:
    out = cat.clear(_inst(10, SECTION_D, sharing=False, theta=1.0))
    # move order: team 2 (bottleneck 3.5) then team 1 (3.25); both can bid up to level 3; team 1
    # holds x = 3 (odd level); team 2 cannot bid x + theta = 4
    assert out.details["bidding_teams"] == [["u2", "u3"], ["u0", "u1"]]
    assert out.details["team"] == ["u0", "u1"]
    assert out.details["price"] == 3.0 and out.details["level"] == 3
    assert out.utility("u3") == 0.0  # eq. (5): 0 without sharing
    assert out.welfare == 5 * 3.25 * 2


def test_section_d_with_sharing_team_2_wins_at_x_plus_theta() -> None:
    out = cat.clear(_inst(10, SECTION_D, sharing=True, theta=1.0))
    assert out.details["team"] == ["u2", "u3"]
    assert out.details["price"] == 4.0  # x + theta, on the grid, not team 2's limit 5.25
    assert out.details["team_limit"] == 5.25
    # u2 gets delta = theta - alpha per band from u3, within what u3 can give
    assert out.details["delta"] == {"u2": 3 * (1.0 - 0.5), "u3": 0.0}
    assert out.details["contributions"] == {"u2": 0.0, "u3": 1.5}
    assert 1.5 <= 7 * (6.0 - 4.0)
    # eq. (5): the rich member is better off: its band share 7/10 of R = 52.5 - 40
    assert out.utility("u3") == 0.7 * 12.5 > 0.0
    assert out.utility("u2") == 0.3 * 12.5
    assert out.welfare == 3 * 3.5 + 7 * 6.0


def _section_d_case(draw: st.DrawFn) -> tuple[cat.Instance, int, int]:
    """A random section D setup: team 1 holds x = k theta; team 2's bottleneck is at x + alpha."""
    theta = draw(st.sampled_from([0.25, 0.5, 1.0, 2.0]))
    k = draw(st.integers(0, 40))
    x = k * theta
    grid = st.integers(0, 7).map(lambda j: x + theta * j / 8)
    n1 = draw(st.lists(st.integers(1, 5), min_size=1, max_size=4))
    t1 = [(d, draw(grid)) for d in n1]
    n = sum(n1)
    short_demand = draw(st.integers(1, max(1, n - 1))) if n > 1 else 1
    alpha = theta * draw(st.integers(1, 7)) / 8
    rich_demand = n - short_demand
    users = [*t1, (short_demand, x + alpha)]
    if rich_demand > 0:
        extra = theta * (1 + short_demand) / rich_demand + theta * draw(st.integers(0, 8)) / 8
        users.append((rich_demand, x + theta + extra))
    return _inst(n, users, theta=theta), len(t1), k


def _team(members: range, demand: list[int], wtp: list[float]) -> Team:
    welfare = 0.0
    for i in members:
        welfare += demand[i] * wtp[i]
    return Team(tuple(members), welfare, min(wtp[i] for i in members))


@st.composite
def section_d_cases(draw: st.DrawFn) -> tuple[cat.Instance, int, int]:
    return _section_d_case(draw)


@settings(max_examples=300, deadline=None)
@given(case=section_d_cases(), team1_first=st.booleans())
def test_section_d_property(case: tuple[cat.Instance, int, int], team1_first: bool) -> None:
    inst, size1, k = case
    demand = [u.demand for u in inst.users]
    wtp = [u.wtp for u in inst.users]
    n, theta = inst.bands, inst.increment
    if size1 == len(inst.users) - 1:  # team 2 is its bottleneck alone: no one to share with
        return
    t1 = _team(range(size1), demand, wtp)
    t2 = _team(range(size1, len(demand)), demand, wtp)
    teams = [t1, t2] if team1_first else [t2, t1]
    h1 = 0 if team1_first else 1
    rich = inst.users[-1].id
    for sharing in (False, True):
        one = inst.model_copy(update={"sharing": sharing})
        caps = [capacity(t.limit(n, sharing), theta) for t in teams]
        end = ascend(caps, start=(k, h1))
        assert end == ascend_reference(teams, demand, wtp, theta, sharing, start=(k, h1))
        assert end is not None
        out = cat.settle(one, teams, end, [True] * len(demand))
        if not sharing:  # team 2 cannot bid x + theta: team 1 wins at x
            assert end.holder == h1 and end.level == k
            assert out.details["price"] == k * theta
            assert out.utility(rich) == 0.0
        else:  # the rich member covers theta - alpha: team 2 bids x + theta and wins
            assert end.holder == 1 - h1 and end.level == k + 1
            assert out.details["price"] == (k + 1) * theta
            assert out.utility(rich) > 0.0  # eq. (5)
            short = inst.users[size1]
            assert out.details["delta"][short.id] == pytest.approx(
                short.demand * ((k + 1) * theta - short.wtp)
            )


# ------------------------------------------------------------------ section E, one team per SU


def test_section_e_su_picks_team_with_larger_profit() -> None:
    # SU a = u0 is in Team 1 = {u0, u1} and Team 2 = {u0, u2}: identical but for the partner's
    # WTP, so the total profit (eq. (6)) of Team 1 is larger; S_a = 4/10 in both
    users = [(4, 3.0), (6, 2.5), (6, 2.0)]
    demand, wtp = [d for d, _ in users], [w for _, w in users]
    team1, team2 = sorted(enumerate_teams(demand, wtp, 10), key=lambda t: t.members)
    assert team1.members == (0, 1) and team2.members == (0, 2)
    assert team1.welfare == 27.0 > team2.welfare == 24.0
    for sharing in (True, False):
        for y in (0.0, 1.0, 2.0):
            p1 = choice_payoff(team1, 0, demand, wtp, 10, y, sharing)
            p2 = choice_payoff(team2, 0, demand, wtp, 10, y, sharing)
            assert p1 >= p2
            if sharing:
                assert p1 - p2 == pytest.approx((27.0 - 24.0) * 0.4)
        part = partition_reference(demand, wtp, 10, sharing)
        assert [t.members for t in part] == [(0, 1)]
        assert bidding_teams_fast(demand, wtp, 10, sharing) == (team1, None)
        out = cat.clear(_inst(10, users, sharing=sharing))
        assert out.details["team"] == ["u0", "u1"]
        assert out.details["price"] == 0.0  # a lone bidding team pays the opening price


def test_section_e_without_sharing_ties_go_to_larger_profit() -> None:
    # same bottleneck 2.0 in both teams: the member's own payoff is the same, ties -> larger omega
    users = [(4, 2.0), (6, 3.0), (6, 2.5)]
    demand, wtp = [d for d, _ in users], [w for _, w in users]
    assert [t.members for t in partition_reference(demand, wtp, 10, False)] == [(0, 1)]


def test_section_e_runner_up_never_shares_a_member() -> None:
    # all three pairs are legal teams; with several teams per SU the old clock let a member of the
    # winner set the price; now the partition is {u0, u1} alone and the price is the opening one
    out = cat.clear(_inst(4, [(2, 1.0), (2, 1.0), (2, 1.0)]))
    assert out.details["team"] == ["u0", "u1"] and out.details["runner_up"] is None
    assert out.details["price"] == 0.0
    out = cat.clear(_inst(4, [(2, 1.0), (2, 1.0), (2, 1.0), (2, 0.5)]))
    assert out.details["bidding_teams"] == [["u0", "u1"], ["u2", "u3"]]
    assert out.details["price"] == pytest.approx(0.8)  # caps 10 and 7: level 7 held by team 2


small_users = st.lists(
    st.tuples(st.integers(1, 9), st.integers(0, 24).map(lambda x: x / 4)), min_size=1, max_size=10
)


def _strictly_prefers(a: Team, b: Team | None, sharing: bool) -> bool:
    """A member's preference (common to all members, docs/cat.md): eq. (7) payoff, then ties."""
    return b is None or order_key(a, sharing) < order_key(b, sharing)


@settings(max_examples=200, deadline=None)
@given(users=small_users, bands=st.integers(1, 9), sharing=st.booleans())
def test_partition_is_stable_and_fast_matches(
    users: list[tuple[int, float]], bands: int, sharing: bool
) -> None:
    demand = [d for d, _ in users]
    wtp = [w for _, w in users]
    part = partition_reference(demand, wtp, bands, sharing)
    assert len(part) <= sum(demand) // bands
    seen: set[int] = set()
    for t in part:  # one team per SU
        assert seen.isdisjoint(t.members)
        seen.update(t.members)
    where = {i: t for t in part for i in t.members}
    for team in enumerate_teams(demand, wtp, bands):  # no blocking team
        if team in part:
            continue
        assert not all(_strictly_prefers(team, where.get(i), sharing) for i in team.members)
        # nor one whose members all gain by eq. (7) at a common price
        for y in (0.0, 1.0):
            assert not all(
                i not in where
                or choice_payoff(team, i, demand, wtp, bands, y, sharing)
                > choice_payoff(where[i], i, demand, wtp, bands, y, sharing) + 1e-9
                for i in team.members
            )
    fast = bidding_teams_fast(demand, wtp, bands, sharing)
    assert fast == (part[0] if part else None, part[1] if len(part) > 1 else None)


# ------------------------------------------------------------------ the clock: closed form vs walk


@settings(max_examples=400, deadline=None)
@given(
    caps=st.lists(st.integers(0, 30), min_size=1, max_size=8),
    start=st.one_of(st.none(), st.tuples(st.integers(0, 30), st.integers(0, 7))),
)
def test_ascend_equals_literal_walk(caps: list[int], start: tuple[int, int] | None) -> None:
    if start is not None:
        level, holder = start
        holder %= len(caps)
        start = (min(level, caps[holder]), holder)
    level, holder, bids = (0, 0, 1) if start is None else (start[0], start[1], 0)
    while True:
        movers = [j for j in range(len(caps)) if j != holder and caps[j] >= level + 1]
        if not movers:
            break
        holder, level, bids = movers[0], level + 1, bids + 1
    assert ascend(caps, start) == Ascent(holder, level, bids)


def test_capacity_closed_form() -> None:
    assert capacity(2.0, 0.1) == 20
    assert capacity(0.3, 0.1) == 3  # 3 * 0.1 = 0.30000000000000004, within tolerance
    assert capacity(0.29, 0.1) == 2
    assert capacity(0.0, 1e-12) == 0
    assert capacity(1.0, 1e-12) == 10**12  # closed form: no walk over 10^12 steps
    with pytest.raises(ValueError):
        capacity(1.0, 1e-300)
    assert can_pay_reference([0], [1], [0.3], 3 * 0.1, False)
    assert not can_pay_reference([0], [1], [0.3], 0.3 * (1 + 10 * PRICE_TOL), False)


@pytest.mark.parametrize("theta", [1e-300, 5e-324, 1e-13])
def test_tiny_increment_is_rejected_naming_increment(theta: float) -> None:
    data = json.loads(EXAMPLE.read_text())
    data["increment"] = theta
    with pytest.raises(InvalidInput) as err:
        cat.Instance.parse(data)
    assert err.value.field == "increment" and "too small" in err.value.reason


def test_smallest_allowed_increment_clears_at_once() -> None:
    inst = _inst(4, [(2, 1.0), (2, 0.75), (2, 0.5), (2, 0.25)], theta=1e-12)
    out = cat.clear(inst)
    assert out.details["team"] == ["u0", "u1"]
    # runner-up {u2, u3}: limit 0.375, cap 3.75e11 (even): the best team holds it and wins
    assert out.details["level"] == 375 * 10**9 and out.details["bids"] == 375 * 10**9 + 1
    assert out.details["price"] <= out.details["team_limit"] * (1 + PRICE_TOL)


def test_no_legal_team_leaves_bands_idle() -> None:
    out = cat.clear(_inst(10, [(3, 1.0), (4, 2.0), (11, 5.0)]))
    assert out.details["team"] == [] and out.details["idle_bands"] == 10
    assert out.details["excluded"] == ["u0", "u1", "u2"]
    assert out.revenue == 0.0 and out.welfare == 0.0


def test_enumeration_lists_exact_sums() -> None:
    teams = list(enumerate_teams([1, 2, 3, 3], [1.0, 1.0, 1.0, 1.0], 3))
    assert sorted(t.members for t in teams) == [(0, 1), (2,), (3,)]


# ------------------------------------------------------------------ fast vs reference


@settings(max_examples=150, deadline=None)
@given(users=small_users, bands=st.integers(1, 9), sharing=st.booleans())
def test_top_two_fast_equals_enumeration(
    users: list[tuple[int, float]], bands: int, sharing: bool
) -> None:
    demand = [d for d, _ in users]
    wtp = [w for _, w in users]
    assert top_two_fast(demand, wtp, bands, sharing) == top_two_reference(
        demand, wtp, bands, sharing
    )


@settings(max_examples=300, deadline=None)
@given(
    users=small_users,
    bands=st.integers(1, 9),
    sharing=st.booleans(),
    theta=st.sampled_from([0.125, 0.25, 0.5, 1.0, 0.1, 0.3]),
)
def test_clear_equals_reference(
    users: list[tuple[int, float]], bands: int, sharing: bool, theta: float
) -> None:
    inst = _inst(bands, users, sharing, theta)
    fast, ref = cat.clear(inst), cat.clear(inst, engine="reference")
    assert fast.to_json() == ref.to_json()
    d = fast.details
    # prices on the grid, never a team's limit (unless the limit is on the grid)
    assert d["price"] == d["level"] * theta
    if d["team"]:
        assert d["price"] <= d["team_limit"] * (1 + PRICE_TOL)
        assert fast.revenue == pytest.approx(d["price"] * bands)
        assert set(d["team"]).isdisjoint(d["runner_up"] or [])
    assert math.fsum(d["transfers"].values()) == pytest.approx(0.0, abs=1e-9)
    for pid in d["team"]:  # IR of every member
        assert fast.utility(pid) >= -1e-9
        assert fast.utility(pid) == pytest.approx(d["shapley"][pid], abs=1e-9)
        # a member gives its team-mates at most its own surplus N_i (m_i - y)
        assert (
            d["transfers"][pid]
            <= fast.values[pid] - d["price"] * inst.users[int(pid[1:])].demand + 1e-9
        )


@settings(max_examples=100, deadline=None)
@given(users=small_users, bands=st.integers(1, 9), theta=st.sampled_from([0.25, 1.0]))
def test_theorem2_with_sharing_within_one_increment(
    users: list[tuple[int, float]], bands: int, theta: float
) -> None:
    inst = _inst(bands, users, True, theta)
    teams = list(enumerate_teams([d for d, _ in users], [w for _, w in users], bands))
    out = cat.clear(inst)
    best = max((t.welfare for t in teams), default=0.0)
    # the best legal team bids first; it loses only a tie of capacities (limits within theta)
    assert best - bands * theta < out.welfare <= best


@settings(max_examples=60, deadline=None)
@given(
    demand=st.lists(st.integers(1, 3), min_size=1, max_size=4),
    residual=st.floats(0, 50, allow_nan=False),
)
def test_band_slot_shapley_closed_form_is_exact(demand: list[int], residual: float) -> None:
    if sum(demand) > 8:
        return
    owner, game = cat.slot_game(demand, residual)
    slots = cat.shapley_by_subsets(game, len(owner))
    per_member = [
        math.fsum(v for s, v in zip(owner, slots, strict=True) if s == i)
        for i in range(len(demand))
    ]
    surplus = [residual / len(demand)] * len(demand)  # only the sum matters with sharing
    assert cat.shapley_closed_form(surplus, demand, True) == pytest.approx(per_member, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(surplus=st.lists(st.floats(-5, 5, allow_nan=False), min_size=1, max_size=6))
def test_additive_shapley_is_own_surplus(surplus: list[float]) -> None:
    ref = cat.shapley_by_subsets(cat.additive_game(surplus), len(surplus))
    assert cat.shapley_closed_form(surplus, [1] * len(surplus), False) == pytest.approx(
        ref, abs=1e-9
    )


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
    # (a) sharing, fewer bands: u0 needs 8 and is in no legal team; reporting 5 forms {u0, u2, u3}
    a = _inst(10, [(8, 3.5), (8, 0.0), (1, 2.5), (4, 2.25), (10, 1.0)], True, 0.5)
    assert _gain(a, 0, demand=5) == pytest.approx((0.0, 2.9375))
    # ... and the seed's own scaled misreport (5 bands at 5/8 of the WTP)
    assert _gain(a, 0, demand=5, wtp=3.5 * 5 / 8) == pytest.approx((0.0, 6.21875))
    # (b), (c) no sharing, fewer / more bands
    b = _inst(8, [(4, 2.5), (6, 1.5), (8, 0.25), (3, 2.0), (5, 2.0)], False, 0.25)
    assert _gain(b, 0, demand=3) == pytest.approx((0.0, 4.125))
    assert _gain(b, 0, demand=5) == pytest.approx((0.0, 7.5))
    # (d) sharing, WTP shading: u1 keeps its band and receives more from u2
    d = _inst(6, [(5, 0.5), (1, 1.25), (5, 3.0)], True, 0.5)
    assert _gain(d, 1, wtp=0.0) == pytest.approx((16.25 / 6, 1.25 + 2.5))
    # (e) sharing, WTP raised: {u0, u1} ties {u1, u2} on reported welfare 16.25 and wins the tie
    # (smaller mask) at the opening price; u0 pays its net transfer 5 (3.0 - 16.25 / 6)
    assert _gain(d, 0, wtp=3.0) == pytest.approx((0.0, 2.5 - 5 * (3.0 - 16.25 / 6)))
    # (f) no sharing, WTP shading changes the partition and the parity of the auction
    f = _inst(5, [(4, 2.5), (2, 2.0), (2, 4.75), (1, 1.75), (1, 4.5)], False, 0.5)
    assert _gain(f, 4, wtp=1.5) == pytest.approx((2.5, 3.0))
    # (g) no sharing, WTP raised to tie the bottleneck: the tie (welfare, then mask) is won
    g = _inst(4, [(1, 1.0), (3, 3.75), (1, 1.25)], False, 0.5)
    assert _gain(g, 0, wtp=1.25) == pytest.approx((0.0, 1.0))


def test_dp_size_limit_names_bands() -> None:
    inst = _inst(10**8, [(1, 1.0), (2, 1.0), (3, 1.0)])
    with pytest.raises(InvalidInput) as err:
        cat.clear(inst)
    assert err.value.field == "bands"


def test_engine_keyword() -> None:
    inst = cat.Instance.parse(json.loads(EXAMPLE.read_text()))
    assert cat.clear(inst, engine="reference").to_json() == cat.clear(inst).to_json()
