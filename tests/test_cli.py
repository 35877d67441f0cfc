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


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        # rich markup in user text is printed literally, never interpreted
        ('{"bidders": [{"id": "[/x]", "bid": 1}, {"id": "[/x]", "bid": 2}]}', "[/x]"),
        ('{"bidders": [{"id": "a", "bid": 1}], "[/x]": 1}', '"[/x]"'),
        # absurd magnitudes are refused at the boundary, not overflowed later
        ('{"bidders": [{"id": "a", "bid": 1.7e308}]}', "bidders[0].bid"),
        ('{"bidders": [{"id": "a", "bid": 1' + "0" * 5000 + "}]}", "malformed JSON"),
        ("[" * 100_000 + "]" * 100_000, "malformed JSON"),
        ('{"bidders": [], "bidders": [{"id": "a", "bid": 1}]}', "twice"),
        ('{"bidders": [{"id": "a", "bid": 1}], "a\\nb": 1}', '"a\\nb"'),
    ],
)
def test_hostile_input_is_one_clear_line(tmp_path: Path, content: str, needle: str) -> None:
    f = tmp_path / "bad.json"
    f.write_text(content)
    res = run("clear", "vickrey", str(f))
    assert res.exit_code == 2
    assert needle in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert "Traceback" not in res.output + res.stderr


def test_directory_and_markup_ids_in_table(tmp_path: Path) -> None:
    res = run("clear", "vickrey", str(tmp_path))
    assert res.exit_code == 2 and "directory" in res.stderr
    f = tmp_path / "ok.json"
    f.write_text('{"bidders": [{"id": "[b]x", "bid": 3}, {"id": "y", "bid": 2}]}')
    res = run("clear", "vickrey", str(f), "--table")
    assert res.exit_code == 0 and "[b]x" in res.stdout


def test_huge_unit_count_clears_quickly(tmp_path: Path) -> None:
    f = tmp_path / "u.json"
    f.write_text('{"units": 1000000000, "bidders": [{"id": "a", "marginal_values": [5]}]}')
    res = run("clear", "vcg", str(f))
    assert res.exit_code == 0
    assert json.loads(res.stdout)["payments"] == {"a": 0.0}


def test_audit_json_with_one_instance_and_negative_seed() -> None:
    res = run("audit", "vickrey", "-n", "1", "--json")
    assert res.exit_code == 0
    assert json.loads(res.stdout)["revenue_ci95"] == [None, None]
    assert run("audit", "vickrey", "-n", "5", "--seed", "-1").exit_code == 2
