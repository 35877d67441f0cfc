"""Benchmark District-D: winner determination plus every winner's critical price.

Goals: ``clear`` (winners and all prices) of a market with M = N = 1000, unit-demand buyers, in at
most 10 CPU-seconds; with multi-demand buyers (r_n uniform on {1, 2, 3}) in at most 20 CPU-s.
Markets: bids and asks uniform on [0, 10] with U[0, 10] priors, buyers at uniform random points of
the unit square conflicting within distance 0.2 (average degree ≈ 110 at N = 1000), every seller
eligible, Algorithm 7 (budget-balanced).

Printed, all in one run:

1. numba compile time of the kernels, cold (empty cache) and warm (``cache=True``), each in a
   fresh interpreter;
2. the goal size, fast path, ``--repeat`` runs: min / median / max of wall and CPU seconds;
3. the fast path against the literal transcription (``engine="reference"``) at N = M = 40 (the
   literal version is ``O(M²N³ + M³N²)``: hours at the goal size), interleaved, with the ratio
   of the medians and a check that both outcomes are identical;
4. the log–log slope of CPU time vs size on a fixed-radius family (radius 0.2, the degree grows
   with N) and on a fixed-average-degree family (degree 20);
5. the goals table (median CPU decides ``goal met`` / ``MISSED``).

Run: ``python benchmarks/bench_district.py [--quick] [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from specmarket.mechanisms import district

U10: dict[str, Any] = {"type": "uniform", "low": 0.0, "high": 10.0}
GOAL_N = 1000
GOALS = {False: 10.0, True: 20.0}  # CPU-seconds: unit demand, multi-demand
REF_N = 40


def instance(
    n: int,
    multi: bool,
    seed: int,
    radius: float = 0.2,
    variant: district.Variant = "budget-balanced",
) -> district.Instance:
    """M = N market with a unit-disk conflict graph of ``radius`` (see the module docstring)."""
    rng = np.random.default_rng(seed)
    bids, asks = rng.uniform(0, 10, n), rng.uniform(0, 10, n)
    pts = rng.random((n, 2))
    d = np.linalg.norm(pts[:, None] - pts[None], axis=2)
    ii, jj = np.nonzero(np.triu(d < radius, 1))
    demand = rng.integers(1, 4, n) if multi else np.ones(n, dtype=int)
    return district.Instance(
        variant=variant,
        sellers=tuple(
            district.Seller(id=f"s{k}", ask=float(a), distribution=U10) for k, a in enumerate(asks)
        ),
        buyers=tuple(
            district.Buyer(id=f"b{k}", bid=float(b), demand=int(r), distribution=U10)
            for k, (b, r) in enumerate(zip(bids, demand, strict=True))
        ),
        conflicts=tuple((f"b{i}", f"b{j}") for i, j in zip(ii, jj, strict=True)),
    )


def degree_radius(n: int, degree: float) -> float:
    """Radius giving an average degree of about ``degree`` for ``n`` points (boundary ignored)."""
    return math.sqrt(degree / (math.pi * (n - 1)))


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """``(wall, cpu, result)`` of one call (CPU of this process: the kernels are one thread)."""
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - w0, time.process_time() - c0, out


def stats(xs: list[float]) -> str:
    return f"{min(xs):7.3f} {statistics.median(xs):7.3f} {max(xs):7.3f}"


def slope(sizes: list[int], times: list[float]) -> float:
    x, y = np.log(np.array(sizes, dtype=float)), np.log(np.array(times))
    return float(np.polyfit(x, y, 1)[0])


_COMPILE = """
import time
w, c = time.perf_counter(), time.process_time()
import numpy as np
from specmarket.mechanisms import district
mk = district.Market(np.array([3.0, 1.0]), np.array([1.0]), np.array([1, 1]),
                     np.zeros((2, 2), bool), np.ones((2, 1), bool))
