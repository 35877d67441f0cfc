"""The command line: exit codes, JSON on stdout, one clear error line on stderr."""

from __future__ import annotations

import json
import re
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


# -- discoverability: --version, grouped help, examples, reproductions listed ---------------------


def _command_tree() -> list[tuple[tuple[str, ...], object]]:
    """Every command of the app as (path of names, click command), groups included."""
    import typer

    root = typer.main.get_command(app)
    found: list[tuple[tuple[str, ...], object]] = []

    def walk(cmd: object, path: tuple[str, ...]) -> None:
        found.append((path, cmd))
        if hasattr(cmd, "list_commands"):
            ctx = typer.Context(cmd)  # type: ignore[arg-type]
            for name in cmd.list_commands(ctx):
                walk(cmd.get_command(ctx, name), (*path, name))

    walk(root, ())
    return found


def test_version() -> None:
    from importlib.metadata import version

    import specmarket

    res = run("--version")
    assert res.exit_code == 0
    assert res.stdout.strip() == f"specmarket {version('specmarket')}"
    assert version("specmarket") == specmarket.__version__


def test_version_falls_back_to_the_source_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata

    import specmarket

    def missing(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", missing)
    monkeypatch.setattr(specmarket, "__version__", "9.9.9")
    res = run("--version")
    assert res.exit_code == 0 and res.stdout.strip() == "specmarket 9.9.9"


def test_top_level_help_groups_the_commands() -> None:
    res = run("--help")
    assert res.exit_code == 0
    out = res.stdout
    panels = ["Mechanisms", "Simulations", "Experiments"]
    assert all(f"─ {p} ─" in out for p in panels)
    assert "─ Commands ─" not in out  # every command sits in a named panel
    lines = out.splitlines()

    def row(text: str) -> int:  # the line of a panel that starts with ``text``
        return next(k for k, line in enumerate(lines) if line.startswith(text))

    assert row("╭─ Mechanisms") < row("│ clear ") < row("│ gittins ") < row("╭─ Simulations")
    assert row("╭─ Simulations") < row("│ simulate ") < row("╭─ Experiments") < row("│ reproduce ")


def test_every_command_has_an_example_line() -> None:
    tree = _command_tree()
    assert len(tree) >= 13  # the app, 12 commands and the simulate group's two
    for path, _cmd in tree:
        res = run(*path, "--help")
        assert res.exit_code == 0, path
        example = " ".join(("Example: specmarket", *path))
        assert example in res.stdout, f"{' '.join(path) or 'specmarket'} --help has no example"


def test_reproduce_help_lists_every_reproduction_on_one_line() -> None:
    from specmarket.reproductions import rows

    res = run("reproduce", "--help")
    assert res.exit_code == 0
    lines = res.stdout.splitlines()
    names = [r.name for r in rows()]
    assert names == ["adaptive", "baselines", "cat", "district", "lazar-semret"]
    for r in rows():
        assert any(r.name in line and r.line in line for line in lines), r.name


def test_a_misspelt_command_gets_a_suggestion() -> None:
    res = run("reproduc")
    assert res.exit_code == 2 and "reproduce" in res.output


def test_every_seed_option_refuses_negative_values() -> None:
    seeds = []
    for path, cmd in _command_tree():
        for param in getattr(cmd, "params", []):
            if param.name == "seed":
                seeds.append(path)
                # Typer keeps the bound on the option; click-based Typer on its IntRange type
                bound = getattr(param, "min", getattr(getattr(param, "type", None), "min", None))
                assert bound == 0, path
    assert {("audit",), ("run",), ("reproduce",), ("demo",)} <= set(seeds)
    assert {("simulate", "psp"), ("simulate", "data-market")} <= set(seeds)


@pytest.mark.parametrize(
    "args",
    [
        ("audit", "vickrey", "--seed", "-5"),
        ("run", "scenario.toml", "--seed", "-5"),
        ("reproduce", "baselines", "--seed", "-5"),
        ("demo", "--seed", "-5"),
        ("simulate", "psp", "--seed", "-5"),
        ("simulate", "data-market", "--example", "-s", "-5"),
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_negative_seed_is_a_clear_error(
    args: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    res = run(*args)
    assert res.exit_code == 2
    text = " ".join(re.sub("[│╭╮╰╯─]", " ", res.output).split())  # unwrap rich's error box
    assert "Invalid value for '--seed'" in text and "greater than or equal to 0" in text
    assert "Traceback" not in res.output
    assert list(tmp_path.iterdir()) == []
