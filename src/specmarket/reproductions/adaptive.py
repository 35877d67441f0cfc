"""Reproduction of seed 004 §V (Figs. 2–7): ADAPTIVE vs the static Vickrey auction.

Parameters the paper leaves open (our choices, also in ``docs/adaptive.md``): types θ uniform on
{1, …, 10}; initial SNR uniform on {−30, …, 30} dB; step z = Binomial(2, ½) − 1; horizon T = 100
rounds (δ^T is negligible); B = 1; 500 runs per point (common random numbers for both mechanisms).
Metrics per run: social welfare Σ_t v_t, discounted welfare Σ_t δ^t v_t, revenue Σ_t p_t, average
payment = revenue / T (the winner's mean payment per round), average utility =
(welfare − revenue) / (k T) (per SU per round). Fig. 7 uses 12 SUs; at δ = 1 the index is undefined
and eq. (7) gives p = 0, so that point is 0 by definition and not simulated.

Static baseline (§V): each round every SU draws a fresh SNR uniformly; the highest value wins and
pays the second-highest value.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from specmarket.mechanisms.adaptive.bandit_value import TypeGrid
from specmarket.mechanisms.adaptive.mechanism import market
from specmarket.reproductions import ReproContext, Reproduction, ReproResult

LOW, HIGH, STEP = -30, 30, 2
THETAS = np.arange(1, 11, dtype=float)
METRICS = ("welfare", "discounted_welfare", "avg_payment", "avg_utility", "revenue")


def simulate_adaptive(
    grid: TypeGrid,
    types: NDArray[np.int64],
    states: NDArray[np.int64],
    rounds: int,
    rng: np.random.Generator,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Run ADAPTIVE for ``rounds`` rounds on ``R`` independent markets at once.

    ``types`` (indices into ``grid.theta_values``) and ``states`` (SNR positions) are ``(R, k)``.
    Returns the winners' values and payments, each ``(R, rounds)``. Payment: eq. (7) with S₋ᵢ from
    Whittle's formula (exact; the per-interval
    log-products are updated incrementally, only the winner's factor changes).
    """
    fam = grid.family
    delta = fam.discount
    x = states.copy()
    theta = grid.theta_values[types]
    runs, k = x.shape
    rows = np.arange(runs)
    values = np.empty((runs, rounds))
    pays = np.zeros((runs, rounds))
    n = fam.index.size
    # Σ over all arms of log E[β^T] per interval, updated only for the arm that moves
    log_sum = grid.log_exits[types, x].sum(axis=1)
    zeros = grid.zero_exits[types, x].sum(axis=1)
    for t in range(rounds):
        w = np.argmax(theta * fam.index[x], axis=1)
        tw, xw = types[rows, w], x[rows, w]
        values[:, t] = theta[rows, w] * fam.base_reward[xw]
        lw, zw = grid.log_exits[tw, xw], grid.zero_exits[tw, xw]
        if k > 1:
            pays[:, t] = (1.0 - delta) * grid.value_from_logs(log_sum - lw, zeros - zw)
        z = rng.binomial(STEP, 0.5, size=runs) - STEP // 2
        xn = np.clip(xw + z, 0, n - 1)
        x[rows, w] = xn
        log_sum += grid.log_exits[tw, xn] - lw
        zeros += grid.zero_exits[tw, xn] - zw
    return values, pays


