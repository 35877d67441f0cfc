"""Reproduction of seed 004 §V (Figs. 2–7): ADAPTIVE vs the static Vickrey auction.

Parameters the paper leaves open (our choices, also in ``docs/adaptive.md``): types θ uniform on
{1, …, 10}; initial SNR uniform on {−30, …, 30} dB; step z = Binomial(2, ½) − 1; horizon T = 100
rounds (δ^T is negligible); B = 1; 500 runs per point (common random numbers for both mechanisms).
Metrics per run: social welfare Σ_t v_t, discounted welfare Σ_t δ^t v_t, revenue Σ_t p_t, and the
two averages under one normalisation, per SU and per round: average payment = revenue / (k T),
average utility = (welfare − revenue) / (k T). Fig. 7 uses 12 SUs; at δ = 1 the index is undefined
and eq. (7) gives p = (1 − δ) S₋ᵢ = 0, so that point is the analytic 0, not simulated.

Static baseline (§V): each round every SU draws a fresh SNR uniformly; the highest value wins and
pays the second-highest value.

Sensitivity study (:func:`sensitivity`): the gap ADAPTIVE − Vickrey at 12 SUs, δ = 0.7, on paired
markets, with one open reading varied at a time around the default :class:`Setting` (step size,
the static auction's experiences, initial SNR and type laws, horizon, clamped or reflecting ends,
experience read in dB or as a linear SNR; :data:`FACTORS`). Full: 1000 runs per setting, T = 100
(horizons 10, 30, 100, 300), ≈ 50 CPU-s; quick: 40 runs, T = 20 (horizons 10, 20, 40).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from specmarket.mechanisms.adaptive.bandit_value import ScaledArmFamily, TypeGrid
from specmarket.mechanisms.adaptive.gittins import one_blas_thread
from specmarket.mechanisms.adaptive.mechanism import capacity, market
from specmarket.reproductions import ReproContext, Reproduction, ReproResult

if TYPE_CHECKING:
    import pandas as pd

LOW, HIGH, STEP = -30, 30, 2
THETAS = np.arange(1, 11, dtype=float)
METRICS = ("welfare", "discounted_welfare", "avg_payment", "avg_utility", "revenue")


def simulate_adaptive(
    grid: TypeGrid,
    types: NDArray[np.int64],
    states: NDArray[np.int64],
    rounds: int,
    rng: np.random.Generator,
    step: int = STEP,
    edge: str = "clamp",
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Run ADAPTIVE for ``rounds`` rounds on ``R`` independent markets at once.

    ``types`` (indices into ``grid.theta_values``) and ``states`` (SNR positions) are ``(R, k)``.
    Returns the winners' values and payments, each ``(R, rounds)``. Payment: eq. (7) with S₋ᵢ from
    Whittle's formula (exact; the per-interval
    log-products are updated incrementally, only the winner's factor changes). The winner moves by
    ``z = Binomial(step, ½) − step/2`` (§V), the end states ``edge``-handled (:func:`move`); the
    grid's chain must be the same walk (:func:`chain`). Runs on one BLAS thread
    (:func:`~specmarket.mechanisms.adaptive.gittins.one_blas_thread`): the Whittle sums are
    matrix-vector products, too small for a second thread to pay.
    """
    with one_blas_thread():
        return _simulate_adaptive(grid, types, states, rounds, rng, step, edge)


