"""Figures of the reproductions: built with :class:`matplotlib.figure.Figure` directly (no
``pyplot`` state, no ``matplotlib.use``), written as PNG and SVG with the plotted data as CSV beside
them (same stem), and one colour per series name across every reproduction.

Rendering a figure costs about as much as a few of a reproduction's runs. Inside a
:func:`~specmarket.experiments.runner.task_pool` block with workers (``specmarket reproduce -j N``)
:func:`save` therefore hands the pickled figure to the workers and returns at once — the PNG to
one, the SVG to another, since each format draws the whole figure again and the last figure of a
reproduction would otherwise keep one worker busy while the other waits; the block waits for the
files before the report embeds them. With one worker, or outside such a block, it
writes them itself. The files are the same either way.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Any

# at import, not in new_figure: a reproduction imports this module before its task pool forks,
# so that the workers, which unpickle and render the figures, inherit matplotlib
from matplotlib.figure import Figure

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

#: One colour per series, shared by every figure of the report (matplotlib's tab10 values).
COLORS: dict[str, str] = {
    "ADAPTIVE": "#1f77b4",
    "Vickrey": "#d62728",
    "asynchronous": "#1f77b4",
    "synchronous": "#ff7f0e",
    "published": "#000000",
    "District-D (budget-balanced)": "#1f77b4",
    "District-D (profit-driven)": "#17becf",
    "TRUST": "#2ca02c",
    "McAfee": "#9467bd",
    "upper bound": "#7f7f7f",
    "welfare": "#1f77b4",
    "discounted welfare": "#2ca02c",
    "revenue": "#d62728",
}


def color(name: str) -> str:
    """The colour of series ``name`` (grey for a name without one)."""
    return COLORS.get(name, "#7f7f7f")


def new_figure(
    ncols: int = 1, nrows: int = 1, panel: tuple[float, float] = (4.6, 3.4)
) -> tuple[Figure, list[Axes]]:
    """A figure of ``nrows × ncols`` panels of size ``panel`` (inches), axes in reading order."""
    fig = Figure(figsize=(panel[0] * ncols, panel[1] * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, [ax for row in axes for ax in row]


def save(fig: Figure, stem: Path, data: pd.DataFrame | None = None, **csv: Any) -> Path:
    """Write ``stem.png`` (120 dpi), ``stem.svg`` and, if given, the plotted ``data`` as
    ``stem.csv``; return the PNG path."""
    from specmarket.experiments.runner import current_task_pool

    stem = Path(stem)
    if data is not None:
        data.to_csv(stem.with_suffix(".csv"), index=False, **csv)
    pool = current_task_pool()
    if pool is None:
        return _render(fig, stem)
    blob = pickle.dumps(fig)
    for fmt in FORMATS:
        pool.background(_render_pickled, blob, stem, fmt)
    return stem.with_suffix(".png")


#: The files of a figure: PNG at 120 dpi (the report embeds it) and SVG (for print).
FORMATS = ("png", "svg")


def _render(fig: Figure, stem: Path, formats: tuple[str, ...] = FORMATS) -> Path:
    """Write ``stem.png`` (120 dpi) and ``stem.svg`` (or the given ``formats`` of them); return
    the PNG path."""
    for fmt in formats:
        fig.savefig(stem.with_suffix(f".{fmt}"), dpi=120 if fmt == "png" else "figure")
    return stem.with_suffix(".png")


def _render_pickled(blob: bytes, stem: Path, fmt: str) -> Path:
    """Worker side of :func:`save`: one format of :func:`_render` of a pickled figure."""
    return _render(pickle.loads(blob), stem, (fmt,))
