"""Fault injection on the simulations: sizes beyond what the machine can do are refused with one
line naming the field, and a run shows its progress on stderr (never in ``--json`` output)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner, Result

from specmarket import cli
from specmarket.cli import app
from specmarket.errors import InvalidInput
from specmarket.mechanisms.psp.dynamics import (
    MAX_PLAYERS,
    MAX_ROUNDS,
    random_population,
    run_dynamics,
)

runner = CliRunner()


def _one_line_naming(res: Result, field: str) -> None:
    assert res.exit_code == 2, res.output
    stderr = res.stderr
    assert "Traceback" not in stderr
    assert stderr.startswith(f"error: {field}:"), stderr
    assert len(stderr.strip().splitlines()) <= 3  # one logical line (rich may wrap)


@pytest.mark.parametrize("players", ["100000000", str(MAX_PLAYERS + 1)])
def test_simulate_psp_refuses_too_many_players_at_once(players: str) -> None:
    for extra in ([], ["--json"]):
        res = runner.invoke(app, ["simulate", "psp", "-n", players, *extra])
        _one_line_naming(res, "players")
        assert res.stdout == ""
        assert f"{MAX_PLAYERS:,}" in res.stderr


def test_simulate_psp_refuses_too_many_rounds_from_a_scenario(tmp_path: Path) -> None:
    f = tmp_path / "big.toml"
    f.write_text(f"players = 5\nmax_rounds = {MAX_ROUNDS + 1}\n")
    _one_line_naming(runner.invoke(app, ["simulate", "psp", "--scenario", str(f)]), "max_rounds")


def test_library_bounds_name_the_field() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(InvalidInput) as info:
        random_population(rng, 10**8)  # refused before any memory is taken
    assert info.value.field == "players"
    with pytest.raises(InvalidInput, match="players"):
        random_population(rng, -1)
    vals = random_population(rng, 3)
    with pytest.raises(InvalidInput) as info:
        run_dynamics(vals, max_rounds=MAX_ROUNDS + 1)
    assert info.value.field == "max_rounds"
    assert run_dynamics(vals, max_rounds=MAX_ROUNDS).converged


def test_simulate_psp_shows_progress_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    buf = io.StringIO()
    monkeypatch.setitem(cli._consoles, "err", Console(file=buf, force_terminal=True, width=100))
    res = runner.invoke(app, ["simulate", "psp", "-n", "30", "--seed", "1"])
    assert res.exit_code == 0, res.output
    shown = buf.getvalue()
    assert "PSP dynamics, 30 buyers: round" in shown and "bids" in shown
    assert "rounds" in res.stdout  # the result itself is on stdout as before


@pytest.mark.parametrize("flags", [["--json"], ["--no-progress"]])
def test_simulate_psp_progress_is_off_for_json_and_on_request(
    flags: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    buf = io.StringIO()
    monkeypatch.setitem(cli._consoles, "err", Console(file=buf, force_terminal=True, width=100))
    res = runner.invoke(app, ["simulate", "psp", "-n", "30", "--seed", "1", *flags])
    assert res.exit_code == 0, res.output
    assert buf.getvalue() == ""
    if flags == ["--json"]:
        assert json.loads(res.stdout)["players"] == 30
