"""The Lazar–Semret reproduction: convergence time and bid-fee tables, figures with the published
values, determinism."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from specmarket.reproductions import ReproContext, get
from specmarket.reproductions.lazar_semret import PUBLISHED, fee_experiment


def test_fee_experiment_is_seeded_and_fees_cut_bids() -> None:
    a = fee_experiment(6, (0.5, 100.0), 2, seed=4, max_rounds=200)
    b = fee_experiment(6, (0.5, 100.0), 2, seed=4, max_rounds=200)
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == 4 and set(a["epsilon"]) == {0.5, 100.0}
    g = a.groupby("epsilon").mean(numeric_only=True)
    for order in ("asynchronous", "synchronous"):
        assert g.loc[100.0, f"{order}_total_bids"] < g.loc[0.5, f"{order}_total_bids"]
        assert (a[f"{order}_time"] >= 0).all()
    # the same populations for every fee (common random numbers): same optimum
    assert a.groupby("rep")["optimum"].nunique().eq(1).all()


def test_published_values() -> None:
    assert PUBLISHED["time"] == ((2.0, 30.0), (20.0, 8.0), (150.0, 85.0))
    assert PUBLISHED["fee_bids"][0][1] == 180.0 and PUBLISHED["fee_value"][1][1] == 1945.0


@pytest.mark.slow
def test_quick_reproduction(tmp_path: Path) -> None:
    res = get("lazar-semret").run(ReproContext(out_dir=tmp_path, quick=True, seed=0))
    assert len(res.figures) == 2
    for png in res.figures.values():
        for suffix in (".png", ".svg", ".csv"):
            assert png.with_suffix(suffix).exists()
    runs = pd.read_csv(res.tables["runs"])
    assert (runs["time"] == runs["rounds"] - 1).all()
    assert (runs["sync_time"] == runs["sync_rounds"] - 1).all()
    fee = pd.read_csv(res.tables["bid-fee runs"])
    assert sorted(set(fee["epsilon"])) == [0.1, 5.0, 100.0] and set(fee["players"]) == {10}
    assert "**Verdict.**" in res.summary
