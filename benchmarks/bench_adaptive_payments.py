"""Benchmark: all k payments of one ADAPTIVE round (seed 004 eq. (7)), k = 21 SUs on the 61-state
SNR chain, δ = 0.7.

1. **Speed** (goal: all 21 payments in ≤ 2 ms per round): the exact payments (Whittle's formula for
   every ``S₋ᵢ``, :meth:`ScaledArmFamily.profile` then ``welfare``), timed over 200 rounds, against
   the Monte Carlo reference (``S₋ᵢ`` by simulating the index policy without SU ``i``), interleaved.
2. **Correctness check** of one ``S₋ᵢ`` by Monte Carlo, for the SU ``i`` whose removal changes the
   welfare most (the one with the largest ``S − S₋ᵢ``), so that the check can tell ``S₋ᵢ`` from
   ``S``: the Monte Carlo estimate must agree with the exact ``S₋ᵢ`` within 3 standard errors and
   differ from the exact ``S`` by more than 5.

Run: ``python benchmarks/bench_adaptive_payments.py [--quick] [--repeats N] [--repro]``
(``--repro`` also times the full Figs. 2–7 reproduction once).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from _harness import goal, machine_note, measure, parser, print_samples
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


def main() -> None:
    ap = parser(__doc__, "fewer Monte Carlo paths and rounds timed")
    ap.add_argument("--repro", action="store_true", help="also time the full reproduction once")
    args = ap.parse_args()
    k, delta = 21, 0.7
    repeats = args.repeats or (5 if args.quick else 7)
    paths = 4000 if args.quick else 20000
    print(machine_note())
    t = time.perf_counter()
    market.cache_clear()
    fam = market(-30, 30, 2, delta, 1.0)
    pre = (time.perf_counter() - t) * 1e3
    print(f"one-time precomputation (indices + exit table): {pre:.1f} ms")
    rng = np.random.default_rng(1)
    n_rounds = 50 if args.quick else 200
    rounds = [
        (rng.integers(1, 11, size=k).astype(float), rng.integers(0, 61, size=k))
        for _ in range(n_rounds)
    ]
    th0 = rounds[0][0]
    prof = fam.profile(th0)  # once per set of SUs (types are fixed across rounds)

    def exact_all() -> None:
        for _, x in rounds:
            prof.welfare(x)

    def exact_cold() -> None:
        for th, x in rounds:
            fam.welfare(th, x)

    th, x = rounds[0]

    def mc_one() -> tuple[float, float]:
        return monte_carlo_welfare(fam, np.delete(th, 0), np.delete(x, 0), paths, 60, seed=0)

    s = measure(
        {
            f"exact, {n_rounds} rounds": exact_all,
            f"exact + breakpoints, {n_rounds} rounds": exact_cold,
            "Monte Carlo, one S_-i": mc_one,
        },
        repeats,
        skip_repeats={"Monte Carlo, one S_-i": 5},
    )
    title = f"ADAPTIVE payments, k = {k}, 61 states, delta = {delta}"
    print_samples(title, list(s.values()), "ms")
    per_round = s[f"exact, {n_rounds} rounds"].median("cpu") / n_rounds
    cold = s[f"exact + breakpoints, {n_rounds} rounds"].median("cpu") / n_rounds
    mc_all = s["Monte Carlo, one S_-i"].median("cpu") * k  # the reference for all k payments
    print(
        f"  per round: exact {per_round * 1e3:.3f} ms, "
        f"with new types' breakpoints {cold * 1e3:.3f} ms"
    )
    goal(
        f"ADAPTIVE all {k} payments of a round",
        "≤ 2 ms",
        per_round,
        0.002,
        "cpu",
        ratio=mc_all / per_round,
        versus=f"Monte Carlo ({paths} paths)",
    )

    # --- the check: an S_-i that differs from S
    total, without = prof.welfare(x)
    i = int(np.argmax(total - without))
    mean, se = monte_carlo_welfare(fam, np.delete(th, i), np.delete(x, i), paths, 60, seed=1)
    z_minus, z_full = (mean - without[i]) / se, (mean - total) / se
    print(
        f"check: SU {i} (largest S - S_-i): exact S = {total:.6f}, "
        f"exact S_-{i} = {without[i]:.6f}, Monte Carlo S_-{i} = {mean:.6f} ± {se:.6f}: "
        f"z vs S_-{i} {z_minus:+.2f}, z vs S {z_full:+.2f}"
    )
    ok = abs(z_minus) < 3 and abs(z_full) > 5
    print(f"  Monte Carlo agrees with S_-i and tells it from S: {ok}")
    if args.repro:
        from specmarket.reproductions import ReproContext
        from specmarket.reproductions.adaptive import run

        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            run(ReproContext(out_dir=Path(tmp), quick=False, seed=0))
            print(f"full reproduction (Figs. 2-7): {time.perf_counter() - t:.1f} s wall")


if __name__ == "__main__":
    main()
