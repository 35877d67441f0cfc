"""Pinned quick versions of the reproductions: the numbers of
``specmarket reproduce NAME --quick --seed 0`` for adaptive, lazar-semret, district and cat.

Every reproduction is seeded, so these numbers are exact up to floating-point noise; the relative
tolerance 1e-6 is far below any change of a model, a parameter, a seed or a random stream, which
moves them by percents. If a deliberate change moves them, rerun the quick command, update the
numbers here and the figures quoted in docs/ (each docs page names the command beside them).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from specmarket.reproductions import ReproContext, ReproResult, get

pytestmark = pytest.mark.slow
REL = 1e-6


def _run(name: str, tmp_path_factory: pytest.TempPathFactory) -> ReproResult:
    out = Path(tmp_path_factory.mktemp(name))
    return get(name).run(ReproContext(out_dir=out, quick=True, seed=0))


def test_adaptive(tmp_path_factory: pytest.TempPathFactory) -> None:
    res = _run("adaptive", tmp_path_factory)
    k = pd.read_csv(res.tables["Figs. 2–6: metrics vs number of SUs (δ = 0.7)"])
    k12 = k[k.k == 12].set_index("mechanism")
    assert k12.at["ADAPTIVE", "welfare"] == pytest.approx(1166.4374987393358, rel=REL)
    assert k12.at["Vickrey", "welfare"] == pytest.approx(1250.9099425762925, rel=REL)
    assert k12.at["ADAPTIVE", "revenue"] == pytest.approx(838.6203582813268, rel=REL)
    assert k12.at["Vickrey", "discounted_welfare"] == pytest.approx(196.13346239538976, rel=REL)
    s = pd.read_csv(res.tables["sensitivity: ADAPTIVE − Vickrey per setting"])
    d = s[s["default"]].iloc[0]
    assert d["welfare_gap"] == pytest.approx(5.675307422121554, rel=REL)
    assert d["revenue_gap"] == pytest.approx(38.18403328026235, rel=REL)
    step20 = s[(s.factor == "step") & (s.level.astype(str) == "20")].iloc[0]
    assert step20["welfare_gap"] == pytest.approx(-7.433283002401663, rel=REL)


def test_lazar_semret(tmp_path_factory: pytest.TempPathFactory) -> None:
    res = _run("lazar-semret", tmp_path_factory)
    a = pd.read_csv(res.tables["summary by population"]).set_index("players")
    assert a["total_bids"].to_dict() == {2: 59.0, 5: 33.0, 10: 35.5, 20: 43.0}
    assert a["sync_total_bids"].to_dict() == {2: 59.5, 5: 77.0, 10: 156.5, 20: 293.5}
    assert a["time"].to_dict() == {2: 37.5, 5: 8.0, 10: 5.5, 20: 3.5}
    assert a["sync_time"].to_dict() == {2: 58.5, 5: 24.0, 10: 19.5, 20: 20.0}
    assert a.at[10, "efficiency"] == pytest.approx(0.9573721783601861, rel=REL)
    f = pd.read_csv(res.tables["bid-fee runs"]).groupby("epsilon").mean(numeric_only=True)
    assert f["asynchronous_total_bids"].to_dict() == {0.1: 1170.0, 5.0: 34.0, 100.0: 10.0}
    assert f["synchronous_total_bids"].to_dict() == {0.1: 1801.0, 5.0: 160.5, 100.0: 21.5}
    assert f.at[100.0, "asynchronous_welfare"] == pytest.approx(1303.6304635407732, rel=REL)


def test_district(tmp_path_factory: pytest.TempPathFactory) -> None:
    res = _run("district", tmp_path_factory)
    s = pd.read_csv(res.tables["means and 95% CIs per size and mechanism"])
    s30 = s[s.buyers == 30].set_index("mechanism")
    expect = {
        "district-bb": -11.887911786374442,
        "district-profit": 81.98370789901514,
        "mcafee": 11.37225355043014,
        "trust": 16.269490579878187,
    }
    for mech, rev in expect.items():
        assert s30.at[mech, "revenue_mean"] == pytest.approx(rev, rel=REL)
    assert s30.at["district-bb", "welfare_mean"] == pytest.approx(152.41637082109426, rel=REL)
    loc = pd.read_csv(res.tables["local markets and multi-demand (means, SE, loss share)"])
    l30 = loc[(loc.sweep == "size") & (loc.buyers == 30)].set_index("mechanism")
    assert l30.at["district-bb", "revenue_mean"] == pytest.approx(14.878368298482073, rel=REL)
    assert l30.at["district-profit", "revenue_mean"] == pytest.approx(15.653030539626805, rel=REL)
    assert l30.at["trust", "revenue_mean"] == pytest.approx(9.593636148058966, rel=REL)


def test_cat(tmp_path_factory: pytest.TempPathFactory) -> None:
    res = _run("cat", tmp_path_factory)
    tables = {p.name: p for p in res.tables.values()}
    c = pd.read_csv(tables["cat_comparison_summary.csv"]).set_index(["regime", "mechanism"])
    assert c.at[("dense", "CAT sharing"), "welfare"] == pytest.approx(37.185, rel=REL)
    assert c.at[("dense", "CAT sharing"), "revenue"] == pytest.approx(20.5, rel=REL)
    assert c.at[("sparse", "VCG identical units"), "welfare"] == pytest.approx(
        33.96296577380953, rel=REL
    )
    assert c.at[("sparse", "CAT no sharing"), "revenue"] == pytest.approx(4.4, rel=REL)
    au = pd.read_csv(tables["cat_theorem1_audit.csv"])
    assert au.groupby("mechanism").violations.sum().to_dict() == {
        "CAT no sharing": 17,
        "CAT sharing": 95,
        "fix: VCG over eq. (4)": 0,
        "fix: VCG over legal teams": 2,
    }
    assert int(au.checked.sum()) == 4656
