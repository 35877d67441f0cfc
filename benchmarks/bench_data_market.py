"""Benchmark of the distributed data-exchange market (seed 002 §3: efficiency and speed).

1. Efficiency: random markets of 100 buyers × 20 sellers over 50 seeds; the distribution of
   welfare / centralised optimum, rounds and convergence (target: mean ≥ 0.98). The convergence
   table of every policy is ``benchmarks/data_market_convergence.py``.
2. Speed: the compiled buyer reply (numba loops over every seller's sorted bid row, ``_Book``,
   ``_kernels``; the default) against the per-seller reference (one Python call per seller and
   price, sorted index + prefix sums) and the per-seller scan of every bid, same market, first
   ``--speed-rounds`` rounds (identical outcomes checked); then the large markets (default
   2,000 × 200 and 10,000 × 1,000) to their verdict under a CPU budget, printing status, rounds,
   messages, CPU and wall seconds and the growth slope of CPU time with buyers × sellers
   (goals: 10,000 × 1,000 converged in ≤ 60 CPU-s, 50,000 × 5,000 to its verdict in ≤ 15 min).

Run: ``python benchmarks/bench_data_market.py [--seeds 50] [--speed 2000 200] [--speed-rounds 10]
[--big 2000x200,10000x1000] [--budget 900] [--rules converging]``.
Not run by the tests.
"""

from __future__ import annotations

import argparse
import itertools
import math
import time

import numpy as np

from specmarket.mechanisms.psp.market import random_market, simulate


class _OutOfTime(Exception):
    pass


def efficiency(seeds: int, policy: str, epsilon: float) -> None:
    effs, rounds, conv = [], [], 0
    t0 = time.perf_counter()
    for s in range(seeds):
        m = random_market(100, 20, s, epsilon=epsilon, reserve_policy=policy, max_rounds=400)  # type: ignore[arg-type]
        r = simulate(m)
        effs.append(r.efficiency)
        rounds.append(r.rounds)
        conv += int(r.converged)
    e = np.array(effs)
    q = np.percentile(e, [0, 10, 25, 50, 75, 90, 100])
    print(
        f"[efficiency] 100x20, {seeds} seeds, reserve={policy}, eps={epsilon}: "
        f"mean {e.mean():.4f} sd {e.std():.4f} | min/p10/p25/median/p75/p90/max "
        + "/".join(f"{x:.4f}" for x in q)
        + f" | seeds >= 0.98: {(e >= 0.98).sum()}/{seeds} | converged {conv}/{seeds} | "
        f"rounds median {np.median(rounds):.0f} max {max(rounds)} | "
        f"{time.perf_counter() - t0:.1f} s"
    )


def speed(n_b: int, n_s: int, rounds: int) -> None:
    """Compiled replies vs the per-seller reference (and the bid scan) on the same market."""
    m = random_market(n_b, n_s, 0, max_rounds=rounds)
    t0 = time.perf_counter()
    fast = simulate(m, engine="fast")
    t1 = time.perf_counter()
    ref = simulate(m, engine="reference")
    t2 = time.perf_counter()
    scan = simulate(m, engine="reference", naive=True)
    t3 = time.perf_counter()
    same = fast.outcome.to_json() == ref.outcome.to_json() and fast.messages == ref.messages
    print(
        f"[speed] {n_b}x{n_s}, {fast.rounds} rounds (max {rounds + 1}): compiled "
        f"{t1 - t0:.2f} s, per-seller index {t2 - t1:.2f} s (ratio {(t2 - t1) / (t1 - t0):.2f}x), "
        f"per-seller scan {t3 - t2:.2f} s (ratio {(t3 - t2) / (t1 - t0):.2f}x); "
        f"identical outcome: {same}; efficiency {fast.efficiency:.4f} / {ref.efficiency:.4f} / "
        f"{scan.efficiency:.4f}"
    )


def big(n_b: int, n_s: int, budget: float, policy: str) -> tuple[float, float] | None:
    """One large market to its verdict under a CPU budget; returns (size, CPU seconds)."""
    m = random_market(n_b, n_s, 0, max_rounds=10_000, policy=policy)  # type: ignore[arg-type]
    start, cpu0 = time.perf_counter(), time.process_time()
    reached = [0]

    def tick(t: int) -> None:
        reached[0] = t
        if time.process_time() - cpu0 > budget:
            raise _OutOfTime

    try:
        r = simulate(m, on_round=tick, engine="fast")
    except _OutOfTime:
        cpu = time.process_time() - cpu0
        print(
            f"[big] {n_b}x{n_s} ({policy}): no verdict within the {budget:.0f} CPU-s budget "
            f"(reached round {reached[0]}, {cpu / max(reached[0], 1):.2f} CPU-s per round, "
            f"wall {time.perf_counter() - start:.1f} s) — MISSED"
        )
        return None
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - start
    print(
        f"[big] {n_b}x{n_s} ({policy}): status {r.status}, {r.rounds} rounds, messages "
        f"{r.messages}, CPU {cpu:.1f} s, wall {wall:.1f} s, efficiency {r.efficiency:.4f}"
    )
    return float(n_b) * n_s, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=50)
    ap.add_argument(
        "--policy", default="patient", choices=["sticky", "current", "decay", "patient"]
    )
    ap.add_argument("--epsilon", type=float, default=0.05)
    ap.add_argument("--speed", type=int, nargs=2, default=[2000, 200])
    ap.add_argument("--speed-rounds", type=int, default=10)
    ap.add_argument(
        "--big", default="2000x200,10000x1000", help="sizes NBxNS,... run to their verdict"
    )
    ap.add_argument("--budget", type=float, default=900.0, help="CPU seconds per size")
    ap.add_argument("--rules", default="converging", help="the market policy of the big runs")
    ap.add_argument("--skip", nargs="*", default=[], choices=["efficiency", "speed", "big"])
    a = ap.parse_args()
    simulate(random_market(20, 5, 0, max_rounds=3))  # compile (or load) the kernels: not timed
    if "efficiency" not in a.skip:
        efficiency(a.seeds, a.policy, a.epsilon)
    if "speed" not in a.skip:
        speed(a.speed[0], a.speed[1], a.speed_rounds)
    if "big" not in a.skip:
        points = []
        for part in a.big.split(","):
            nb, _, ns = part.partition("x")
            pt = big(int(nb), int(ns), a.budget, a.rules)
            if pt is not None:
                points.append(pt)
        for (x0, c0), (x1, c1) in itertools.pairwise(points):
            slope = math.log(c1 / c0) / math.log(x1 / x0)
            print(f"[big] growth slope d log CPU / d log (buyers x sellers): {slope:.2f}")


if __name__ == "__main__":
    main()
