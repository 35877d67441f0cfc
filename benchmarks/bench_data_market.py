"""Benchmark of the distributed data-exchange market (seed 002 §3, issue 3 items 11 and speed).

1. Efficiency: random markets of 100 buyers × 20 sellers over 50 seeds; the distribution of
   welfare / centralised optimum, rounds and convergence (target: mean ≥ 0.98).
2. Speed: the compiled buyer reply (numba loops over every seller's sorted bid row, ``_Book``,
   ``_kernels``; the default) against the per-seller reference (one Python call per seller and
   price, sorted index + prefix sums) and the per-seller scan of every bid, same market, first
   ``--speed-rounds`` rounds (identical outcomes checked); then the large market (default 10,000
   buyers × 1,000 sellers) under a wall-clock budget (target < 120 s), reporting the round reached
   and the replies made.

Run: ``python benchmarks/bench_data_market.py [--seeds 50] [--speed 2000 200] [--speed-rounds 10]
[--big 10000 1000] [--budget 120]``.
Not run by the tests.
"""

from __future__ import annotations

import argparse
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
    fast = simulate(m, reference=False)
    t1 = time.perf_counter()
    ref = simulate(m, reference=True)
    t2 = time.perf_counter()
    scan = simulate(m, naive=True)
    t3 = time.perf_counter()
    same = fast.outcome.to_json() == ref.outcome.to_json() and fast.messages == ref.messages
    print(
        f"[speed] {n_b}x{n_s}, {fast.rounds} rounds (max {rounds + 1}): compiled "
        f"{t1 - t0:.2f} s, per-seller index {t2 - t1:.2f} s (ratio {(t2 - t1) / (t1 - t0):.2f}x), "
        f"per-seller scan {t3 - t2:.2f} s (ratio {(t3 - t2) / (t1 - t0):.2f}x); "
        f"identical outcome: {same}; efficiency {fast.efficiency:.4f} / {ref.efficiency:.4f} / "
        f"{scan.efficiency:.4f}"
    )


def big(n_b: int, n_s: int, budget: float) -> None:
    m = random_market(n_b, n_s, 0, max_rounds=10_000)
    start = time.perf_counter()
    reached = [0]

    def tick(t: int) -> None:
        reached[0] = t
        if time.perf_counter() - start > budget:
            raise _OutOfTime

    try:
        r = simulate(m, on_round=tick, reference=False)
    except _OutOfTime:
        print(
            f"[big] {n_b}x{n_s}: NOT converged within the {budget:.0f} s budget "
            f"(reached round {reached[0]})"
        )
        return
    print(
        f"[big] {n_b}x{n_s}: {time.perf_counter() - start:.1f} s, {r.rounds} rounds, "
        f"converged {r.converged}, messages {r.messages}, efficiency {r.efficiency:.4f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=50)
    ap.add_argument("--policy", default="sticky", choices=["sticky", "current", "decay", "patient"])
    ap.add_argument("--epsilon", type=float, default=0.05)
    ap.add_argument("--speed", type=int, nargs=2, default=[2000, 200])
    ap.add_argument("--speed-rounds", type=int, default=10)
    ap.add_argument("--big", type=int, nargs=2, default=[10_000, 1_000])
    ap.add_argument("--budget", type=float, default=120.0)
    ap.add_argument("--skip", nargs="*", default=[], choices=["efficiency", "speed", "big"])
    a = ap.parse_args()
    simulate(random_market(20, 5, 0, max_rounds=3))  # compile (or load) the kernels: not timed
    if "efficiency" not in a.skip:
        efficiency(a.seeds, a.policy, a.epsilon)
    if "speed" not in a.skip:
        speed(*a.speed, a.speed_rounds)
    if "big" not in a.skip:
        big(*a.big, a.budget)


if __name__ == "__main__":
    main()
