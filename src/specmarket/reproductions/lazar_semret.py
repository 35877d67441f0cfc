"""Lazar & Semret's PSP experiment, as recalled by issue 3 / seed 002 §1.1.1.

``Q = 100``, ``θ'_i(0) ~ U[10, 20]``, ``q̄_i ~ U[50, 100]`` (valuations
``θ'(z) = θ'(0)(1 − z/q̄)^+``), budget 100, ``ε = 5``, a small reserve ``p_0 = 0.1``,
populations from 2 to 150 buyers, 10 repetitions each; asynchronous truthful ε-best-reply
dynamics (:mod:`specmarket.mechanisms.psp.dynamics`). Reported: bids per player, total bids
(against Lazar–Semret's ``I + I²/10``), rounds, efficiency and the welfare loss beside the
bound ``4Q√(εκ)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from specmarket.reproductions import ReproContext, Reproduction, ReproResult

FULL_POPULATIONS = (2, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150)
QUICK_POPULATIONS = (2, 5, 10, 20)
PARAMS: dict[str, object] = {
    "quantity": 100.0,
    "theta0": (10.0, 20.0),
    "qbar": (50.0, 100.0),
    "budget": 100.0,
    "epsilon": 5.0,
    "reserve": 0.1,
    "tie_rule": "lazar-semret",
}


def experiment(
    populations: tuple[int, ...], reps: int, seed: int, workers: int = 1
) -> pd.DataFrame:
    """One row per (population, repetition); the runs are computed by the experiment runner in
    ``workers`` processes (each run has its own spawned seed, so the numbers do not depend on
    ``workers``)."""
    from specmarket.experiments.runner import map_tasks

    master = np.random.SeedSequence(seed)
    children = master.spawn(len(populations) * reps)
    tasks = [(n, r, children[k * reps + r]) for k, n in enumerate(populations) for r in range(reps)]
    rows = map_tasks(_one_run, tasks, workers, cost=lambda t: float(t[0]) ** 2)
    return pd.DataFrame(rows)


def _one_run(task: tuple[int, int, np.random.SeedSequence]) -> dict[str, object]:
    """Both dynamics (asynchronous, synchronous) on one random population of ``n`` buyers."""
    from specmarket.mechanisms.psp.dynamics import random_population, run_dynamics

    n, r, ss = task
    rng = np.random.default_rng(ss)
    vals = random_population(rng, n, PARAMS["theta0"], PARAMS["qbar"])  # type: ignore[arg-type]
    common = {
        "total": float(PARAMS["quantity"]),  # type: ignore[arg-type]
        "reserve": float(PARAMS["reserve"]),  # type: ignore[arg-type]
        "epsilon": float(PARAMS["epsilon"]),  # type: ignore[arg-type]
        "budgets": float(PARAMS["budget"]),  # type: ignore[arg-type]
        "tie_rule": str(PARAMS["tie_rule"]),
        "seed": int(rng.integers(2**31)),
    }
    res = run_dynamics(vals, **common)  # type: ignore[arg-type]
    syn = run_dynamics(vals, order="synchronous", **common)  # type: ignore[arg-type]
    return {
        "players": n,
        "rep": r,
        "sync_total_bids": syn.total_bids,
        "sync_bids_per_player": syn.bids_per_player,
        "sync_efficiency": syn.efficiency,
        "sync_converged": syn.converged,
        "total_bids": res.total_bids,
        "bids_per_player": res.bids_per_player,
        "rounds": res.rounds,
        "converged": res.converged,
        "welfare": res.welfare,
        "optimum": res.optimum,
        "efficiency": res.efficiency,
        "loss": res.optimum - res.welfare,
        "loss_bound": res.loss_bound,
        "lazar_semret_total_bids": n + n * n / 10.0,
    }


def run(ctx: ReproContext) -> ReproResult:
    """Run the experiment (quick: 4 populations × 2 repetitions) and write tables and figures."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pops = QUICK_POPULATIONS if ctx.quick else FULL_POPULATIONS
    reps = 2 if ctx.quick else 10
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    raw = experiment(pops, reps, ctx.seed, ctx.workers)
    agg = (
        raw.groupby("players")
        .agg(
            total_bids=("total_bids", "mean"),
            bids_per_player=("bids_per_player", "mean"),
            rounds=("rounds", "mean"),
            efficiency=("efficiency", "mean"),
            min_efficiency=("efficiency", "min"),
            loss=("loss", "mean"),
            loss_bound=("loss_bound", "mean"),
            converged=("converged", "all"),
            lazar_semret_total_bids=("lazar_semret_total_bids", "first"),
            sync_total_bids=("sync_total_bids", "mean"),
            sync_bids_per_player=("sync_bids_per_player", "mean"),
            sync_efficiency=("sync_efficiency", "mean"),
            sync_converged=("sync_converged", "all"),
        )
        .reset_index()
    )
    raw_path = ctx.out_dir / "lazar_semret_runs.csv"
    agg_path = ctx.out_dir / "lazar_semret_summary.csv"
    raw.to_csv(raw_path, index=False)
    agg.to_csv(agg_path, index=False)

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    axes[0].plot(agg.players, agg.bids_per_player, "o-", label="asynchronous")
    axes[0].plot(agg.players, agg.sync_bids_per_player, "s-", label="synchronous")
    axes[0].axhline(11.9, ls="--", color="gray", label="≈ 11.9 (Lazar–Semret)")
    axes[0].set(xlabel="players I", ylabel="bids per player", title="bids per player")
    axes[0].legend()
    axes[1].plot(agg.players, agg.total_bids, "o-", label="asynchronous")
    axes[1].plot(agg.players, agg.sync_total_bids, "s-", label="synchronous")
    axes[1].plot(agg.players, agg.lazar_semret_total_bids, "--", label="I + I²/10 (Lazar–Semret)")
    axes[1].set(xlabel="players I", ylabel="total bids", title="total bids")
    axes[1].legend()
    axes[2].plot(agg.players, agg.efficiency, "o-", label="asynchronous (mean)")
    axes[2].plot(agg.players, agg.min_efficiency, "x:", label="asynchronous (min)")
    axes[2].plot(agg.players, agg.sync_efficiency, "s-", label="synchronous (mean)")
    axes[2].set(xlabel="players I", ylabel="W / W*", title="efficiency")
    axes[2].legend()
    fig.tight_layout()
    png = ctx.out_dir / "lazar_semret.png"
    fig.savefig(png, dpi=120)
    fig.savefig(png.with_suffix(".svg"))
    plt.close(fig)

    mean_bpp = float(raw.bids_per_player.mean())
    sync_bpp = float(raw.sync_bids_per_player.mean())
    summary = (
        f"Populations {pops[0]}–{pops[-1]}, {reps} repetitions each. Mean bids per player over all "
        f"runs: {mean_bpp:.2f} with asynchronous moves (issue item 3), {sync_bpp:.2f} with "
        "synchronous moves (every player replies to the same snapshot; Lazar–Semret report about "
        f"11.9). Asynchronous: mean efficiency "
        f"{float(raw.efficiency.mean()):.4f} (min {float(raw.efficiency.min()):.4f}); the welfare "
        f"loss stayed within the bound 4Q√(εκ) in {int((raw.loss <= raw.loss_bound).sum())} of "
        f"{len(raw)} runs; all runs converged: {bool(raw.converged.all())} (synchronous: "
        f"{bool(raw.sync_converged.all())}, mean efficiency "
        f"{float(raw.sync_efficiency.mean()):.4f})."
        " Total bids grow about linearly in both orders, not like I + I²/10: with ε = 5 most "
        "buyers of a large population gain less than ε from re-bidding once the price is near the "
        "top marginal values; see docs/psp.md."
    )
    return ReproResult(
        name="lazar-semret",
        title=REPRODUCTION.title,
        tables={"runs": raw_path, "summary by population": agg_path},
        figures={"bids per player, total bids and efficiency vs population": png},
        summary=summary,
        parameters={**PARAMS, "populations": list(pops), "repetitions": reps, "seed": ctx.seed},
    )


REPRODUCTION = Reproduction(
    name="lazar-semret",
    title="Lazar–Semret PSP experiment: bids and efficiency of ε-best-reply dynamics vs population",
    run=run,
)