def _simulate_adaptive(
    grid: TypeGrid,
    types: NDArray[np.int64],
    states: NDArray[np.int64],
    rounds: int,
    rng: np.random.Generator,
    step: int,
    edge: str,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The loop of :func:`simulate_adaptive` (same arguments)."""
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
        z = np.asarray(rng.binomial(step, 0.5, size=runs), dtype=np.int64) - step // 2
        xn = move(xw, z, n, edge)
        x[rows, w] = xn
        log_sum += grid.log_exits[tw, xn] - lw
        zeros += grid.zero_exits[tw, xn] - zw
    return values, pays


def move(
    x: NDArray[np.int64], z: NDArray[np.int64], n: int, edge: str = "clamp"
) -> NDArray[np.int64]:
    """``x + z`` on the states ``0 … n − 1``: ``"clamp"`` stops at the end state (our default
    reading of §V), ``"reflect"`` folds the overshoot back (``−1 → 1``, ``n → n − 2``)."""
    y = x + z
    if edge == "clamp":
        return np.asarray(np.clip(y, 0, n - 1), dtype=np.int64)
    if edge == "reflect":
        y = np.abs(y)
        return np.asarray(np.where(y > n - 1, 2 * (n - 1) - y, y), dtype=np.int64)
    raise ValueError(f"edge must be 'clamp' or 'reflect', not {edge!r}")


def chain(n: int, step: int, edge: str = "clamp") -> NDArray[np.float64]:
    """Transition matrix of :func:`move` with ``z = Binomial(step, ½) − step/2`` (seed 004 §V);
    with ``edge="clamp"`` it is :func:`~specmarket.mechanisms.adaptive.mechanism.snr_chain`."""
    from math import comb

    probs = np.array([comb(step, j) for j in range(step + 1)], dtype=float) / 2.0**step
    z = np.arange(step + 1) - step // 2
    p = np.zeros((n, n))
    for x in range(n):
        ys = move(np.full(z.size, x), z, n, edge)
        np.add.at(p[x], ys, probs)
    return p


def base_reward(value: str) -> NDArray[np.float64]:
    """The value of each of the 61 experience states at θ = 1: ``"dB"`` reads the state as SNR in
    dB, made linear inside the log (our reading, ``log2(1 + 10^(e/10))`` for e = −30…30);
    ``"linear"`` reads the state itself as a linear SNR ``e = 0…60`` (``log2(1 + e)``)."""
    if value == "dB":
        return capacity(np.arange(LOW, HIGH + 1, dtype=np.float64), 1.0)
    if value == "linear":
        return np.log2(1.0 + np.arange(HIGH - LOW + 1, dtype=np.float64))
    raise ValueError(f"value must be 'dB' or 'linear', not {value!r}")


@lru_cache(maxsize=32)
def family(step: int, edge: str, value: str, delta: float) -> ScaledArmFamily:
    """The arm family (Gittins indices, exit table) of one walk and value reading, cached."""
    n = HIGH - LOW + 1
    return ScaledArmFamily.build(chain(n, step, edge), base_reward(value), delta)


#: Initial SNR laws (positions 0…60 = −30…30 dB).
INITIAL_LAWS = ("uniform", "low half", "centred")
#: Type laws: the finite set θ is drawn from uniformly.
TYPE_LAWS: dict[str, NDArray[np.float64]] = {
    "uniform {1..10}": np.arange(1, 11, dtype=float),
    "equal (θ = 5)": np.array([5.0]),
    "uniform {1..30}": np.arange(1, 31, dtype=float),
}
#: Readings of the static auction's experiences after round 0.
STATIC_LAWS = ("fresh uniform", "fresh, initial law", "frozen", "myopic, evolving")


def draw_states(law: str, rng: np.random.Generator, shape: tuple[int, int]) -> NDArray[np.int64]:
    """Experience positions from an initial law: ``"uniform"`` on −30…30 dB (our default),
    ``"low half"`` uniform on −30…0 dB, ``"centred"`` Binomial(60, ½) − 30 dB (mean 0, SD ≈ 3.9)."""
    n = HIGH - LOW + 1
    if law == "uniform":
        return rng.integers(0, n, size=shape)
    if law == "low half":
        return rng.integers(0, n // 2 + 1, size=shape)
    if law == "centred":
        return rng.binomial(n - 1, 0.5, size=shape).astype(np.int64)
    raise ValueError(f"unknown initial law {law!r}")


def simulate_vickrey(
    theta: NDArray[np.float64],
    first_states: NDArray[np.int64],
    base_reward: NDArray[np.float64],
    rounds: int,
    rng: np.random.Generator,
    law: str = "fresh uniform",
    initial: str = "uniform",
    step: int = STEP,
    edge: str = "clamp",
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Static second-price auction: the highest current value wins and pays the second highest.
    Round 0 uses ``first_states``; afterwards the experiences follow ``law``: ``"fresh uniform"``
    (seed 004 §V: "at every time step, each SU gets a random experience"; uniform on the grid),
    ``"fresh, initial law"`` (redrawn from the ``initial`` law), ``"frozen"`` (kept, no
    evolution) or ``"myopic, evolving"`` (the winner's experience moves as in ADAPTIVE).
    Returns winners' values and payments, ``(R, rounds)``."""
    runs, k = theta.shape
    values = np.empty((runs, rounds))
    pays = np.zeros((runs, rounds))
    n = base_reward.size
    rows = np.arange(runs)
    x = first_states.copy()
    for t in range(rounds):
        if t > 0 and law == "fresh uniform":
            x = rng.integers(0, n, size=(runs, k))
        elif t > 0 and law == "fresh, initial law":
            x = draw_states(initial, rng, (runs, k))
        elif law not in STATIC_LAWS:
            raise ValueError(f"unknown static law {law!r}")
        v = theta * base_reward[x]
        part = np.sort(v, axis=1)
        values[:, t] = part[:, -1]
        if k > 1:
            pays[:, t] = part[:, -2]
        if law == "myopic, evolving":
            w = np.argmax(v, axis=1)
            z = np.asarray(rng.binomial(step, 0.5, size=runs), dtype=np.int64) - step // 2
            x[rows, w] = move(x[rows, w], z, n, edge)
    return values, pays


def _metrics(
    v: NDArray[np.float64], p: NDArray[np.float64], delta: float, k: int
) -> dict[str, NDArray[np.float64]]:
    """Per-run metrics. One normalisation for the averages (Figs. 4 and 6): per SU and per round,
    i.e. totals divided by ``k T``; so Fig. 4 is Fig. 5 divided by ``k T``."""
    rounds = v.shape[1]
    disc = delta ** np.arange(rounds)
    welfare = v.sum(axis=1)
    revenue = p.sum(axis=1)
    return {
        "welfare": welfare,
        "discounted_welfare": v @ disc,
        "avg_payment": revenue / (k * rounds),
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
        row: dict[str, Any] = {"mechanism": name, "k": k, "delta": delta, "source": "measured"}
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


# ---------------------------------------------------------------------------- sensitivity study


@dataclass(frozen=True)
class Setting:
    """One reading of what seed 004 §V leaves open (defaults: our reading of the paper)."""

    step: int = STEP
    static: str = "fresh uniform"
    initial: str = "uniform"
    types: str = "uniform {1..10}"
    rounds: int = 100
    edge: str = "clamp"
    value: str = "dB"


#: The factors varied one at a time around the default :class:`Setting`: attribute, axis label,
#: levels (the horizon's levels are those of the full study; quick mode scales them).
FACTORS: tuple[tuple[str, str, tuple[Any, ...]], ...] = (
    ("step", "step n, z = Bin(n, ½) − n/2", (2, 4, 10, 20)),
    ("static", "static auction's experiences", STATIC_LAWS),
    ("initial", "initial SNR law (static redraws from it)", INITIAL_LAWS),
    ("types", "type law", tuple(TYPE_LAWS)),
    ("rounds", "horizon T (rounds)", (10, 30, 100, 300)),
    ("edge", "end states of the walk", ("clamp", "reflect")),
    ("value", "experience in the value", ("dB", "linear")),
)
GAP_METRICS = ("welfare", "discounted_welfare", "revenue")
SENS_K, SENS_DELTA = 12, 0.7

SensTask = tuple[Setting, int, int]


def gap_of(setting: Setting, runs: int, seed: int) -> dict[str, Any]:
    """ADAPTIVE − Vickrey under ``setting`` on ``runs`` paired markets (12 SUs, δ = 0.7; the same
    types and initial experiences for both, and for every setting with the same type and initial
    laws). For each metric of :data:`GAP_METRICS`: both means, the mean paired difference and its
    standard error, both also in percent of the Vickrey mean."""
    s = setting
    thetas = TYPE_LAWS[s.types]
    rng = np.random.default_rng([seed, 18])
    types = rng.integers(0, thetas.size, size=(runs, SENS_K))
    states = draw_states(s.initial, rng, (runs, SENS_K))
    grid = family(s.step, s.edge, s.value, SENS_DELTA).grid(thetas)
    va, pa = simulate_adaptive(
        grid, types, states, s.rounds, np.random.default_rng([seed, 18, 1]), s.step, s.edge
    )
    static = (
        "fresh, initial law" if s.static == "fresh uniform" and s.initial != "uniform" else s.static
    )
    vv, pv = simulate_vickrey(
        thetas[types],
        states,
        grid.family.base_reward,
        s.rounds,
        np.random.default_rng([seed, 18, 2]),
        static,
        s.initial,
        s.step,
        s.edge,
    )
    ma = _metrics(va, pa, SENS_DELTA, SENS_K)
    mv = _metrics(vv, pv, SENS_DELTA, SENS_K)
    row: dict[str, Any] = {**asdict(s), "runs": runs}
    for m in GAP_METRICS:
        d = ma[m] - mv[m]
        base = float(mv[m].mean())
        se = float(d.std(ddof=1) / np.sqrt(runs)) if runs > 1 else 0.0
        row |= {
            f"{m}_adaptive": float(ma[m].mean()),
            f"{m}_vickrey": base,
            f"{m}_gap": float(d.mean()),
            f"{m}_gap_se": se,
            f"{m}_gap_pct": 100.0 * float(d.mean()) / base,
            f"{m}_gap_pct_se": 100.0 * se / base,
        }
    return row


def _sens_task(task: SensTask) -> dict[str, Any]:
    """:func:`gap_of` on one ``(setting, runs, seed)`` task (picklable)."""
    return gap_of(*task)


def _sens_cost(task: SensTask) -> float:
    s, runs, _ = task
    return runs * s.rounds * (SENS_K + TYPE_LAWS[s.types].size)


def sensitivity(
    runs: int, rounds: int, seed: int, workers: int = 1, horizons: tuple[int, ...] | None = None
) -> pd.DataFrame:
    """The one-factor-at-a-time study: one row per (factor, level), the default setting (with
    ``rounds`` rounds) repeated in every factor (computed once)."""
    return sensitivity_soon(runs, rounds, seed, workers, horizons)()


def sensitivity_soon(
    runs: int, rounds: int, seed: int, workers: int = 1, horizons: tuple[int, ...] | None = None
) -> Callable[[], pd.DataFrame]:
    """:func:`sensitivity` started now (its runs go to the workers of the enclosing task pool
    at once, see :func:`~specmarket.experiments.runner.map_tasks_soon`) and collected by the
    returned function: the reproduction draws Figs. 2–7 meanwhile."""
    from specmarket.experiments.runner import map_tasks_soon

    base = Setting(rounds=rounds)
    cells: list[tuple[str, Any, Setting]] = []
    for attr, _, levels in FACTORS:
        if attr == "rounds" and horizons is not None:
            levels = horizons
        cells += [(attr, lv, replace(base, **{attr: lv})) for lv in levels]
    unique = list(dict.fromkeys(s for _, _, s in cells))
    collect = map_tasks_soon(_sens_task, [(s, runs, seed) for s in unique], workers, _sens_cost)

    def table() -> pd.DataFrame:
        import pandas as pd

        by_setting = dict(zip(unique, collect(), strict=True))
        rows = []
        for attr, lv, s in cells:
            rows.append({"factor": attr, "level": str(lv), "default": s == base, **by_setting[s]})
        return pd.DataFrame(rows)

    return table


def _plot_sensitivity(df: pd.DataFrame, path: Path) -> Path:
    from specmarket.reproductions._figures import color, new_figure, save

    fig, axes = new_figure(4, 2, panel=(3.9, 3.1))
    labels = dict((a, lab) for a, lab, _ in FACTORS)
    names = {"welfare": "welfare", "discounted_welfare": "discounted welfare", "revenue": "revenue"}
    for ax, attr in zip(axes, labels, strict=False):
        sub = df[df["factor"] == attr].reset_index(drop=True)
        pos = np.arange(len(sub))
        for j, m in enumerate(GAP_METRICS):
            ax.errorbar(
                pos + (j - 1) * 0.15,
                sub[f"{m}_gap_pct"],
                yerr=2 * sub[f"{m}_gap_pct_se"],
                fmt="o",
                ms=4,
                capsize=2,
                color=color(names[m]),
                label=names[m],
            )
        ax.axhline(0.0, color="black", lw=0.8)
        ticks = [f"{lv}*" if d else lv for lv, d in zip(sub["level"], sub["default"], strict=True)]
        ax.set_xticks(pos, ticks, rotation=20, fontsize=7)
        ax.set_xlabel(labels[attr], fontsize=8)
        ax.set_ylabel("ADAPTIVE − Vickrey (% of Vickrey)", fontsize=7)
        ax.grid(alpha=0.3)
    axes[-1].axis("off")
    handles, lab = axes[0].get_legend_handles_labels()
    axes[-1].legend(handles, lab, loc="center", title="gap ± 2 SE in")
    axes[-1].text(
        0.5,
        0.08,
        "* our default reading; 12 SUs, δ = 0.7",
        ha="center",
        fontsize=8,
        transform=axes[-1].transAxes,
    )
    fig.suptitle("ADAPTIVE − Vickrey against what seed 004 §V leaves open")
    return save(fig, path, df)


def _plot(df: pd.DataFrame, x: str, y: str, title: str, unit: str, path: Path) -> Path:
    from specmarket.reproductions._figures import color, new_figure, save

    fig, (ax,) = new_figure(1, 1, panel=(5.0, 3.6))
    for name, marker in (("ADAPTIVE", "o"), ("Vickrey", "s")):
        sub = df[(df["mechanism"] == name) & (df["source"] == "measured")].sort_values(x)
        label = "dynamic (ADAPTIVE)" if name == "ADAPTIVE" else "static (Vickrey)"
        ax.errorbar(
            sub[x],
            sub[y],
            yerr=1.96 * sub[y + "_se"],
            marker=marker,
            ms=4,
            label=label,
            color=color(name),
            capsize=2,
        )
    exact = df[df["source"] == "analytic"]
    if len(exact):
        ax.plot(
            exact[x],
            exact[y],
            "*",
            ms=11,
            mfc="none",
            color=color("ADAPTIVE"),
            label="ADAPTIVE, δ = 1: 0 by eq. (7) (analytic)",
        )
    ax.set_xlabel("number of SUs k" if x == "k" else "discount factor δ")
    ax.set_ylabel(f"{y.replace('_', ' ')} ({unit})")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save(
        fig, path, df[[c for c in df.columns if c in (x, "mechanism", "source", y, y + "_se")]]
    )


def run(ctx: ReproContext) -> ReproResult:
    """Figs. 2–7 of seed 004 and the sensitivity study (quick mode: fewer runs, SU counts, δ
    values and rounds)."""
    t0 = time.perf_counter()
    out = Path(ctx.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if ctx.quick:
        ks, runs, rounds, deltas = [3, 12, 21], 20, 20, [0.0, 0.9]
        s_runs, s_rounds, horizons = QUICK_SENS
    else:
        ks, runs, rounds = list(range(3, 22)), 500, 100
        deltas = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99]
        s_runs, s_rounds, horizons = FULL_SENS
    from specmarket.experiments.runner import map_tasks_soon
    from specmarket.reproductions import _figures  # noqa: F401  (before the fork: see _figures)

    # every (SU count, δ) point is an independent task with its own seeds: the experiment
    # runner computes them in ctx.workers processes, with identical numbers
    tasks = [(k, 0.7, runs, rounds, ctx.seed) for k in ks]
    tasks += [(12, d, runs, rounds, ctx.seed) for d in deltas]
    collect = map_tasks_soon(_point_task, tasks, ctx.workers, cost=_point_cost)
    import pandas as pd  # while the workers run: they never need it

    done = collect()
    by_k = pd.DataFrame([r for res in done[: len(ks)] for r in res])
    rows: list[dict[str, Any]] = [r for res in done[len(ks) :] for r in res]
    # δ = 1 is not simulated: the index is undefined and eq. (7) gives p = (1 − δ) S₋ᵢ = 0
    rows.append(
        {
            "mechanism": "ADAPTIVE",
            "k": 12,
            "delta": 1.0,
            "source": "analytic",
            "revenue": 0.0,
            "revenue_se": 0.0,
        }
    )
    by_delta = pd.DataFrame(rows)
    # the sensitivity runs go to the workers now; this process draws Figs. 2–7 meanwhile
    sens_table = sensitivity_soon(s_runs, s_rounds, ctx.seed, ctx.workers, horizons)
    tables = {
        "Figs. 2–6: metrics vs number of SUs (δ = 0.7)": out / "adaptive_vs_k.csv",
        "Fig. 7: PO revenue vs δ (12 SUs)": out / "adaptive_vs_delta.csv",
        "sensitivity: ADAPTIVE − Vickrey per setting": out / "adaptive_sensitivity.csv",
    }
    by_k.to_csv(tables["Figs. 2–6: metrics vs number of SUs (δ = 0.7)"], index=False)
    by_delta.to_csv(tables["Fig. 7: PO revenue vs δ (12 SUs)"], index=False)
    figures = {}
    specs = [
        ("welfare", "Fig. 2: social welfare", "value units, sum over T rounds"),
        ("discounted_welfare", "Fig. 3: discounted social welfare", "value units, Σ δᵗ vₜ"),
        ("avg_payment", "Fig. 4: average payment", "per SU per round"),
        ("revenue", "Fig. 5: revenue of the PO", "sum over T rounds"),
        ("avg_utility", "Fig. 6: average utility", "per SU per round"),
    ]
    for num, (metric, title, unit) in enumerate(specs, start=2):
        figures[title] = _plot(by_k, "k", metric, title, unit, out / f"adaptive_fig{num}_{metric}")
    figures["Fig. 7: revenue vs δ"] = _plot(
        by_delta,
        "delta",
        "revenue",
        "Fig. 7: revenue of the PO (12 SUs)",
        "sum over T rounds",
        out / "adaptive_fig7",
    )
    sens = sens_table()
    sens.to_csv(tables["sensitivity: ADAPTIVE − Vickrey per setting"], index=False)
    figures["sensitivity: ADAPTIVE − Vickrey"] = _plot_sensitivity(
        sens, out / "adaptive_sensitivity"
    )
    summary = (
        "**Claim (seed 004 §V).** ADAPTIVE gives more welfare, discounted welfare, payments and "
        "revenue than the static second-price auction (Figs. 2–5), and its revenue rises with δ "
        "(Fig. 7).\n\n**We find.**\n\n"
        + _summary(by_k, by_delta)
        + "\n"
        + _sens_summary(sens)
        + "\n\n**Verdict.** Not reproduced: ADAPTIVE is level with or below Vickrey under our "
        "reading and under every open setting of the sensitivity study in all three metrics at "
        "once; it leads in welfare only when experiences start below the walk's stationary law, "
        "and then trails in revenue (docs/adaptive.md, 'Sensitivity')."
        + f"\n\nRun time {time.perf_counter() - t0:.1f} s."
    )
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
            "averages": "per SU per round (totals / (k T))",
            "sensitivity runs": s_runs,
            "sensitivity rounds": s_rounds,
            "seed": ctx.seed,
        },
    )


