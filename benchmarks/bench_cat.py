"""Benchmark of CAT winner/runner-up/price: DP over bands vs explicit enumeration of legal teams.

Run: ``python benchmarks/bench_cat.py`` (``--quick`` for a smaller run). Prints absolute times of
:func:`specmarket.mechanisms.cat.clear` (fast: top-two knapsack DP, ``O(K·n)``) at K = 10,000 SUs
and n = 100 bands (goal: < 2 s), and the ratio to :func:`specmarket.mechanisms.cat.clear_reference`
(enumeration + literal clock, seed 000 §B) at the largest size the enumeration finishes in seconds.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from specmarket.mechanisms import cat
from specmarket.mechanisms.cat_teams import enumerate_teams, top_two_fast, top_two_reference


def make_instance(k: int, n: int, sharing: bool, seed: int, max_demand: int = 10) -> cat.Instance:
    """``k`` SUs with demands uniform on 1..max_demand and WTP uniform on [0, 10] (0.01 grid)."""
    rng = np.random.default_rng(seed)
    users = tuple(
        cat.User(id=f"u{i}", demand=int(d), wtp=float(w) / 100)
        for i, (d, w) in enumerate(
            zip(rng.integers(1, max_demand + 1, size=k), rng.integers(0, 1001, size=k), strict=True)
        )
    )
    return cat.Instance(bands=n, increment=0.01, sharing=sharing, users=users)


def best_time(fn: Callable[[], Any], repeat: int) -> float:
    """Minimum wall time of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller enumeration size")
    args = parser.parse_args()
    print("CAT benchmark (times: best of repeats, seconds)")
    for sharing in (True, False):
        inst = make_instance(10_000, 100, sharing, seed=1)
        t_fast = best_time(lambda inst=inst: cat.clear(inst), 3)
        flag = "OK" if t_fast < 2.0 else "SLOW"
        print(f"  fast  K=10000 n=100 sharing={sharing!s:5}: {t_fast:8.4f} s  [{flag}, goal < 2 s]")
    k_ref = 16 if args.quick else 22
    for sharing in (True, False):
        inst = make_instance(k_ref, 30, sharing, seed=2, max_demand=8)
        demand = [u.demand for u in inst.users]
        wtp = [float(u.wtp) for u in inst.users]
        assert top_two_fast(demand, wtp, 30, sharing) == top_two_reference(demand, wtp, 30, sharing)
        n_teams = sum(1 for _ in enumerate_teams(demand, wtp, 30))
        t_fast = best_time(lambda d=demand, w=wtp, s=sharing: top_two_fast(d, w, 30, s), 5)
        t_ref = best_time(lambda d=demand, w=wtp, s=sharing: top_two_reference(d, w, 30, s), 1)
        print(
            f"  winner+runner-up K={k_ref} n=30 ({n_teams:,} legal teams) sharing={sharing!s:5}: "
            f"DP {t_fast:.5f} s, enumeration {t_ref:.4f} s, ratio {t_ref / t_fast:,.0f}x"
        )
    k_clock = 12 if args.quick else 14
    for sharing in (True, False):
        inst = make_instance(k_clock, 30, sharing, seed=3, max_demand=8)
        assert cat.clear(inst).to_json() == cat.clear_reference(inst).to_json()
        t_fast = best_time(lambda inst=inst: cat.clear(inst), 5)
        t_ref = best_time(lambda inst=inst: cat.clear_reference(inst), 1)
        print(
            f"  full clearing K={k_clock} n=30 sharing={sharing!s:5}: clear {t_fast:.5f} s, "
            f"enumeration + literal clock (θ = 0.01) {t_ref:.4f} s, ratio {t_ref / t_fast:,.0f}x"
        )


if __name__ == "__main__":
    main()
