"""Scenario files: validation before any run, the grid, quick overrides, per-run seeds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from specmarket.errors import InvalidInput
from specmarket.experiments import load_scenario, run_seed

from .conftest import small

TOML = """
name = "t"
mechanisms = ["vickrey", "vcg"]
generator = "single-item"
repetitions = 3
seed = 11

[params]
value_high = 10.0

[sweep]
bidders = [1, 2, 4]

[quick]
repetitions = 1
sweep = { bidders = [2] }
"""


def test_load_toml_file_and_grid(tmp_path: Path) -> None:
    f = tmp_path / "s.toml"
    f.write_text(TOML)
    sc = load_scenario(f)
    assert sc.mechanisms == ("vickrey", "vcg")
    assert sc.points == [{"bidders": 1}, {"bidders": 2}, {"bidders": 4}]
    assert sc.n_runs == 9
    assert all(p.value_high == 10.0 for p in sc.point_params)
    q = load_scenario(f, quick=True)
    assert q.points == [{"bidders": 2}] and q.repetitions == 1 and q.seed == 11


def test_cartesian_product_in_file_order() -> None:
    sc = load_scenario(small())
    assert sc.points == [
        {"buyers": 2, "value_high": 1.0},
        {"buyers": 2, "value_high": 2.0},
        {"buyers": 5, "value_high": 1.0},
        {"buyers": 5, "value_high": 2.0},
    ]
    assert sc.n_runs == 4 * 6


@pytest.mark.parametrize(
    ("over", "field", "words"),
    [
        ({"mechanisms": ["mcafee", "nope"]}, "mechanisms[1]", "unknown mechanism"),
        ({"mechanisms": ["mcafee", "mcafee"]}, "mechanisms[1]", "twice"),
        ({"mechanisms": []}, "mechanisms", "at least one"),
        ({"mechanisms": ["vickrey"]}, "mechanisms[0]", "cannot feed"),
        ({"generator": "nope"}, "generator", "unknown generator"),
        ({"sweep": {"buyerz": [1]}}, "sweep.buyerz", "unknown parameter"),
        ({"sweep": {"buyers": []}}, "sweep.buyers", "empty axis"),
        ({"sweep": {"buyers": [2, "x"]}}, "sweep.buyers[1]", "integer"),
        ({"sweep": {"buyers": [2, 0]}}, "sweep.buyers[1]", "greater than or equal"),
        ({"sweep": {"buyers": [2, 2.5]}}, "sweep.buyers[1]", "integer"),
        ({"params": {"colour": 1}}, "params.colour", "unknown parameter"),
        ({"params": {"cost_high": "high"}}, "params.cost_high", "number"),
        ({"params": {"cost_high": float("nan")}}, "params.cost_high", "finite"),
        ({"params": {"value_high": 3.0}}, "sweep.value_high", "also fixed"),
        ({"params": {"buyers": 3}}, "sweep.buyers", "also fixed"),
        ({"repetitions": 0}, "repetitions", "greater than or equal"),
        ({"repetitions": "5"}, "repetitions", "integer"),
        ({"seed": -1}, "seed", "greater than or equal"),
        ({"metrics": ["efficiency", "speed"]}, "metrics[1]", "unknown metric"),
        ({"colour": "red"}, "colour", "Extra inputs"),
        ({"quick": {"sweep": {"buyers": []}}}, "quick.sweep.buyers", "empty axis"),
        ({"quick": {"repetitions": 0}}, "quick.repetitions", "greater than or equal"),
    ],
)
def test_bad_scenarios_name_the_field(over: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(InvalidInput) as info:
        load_scenario(small(**over))
    assert info.value.field == field
    assert words in str(info.value)


def test_cross_field_error_names_the_point() -> None:
    with pytest.raises(InvalidInput) as info:
        load_scenario(small(sweep={"value_low": [0.0, 5.0]}))
    assert info.value.field == "sweep (point {'value_low': 5.0})"
    assert "value_high" in info.value.reason
    # the same value is fine when another axis makes every point valid
    sc = load_scenario(small(sweep={"value_low": [0.0, 5.0], "value_high": [6.0, 9.0]}))
    assert len(sc.points) == 4


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no such file"):
        load_scenario(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = [")
    with pytest.raises(InvalidInput, match="malformed TOML"):
        load_scenario(bad)


def test_round_trip_to_dict() -> None:
    sc = load_scenario(small(labels={"buyers": "n"}, metrics=["efficiency"]))
    again = load_scenario(sc.to_dict())
    assert again == sc and again.fingerprint() == sc.fingerprint()
    assert sc.label("buyers") == "n" and "efficiency" in sc.label("efficiency")
    assert sc.metric_names == ["efficiency"]


def test_run_seed_is_the_spawned_child() -> None:
    # run (point, rep) uses SeedSequence(master).spawn(...)[point].spawn(...)[rep]
    nested = np.random.SeedSequence(5).spawn(4)[3].spawn(5)[4]
    state = nested.generate_state(2, np.uint32)
    assert run_seed(5, 3, 4) == (int(state[0]) << 32 | int(state[1])) & ((1 << 63) - 1)
    seeds = {run_seed(5, p, r) for p in range(20) for r in range(20)}
    assert len(seeds) == 400 and all(0 <= s < 2**63 for s in seeds)
    assert run_seed(5, 3, 4) != run_seed(6, 3, 4)
