"""Results table, summary with 95% CIs, figures (PNG + SVG) and the self-contained HTML report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from specmarket.errors import InvalidInput
from specmarket.experiments import load_results, load_scenario, mean_ci, run_scenario, summarize
from specmarket.experiments.figures import plot_all, summary_wide
from specmarket.experiments.report import Failure, markdown_lite, reproductions_report, sweep_report
from specmarket.reproductions import ReproResult

from .conftest import small


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("res")
    run_scenario(load_scenario(small(metrics=["efficiency", "revenue"])), out, csv=True)
    return out


def test_mean_ci_matches_scipy() -> None:
    x = np.array([1.0, 2.0, 4.0, 7.0, 11.0])
    m, lo, hi = mean_ci(x)
    ref = stats.t.interval(0.95, df=4, loc=x.mean(), scale=stats.sem(x))
    assert m == pytest.approx(5.0) and (lo, hi) == pytest.approx(ref)
    assert np.isnan(mean_ci(np.array([3.0]))[1]) and mean_ci(np.array([3.0]))[0] == 3.0
    assert np.isnan(mean_ci(np.array([]))[0])


def test_load_folder_parquet_and_csv_agree(results_dir: Path) -> None:
    a = load_results(results_dir)
    b = load_results(results_dir / "results.parquet")
    c = load_results(results_dir / "results.csv")
    pd.testing.assert_frame_equal(a.table, b.table)
    pd.testing.assert_frame_equal(a.table, c.table, check_dtype=False)
    assert a.scenario == b.scenario == c.scenario


def test_summary_per_mechanism_and_point(results_dir: Path) -> None:
    res = load_results(results_dir)
    s = summarize(res, metrics=["efficiency"])
    assert list(s.columns) == [
        "mechanism",
        "buyers",
        "value_high",
        "metric",
        "n",
        "mean",
        "ci_low",
        "ci_high",
    ]
    assert len(s) == 2 * 4 and (s["n"] == 6).all()
    assert (s["ci_low"] <= s["mean"]).all() and (s["mean"] <= s["ci_high"]).all()
    one = res.table[
        (res.table.mechanism == "mcafee") & (res.table.buyers == 5) & (res.table.value_high == 2.0)
    ]["efficiency"]
    row = s[(s.mechanism == "mcafee") & (s.buyers == 5) & (s.value_high == 2.0)].iloc[0]
    assert row["mean"] == pytest.approx(one.mean())
    assert (s[s.mechanism == "vcg"]["mean"] == 1.0).all()
    pooled = summarize(res, metrics=["revenue"], by=["buyers"])
    assert len(pooled) == 4 and (pooled["n"] == 12).all()
    with pytest.raises(InvalidInput, match="metric"):
        summarize(res, metrics=["nope"])
    wide = summary_wide(res, "efficiency")
    assert list(wide.columns) == ["mcafee", "vcg"] and len(wide) == 4


def test_bad_results_paths(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no such"):
        load_results(tmp_path / "missing")
    with pytest.raises(InvalidInput, match="not a results folder"):
        load_results(tmp_path)
    (tmp_path / "x.parquet").write_text("not parquet")
    with pytest.raises(InvalidInput, match="Parquet"):
        load_results(tmp_path / "x.parquet")
    (tmp_path / "x.txt").write_text("")
    with pytest.raises(InvalidInput, match="expected"):
        load_results(tmp_path / "x.txt")


def test_figures_png_and_svg_with_panels(results_dir: Path, tmp_path: Path) -> None:
    figs = plot_all(load_results(results_dir), tmp_path, metrics=["efficiency"])
    assert len(figs) == 2  # one per axis; the other axis becomes panels
    for png in figs.values():
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert "<svg" in png.with_suffix(".svg").read_text()[:1000]


def test_figures_without_axes(tmp_path: Path) -> None:
    sc = load_scenario(
        {
            "name": "flat",
            "mechanisms": ["vickrey", "vcg"],
            "generator": "single-item",
            "repetitions": 3,
        }
    )
    run_scenario(sc, tmp_path / "r")
    figs = plot_all(load_results(tmp_path / "r"), tmp_path / "f", metrics=["revenue"])
    assert len(figs) == 1 and next(iter(figs.values())).exists()


def test_sweep_report_is_self_contained(results_dir: Path, tmp_path: Path) -> None:
    page = sweep_report(load_results(results_dir), tmp_path / "rep")
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and "data:image/png;base64," in text
    assert "small test sweep" in text and "mcafee" in text and "[" in text
    assert 'src="http' not in text and "<link" not in text
    assert (tmp_path / "rep" / "figures" / "efficiency_vs_buyers.svg").exists()


def test_reproductions_report_shows_results_and_failures(results_dir: Path, tmp_path: Path) -> None:
    csv = tmp_path / "t.csv"
    pd.DataFrame({"n": [1, 2], "value": [0.5, 0.75]}).to_csv(csv, index=False)
    png = plot_all(load_results(results_dir), tmp_path / "f", metrics=["revenue"])
    ok = ReproResult(
        name="good",
        title="A good one",
        tables={"numbers": csv},
        figures=png,
        summary="It **works**.\n\n- point `one`\n- point two",
        parameters={"quick": True},
    )
    bad = Failure("broken", "A broken one", "Traceback ...\nValueError: <oops>")
    page = reproductions_report([ok, bad], tmp_path / "rep").read_text()
    assert (
        "A good one" in page and "<strong>works</strong>" in page and "<li>point <code>one" in page
    )
    assert "A broken one" in page and "ValueError: &lt;oops&gt;" in page
    assert "1 reproduction(s) ran, 1 failed" in page and "0.75" in page


def test_markdown_lite_escapes() -> None:
    assert markdown_lite("a <b> & c") == "<p>a &lt;b&gt; &amp; c</p>"
