"""CLI of the data-exchange market: `simulate data-market` and `clear data-market`."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from specmarket.cli import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def test_simulate_example_writes_trace(tmp_path: Path) -> None:
    trace = tmp_path / "run.jsonl"
    res = runner.invoke(app, ["simulate", "data-market", "--example", "--trace", str(trace)])
    assert res.exit_code == 0, res.output
    assert "efficiency 1.0000" in res.output
    lines = trace.read_text().splitlines()
    # rounds t = 0..3 of the seed's example, the final sweep, then the verdict line
    assert len(lines) == 6 and json.loads(lines[0])["round"] == 0
    assert json.loads(lines[-1])["verdict"]["status"] == "converged"
    assert "status: converged" in res.output


def test_simulate_json_random_market() -> None:
    res = runner.invoke(
        app, ["simulate", "data-market", "--buyers", "8", "--sellers", "3", "--json"]
    )
    assert res.exit_code == 0, res.output  # converged
    out = json.loads(res.output)
    assert out["mechanism"] == "data-market" and 0 < out["efficiency"] <= 1 + 1e-9


def test_clear_example_file() -> None:
    res = runner.invoke(app, ["clear", "data-market", str(ROOT / "examples" / "data_market.json")])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["allocation"]["A"]["sellers"] == {"1": 25.0, "2": 25.0}


def test_bad_option_exits_2() -> None:
    res = runner.invoke(app, ["simulate", "data-market", "--buyers", "0"])
    assert res.exit_code == 2
    assert "n_buyers" in res.output


def test_bad_scenario_file_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "s.toml"
    bad.write_text('n_buyers = 5\nreserve_policy = "nope"\n')
    res = runner.invoke(app, ["simulate", "data-market", "--scenario", str(bad)])
    assert res.exit_code == 2
    assert "reserve_policy" in res.output


def test_cycling_run_prints_its_status_and_exits_3(tmp_path: Path) -> None:
    """The seed's rules alone on 5 x 2, seed 105, asynchronous: two buyers hop for ever."""
    trace = tmp_path / "run.jsonl"
    args = ["simulate", "data-market", "--buyers", "5", "--sellers", "2", "--seed", "105"]
    args += ["--order", "asynchronous", "--policy", "seed-only", "--reserve-policy", "sticky"]
    res = runner.invoke(app, [*args, "--trace", str(trace)])
    assert res.exit_code == 3, res.output
    assert "status: cycling" in res.output and "b4" in res.output
    verdict = json.loads(trace.read_text().splitlines()[-1])["verdict"]
    assert verdict["status"] == "cycling" and verdict["cycle"]["length"] > 1
    assert "b4" in verdict["cycle"]["members"]


def test_seed_105_asynchronous_converges_on_the_cli() -> None:
    args = ["simulate", "data-market", "--buyers", "5", "--sellers", "2", "--seed", "105"]
    res = runner.invoke(app, [*args, "--order", "asynchronous"])
    assert res.exit_code == 0, res.output
    assert "status: converged" in res.output


def test_round_limit_exits_3_and_json_carries_the_status() -> None:
    args = ["simulate", "data-market", "--buyers", "30", "--sellers", "8", "--max-rounds", "2"]
    res = runner.invoke(app, [*args, "--json"])
    assert res.exit_code == 3
    out = json.loads(res.output)
    assert out["status"] == "round-limit" and out["converged"] is False


def test_progress_goes_to_stderr_only_and_can_be_turned_off() -> None:
    """A long simulation shows its rounds on stderr (a terminal only); --json and
    --no-progress keep every stream free of it."""
    args = ["simulate", "data-market", "--buyers", "12", "--sellers", "3", "--seed", "4"]
    plain = runner.invoke(app, [*args, "--json"])
    quiet = runner.invoke(app, [*args, "--json", "--no-progress"])
    assert plain.exit_code == quiet.exit_code == 0, plain.output
    assert json.loads(plain.stdout) == json.loads(quiet.stdout)
    assert "data market" not in plain.stderr and "data market" not in quiet.stderr


def test_every_named_policy_is_accepted_on_the_cli() -> None:
    """`--policy` takes every policy of `POLICIES` (the random-market keys once knew only five),
    and an unknown one is refused naming the field."""
    from specmarket.mechanisms.psp.market.policy import POLICIES

    args = ["simulate", "data-market", "--buyers", "5", "--sellers", "2", "--seed", "1"]
    for name in POLICIES:
        res = runner.invoke(app, [*args, "--policy", name])
        assert res.exit_code in (0, 3), (name, res.output)
        assert f"policy {name}" in res.output
    res = runner.invoke(app, [*args, "--policy", "nonsense"])
    assert res.exit_code == 2 and "policy" in res.output
