"""The experiment commands: run, summary, report, reproduce, demo (exit codes and outputs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

import specmarket.reproductions as repro_pkg
from specmarket.cli import app
from specmarket.reproductions import ReproContext, Reproduction, ReproResult

runner = CliRunner()

SCENARIO = """
name = "cli"
title = "CLI sweep"
mechanisms = ["vickrey", "vcg"]
generator = "single-item"
repetitions = 4
seed = 3

[sweep]
bidders = [1, 3]

[quick]
repetitions = 2
"""


def run(*args: str) -> Result:
    return runner.invoke(app, list(args))


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    f = tmp_path / "s.toml"
    f.write_text(SCENARIO)
    return f


def test_run_summary_report(scenario_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "res"
    res = run("run", str(scenario_file), "-o", str(out), "--csv", "--no-progress", "-j", "2")
    assert res.exit_code == 0, res.output
    assert "8 run(s) computed" in res.stdout and (out / "results.csv").exists()
    res = run("run", str(scenario_file), "-o", str(out), "--no-progress")
    assert res.exit_code == 0 and "0 run(s) computed, 8 already stored" in res.stdout
    res = run("summary", str(out), "-m", "revenue")
    assert res.exit_code == 0, res.output
    assert "revenue" in res.stdout and "vickrey" in res.stdout and "[" in res.stdout
    js = json.loads(run("summary", str(out / "results.parquet"), "--json").stdout)
    assert {r["mechanism"] for r in js} == {"vickrey", "vcg"} and all("ci_low" in r for r in js)
    res = run("report", str(out), "-o", str(tmp_path / "rep"))
    assert res.exit_code == 0, res.output
    assert "data:image/png;base64" in (tmp_path / "rep" / "index.html").read_text()


def test_run_quick_and_seed(scenario_file: Path, tmp_path: Path) -> None:
    res = run(
        "run",
        str(scenario_file),
        "-o",
        str(tmp_path / "q"),
        "--quick",
        "--seed",
        "9",
        "--no-progress",
    )
    assert res.exit_code == 0 and "4 run(s) computed" in res.stdout
    stored = json.loads((tmp_path / "q" / "scenario.json").read_text())
    assert stored["seed"] == 9 and stored["repetitions"] == 2


def test_bad_input_exits_2_with_one_line(scenario_file: Path, tmp_path: Path) -> None:
    scenario_file.write_text(SCENARIO.replace('"vcg"', '"nope"'))
    res = run("run", str(scenario_file), "-o", str(tmp_path / "x"), "--no-progress")
    assert res.exit_code == 2
    assert "mechanisms[1]" in res.stderr and "unknown mechanism" in res.stderr
    assert len(res.stderr.strip().splitlines()) <= 3  # one logical line (rich may wrap)
    assert run("summary", str(tmp_path / "missing")).exit_code == 2
    assert run("report", str(tmp_path / "missing"), "-o", str(tmp_path / "r")).exit_code == 2
    assert run("reproduce", "no-such-thing").exit_code == 2


def test_reproduce_baselines_quick(tmp_path: Path) -> None:
    res = run("reproduce", "baselines", "--quick", "-o", str(tmp_path / "b"))
    assert res.exit_code == 0, res.output
    page = (tmp_path / "b" / "index.html").read_text()
    assert "McAfee" in page and "data:image/png;base64" in page and "matches" in page
    assert (tmp_path / "b" / "figures" / "efficiency_vs_buyers.svg").exists()
    assert (tmp_path / "b" / "results" / "results.parquet").exists()


def _ok(ctx: ReproContext) -> ReproResult:
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    (ctx.out_dir / "t.csv").write_text(f"quick,seed\n{ctx.quick},{ctx.seed}\n")
    return ReproResult(
        name="fine", title="Fine one", tables={"t": ctx.out_dir / "t.csv"}, summary="all good"
    )


def _broken(ctx: ReproContext) -> ReproResult:
    raise RuntimeError("deliberately broken")


def test_demo_reports_a_failure_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = {
        "broken": Reproduction("broken", "Broken one", _broken),
        "fine": Reproduction("fine", "Fine one", _ok),
    }
    monkeypatch.setattr(repro_pkg, "registry", lambda: fake)
    res = run("demo", "-o", str(tmp_path / "demo"))
    assert res.exit_code == 1
    assert "broken" in res.stderr
    page = (tmp_path / "demo" / "index.html").read_text()
    assert "Fine one" in page and "deliberately broken" in page and "1 failed" in page
    assert "True" in page  # the fine one ran quick


def test_demo_all_good_exits_0(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        repro_pkg, "registry", lambda: {"fine": Reproduction("fine", "Fine one", _ok)}
    )
    monkeypatch.chdir(tmp_path)
    res = run("demo")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "specmarket-report" / "index.html").exists()
    assert "specmarket-report" in res.stdout


def test_demo_survives_a_module_that_cannot_be_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import specmarket.commands.experiments as cmds
    from specmarket.experiments.report import Failure

    def broken_registry() -> dict[str, Reproduction]:
        raise ImportError("a reproduction module is broken")

    monkeypatch.setattr(repro_pkg, "registry", broken_registry)
    monkeypatch.setattr(
        cmds,
        "discover_tolerantly",
        lambda: (
            {"fine": Reproduction("fine", "Fine one", _ok)},
            [Failure("cat", "module specmarket.reproductions.cat", "ImportError: no module x")],
        ),
    )
    res = run("demo", "-o", str(tmp_path / "demo"))
    assert res.exit_code == 1
    page = (tmp_path / "demo" / "index.html").read_text()
    assert "Fine one" in page and "no module x" in page


def test_tolerant_discovery_finds_the_bundled_reproductions() -> None:
    from specmarket.commands.experiments import discover_tolerantly

    found, broken = discover_tolerantly()
    assert "baselines" in found
    assert all(b.error for b in broken)
