"""``-`` reads standard input wherever a file is read."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from specmarket.cli import app

runner = CliRunner()

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_clear_reads_the_instance_from_stdin() -> None:
    text = (EXAMPLES / "vickrey.json").read_text()
    from_file = runner.invoke(app, ["clear", "vickrey", str(EXAMPLES / "vickrey.json")])
    from_stdin = runner.invoke(app, ["clear", "vickrey", "-"], input=text)
    assert from_stdin.exit_code == 0, from_stdin.output
    assert json.loads(from_stdin.stdout) == json.loads(from_file.stdout)


def test_bad_stdin_is_one_clear_line() -> None:
    res = runner.invoke(app, ["clear", "vickrey", "-"], input=b"\xff\xfe")
    assert res.exit_code == 2 and "<stdin>" in res.stderr and "UTF-8" in res.stderr
    res = runner.invoke(app, ["clear", "vickrey", "-"], input="")
    assert res.exit_code == 2 and "malformed JSON" in res.stderr


def test_run_reads_the_scenario_from_stdin(tmp_path: Path) -> None:
    scenario = """
name = "stdin"
mechanisms = ["vickrey"]
generator = "single-item"
repetitions = 2
seed = 1

[sweep]
bidders = [2]
"""
    res = runner.invoke(
        app, ["run", "-", "-o", str(tmp_path / "r"), "--no-progress"], input=scenario
    )
    assert res.exit_code == 0, res.output
    assert "2 run(s) computed" in res.stdout
