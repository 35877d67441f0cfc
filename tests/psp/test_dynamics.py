"""Best-reply dynamics to an ε-Nash equilibrium, water-filling optimum, reproduction and CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from specmarket.cli import app
from specmarket.errors import InvalidInput
from specmarket.mechanisms.psp.dynamics import (
    efficiency_bound,
    random_population,
    run_dynamics,
    water_filling,
    welfare,
)
from specmarket.mechanisms.psp.replies import ElasticValuation, Others, best_reply, bid_outcome


def test_water_filling_two_players_exact() -> None:
    # θ'_1 = 10 (1 − z/50), θ'_2 = 6 (1 − z/60), Q = 40, no reserve. Both active: equal marginals λ
    # with 50 (1 − λ/10) + 60 (1 − λ/6) = 40 → 110 − 15 λ = 40 → λ = 14/3.
    vals = [ElasticValuation.linear(10, 50), ElasticValuation.linear(6, 60)]
    x, lam = water_filling(vals, 40.0)
    assert lam == pytest.approx(14 / 3)
    np.testing.assert_allclose(x, [50 * (1 - lam / 10), 60 * (1 - lam / 6)])
    assert x.sum() == pytest.approx(40.0)
    # at Q = 20 only player 1 is active: λ = 10 (1 − 20/50) = 6
    x, lam = water_filling(vals, 20.0)
    assert lam == pytest.approx(6.0)
    np.testing.assert_allclose(x, [20.0, 0.0], atol=1e-12)


def test_water_filling_reserve_binds() -> None:
    vals = [ElasticValuation.linear(10, 50)]
    x, lam = water_filling(vals, 100.0, reserve=2.0)
    assert lam == 2.0 and x[0] == pytest.approx(40.0)  # demand at the reserve fits: 60 kept


def test_water_filling_beats_random_feasible_allocations() -> None:
    rng = np.random.default_rng(5)
    vals = random_population(rng, 8)
    x, _ = water_filling(vals, 100.0, 0.5)
    best = welfare(vals, x, 0.5, 100.0)
    for _ in range(500):
        y = rng.dirichlet(np.ones(8)) * 100.0 * rng.uniform(0.5, 1)
        assert welfare(vals, y, 0.5, 100.0) <= best + 1e-9


@pytest.mark.parametrize("order", ["asynchronous", "synchronous"])
@pytest.mark.parametrize("rule", ["lazar-semret", "split"])
def test_dynamics_reach_epsilon_nash(rule: str, order: str) -> None:
    vals = random_population(np.random.default_rng(1), 12)
    eps = 2.0
    res = run_dynamics(vals, 100.0, 0.1, eps, 100.0, tie_rule=rule, seed=3, order=order)
    assert res.converged
    # ε-Nash: nobody gains more than ε by moving to its truthful ε-best reply
    q = np.concatenate(([100.0], res.quantities))
    p = np.concatenate(([0.1], res.prices))
    for i in range(1, len(q)):
        o = Others(np.delete(q, i), np.delete(p, i), 100.0)
        v, w = best_reply(vals[i - 1], o, eps, 100.0)
        a_new, c_new = bid_outcome(v, w, o, rule)
        a_old, c_old = bid_outcome(q[i], p[i], o, rule)
        gain = (vals[i - 1].value(a_new) - c_new) - (vals[i - 1].value(a_old) - c_old)
        assert gain <= eps + 1e-9
    assert res.allocation.sum() + res.seller_kept <= 100.0 + 1e-9
    assert 0 < res.efficiency <= 1 + 1e-12
    assert res.optimum - res.welfare <= res.loss_bound
    assert res.total_bids == int(res.bids.sum()) and res.rounds >= 2


@pytest.mark.parametrize("order", ["asynchronous", "synchronous"])
def test_fast_and_reference_engines_agree(order: str) -> None:
    vals = random_population(np.random.default_rng(2), 15)
    for rule in ("lazar-semret", "split"):
        common = {"tie_rule": rule, "seed": 9, "record_trace": True, "order": order}
        a = run_dynamics(vals, 100.0, 0.1, 5.0, 100.0, **common)  # type: ignore[arg-type]
        b = run_dynamics(vals, 100.0, 0.1, 5.0, 100.0, engine="reference", **common)  # type: ignore[arg-type]
        assert a.rounds == b.rounds
        np.testing.assert_array_equal(a.bids, b.bids)
        np.testing.assert_allclose(a.quantities, b.quantities)
        np.testing.assert_allclose(a.prices, b.prices)
        assert [e["player"] for e in a.trace] == [e["player"] for e in b.trace]


def test_two_players_progress_by_small_steps() -> None:
    # a classic PSP trait: with two buyers the price climbs progressively, many bids each
    vals = [ElasticValuation.linear(15, 80), ElasticValuation.linear(12, 90)]
    res = run_dynamics(vals, 100.0, 0.1, 1.0, np.inf, seed=0, record_trace=True)
    assert res.converged and res.bids_per_player > 5
    assert len(res.trace) == res.total_bids
    assert res.efficiency > 0.99


def test_determinism_and_summary_json() -> None:
    vals = random_population(np.random.default_rng(4), 10)
    r1 = run_dynamics(vals, seed=5)
    r2 = run_dynamics(vals, seed=5)
    np.testing.assert_array_equal(r1.quantities, r2.quantities)
    s = r1.summary()
    json.dumps(s)
    assert s["players"] == 10 and len(s["bids"]) == 10


def test_bound_formula() -> None:
    vals = [ElasticValuation.linear(10, 50), ElasticValuation.linear(20, 50)]  # κ = 0.4
    assert efficiency_bound(vals, 100.0, 5.0) == pytest.approx(400 * np.sqrt(2.0))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"epsilon": 0.0}, "epsilon"),
        ({"tie_rule": "coin"}, "tie_rule"),
        ({"total": -1.0}, "quantity"),
        ({"reserve": -1.0}, "reserve"),
        ({"budgets": [1.0]}, "budget"),
        ({"engine": "gpu"}, "engine"),
        ({"order": "random"}, "order"),
    ],
)
def test_bad_arguments(kwargs: dict, field: str) -> None:
    vals = random_population(np.random.default_rng(0), 3)
    with pytest.raises(InvalidInput) as exc:
        run_dynamics(vals, **kwargs)
    assert exc.value.field == field


def test_no_players() -> None:
    with pytest.raises(InvalidInput) as exc:
        run_dynamics([])
    assert exc.value.field == "players"


# ---- reproduction and CLI ------------------------------------------------------------------------


@pytest.mark.slow
def test_reproduction_quick(tmp_path: Path) -> None:
    from specmarket.reproductions import ReproContext, get

    res = get("lazar-semret").run(ReproContext(out_dir=tmp_path, quick=True, seed=0))
    for path in [*res.tables.values(), *res.figures.values()]:
        assert Path(path).exists()
    assert (tmp_path / "lazar_semret.svg").exists()
    import pandas as pd

    agg = pd.read_csv(res.tables["summary by population"])
    assert list(agg.players) == [2, 5, 10, 20]
    assert agg.converged.all() and (agg.efficiency > 0.9).all()
    assert agg.sync_converged.all() and (agg.sync_bids_per_player > 0).all()


def test_cli_simulate_psp(tmp_path: Path) -> None:
    trace = tmp_path / "trace.jsonl"
    r = CliRunner().invoke(
        app, ["simulate", "psp", "-n", "8", "--seed", "2", "--trace", str(trace), "--json"]
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    lines = trace.read_text().splitlines()
    assert len(lines) == out["total_bids"]
    assert json.loads(lines[0])["round"] == 1
    r = CliRunner().invoke(app, ["simulate", "psp", "-n", "5"])
    assert r.exit_code == 0 and "efficiency" in r.stdout


def test_cli_simulate_psp_scenario_and_errors(tmp_path: Path) -> None:
    sc = tmp_path / "s.toml"
    sc.write_text('players = 6\nepsilon = 2\ntie_rule = "split"\nseed = 1\n')
    r = CliRunner().invoke(app, ["simulate", "psp", "--scenario", str(sc), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["scenario"]["tie_rule"] == "split"
    sc.write_text("players = 6\nbogus = 1\n")
    r = CliRunner().invoke(app, ["simulate", "psp", "--scenario", str(sc)])
    assert r.exit_code == 2 and "bogus" in r.output
    r = CliRunner().invoke(app, ["simulate", "psp", "--epsilon", "-1"])
    assert r.exit_code == 2 and "epsilon" in r.output


def test_synchronous_moves_see_the_same_snapshot() -> None:
    """Synchronous order: in each round every mover replied to the bids of the round before."""
    vals = random_population(np.random.default_rng(4), 6)
    res = run_dynamics(vals, 100.0, 0.1, 5.0, 100.0, order="synchronous", record_trace=True)
    first = [e for e in res.trace if e["round"] == 1]
    assert len(first) == 6  # nobody had bid: every player joins in round 1
    assert res.converged and res.total_bids == len(res.trace)


def test_cli_simulate_psp_synchronous_order() -> None:
    r = CliRunner().invoke(app, ["simulate", "psp", "-n", "6", "--order", "synchronous", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["scenario"]["order"] == "synchronous" and out["converged"]
    bad = CliRunner().invoke(app, ["simulate", "psp", "-n", "6", "--order", "sideways"])
    assert bad.exit_code == 2 and "order" in bad.output
