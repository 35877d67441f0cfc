"""Benchmark: all k payments of one ADAPTIVE round (seed 004 eq. (7)), k = 21 on the 61-state SNR
chain, exact (Whittle's formula) vs a Monte Carlo estimate of S₋ᵢ.

Run: ``python benchmarks/bench_adaptive_payments.py [--repro]`` (``--repro`` also times the full
Figs. 2–7 reproduction). Not part of the tests.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from specmarket.mechanisms.adaptive.bandit_value import ScaledArmFamily
from specmarket.mechanisms.adaptive.mechanism import market


def monte_carlo_welfare(
    fam: ScaledArmFamily, th: np.ndarray, x0: np.ndarray, runs: int, rounds: int, seed: int
) -> tuple[float, float]:
    """Mean and standard error of the index policy's discounted welfare (optimal by Gittins)."""
    rng = np.random.default_rng(seed)
    x = np.tile(x0, (runs, 1))
    rows = np.arange(runs)
    total = np.zeros(runs)
    n = fam.index.size
    for t in range(rounds):
        w = np.argmax(th * fam.index[x], axis=1)
        total += fam.discount**t * th[w] * fam.base_reward[x[rows, w]]
        x[rows, w] = np.clip(x[rows, w] + rng.binomial(2, 0.5, size=runs) - 1, 0, n - 1)
    return float(total.mean()), float(total.std(ddof=1) / np.sqrt(runs))


def main(k: int = 21, delta: float = 0.7) -> None:
    t = time.perf_counter()
    market.cache_clear()
    fam = market(-30, 30, 2, delta, 1.0)
    t_pre = time.perf_counter() - t
    print(f"k = {k} SUs, 61-state SNR chain, delta = {delta}")
    print(f"  one-time precomputation (indices + exit table): {t_pre * 1e3:.1f} ms")
    rng = np.random.default_rng(1)
    rounds = [
        (rng.integers(1, 11, size=k).astype(float), rng.integers(0, 61, size=k)) for _ in range(200)
    ]
    th0 = rounds[0][0]
    t = time.perf_counter()
    prof = fam.profile(th0)  # once per set of SUs (types are fixed across rounds)
    print(f"  per-SU-set precomputation (breakpoints): {(time.perf_counter() - t) * 1e3:.2f} ms")
    states = [x for _, x in rounds]
    t = time.perf_counter()
    for x in states:
        prof.welfare(x)
    t_exact = (time.perf_counter() - t) / len(rounds)
    t = time.perf_counter()
    for th, x in rounds:
        fam.welfare(th, x)
    t_cold = (time.perf_counter() - t) / len(rounds)
    print(f"  all {k} payments incl. breakpoints (new types each round): {t_cold * 1e3:.3f} ms")
    print(
        f"  all {k} payments, exact        : {t_exact * 1e3:.3f} ms per round "
        f"(target < 2 ms: {'OK' if t_exact < 2e-3 else 'MISSED'})"
    )
    th, x = rounds[0]
    _, without = prof.welfare(x)
    t = time.perf_counter()
    errs = []
    for i in range(3):
        mean, se = monte_carlo_welfare(fam, np.delete(th, i), np.delete(x, i), 20000, 60, seed=i)
        errs.append((without[i], mean, se))
    t_mc = (time.perf_counter() - t) / 3
    print(
        f"  one S_-i by Monte Carlo (20k paths x 60 rounds): {t_mc * 1e3:.1f} ms "
        f"-> exact all-k is {t_mc * k / t_exact:.0f}x faster than MC for all k"
    )
    for i, (ex, mean, se) in enumerate(errs):
        print(
            f"    S_-{i}: exact {ex:.6f}  MC {mean:.6f} +- {se:.6f}  (z = {(mean - ex) / se:+.2f})"
        )
    if "--repro" in sys.argv:
        from specmarket.reproductions import ReproContext
        from specmarket.reproductions.adaptive import run

        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            run(ReproContext(out_dir=Path(tmp), quick=False, seed=0))
            print(f"  full reproduction (Figs. 2-7): {time.perf_counter() - t:.1f} s")


if __name__ == "__main__":
    main()
