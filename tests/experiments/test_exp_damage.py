"""A damaged results folder ends in one clear line naming the file, and a resumed sweep recovers
by redoing just the damaged chunk."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from specmarket.cli import app
from specmarket.experiments.results import ResultStore

runner = CliRunner()

SCENARIO = """
name = "damage"
title = "damage test sweep"
mechanisms = ["vickrey", "vcg"]
generator = "single-item"
repetitions = 4
seed = 3

[sweep]
bidders = [1, 3]
"""


def run(*args: str) -> Result:
    return runner.invoke(app, list(args))


@pytest.fixture
def results(tmp_path: Path) -> Path:
    """A finished sweep of 8 runs, re-stored one run per chunk."""
    f = tmp_path / "s.toml"
    f.write_text(SCENARIO)
    out = tmp_path / "res"
    res = run("run", str(f), "-o", str(out), "--no-progress")
    assert res.exit_code == 0, res.output
    store = ResultStore(out)
    rows = store.rows()
    for chunk in store.chunks():
        chunk.unlink()
    for k in sorted({r["run"] for r in rows}):
        store.write_chunk([k], [r for r in rows if r["run"] == k])
    assert len(store.chunks()) == 8
    return out


def _chunks(out: Path) -> list[Path]:
    return sorted((out / "runs").glob("chunk-*.json"))


def _one_clear_line(res: Result, needle: str) -> None:
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output and "Traceback" not in res.stderr
    assert needle in res.stderr.replace("\n", "")
    assert len(res.stderr.strip().splitlines()) <= 4  # one logical line (rich may wrap)


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text[: len(text) // 2],  # truncated mid-write
        lambda text: text.replace('"runs"', '"rnus"'),  # mistyped key
        lambda text: text.replace('"rows": [', '"rows": [7, '),  # a row that is not an object
        lambda text: '{"runs": [], "rows": []}',  # an empty, impossible chunk
        lambda text: "\udcff",  # not UTF-8 at all (written below as raw bytes)
    ],
    ids=["truncated", "mistyped-key", "bad-row", "no-runs", "not-utf8"],
)
def test_summary_and_report_name_the_damaged_chunk(results: Path, tmp_path: Path, damage) -> None:
    chunk = _chunks(results)[3]
    text = chunk.read_text()
    damaged = damage(text)
    if damaged == "\udcff":
        chunk.write_bytes(b"\xff\xfe\x00garbage")
    else:
        chunk.write_text(damaged)
    before = chunk.read_bytes()
    _one_clear_line(run("summary", str(results)), chunk.name)
    _one_clear_line(run("report", str(results), "-o", str(tmp_path / "rep")), chunk.name)
    assert chunk.read_bytes() == before  # reading changes nothing on disk


def test_resumed_run_redoes_just_the_damaged_chunk(results: Path, tmp_path: Path) -> None:
    good = pd.read_parquet(results / "results.parquet")
    chunk = _chunks(results)[5]
    chunk.write_text(chunk.read_text()[:10])
    f = tmp_path / "s.toml"
    with pytest.warns(UserWarning, match=chunk.name):
        res = run("run", str(f), "-o", str(results), "--no-progress")
    assert res.exit_code == 0, res.output
    assert "1 run(s) computed, 7 already stored" in res.stdout
    assert (results / "runs" / "damaged" / chunk.name).exists()
    again = pd.read_parquet(results / "results.parquet")
    pd.testing.assert_frame_equal(good, again)
    assert run("summary", str(results)).exit_code == 0


def test_unreadable_results_table_is_named(tmp_path: Path) -> None:
    table = tmp_path / "results.parquet"
    table.write_bytes(b"PAR1 this is not parquet")
    _one_clear_line(run("summary", str(table)), "results.parquet")
