"""The command line: exit codes, JSON on stdout, one clear error line on stderr."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from specmarket.cli import app

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


def test_mechanisms_lists_baselines() -> None:
    res = run("mechanisms", "--json")
    assert res.exit_code == 0
    names = {m["name"] for m in json.loads(res.stdout)}
    assert {"vickrey", "vcg", "mcafee"} <= names
    assert run("mechanisms").exit_code == 0


@pytest.mark.parametrize("name", ["vickrey", "vcg", "mcafee"])
def test_clear_example_prints_json(name: str) -> None:
    res = run("clear", name, str(ROOT / "examples" / f"{name}.json"))
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["mechanism"] == name and {"welfare", "revenue", "payments"} <= set(out)


def test_clear_table() -> None:
    res = run("clear", "mcafee", str(ROOT / "examples" / "mcafee.json"), "--table")
    assert res.exit_code == 0 and "b1" in res.stdout


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ('{"bidders": [{"id": "a", "bid": NaN}]}', "bidders[0].bid"),
        ('{"bidders": [{"id": "a", "bid": Infinity}]}', "bidders[0].bid"),
        ('{"bidders": [{"id": "a", "bid": 1}, {"id": "a", "bid": 2}]}', "bidders[1].id"),
        ('{"bidders": []}', "bidders"),
        ('{"bidders": [{"id": "a", "bid": 1}', "malformed JSON"),
        ("[1, 2]", "must be a JSON object"),
    ],
)
def test_bad_input_exits_2_with_one_clear_line(tmp_path: Path, content: str, needle: str) -> None:
    f = tmp_path / "bad.json"
    f.write_text(content)
    before = sorted(p.name for p in tmp_path.iterdir())
    res = run("clear", "vickrey", str(f))
    assert res.exit_code == 2
    assert needle in res.stderr
    assert "Traceback" not in res.output + res.stderr
    assert res.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


def test_missing_file_and_unknown_mechanism() -> None:
    res = run("clear", "vickrey", "/no/such/file.json")
    assert res.exit_code == 2 and "no such file" in res.stderr
    res = run("clear", "nope", str(ROOT / "examples" / "vickrey.json"))
    assert res.exit_code == 2 and "unknown mechanism" in res.stderr


def test_audit_command() -> None:
    res = run("audit", "vickrey", "--instances", "50", "--seed", "1", "--json")
    assert res.exit_code == 0, res.output
    rep = json.loads(res.stdout)
    assert rep["ok"] and rep["instances"] == 50
    res = run("audit", "first-price", "-n", "100", "--json")
    rep = json.loads(res.stdout)
    assert rep["properties"]["ic"]["violations"] > 0 and not rep["properties"]["ic"]["claimed"]
