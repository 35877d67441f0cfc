"""Benchmark: Gittins indices of a random dense chain (seed 004 eq. (3)).

Blocked state elimination (``gittins_indices``) vs the naive unblocked largest-remaining-index loop
(``gittins_naive``) and, if installed, ``markovianbandit-pkg`` (numba; JIT warmed up first and a
fresh bandit object per call since it caches its indices). Run: ``python benchmarks/bench_gittins.py
[n] [beta]``. Not part of the tests.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import numpy as np

from specmarket.mechanisms.adaptive.gittins import gittins_indices, gittins_naive


def best_of(fn: Callable[[], np.ndarray], repeat: int) -> tuple[float, np.ndarray]:
    best, out = np.inf, np.empty(0)
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main(n: int = 1000, beta: float = 0.9) -> None:
    rng = np.random.default_rng(0)
    p = rng.exponential(size=(n, n))
    p /= p.sum(axis=1, keepdims=True)
    r = rng.random(n)
    print(f"random dense chain: n = {n}, beta = {beta}")
    t_fast, g_fast = best_of(lambda: gittins_indices(p, r, beta), 5)
    print(f"  blocked elimination (specmarket) : {t_fast * 1e3:8.1f} ms")
    t_naive, g_naive = best_of(lambda: gittins_naive(p, r, beta), 2)
    print(
        f"  naive elimination                : {t_naive * 1e3:8.1f} ms   "
        f"ratio {t_naive / t_fast:5.1f}x   max|diff| {np.abs(g_naive - g_fast).max():.2e}"
    )
    try:
        import markovianbandit as bd
    except ImportError as exc:
        print(f"  markovianbandit-pkg              : not available ({exc})")
    else:
        small = rng.exponential(size=(20, 20))
        small /= small.sum(axis=1, keepdims=True)
        bd.rested_bandit_from_P1_R1(small, rng.random(20)).gittins_indices(beta)  # JIT warm-up
        t_mb, g_mb = best_of(
            lambda: np.asarray(bd.rested_bandit_from_P1_R1(p, r).gittins_indices(beta)), 3
        )
        print(
            f"  markovianbandit-pkg (numba)      : {t_mb * 1e3:8.1f} ms   "
            f"ratio {t_mb / t_fast:5.1f}x   max|diff| {np.abs(g_mb - g_fast).max():.2e}"
        )
    print(f"  target: < 100 ms -> {'OK' if t_fast < 0.1 else 'MISSED'}")


if __name__ == "__main__":
    args = sys.argv[1:]
    main(int(args[0]) if args else 1000, float(args[1]) if len(args) > 1 else 0.9)
