"""specmarket.plots and experiments.figures: Figures with the expected artists, numbers from the
examples, and no change of the process's matplotlib backend."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from specmarket import plots
from specmarket.errors import InvalidInput
from specmarket.mechanisms import get

ROOT = Path(__file__).resolve().parents[1]


def _instance(name: str) -> object:
    return get(name).parse(json.loads((ROOT / "examples" / f"{name}.json").read_text()))


def _labels(fig: Figure) -> list[str]:
    ax = fig.axes[0]
    return [a.get_label() for a in [*ax.get_lines(), *ax.collections]]


@pytest.mark.slow  # a fresh interpreter importing the experiments stack: seconds when loaded
def test_importing_plots_and_figures_keeps_the_backend() -> None:
    # a fresh interpreter with a backend chosen by the user; pyplot must not be pulled in either
    code = (
        "import matplotlib, sys\n"
        "matplotlib.use('svg')\n"
        "import specmarket.plots, specmarket.experiments.figures\n"
        "from specmarket.mechanisms import get\n"
        "import json\n"
        "s = get('mcafee')\n"
        "i = s.parse(json.load(open('examples/mcafee.json')))\n"
        "specmarket.plots.supply_demand(i)\n"
        "print(matplotlib.get_backend(), 'matplotlib.pyplot' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("MPLBACKEND", None)
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["svg", "False"]


def test_supply_demand_mcafee_example() -> None:
    # bids 9, 7, 6 / asks 2, 4, 5: the curves cross at 3 units with clearing prices [5, 6];
    # McAfee sacrifices the 3rd pair: 2 trades, buyers pay 6, sellers receive 5
    fig = plots.supply_demand(_instance("mcafee"))
    assert isinstance(fig, Figure)
    labels = _labels(fig)
    assert "demand (bids)" in labels and "supply (asks)" in labels
    assert "efficient: 3 units, prices [5, 6]" in labels
    assert "mcafee: 2 channels sold" in labels
    ax = fig.axes[0]
    pay = next(ln for ln in ax.get_lines() if ln.get_label() == "buyers pay (per unit)")
    rec = next(ln for ln in ax.get_lines() if ln.get_label() == "sellers receive")
    assert list(pay.get_ydata()) == [6.0, 6.0]
    assert list(rec.get_ydata()) == [5.0, 5.0]
    demand = next(ln for ln in ax.get_lines() if ln.get_label() == "demand (bids)")
    assert list(demand.get_ydata()) == [9.0, 7.0, 6.0, 6.0]


def test_supply_demand_trust_uses_group_bids() -> None:
    # groups {b1, b3, b4} (σ = 3·6 = 18) and {b2, b5} (σ = 2·4 = 8); asks 2, 3, 6
    fig = plots.supply_demand(_instance("trust"))
    ax = fig.axes[0]
    demand = next(ln for ln in ax.get_lines() if ln.get_label().startswith("demand"))
    assert list(demand.get_ydata()) == [18.0, 8.0, 8.0]
    assert "efficient: 2 units, prices [3, 8]" in _labels(fig)
    assert "trust: 1 channel sold" in _labels(fig)
    pay = next(ln for ln in ax.get_lines() if ln.get_label() == "buyers pay (per unit)")
    assert pay.get_ydata()[0] == pytest.approx(8.0)  # the group pays σ_(k) = 8 for its channel


def test_supply_demand_district_and_errors() -> None:
    inst = _instance("district")
    fig = plots.supply_demand(inst)
    assert "district: 3 channels sold" in _labels(fig)
    with pytest.raises(InvalidInput):
        plots.supply_demand(inst, mechanism="mcafee")
    with pytest.raises(InvalidInput):
        plots.supply_demand(_instance("vickrey"))


@pytest.mark.parametrize(
    ("bidder", "z", "p", "cost"),
    [
        # example psp.json: Q = 100, reserve 1, bids 60@4, 30@3, 40@2, 20@0.5
        ("1", [0, 30, 70, 100], [1, 2, 3], 90.0),
        ("2", [0, 40, 100], [2, 4], 60.0),
        ("3", [0, 10, 40, 100], [1, 3, 4], 10.0),
        ("4", [0, 10, 40, 100], [2, 3, 4], 0.0),
    ],
)
def test_psp_price_function_matches_the_costs(
    bidder: str, z: list[float], p: list[float], cost: float
) -> None:
    inst = _instance("psp")
    others = [b for b in inst.bids if b.id != bidder]  # type: ignore[attr-defined]
    zs, ps = plots.market_price_function(
        [b.quantity for b in others], [b.price for b in others], 100.0, 1.0
    )
    assert zs.tolist() == z and ps.tolist() == p
    # the PSP cost (eq. (4)) is the area under the market price function up to the allocation
    out = get("psp").clear(inst)
    a = out.allocation[bidder]
    assert plots.price_function_integral(zs, ps, a) == pytest.approx(out.payments[bidder])
    assert out.payments[bidder] == pytest.approx(cost)
    fig = plots.psp_price_function(inst, bidder)
    labels = _labels(fig)
    assert f"P_{bidder}(z): market price function" in labels
    assert f"allocation a = {a:.4g}" in labels
    if a > 0:
        assert f"cost ∫₀^a P = {cost:.4g} (paid {cost:.4g})" in labels


def test_market_price_function_without_others_and_bad_input() -> None:
    z, p = plots.market_price_function([], [], 10.0, 2.0)
    assert z.tolist() == [0.0, 10.0] and p.tolist() == [2.0]
    with pytest.raises(InvalidInput, match="prices"):
        plots.market_price_function([1.0], [np.nan], 10.0)
    with pytest.raises(InvalidInput, match="supply"):
        plots.market_price_function([1.0], [1.0], 0.0)
    with pytest.raises(InvalidInput, match="bidder"):
        plots.psp_price_function(_instance("psp"), "nobody")


@pytest.mark.parametrize("name", ["district", "trust"])
def test_district_graph_nodes_edges_and_colours(name: str) -> None:
    inst = _instance(name)
    out = get(name).clear(inst)
    fig = plots.district_graph(inst, out)
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    for b in inst.buyers:  # type: ignore[attr-defined]
        assert any(t.startswith(b.id + "\n") for t in texts)
    # one edge per conflict
    from matplotlib.collections import LineCollection, PathCollection

    edges = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert sum(len(c.get_segments()) for c in edges) == len(inst.conflicts)  # type: ignore[attr-defined]
    nodes = next(c for c in ax.collections if isinstance(c, PathCollection))
    assert len(nodes.get_offsets()) == len(inst.buyers)  # type: ignore[attr-defined]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[-1] == "not served"
    # buyers sharing a colour share a channel, so they never conflict
    colours = {b.id: tuple(c) for b, c in zip(inst.buyers, nodes.get_facecolor(), strict=True)}  # type: ignore[attr-defined]
    for u, v in inst.conflicts:  # type: ignore[attr-defined]
        if out.allocation[u] and out.allocation[v]:
            assert colours[u] != colours[v] or not set(out.allocation[u]) & set(out.allocation[v])


def test_sweep_figures_are_figures(tmp_path: Path) -> None:
    from specmarket.experiments import load_results, load_scenario, run_scenario
    from specmarket.experiments.figures import bar_figure, metric_figure

    sc = load_scenario(
        {
            "name": "tiny",
            "mechanisms": ["mcafee", "vcg"],
            "generator": "double-auction",
            "repetitions": 3,
            "seed": 1,
            "sweep": {"buyers": [2, 4]},
            "metrics": ["efficiency"],
        }
    )
    run_scenario(sc, tmp_path / "r")
    res = load_results(tmp_path / "r")
    fig = metric_figure(res, "efficiency", "buyers")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert [ln.get_label() for ln in ax.get_lines()] == ["mcafee", "vcg"]
    assert ax.get_xlabel()
    flat = load_scenario(
        {
            "name": "flat",
            "mechanisms": ["vickrey", "vcg"],
            "generator": "single-item",
            "repetitions": 3,
        }
    )
    run_scenario(flat, tmp_path / "f")
    bar = bar_figure(load_results(tmp_path / "f"), "revenue")
    assert isinstance(bar, Figure) and len(bar.axes[0].patches) == 2


def test_market_price_figure_of_a_data_market_local_auction() -> None:
    # seed 002's worked example converges with seller 2 (85 units, reserve 1.01) holding
    # A 25 @ 1.01, C 26 @ 1.5, D 20 @ 2.0, E 14 @ 2.2. Buyer C faces D(y) = 85 - 34 = 51 from
    # y = 1.01 up, so P_C = 1.01 on (0, 51]: its 26 units cost 26 * 1.01 = 26.26
    z, p = plots.market_price_function([25, 20, 14], [1.01, 2.0, 2.2], 85.0, 1.01)
    assert z.tolist() == [0.0, 51.0, 71.0, 85.0] and p.tolist() == [1.01, 2.0, 2.2]
    assert plots.price_function_integral(z, p, 26.0) == pytest.approx(26.26)
    fig = plots.market_price_figure(
        [25, 20, 14], [1.01, 2.0, 2.2], 85.0, 1.01, bidder="C", bid=(26, 1.5), allocation=26.0
    )
    labels = _labels(fig)
    assert "cost ∫₀^a P = 26.26" in labels and "bid (26, 1.5)" in labels and "reserve" in labels
