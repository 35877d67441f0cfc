"""Quick reproduction of seed 004 Figs. 2–7 (files, shapes, the exact payment path)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from specmarket.mechanisms.adaptive.mechanism import market, snr_chain
from specmarket.reproductions import ReproContext, get
from specmarket.reproductions.adaptive import (
    Setting,
    chain,
    gap_of,
    move,
    simulate_adaptive,
    simulate_vickrey,
)


def test_incremental_payments_equal_direct() -> None:
    grid = market(-30, 30, 2, 0.7, 1.0).grid(np.arange(1, 11, dtype=float))
    rng = np.random.default_rng(0)
    types = rng.integers(0, 10, size=(40, 6))
    states = rng.integers(0, 61, size=(40, 6))
    values, pays = simulate_adaptive(grid, types, states, 6, np.random.default_rng(1))
    # replay the same path and compute every payment directly
    x = states.copy()
    rows = np.arange(40)
    fam = grid.family
    rng2 = np.random.default_rng(1)
    for t in range(6):
        w = np.argmax(grid.theta_values[types] * fam.index[x], axis=1)
        for r in range(40):
            _, without = fam.welfare(grid.theta_values[types[r]], x[r])
            assert pays[r, t] == pytest.approx(0.3 * without[w[r]], rel=1e-12)
        assert np.allclose(
            values[:, t], grid.theta_values[types[rows, w]] * fam.base_reward[x[rows, w]]
        )
        x[rows, w] = np.clip(x[rows, w] + rng2.binomial(2, 0.5, size=40) - 1, 0, 60)


def test_simulation_runs_on_one_blas_thread_and_restores_the_setting() -> None:
    """The simulation limits BLAS to one thread while it runs (its products are too small for
    a second), leaves the caller's setting as it was, and gives the numbers of an unlimited run."""
    from threadpoolctl import threadpool_info, threadpool_limits  # type: ignore[import-untyped]

    from specmarket.reproductions import adaptive as repro

    grid = market(-30, 30, 2, 0.7, 1.0).grid(np.arange(1, 11, dtype=float))
    rng = np.random.default_rng(5)
    types = rng.integers(0, 10, size=(300, 8))
    states = rng.integers(0, 61, size=(300, 8))

    def blas_threads() -> list[int]:
        return [int(i["num_threads"]) for i in threadpool_info() if i["user_api"] == "blas"]

    seen: list[list[int]] = []
    loop = repro._simulate_adaptive

    def spy(*args: object) -> tuple[np.ndarray, np.ndarray]:
        seen.append(blas_threads())
        return loop(*args)  # type: ignore[arg-type]

    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        unlimited = loop(grid, types, states, 8, np.random.default_rng(2), 2, "clamp")
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(repro, "_simulate_adaptive", spy)
            limited = simulate_adaptive(grid, types, states, 8, np.random.default_rng(2))
        assert blas_threads() == before
    assert seen and all(n == 1 for n in seen[0])
    np.testing.assert_allclose(limited[0], unlimited[0], rtol=0, atol=0)
    np.testing.assert_allclose(limited[1], unlimited[1], rtol=1e-12, atol=0)


def test_vickrey_baseline() -> None:
    theta = np.array([[1.0, 2.0, 3.0]])
    base = np.array([1.0, 2.0])
    v, p = simulate_vickrey(theta, np.array([[1, 1, 0]]), base, 1, np.random.default_rng(0))
    assert v[0, 0] == 4.0 and p[0, 0] == 3.0


@pytest.mark.slow
def test_quick_reproduction(tmp_path: Path) -> None:
    res = get("adaptive").run(ReproContext(out_dir=tmp_path, quick=True, seed=3))
    assert len(res.figures) == 7
    for png in res.figures.values():
        assert (
            png.exists() and png.with_suffix(".svg").exists() and png.with_suffix(".csv").exists()
        )
    by_k = pd.read_csv(res.tables["Figs. 2–6: metrics vs number of SUs (δ = 0.7)"])
    assert set(by_k["mechanism"]) == {"ADAPTIVE", "Vickrey"}
    assert (by_k["avg_payment"] >= 0).all()
    by_delta = pd.read_csv(res.tables["Fig. 7: PO revenue vs δ (12 SUs)"])
    last = by_delta[(by_delta["mechanism"] == "ADAPTIVE") & (by_delta["delta"] == 1.0)]
    assert float(last["revenue"].iloc[0]) == 0.0
    assert list(last["source"]) == ["analytic"]
    # one normalisation: Fig. 4 is Fig. 5 divided by k T (T = 20 rounds in quick mode)
    assert np.allclose(by_k["avg_payment"] * by_k["k"] * 20, by_k["revenue"])
    sens = pd.read_csv(res.tables["sensitivity: ADAPTIVE − Vickrey per setting"])
    assert set(sens["factor"]) == {"step", "static", "initial", "types", "rounds", "edge", "value"}
    default = sens[sens["default"]]
    assert len(default) == 7 and default["welfare_gap"].nunique() == 1
    assert "Fig. 7" in res.summary


def test_chain_matches_snr_chain_and_reflects() -> None:
    for step in (2, 4, 10):
        assert np.array_equal(chain(61, step, "clamp"), snr_chain(-30, 30, step))
        p = chain(61, step, "reflect")
        assert np.allclose(p.sum(axis=1), 1.0)
    assert move(np.array([0, 60, 1]), np.array([-1, 2, -3]), 61, "reflect").tolist() == [1, 58, 2]
    assert move(np.array([0, 60]), np.array([-1, 2]), 61, "clamp").tolist() == [0, 60]
    # the reflecting chain's row at the bottom state, step 2: 0 → 1 w.p. ½ (−1 folds to 1)
    assert chain(61, 2, "reflect")[0, :3].tolist() == [0.5, 0.5, 0.0]


def test_static_readings() -> None:
    theta = np.array([[1.0, 2.0]])
    base = np.array([0.0, 1.0, 2.0, 3.0])
    v, p = simulate_vickrey(theta, np.array([[3, 2]]), base, 3, np.random.default_rng(0), "frozen")
    assert v.tolist() == [[4.0, 4.0, 4.0]] and p.tolist() == [[3.0, 3.0, 3.0]]
    # myopic: only the winner (SU 2, value 4) moves; SU 1 keeps its state 3
    v, p = simulate_vickrey(
        theta, np.array([[3, 2]]), base, 4, np.random.default_rng(0), "myopic, evolving"
    )
    assert v[0, 0] == 4.0 and (v[0] >= 3.0).all() and (p[0] <= v[0]).all()


def test_gap_is_seeded_and_paired() -> None:
    a = gap_of(Setting(rounds=5), 30, 1)
    b = gap_of(Setting(rounds=5), 30, 1)
    assert a == b
    # δ-free round 0 is the same auction on the same draws: a 1-round horizon gives no gap
    one = gap_of(Setting(rounds=1), 30, 1)
    assert one["welfare_gap"] == 0.0 and one["revenue_gap"] != 0.0
