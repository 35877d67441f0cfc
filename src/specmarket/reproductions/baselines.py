"""Reproduction ``baselines``: McAfee's double auction vs VCG, efficiency and budget vs market size.

The classic comparison behind McAfee (1992) — the baseline seed 003 (District-D) compares against:
McAfee's trade reduction sacrifices at most one efficient trade, so its efficiency
``1 − O(1/k)`` approaches 1 as the number ``k`` of efficient trades grows, while it stays weakly
budget balanced; the efficient VCG double auction runs a deficit. The scenario is the bundled
``baselines.toml`` (package data), run by :func:`specmarket.experiments.run_scenario`; how ``vcg``
clears a double auction is explained in :mod:`specmarket.experiments.generators`.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from typing import TYPE_CHECKING

from specmarket.reproductions import ReproContext, Reproduction, ReproResult

if TYPE_CHECKING:  # the experiments stack (pandas, matplotlib) is imported when a run starts
    from specmarket.experiments.results import Results
    from specmarket.experiments.scenario import Scenario

SCENARIO_FILE = "baselines.toml"


def scenario(quick: bool = False, seed: int | None = None) -> Scenario:
    """The bundled scenario (``quick``: the small version; ``seed`` replaces the master seed)."""
    from specmarket.experiments.scenario import load_scenario

    text = resources.files("specmarket.reproductions").joinpath(SCENARIO_FILE).read_text("utf-8")
    data = tomllib.loads(text)
    if seed is not None:
        data["seed"] = seed
    return load_scenario(data, quick=quick)


def _findings(res: Results) -> str:
    from specmarket.experiments.results import summarize

    s = summarize(res, metrics=["efficiency", "revenue"])
    sizes = res.scenario.sweep["buyers"]
    lo, hi = sizes[0], sizes[-1]

    def at(mech: str, metric: str, n: int) -> float:
        row = s[(s.mechanism == mech) & (s.metric == metric) & (s.buyers == n)]
        return float(row["mean"].iloc[0])

    mc_lo, mc_hi = at("mcafee", "efficiency", lo), at("mcafee", "efficiency", hi)
    rev = s[(s.metric == "revenue")]
    mc_rev_min = float(rev[rev.mechanism == "mcafee"]["mean"].min())
    vcg_rev_max = float(rev[rev.mechanism == "vcg"]["mean"].max())
    vcg_eff = s[(s.metric == "efficiency") & (s.mechanism == "vcg")]["mean"]
    trend = "rises" if mc_hi > mc_lo else "does not rise"
    verdict = (
        "matches"
        if mc_hi > mc_lo
        and mc_rev_min >= 0
        and vcg_rev_max < 0
        and bool((vcg_eff > 1 - 1e-9).all())
        else "does NOT match"
    )
    return (
        f"McAfee's mean efficiency {trend} from {mc_lo:.3f} ({lo} buyers and sellers) to "
        f"{mc_hi:.3f} ({hi}); VCG's is {float(vcg_eff.min()):.3f} at every size (efficient). "
        f"McAfee's mean auctioneer surplus is ≥ {mc_rev_min:.3f} (never a deficit), VCG's at most "
        f"{vcg_rev_max:.3f} (a deficit). This {verdict} the textbook picture (McAfee 1992).\n\n"
        f"- {res.scenario.repetitions} random markets per size, values and costs uniform on "
        f"[0, 1], "
        f"master seed {res.scenario.seed}; bands and brackets are 95% confidence intervals.\n"
        f"- VCG is the k-unit `vcg` mechanism with sellers bidding their asks for their own units; "
        f"its seller payments follow the Clarke pivot rule (docs/experiments.md)."
    )


def run(ctx: ReproContext) -> ReproResult:
    """Run the bundled scenario into ``ctx.out_dir``: results table, summary CSV, figures."""
    from specmarket.experiments.figures import plot_all
    from specmarket.experiments.results import Results, summarize
    from specmarket.experiments.runner import run_scenario

    sc = scenario(quick=ctx.quick, seed=ctx.seed)
    out = ctx.out_dir
    sweep = run_scenario(sc, out / "results", workers=ctx.workers, csv=True)
    res = Results(sweep.table, sc, out / "results")
    summary = summarize(res)
    summary_csv = out / "summary.csv"
    out.mkdir(parents=True, exist_ok=True)
    summary.to_csv(summary_csv, index=False)
    figs = plot_all(res, out / "figures", metrics=["efficiency", "revenue", "trades"])
    eff = summary[summary.metric == "efficiency"].pivot(
        index="buyers", columns="mechanism", values="mean"
    )
    eff_csv = out / "efficiency.csv"
    eff.reset_index().to_csv(eff_csv, index=False)
    return ReproResult(
        name="baselines",
        title=sc.title,
        tables={
            "mean efficiency per market size": eff_csv,
            "summary: mean and 95% CI of every metric": summary_csv,
        },
        figures=figs,
        summary=_findings(res),
        parameters={
            "quick": ctx.quick,
            "seed": sc.seed,
            "repetitions": sc.repetitions,
            "buyers = sellers": sc.sweep["buyers"],
            "generator": sc.generator,
            "results": str(sweep.files["parquet"]),
        },
    )


REPRODUCTION = Reproduction(
    name="baselines", title="McAfee vs VCG double auction vs market size", run=run
)
