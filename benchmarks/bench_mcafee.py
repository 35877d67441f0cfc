"""Benchmark: McAfee clearing of 1,000,000 bids + 1,000,000 asks (goal: under 2 s here).

Measures the numpy path (:func:`specmarket.mechanisms.mcafee.clear_arrays`) and a straightforward
pure-Python implementation of the same rule in the same run, checks they agree, and prints the
absolute times and their ratio. Run: ``python benchmarks/bench_mcafee.py [--n 1000000]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from specmarket.mechanisms.mcafee import clear_arrays


def pure_python(bids: list[float], asks: list[float]) -> tuple[int, float, float]:
    bo = sorted(range(len(bids)), key=lambda i: -bids[i])
    so = sorted(range(len(asks)), key=lambda j: asks[j])
    k = 0
    while k < min(len(bids), len(asks)) and bids[bo[k]] >= asks[so[k]]:
        k += 1
    if k == 0:
        return 0, 0.0, 0.0
    b_next = bids[bo[k]] if k < len(bids) else 0.0
    s_next = asks[so[k]] if k < len(asks) else float("inf")
    p0 = (b_next + s_next) / 2
    if asks[so[k - 1]] <= p0 <= bids[bo[k - 1]]:
        return k, p0, p0
    return k - 1, bids[bo[k - 1]], asks[so[k - 1]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    bids, asks = rng.uniform(0, 100, args.n), rng.uniform(0, 100, args.n)

    t0 = time.perf_counter()
    fast = clear_arrays(bids, asks)
    t_fast = time.perf_counter() - t0

    bl, al = bids.tolist(), asks.tolist()
    t0 = time.perf_counter()
    ref = pure_python(bl, al)
    t_ref = time.perf_counter() - t0

    assert (fast.buyers.size, fast.buyer_price, fast.seller_price) == ref, (fast, ref)
    print(f"McAfee, {args.n:,} bids + {args.n:,} asks: {fast.buyers.size:,} trades")
    verdict = "met" if t_fast < 2 else "MISSED"
    print(f"  numpy (clear_arrays): {t_fast:.3f} s   (goal < 2 s: {verdict})")
    print(f"  pure Python         : {t_ref:.3f} s")
    print(f"  ratio               : {t_ref / t_fast:.1f}x faster")


if __name__ == "__main__":
    main()
