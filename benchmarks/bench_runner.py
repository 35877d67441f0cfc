"""Benchmark of the experiment runner: overhead per run and the speed-up of two workers.

1. **Overhead per run** (goal < 5 ms): a sweep of trivial runs (Vickrey, 2 bidders) through
   :func:`specmarket.experiments.run_scenario` — seeds, batching, atomic storage of every batch,
   the final Parquet table — against the same runs computed by a bare loop in the same process
   (the reference), interleaved. The difference of the medians over the number of runs is the
   runner's overhead.
2. **Parallel speed-up** (goal ≥ 1.8× with 2 workers on two free cores): a CPU-bound sweep (VCG
   double auctions of 200 buyers and 200 sellers; Clarke payments cost O(n² log n)) with 1 and
   with 2 worker processes, interleaved, checked identical; beside it the machine's own
   2-process speed-up at that moment (a pure-Python CPU burn in 2 processes, no runner), the upper
   bound of any runner's gain while other jobs share the cores.

Run: ``python benchmarks/bench_runner.py [--quick] [--repeats N]``.
"""

from __future__ import annotations

import multiprocessing as mp
import tempfile
import time
from pathlib import Path

import numpy as np

from _harness import goal, machine_note, measure, parser, print_samples
from specmarket.experiments import Scenario, load_scenario, run_scenario, run_seed
from specmarket.mechanisms import get


def bare_loop(sc: Scenario, runs: int) -> None:
    """The runs' own work without the runner: draw, parse, clear, metrics."""
    for r in range(runs):
        point, rep = divmod(r, sc.repetitions)
        params = sc.point_params[point]
        rng = np.random.default_rng(run_seed(sc.seed, point, rep))
        market = sc.gen.draw(params, rng)
        for m in sc.mechanisms:
            sc.gen.run(get(m), params, market, rng)


def overhead(runs: int, repeats: int, tmp: Path) -> None:
    sc = load_scenario(
        {
            "name": "overhead",
            "mechanisms": ["vickrey"],
            "generator": "single-item",
            "params": {"bidders": 2},
            "repetitions": runs,
        }
    )
    s = measure(
        {
            "runner (run_scenario)": lambda: run_scenario(sc, tmp / "overhead", fresh=True),
            "bare loop (reference)": lambda: bare_loop(sc, runs),
        },
        repeats,
    )
    print_samples(f"runner overhead: {runs} trivial runs", list(s.values()))
    runner, bare = s["runner (run_scenario)"], s["bare loop (reference)"]
    per = (runner.median("wall") - bare.median("wall")) / runs
    goal(
        f"runner overhead per run ({runs} trivial runs)",
        "< 5 ms",
        per,
        0.005,
        "wall",
        ratio=runner.median("wall") / bare.median("wall"),
        versus="bare loop (slower)",
    )


def _burn(n: int) -> int:
    x = 0
    for i in range(n):
        x += i * i
    return x


def machine_speedup(n: int = 3_000_000) -> float:
    """What 2 processes gain over 1 on this machine right now (pure-Python CPU burn)."""
    t0 = time.perf_counter()
    _burn(n)
    _burn(n)
    serial = time.perf_counter() - t0
    with mp.get_context("fork").Pool(2) as pool:
        t0 = time.perf_counter()
        pool.map(_burn, [n, n])
        parallel = time.perf_counter() - t0
    return serial / parallel


def speedup(reps: int, size: int, repeats: int, tmp: Path) -> None:
    sc = load_scenario(
        {
            "name": "cpu",
            "mechanisms": ["vcg"],
            "generator": "double-auction",
            "params": {"buyers": size},
            "repetitions": reps,
        }
    )
    bounds: list[float] = []
    s = measure(
        {
            f"{w} worker{'s' if w > 1 else ''}": (
                lambda w=w: run_scenario(sc, tmp / f"cpu{w}", workers=w, fresh=True).table
            )
            for w in (1, 2)
        }
        | {"machine burn, 2 processes": lambda: bounds.append(machine_speedup())},
        repeats,
        warmup=False,
    )
    one, two = s["1 worker"], s["2 workers"]
    s.pop("machine burn, 2 processes")
    print_samples(f"parallel sweep: {reps} VCG double auctions of {size}+{size}", [one, two])
    same = one.result.equals(two.result)
    bound = float(np.median(bounds))
    ratio = one.median("wall") / two.median("wall")
    print(
        f"  identical tables: {same}; CPU 2 workers / 1 worker "
        f"{two.median('cpu') / one.median('cpu'):.2f}; this machine's own 2-process speed-up "
        f"right now (CPU burn, no runner): {bound:.2f}×"
    )
    goal(
        f"runner speed-up, 2 workers ({reps} VCG {size}+{size})",
        "≥ 1.8× (two free cores)",
        ratio,
        1.8,
        "wall",
        higher_is_better=True,
        median_text=f"{ratio:.2f}× (machine bound {bound:.2f}×)",
    )


def main() -> None:
    ap = parser(__doc__)
    args = ap.parse_args()
    repeats = args.repeats or 5
    print(machine_note())
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        overhead(500 if args.quick else 5000, repeats, tmp)
        speedup(24 if args.quick else 80, 120 if args.quick else 200, repeats, tmp)


if __name__ == "__main__":
    main()
