"""A negative seed or a zero round limit in a scenario is one clear error naming the field.

Before, ``seed = -5`` in a ``simulate psp`` scenario reached numpy (a traceback, exit 1) and
``max_rounds = 0`` in a data-market scenario ran one round and exited 0 with an unconverged
market. Both are now rejected where the scenario is validated, and by the Python entry points.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from specmarket.cli import app
from specmarket.errors import InvalidInput

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()

EXPERIMENT = """
name = "bad"
mechanisms = ["vickrey"]
generator = "single-item"
repetitions = 2
seed = {seed}

[sweep]
bidders = [2]
"""


def _fails_naming(args: list[str], field: str) -> str:
    res = runner.invoke(app, args)
    text = res.output
    assert res.exit_code == 2, text
    assert "Traceback" not in text, text
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    assert f"{field}:" in text, text
    return text


@pytest.mark.parametrize("seed", [-5, -1])
def test_negative_seed_in_a_psp_scenario(tmp_path: Path, seed: int) -> None:
    f = tmp_path / "psp.toml"
    f.write_text(f"players = 4\nseed = {seed}\n")
    _fails_naming(["simulate", "psp", "--scenario", str(f)], "seed")


def test_negative_seed_in_a_data_market_scenario(tmp_path: Path) -> None:
    f = tmp_path / "dm.toml"
    f.write_text("n_buyers = 4\nn_sellers = 2\nseed = -5\n")
    _fails_naming(["simulate", "data-market", "--scenario", str(f)], "seed")


def test_negative_seed_in_an_experiment_scenario(tmp_path: Path) -> None:
    f = tmp_path / "exp.toml"
    f.write_text(EXPERIMENT.format(seed=-5))
    _fails_naming(["run", str(f), "-o", str(tmp_path / "out"), "--no-progress"], "seed")
    assert not (tmp_path / "out").exists()


def test_zero_max_rounds_in_a_random_data_market_scenario(tmp_path: Path) -> None:
    text = (ROOT / "examples" / "data_market_scenario.toml").read_text()
    assert "max_rounds = 400" in text
    f = tmp_path / "dm.toml"
    f.write_text(text.replace("max_rounds = 400", "max_rounds = 0"))
    _fails_naming(["simulate", "data-market", "--scenario", str(f)], "max_rounds")


def test_zero_max_rounds_in_an_explicit_data_market(tmp_path: Path) -> None:
    market = json.loads((ROOT / "examples" / "data_market.json").read_text())
    market["max_rounds"] = 0
    f = tmp_path / "dm.json"
    f.write_text(json.dumps(market))
    _fails_naming(["simulate", "data-market", "--scenario", str(f)], "max_rounds")
    _fails_naming(["clear", "data-market", str(f)], "max_rounds")


def test_zero_max_rounds_in_a_psp_scenario(tmp_path: Path) -> None:
    f = tmp_path / "psp.toml"
    f.write_text("players = 4\nmax_rounds = 0\n")
    _fails_naming(["simulate", "psp", "--scenario", str(f)], "max_rounds")


def test_a_valid_max_rounds_still_runs(tmp_path: Path) -> None:
    f = tmp_path / "dm.toml"
    f.write_text("n_buyers = 4\nn_sellers = 2\nseed = 3\nmax_rounds = 1\n")
    res = runner.invoke(app, ["simulate", "data-market", "--scenario", str(f), "--json"])
    # it runs (not a bad-input exit 2); one round is too few to converge, so the verdict is
    # round-limit and the exit status 3
    assert res.exit_code == 3, res.output
    assert json.loads(res.stdout)["status"] == "round-limit"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"seed": -5}, "seed"),
        ({"seed": 1.5}, "seed"),
        ({"max_rounds": 0}, "max_rounds"),
        ({"max_rounds": -3}, "max_rounds"),
    ],
)
def test_run_dynamics_rejects_bad_seed_and_rounds(kwargs: dict[str, object], field: str) -> None:
    from specmarket.mechanisms.psp.dynamics import random_population, run_dynamics

    vals = random_population(np.random.default_rng(0), 3)
    with pytest.raises(InvalidInput) as exc:
        run_dynamics(vals, **kwargs)  # type: ignore[arg-type]
    assert exc.value.field == field


def test_python_models_reject_them_too() -> None:
    from specmarket.experiments import load_scenario
    from specmarket.mechanisms.psp.market import random_market

    with pytest.raises(InvalidInput) as exc:
        random_market(4, 2, 0, max_rounds=0)
    assert exc.value.field == "max_rounds"
    data = {"name": "x", "mechanisms": ["vickrey"], "generator": "single-item", "seed": -5}
    with pytest.raises(InvalidInput) as exc:
        load_scenario(data)
    assert exc.value.field == "seed"