def simulate_vickrey(
    theta: NDArray[np.float64],
    first_states: NDArray[np.int64],
    base_reward: NDArray[np.float64],
    rounds: int,
    rng: np.random.Generator,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Static second-price auction: fresh uniform SNR for every SU each round (round 0 uses
    ``first_states``). Returns winners' values and payments, ``(R, rounds)``."""
    runs, k = theta.shape
    values = np.empty((runs, rounds))
    pays = np.zeros((runs, rounds))
    n = base_reward.size
    for t in range(rounds):
        x = first_states if t == 0 else rng.integers(0, n, size=(runs, k))
        v = theta * base_reward[x]
        part = np.sort(v, axis=1)
        values[:, t] = part[:, -1]
        if k > 1:
            pays[:, t] = part[:, -2]
    return values, pays


def _metrics(
    v: NDArray[np.float64], p: NDArray[np.float64], delta: float, k: int
) -> dict[str, NDArray[np.float64]]:
    rounds = v.shape[1]
    disc = delta ** np.arange(rounds)
    welfare = v.sum(axis=1)
    revenue = p.sum(axis=1)
    return {
        "welfare": welfare,
        "discounted_welfare": v @ disc,
        "avg_payment": revenue / rounds,
        "avg_utility": (welfare - revenue) / (k * rounds),
        "revenue": revenue,
    }


def _point(k: int, delta: float, runs: int, rounds: int, seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng([seed, k])  # common random numbers across δ and mechanisms
    types = rng.integers(0, THETAS.size, size=(runs, k))
    states = rng.integers(0, HIGH - LOW + 1, size=(runs, k))
    out = []
    grid = market(LOW, HIGH, STEP, delta, 1.0).grid(THETAS)
    va, pa = simulate_adaptive(grid, types, states, rounds, np.random.default_rng([seed, k, 1]))
    vv, pv = simulate_vickrey(
        THETAS[types], states, grid.family.base_reward, rounds, np.random.default_rng([seed, k, 2])
    )
    for name, (v, p) in (("ADAPTIVE", (va, pa)), ("Vickrey", (vv, pv))):
        row: dict[str, Any] = {"mechanism": name, "k": k, "delta": delta}
        for m, arr in _metrics(v, p, delta, k).items():
            row[m] = float(arr.mean())
            row[m + "_se"] = float(arr.std(ddof=1) / np.sqrt(runs)) if runs > 1 else 0.0
        out.append(row)
    return out


PointTask = tuple[int, float, int, int, int]


def _point_task(task: PointTask) -> list[dict[str, Any]]:
    """:func:`_point` on one ``(k, δ, runs, rounds, seed)`` task (a picklable module function)."""
    return _point(*task)


def _point_cost(task: PointTask) -> float:
    """Rough work of a point: runs × rounds × SUs, plus the index grid of its δ."""
    k, _, runs, rounds, _ = task
    return runs * rounds * (k + 8)


def _plot(df: pd.DataFrame, x: str, y: str, title: str, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.6))
    for name, marker in (("ADAPTIVE", "o"), ("Vickrey", "s")):
        sub = df[df["mechanism"] == name].sort_values(x)
        label = "dynamic (ADAPTIVE)" if name == "ADAPTIVE" else "static (Vickrey)"
        ax.errorbar(sub[x], sub[y], yerr=1.96 * sub[y + "_se"], marker=marker, ms=4, label=label)
    ax.set_xlabel("number of SUs" if x == "k" else "discount factor δ")
    ax.set_ylabel(y.replace("_", " "))
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path.with_suffix(".png"), dpi=120)
    fig.savefig(path.with_suffix(".svg"))
    plt.close(fig)
    return path.with_suffix(".png")


