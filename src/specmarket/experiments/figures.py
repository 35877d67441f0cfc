"""Figures of a sweep: each metric against a sweep axis, one line per mechanism, 95% CI bands.

With several axes, the other axes become panels (one subplot per combination of their values, up
to :data:`MAX_PANELS`; beyond that they are pooled). Written as PNG and SVG with the Agg backend.
"""

from __future__ import annotations

import itertools
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import ScalarFormatter

from specmarket.experiments.results import Results, summarize

MAX_PANELS = 12
_STYLES = ["o-", "s--", "^-.", "D:", "v-", "P--", "X-.", "*:"]


def _log_axis(x: np.ndarray) -> bool:
    x = x[np.isfinite(x)]
    return x.size >= 3 and bool(np.all(x > 0)) and x.max() / x.min() >= 16


def metric_figure(res: Results, metric: str, axis: str) -> Figure:
    """``metric`` against the sweep axis ``axis``: one line per mechanism, 95% CI bands.

    The other axes of the scenario become panels (at most :data:`MAX_PANELS`, else pooled).
    Returns the figure; nothing is written (see :func:`plot_metric`).
    """
    sc = res.scenario
    others = [a for a in sc.axes if a != axis]
    combos: list[tuple[Any, ...]] = [()]
    if others:
        combos = list(itertools.product(*(sc.sweep[a] for a in others)))
        if len(combos) > MAX_PANELS:
            others, combos = [], [()]
    summary = summarize(res, metrics=[metric], by=[axis, *others])
    n = len(combos)
    ncols = min(3, n)
    nrows = int(np.ceil(n / ncols))
    fig = Figure(figsize=(5.2 * ncols, 3.6 * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True)
    for k, combo in enumerate(combos):
        ax = axes[k // ncols][k % ncols]
        part = summary
        for name, val in zip(others, combo, strict=True):
            part = part[part[name] == val]
        for j, mech in enumerate(sc.mechanisms):
            rows = part[part["mechanism"] == mech].sort_values(axis)
            if rows.empty:
                continue
            x = rows[axis].to_numpy(dtype=float)
            line = ax.plot(x, rows["mean"], _STYLES[j % len(_STYLES)], label=mech, markersize=4)[0]
            ax.fill_between(
                x,
                rows["ci_low"].to_numpy(dtype=float),
                rows["ci_high"].to_numpy(dtype=float),
                color=line.get_color(),
                alpha=0.2,
                linewidth=0,
            )
        xs = np.asarray(sc.sweep[axis], dtype=float)
        if _log_axis(xs):
            ax.set_xscale("log", base=2)
            ax.set_xticks(sorted(set(xs.tolist())))
            ax.get_xaxis().set_major_formatter(ScalarFormatter())
        elif len(set(xs.tolist())) <= 10:
            ax.set_xticks(sorted(set(xs.tolist())))
        ax.set_xlabel(textwrap.fill(sc.label(axis), 50))
        if k % ncols == 0:
            ax.set_ylabel(textwrap.fill(sc.label(metric), 34))
        if others:
            ax.set_title(
                ", ".join(f"{a} = {v}" for a, v in zip(others, combo, strict=True)), fontsize=9
            )
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    for k in range(n, nrows * ncols):
        axes[k // ncols][k % ncols].set_visible(False)
    fig.suptitle(
        textwrap.fill(
            f"{sc.name}: {metric}, mean and 95% CI ({sc.repetitions} runs per point)",
            int(60 * ncols),
        ),
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def plot_metric(
    res: Results, metric: str, axis: str, out_dir: str | Path, stem: str | None = None
) -> tuple[Path, Path]:
    """Write :func:`metric_figure` as PNG and SVG.

    Returns the PNG and SVG paths (``DIR/METRIC_vs_AXIS.png`` unless ``stem`` is given).
    """
    fig = metric_figure(res, metric, axis)
    return _save(fig, out_dir, stem or f"{metric}_vs_{axis}")


def _save(fig: Figure, out_dir: str | Path, stem: str) -> tuple[Path, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    png, svg = out / f"{stem}.png", out / f"{stem}.svg"
    fig.savefig(png, dpi=120)
    fig.savefig(svg)
    return png, svg


def plot_all(
    res: Results, out_dir: str | Path, metrics: list[str] | None = None
) -> dict[str, Path]:
    """Every metric against every sweep axis; returns caption → PNG path.

    A scenario without axes gets one bar chart per metric (mean and 95% CI per mechanism).
    """
    sc = res.scenario
    metrics = metrics or [m for m in sc.metric_names if m in res.table.columns]
    figs: dict[str, Path] = {}
    for metric in metrics:
        if sc.axes:
            for axis in sc.axes:
                png, _ = plot_metric(res, metric, axis, out_dir)
                figs[f"{sc.label(metric)} vs {sc.label(axis)}"] = png
        else:
            figs[sc.label(metric)] = _bar(res, metric, out_dir)
    return figs


def _bar(res: Results, metric: str, out_dir: str | Path) -> Path:
    png, _ = _save(bar_figure(res, metric), out_dir, metric)
    return png


def bar_figure(res: Results, metric: str) -> Figure:
    """Bar chart of ``metric`` for a scenario without axes: mean and 95% CI per mechanism."""
    sc = res.scenario
    s = summarize(res, metrics=[metric], by=[])
    fig = Figure(figsize=(5, 3.6))
    ax = fig.subplots()
    mean = s["mean"].to_numpy(dtype=float)
    err = np.vstack(
        [mean - s["ci_low"].to_numpy(dtype=float), s["ci_high"].to_numpy(dtype=float) - mean]
    )
    ax.bar(s["mechanism"], mean, yerr=np.nan_to_num(err), capsize=4, color="#4c72b0")
    ax.set_ylabel(textwrap.fill(sc.label(metric), 34))
    ax.set_title(f"{sc.name}: {metric}, mean and 95% CI", fontsize=10)
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def summary_wide(res: Results, metric: str) -> pd.DataFrame:
    """One metric's summary as a wide table: rows = sweep points, columns = mechanism mean [CI]."""
    s = summarize(res, metrics=[metric])
    axes = res.scenario.axes
    s = s.assign(
        value=[
            _fmt(m, lo, hi) for m, lo, hi in zip(s["mean"], s["ci_low"], s["ci_high"], strict=True)
        ]
    )
    if not axes:
        return s.set_index("mechanism")[["value", "n"]].T
    wide = s.pivot_table(
        index=axes, columns="mechanism", values="value", aggfunc="first", sort=False
    )
    return wide[[m for m in res.scenario.mechanisms if m in wide.columns]]


def _fmt(mean: float, lo: float, hi: float) -> str:
    if not np.isfinite(lo):
        return f"{mean:.4g}"
    return f"{mean:.4g} [{lo:.4g}, {hi:.4g}]"
