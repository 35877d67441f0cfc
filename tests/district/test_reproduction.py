"""`specmarket reproduce district --quick` writes its tables and figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from specmarket.mechanisms.district import Market, determine_winners
from specmarket.reproductions import ReproContext, get
from specmarket.reproductions.district import max_virtual_surplus


def test_quick_run(tmp_path: Path) -> None:
    res = get("district").run(ReproContext(out_dir=tmp_path, quick=True, seed=1))
    for path in [*res.tables.values(), *res.figures.values()]:
        assert Path(path).exists()
    for png in res.figures.values():
        assert Path(png).with_suffix(".svg").exists()
    summary = pd.read_csv(next(iter(res.tables.values())))
    assert set(summary.mechanism) == {"district-bb", "district-profit", "trust", "mcafee"}
    # McAfee cannot reuse channels: it never serves more buyers than there are sellers
    assert (summary[summary.mechanism == "mcafee"].buyers_served_mean <= 10).all()
    assert "District-D" in res.summary


def test_upper_bound_dominates_greedy() -> None:
    """The exact maximum virtual surplus bounds District-D's (greedy) virtual surplus."""
    rng = np.random.default_rng(0)
    for _ in range(30):
        n, m = int(rng.integers(1, 5)), int(rng.integers(1, 4))
        c = np.triu(rng.random((n, n)) < 0.4, 1)
        mk = Market(
            rng.uniform(-10, 10, n),
            rng.uniform(0, 20, m),
            rng.integers(1, 3, n),
            c | c.T,
            rng.random((n, m)) < 0.8,
            profit=True,
        )
        greedy = sum(t.delta for t in determine_winners(mk))
        assert max_virtual_surplus(mk) >= greedy - 1e-9