#: Sensitivity sizes: runs per setting, default horizon, horizon levels.
QUICK_SENS: tuple[int, int, tuple[int, ...]] = (40, 20, (10, 20, 40))
FULL_SENS: tuple[int, int, tuple[int, ...]] = (1000, 100, (10, 30, 100, 300))


def _sens_summary(sens: pd.DataFrame) -> str:
    """Which settings give the paper's ordering (all three gaps above 2 SE)."""
    ok = np.ones(len(sens), dtype=bool)
    for m in GAP_METRICS:
        ok &= (sens[f"{m}_gap"] > 2 * sens[f"{m}_gap_se"]).to_numpy()
    hits = sens[ok]
    cells = sorted({f"{f} = {lv}" for f, lv in zip(hits["factor"], hits["level"], strict=True)})
    base = sens[sens["default"]].iloc[0]
    gaps = ", ".join(
        f"{m.replace('_', ' ')} {base[m + '_gap_pct']:+.1f} ± {base[m + '_gap_pct_se']:.1f} %"
        for m in GAP_METRICS
    )
    return (
        f"- sensitivity (12 SUs, δ = 0.7, {int(base['runs'])} paired runs per setting): default "
        f"reading {gaps}; settings with ADAPTIVE above Vickrey in welfare, discounted welfare and "
        f"revenue (each > 2 SE): {', '.join(cells) if cells else 'none'}."
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
