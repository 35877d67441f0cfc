"""Benchmark District-D: winner determination plus every winner's critical price.

Times :func:`specmarket.mechanisms.district.clear` (the fast incremental path) on random markets
with M = N (uniform [0, 10] values, unit-disk conflict graph of radius 0.2, all sellers eligible)
for unit-demand and multi-demand (r_n ∈ {1, 2, 3}) buyers, reports the log–log slope of time vs
size, and the ratio to the literal transcription of the appendix's algorithms
(:mod:`specmarket.mechanisms.district_reference`: allocation and all virtual thresholds) on the
sizes the literal one can still do. Goal of issue 4: M = N = 200 with all prices in under 5 s.

Run: ``python benchmarks/bench_district.py [--quick]``.
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Any

import numpy as np

from specmarket.mechanisms import district
from specmarket.mechanisms import district_reference as ref

U10: dict[str, Any] = {"type": "uniform", "low": 0.0, "high": 10.0}


def instance(n: int, multi: bool, seed: int, radius: float = 0.2) -> district.Instance:
    rng = np.random.default_rng(seed)
    bids, asks = rng.uniform(0, 10, n), rng.uniform(0, 10, n)
    pts = rng.random((n, 2))
    d = np.linalg.norm(pts[:, None] - pts[None], axis=2)
    ii, jj = np.nonzero(np.triu(d < radius, 1))
    demand = rng.integers(1, 4, n) if multi else np.ones(n, dtype=int)
    return district.Instance(
        variant="budget-balanced",
        sellers=tuple(
            district.Seller(id=f"s{k}", ask=float(a), distribution=U10) for k, a in enumerate(asks)
        ),
        buyers=tuple(
            district.Buyer(id=f"b{k}", bid=float(b), demand=int(r), distribution=U10)
            for k, (b, r) in enumerate(zip(bids, demand, strict=True))
        ),
        conflicts=tuple((f"b{i}", f"b{j}") for i, j in zip(ii, jj, strict=True)),
    )


def time_fast(inst: district.Instance, repeat: int) -> float:
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        district.clear(inst)
        best = min(best, time.perf_counter() - t0)
    return best


def time_literal(inst: district.Instance) -> float:
    mk = district.prepare(inst).market
    t0 = time.perf_counter()
    trace = ref.winner_determination(mk)
    for t in trace:
        ref.buyer_virtual_threshold(mk, t.buyer)
    for m in sorted({i for t in trace for i in t.sellers}):
        ref.seller_virtual_threshold(mk, m)
    return time.perf_counter() - t0


def slope(sizes: list[int], times: list[float]) -> float:
    x, y = np.log(np.array(sizes, dtype=float)), np.log(np.array(times))
    return float(np.polyfit(x, y, 1)[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only")
    args = parser.parse_args()
    sizes = [25, 50, 100] if args.quick else [25, 50, 100, 150, 200]
    literal_sizes = [10, 20] if args.quick else [10, 20, 30, 40]
    for multi in (False, True):
        kind = "multi-demand (r in 1..3)" if multi else "unit demand"
        print(f"\n== {kind}: M = N, fast path (clear: winners + all prices) ==")
        fast_times = []
        for n in sizes:
            inst = instance(n, multi, seed=n)
            t = time_fast(inst, repeat=1 if n >= 150 else 3)
            out = district.clear(inst)
            fast_times.append(t)
            flag = "  (goal < 5 s)" if n == 200 else ""
            print(
                f"  N = M = {n:4d}: {t:8.3f} s   buyers served {out.details['buyers_served']:4d},"
                f" channels used {out.details['channels_used']:4d}{flag}"
            )
        print(f"  log-log slope of time vs size: {slope(sizes, fast_times):.2f}")
        print("== vs literal appendix algorithms (allocation + all thresholds) ==")
        lit, fast = [], []
        for n in literal_sizes:
            inst = instance(n, multi, seed=1000 + n)
            tl = time_literal(inst)
            tf = time_fast(inst, repeat=3)
            lit.append(tl)
            fast.append(tf)
            print(f"  N = M = {n:4d}: literal {tl:8.3f} s  fast {tf:8.4f} s  ratio {tl / tf:7.1f}x")
        print(
            f"  log-log slope: literal {slope(literal_sizes, lit):.2f}, "
            f"fast {slope(literal_sizes, fast):.2f}"
        )


if __name__ == "__main__":
    main()
