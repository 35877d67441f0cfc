"""Benchmark: Gittins indices of a random dense chain, n = 1000, β = 0.9 (seed 004 eq. (3)).

Goal: ``gittins_indices`` on one thread in ≤ 30 ms. Measured interleaved in the same run:

* ``gittins_indices`` (blocked elimination, compiled pivots, one BLAS thread: the default),
* the same with the BLAS library's own thread setting (``threads=None``: all cores),
* ``gittins_naive`` (the unblocked largest-remaining-index loop: the reference timing; the
  definition-level references ``gittins_restart`` / ``gittins_bruteforce`` are O(n⁴) / O(2ⁿ) and
  are used by the tests, on small chains),
* and, if installed, ``markovianbandit-pkg`` (numba; JIT warmed up, a fresh bandit per call since
  it caches its indices).

Run: ``python benchmarks/bench_gittins.py [--n 1000] [--beta 0.9] [--quick] [--repeats N]``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from _harness import goal, machine_note, measure, parser, print_samples
from specmarket.mechanisms.adaptive.gittins import gittins_indices, gittins_naive


def main() -> None:
    ap = parser(__doc__, "n = 400, fewer repeats of the naive loop")
    ap.add_argument("--n", type=int, default=None, help="states (default 1000; quick: 400)")
    ap.add_argument("--beta", type=float, default=0.9, help="discount factor (default 0.9)")
    args = ap.parse_args()
    n = args.n or (400 if args.quick else 1000)
    repeats = args.repeats or (5 if args.quick else 9)
    rng = np.random.default_rng(0)
    p = rng.exponential(size=(n, n))
    p /= p.sum(axis=1, keepdims=True)
    r = rng.random(n)
    beta = args.beta
    fns: dict[str, Callable[[], Any]] = {
        "gittins_indices (1 BLAS thread)": lambda: gittins_indices(p, r, beta),
        "gittins_indices (threads=None)": lambda: gittins_indices(p, r, beta, threads=None),
        "gittins_naive (reference)": lambda: gittins_naive(p, r, beta),
    }
    try:
        import markovianbandit as bd
    except ImportError as exc:
        print(f"markovianbandit-pkg: not available ({exc})")
    else:
        small = rng.exponential(size=(20, 20))
        small /= small.sum(axis=1, keepdims=True)
        bd.rested_bandit_from_P1_R1(small, rng.random(20)).gittins_indices(beta)  # JIT warm-up
        fns["markovianbandit-pkg (numba)"] = lambda: np.asarray(
            bd.rested_bandit_from_P1_R1(p, r).gittins_indices(beta)
        )
    print(machine_note())
    slow = 3 if args.quick else 5
    s = measure(
        fns,
        repeats,
        skip_repeats={"gittins_naive (reference)": slow, "markovianbandit-pkg (numba)": slow},
    )
    title = f"Gittins indices, random dense chain, n = {n}, beta = {beta}"
    print_samples(title, list(s.values()), "ms")
    fast = s["gittins_indices (1 BLAS thread)"]
    for name, other in s.items():
        if other is not fast:
            diff = np.abs(np.asarray(other.result) - fast.result).max()
            print(f"  max |{name} - fast| = {diff:.2e}")
    ref = s["gittins_naive (reference)"]
    goal(
        f"Gittins indices n = {n}, one thread",
        "≤ 30 ms",
        fast.median("cpu"),
        0.030,
        "cpu",
        ratio=ref.median("cpu") / fast.median("cpu"),
        versus="naive loop",
    )
    default = s["gittins_indices (threads=None)"]
    wall = default.median("wall") / fast.median("wall")
    cpu = default.median("cpu") / fast.median("cpu")
    print(
        f"  BLAS default (all cores) / one thread: wall {wall:.2f}×, CPU {cpu:.2f}× "
        "(median ratios; > 1: one thread wins)"
    )


if __name__ == "__main__":
    main()