def run(ctx: ReproContext) -> ReproResult:
    """Figs. 2–7 of seed 004 (quick mode: fewer runs, SU counts, δ values and rounds)."""
    t0 = time.perf_counter()
    out = Path(ctx.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if ctx.quick:
        ks, runs, rounds, deltas = [3, 12, 21], 20, 20, [0.0, 0.9]
    else:
        ks, runs, rounds = list(range(3, 22)), 500, 100
        deltas = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99]
    from specmarket.experiments.runner import map_tasks

    # every (SU count, δ) point is an independent task with its own seeds: the experiment
    # runner computes them in ctx.workers processes, with identical numbers
    tasks = [(k, 0.7, runs, rounds, ctx.seed) for k in ks]
    tasks += [(12, d, runs, rounds, ctx.seed) for d in deltas]
    done = map_tasks(_point_task, tasks, ctx.workers, cost=_point_cost)
    by_k = pd.DataFrame([r for res in done[: len(ks)] for r in res])
    rows: list[dict[str, Any]] = [r for res in done[len(ks) :] for r in res]
    for name in ("ADAPTIVE", "Vickrey"):  # δ = 1: eq. (7) gives 0; Vickrey ignores δ
        vick = [r for r in rows if r["mechanism"] == "Vickrey"][-1]
        rev = 0.0 if name == "ADAPTIVE" else vick["revenue"]
        se = 0.0 if name == "ADAPTIVE" else vick["revenue_se"]
        rows.append({"mechanism": name, "k": 12, "delta": 1.0, "revenue": rev, "revenue_se": se})
    by_delta = pd.DataFrame(rows)
    tables = {
        "Figs. 2–6: metrics vs number of SUs (δ = 0.7)": out / "adaptive_vs_k.csv",
        "Fig. 7: PO revenue vs δ (12 SUs)": out / "adaptive_vs_delta.csv",
    }
    by_k.to_csv(tables["Figs. 2–6: metrics vs number of SUs (δ = 0.7)"], index=False)
    by_delta.to_csv(tables["Fig. 7: PO revenue vs δ (12 SUs)"], index=False)
    figures = {}
    specs = [
        ("welfare", "Fig. 2: social welfare"),
        ("discounted_welfare", "Fig. 3: discounted social welfare"),
        ("avg_payment", "Fig. 4: average payment"),
        ("revenue", "Fig. 5: revenue of the PO"),
        ("avg_utility", "Fig. 6: average utility"),
    ]
    for num, (metric, title) in enumerate(specs, start=2):
        figures[title] = _plot(by_k, "k", metric, title, out / f"adaptive_fig{num}_{metric}")
    figures["Fig. 7: revenue vs δ"] = _plot(
        by_delta, "delta", "revenue", "Fig. 7: revenue of the PO (12 SUs)", out / "adaptive_fig7"
    )
    summary = _summary(by_k, by_delta) + f"\n\nRun time {time.perf_counter() - t0:.1f} s."
    return ReproResult(
        name="adaptive",
        title="ADAPTIVE vs Vickrey (seed 004 Figs. 2–7)",
        tables=tables,
        figures=figures,
        summary=summary,
        parameters={
            "types": "uniform on {1..10}",
            "initial SNR": "uniform on {-30..30} dB",
            "step": "Binomial(2, 1/2) - 1, clamped",
            "B": 1.0,
            "delta": 0.7,
            "runs": runs,
            "rounds": rounds,
            "SUs": ks,
            "fig7 deltas": [*deltas, 1.0],
            "seed": ctx.seed,
        },
    )


def _summary(by_k: pd.DataFrame, by_delta: pd.DataFrame) -> str:
    a = by_k[by_k["mechanism"] == "ADAPTIVE"].set_index("k")
    v = by_k[by_k["mechanism"] == "Vickrey"].set_index("k")
    lines = []
    for metric, label in (
        ("welfare", "social welfare (Fig. 2)"),
        ("discounted_welfare", "discounted welfare (Fig. 3)"),
        ("avg_payment", "average payment (Fig. 4)"),
        ("revenue", "PO revenue (Fig. 5)"),
        ("avg_utility", "average utility (Fig. 6)"),
    ):
        diff = a[metric] - v[metric]
        se = np.sqrt(a[metric + "_se"] ** 2 + v[metric + "_se"] ** 2)
        above, below = int((diff > 2 * se).sum()), int((diff < -2 * se).sum())
        trend_a = "rises" if a[metric].iloc[-1] > a[metric].iloc[0] else "falls"
        trend_v = "rises" if v[metric].iloc[-1] > v[metric].iloc[0] else "falls"
        lines.append(
            f"- {label}: ADAPTIVE significantly above Vickrey (2 SE) at {above}/{len(a)} SU "
            f"counts, below at {below}, within noise at {len(a) - above - below}; with more SUs it "
            f"{trend_a} for ADAPTIVE and {trend_v} for Vickrey."
        )
    d = by_delta[by_delta["mechanism"] == "ADAPTIVE"].sort_values("delta")
    rev = d["revenue"].to_numpy()
    inner = rev[:-1]
    rising = bool(np.all(np.diff(inner) > -2 * d["revenue_se"].to_numpy()[1:-1]))
    lines.append(
        f"- revenue vs δ (Fig. 7): ADAPTIVE from {inner[0]:.3g} (δ = 0, = Vickrey on the current "
        f"values) to {inner.max():.3g} (max), {'non-decreasing' if rising else 'not monotone'} "
        "within 2 SE, and 0 at δ = 1 by eq. (7)."
    )
    lines.append(
        "- The paper reports ADAPTIVE above Vickrey in welfare, payments and revenue. With the "
        "seed's own evolution model (symmetric clamped ±1 dB walk, whose stationary law is the "
        "uniform law the static auction redraws from) the two are expected to be close; see "
        "docs/adaptive.md, 'Results'."
    )
    return "\n".join(lines)


REPRODUCTION = Reproduction(
    name="adaptive", title="ADAPTIVE vs Vickrey (seed 004 Figs. 2–7)", run=run
)