district.critical_thresholds(mk)
print(time.perf_counter() - w, time.process_time() - c)
"""


def compile_times() -> list[tuple[str, float, float]]:
    """Import + first call of the kernels in a fresh interpreter, cold and warm cache."""
    out = []
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        for label in ("cold (compile, fills the cache)", "warm (loads the cache)"):
            res = subprocess.run(
                [sys.executable, "-c", _COMPILE],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            wall, cpu = (float(x) for x in res.stdout.split())
            out.append((label, wall, cpu))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller slope families")
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random markets")
    args = parser.parse_args()
    rep = max(1, args.repeat)
    print(f"District-D benchmark; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")

    print("\n== numba compile time (import + first call, fresh interpreter) ==")
    for label, wall, cpu in compile_times():
        print(f"  {label:34s} wall {wall:6.2f} s  CPU {cpu:6.2f} s")
    district.clear(instance(10, True, 0))  # the kernels are loaded from here on

    rows: list[tuple[str, str, float, float, str]] = []
    print(f"\n== goal: N = M = {GOAL_N}, radius 0.2, fast path, {rep} runs ==")
    print(f"  {'':28s} {'wall min    med     max':>24s}   {'CPU min    med     max':>24s}")
    goal_cpu: dict[bool, float] = {}
    for multi in (False, True):
        inst = instance(GOAL_N, multi, args.seed + GOAL_N)
        walls, cpus = [], []
        for _ in range(rep):
            w, c, out = timed(lambda inst=inst: district.clear(inst))
            walls.append(w)
            cpus.append(c)
        kind = "multi-demand r<=3" if multi else "unit demand"
        goal_cpu[multi] = statistics.median(cpus)
        print(
            f"  {kind:28s} {stats(walls)}   {stats(cpus)}   (served "
            f"{out.details['buyers_served']}, channels {out.details['channels_used']})"
        )

    print(f"  profit-driven (Algorithm 10), not a goal, {rep} runs:")
    for multi in (False, True):
        inst = instance(GOAL_N, multi, args.seed + GOAL_N, variant="profit")
        walls, cpus = [], []
        for _ in range(rep):
            w, c, out = timed(lambda inst=inst: district.clear(inst))
            walls.append(w)
            cpus.append(c)
        kind = "multi-demand r<=3" if multi else "unit demand"
        print(
            f"  {kind:28s} {stats(walls)}   {stats(cpus)}   (served "
            f"{out.details['buyers_served']}, channels {out.details['channels_used']})"
        )

    print(f"\n== fast vs literal reference at N = M = {REF_N} (interleaved, {rep} runs) ==")
    ratios: dict[bool, float] = {}
    for multi in (False, True):
        inst = instance(REF_N, multi, args.seed + REF_N)
        fc, rc = [], []
        same = True
        for _ in range(rep):
            _, c, fast = timed(lambda inst=inst: district.clear(inst))
            fc.append(c)
            _, c, lit = timed(lambda inst=inst: district.clear(inst, engine="reference"))
            rc.append(c)
            same = same and fast.to_json() == lit.to_json()
        kind = "multi-demand r<=3" if multi else "unit demand"
        ratios[multi] = statistics.median(rc) / statistics.median(fc)
        print(f"  {kind:18s} fast CPU {stats(fc)}   reference CPU {stats(rc)}")
        print(f"  {'':18s} ratio of medians {ratios[multi]:8.1f}x   identical outcomes: {same}")

    print("\n== scaling: median CPU of clear vs N = M (3 runs each) ==")
    families = (
        ("fixed radius 0.2", [125, 250, 500] if args.quick else [125, 250, 500, 1000], None),
        ("fixed degree 20", [250, 500, 1000] if args.quick else [250, 500, 1000, 2000], 20.0),
    )
    for name, sizes, degree in families:
        for multi in (False, True):
            meds = []
            for n in sizes:
                radius = 0.2 if degree is None else degree_radius(n, degree)
                inst = instance(n, multi, args.seed + 7 * n, radius)
                meds.append(
                    statistics.median(
                        timed(lambda inst=inst: district.clear(inst))[1] for _ in range(3)
                    )
                )
            kind = "multi" if multi else "unit"
            pts = "  ".join(f"{n}: {t:.3f}" for n, t in zip(sizes, meds, strict=True))
            print(f"  {name:16s} {kind:5s} {pts}   slope {slope(sizes, meds):.2f}")

    for multi in (False, True):
        kind = "multi-demand r<=3" if multi else "unit demand"
        med = goal_cpu[multi]
        verdict = "goal met" if med <= GOALS[multi] else "MISSED"
        rows.append(
            (
                f"District-D clear, N=M={GOAL_N}, {kind}",
                f"<= {GOALS[multi]:g} CPU-s",
                med,
                ratios[multi],
                verdict,
            )
        )
    print("\n== goals ==")
    print(f"  {'work':44s} {'goal':>12s} {'median':>9s} {'ratio to reference':>28s}  verdict")
    for work, goal, med, ratio, verdict in rows:
        print(f"  {work:44s} {goal:>12s} {med:8.3f}s {ratio:14.1f}x at N=M={REF_N:<5d}  {verdict}")
    for work, goal, med, ratio, verdict in rows:  # machine-readable lines (benchmarks/README.md)
        met = "met" if verdict == "goal met" else "MISSED"
        print(
            f"GOAL | {work} | {goal} | {med:.3f} s cpu | "
            f"{ratio:.0f}× vs reference at N=M={REF_N} | {met}"
        )


if __name__ == "__main__":
    main()
