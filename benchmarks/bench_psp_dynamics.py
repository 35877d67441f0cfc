"""Benchmark: classic PSP ε-best-reply dynamics with 1,000 buyers to equilibrium (goal: < 5 s).

Lazar–Semret population (``θ'(0) ~ U[10, 20]``, ``q̄ ~ U[50, 100]``, ``Q = 100``, budget 100,
``ε = 5``, reserve 0.1). Measures the fast engine (bids kept sorted, each buyer evaluated in
``O(I)``) and the straightforward reference engine (re-sort and re-run the auction pairwise in
``O(I^2)`` with and without the buyer at every evaluation) in the same run, on the same population
(checks that both reach the same bids), and prints absolute times and their ratio. The reference
is run on ``--ref-players`` buyers (default: as many as the fast one). Also times the one-shot
clearing ``psp_outcome`` (``O(I log I)``) against the literal definition.

Run: ``python benchmarks/bench_psp_dynamics.py [--players 1000] [--ref-players 1000]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from specmarket.mechanisms.psp.dynamics import random_population, run_dynamics
from specmarket.mechanisms.psp.rules import literal_outcome, psp_outcome


def _run(players: int, seed: int, engine: str) -> tuple[float, object]:
    vals = random_population(np.random.default_rng(seed), players)
    t0 = time.perf_counter()
    res = run_dynamics(vals, 100.0, 0.1, 5.0, 100.0, seed=seed, engine=engine)
    return time.perf_counter() - t0, res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--players", type=int, default=1000)
    ap.add_argument("--ref-players", type=int, default=None)
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    ref_n = args.ref_players or args.players
    print(f"PSP dynamics, {args.players} buyers, {args.seeds} seeds (goal: < 5 s each)")
    for seed in range(args.seeds):
        t_fast, res = _run(args.players, seed, "fast")
        line = (
            f"seed {seed}: fast {t_fast:.3f} s, rounds {res.rounds}, bids {res.total_bids}, "  # type: ignore[attr-defined]
            f"efficiency {res.efficiency:.4f}"  # type: ignore[attr-defined]
        )
        if seed == 0:
            t_f2, r_fast = _run(ref_n, seed, "fast") if ref_n != args.players else (t_fast, res)
            t_ref, r_ref = _run(ref_n, seed, "reference")
            same = np.allclose(r_fast.quantities, r_ref.quantities)  # type: ignore[attr-defined]
            line += (
                f"\n  reference ({ref_n} buyers) {t_ref:.3f} s vs fast {t_f2:.3f} s: "
                f"ratio {t_ref / t_f2:.1f}x, same equilibrium: {same}"
            )
        print(line)
    rng = np.random.default_rng(0)
    n = 200
    q = np.append(100.0, rng.uniform(0, 10, n))
    p = np.append(0.1, np.round(rng.uniform(0, 10, n), 1))
    for rule in ("lazar-semret", "split"):
        t0 = time.perf_counter()
        a, c = psp_outcome(q, p, 100.0, rule)
        t_fast = time.perf_counter() - t0
        t0 = time.perf_counter()
        a2, c2 = literal_outcome(q, p, 100.0, rule)
        t_lit = time.perf_counter() - t0
        ok = np.allclose(a, a2) and np.allclose(c, c2, atol=1e-7)
        print(
            f"clearing {n} bids ({rule}): fast {t_fast * 1e3:.2f} ms, literal {t_lit:.2f} s, "
            f"ratio {t_lit / t_fast:.0f}x, equal: {ok}"
        )
    big = 1_000_000
    q = np.append(1e4, rng.uniform(0, 10, big))
    p = np.append(0.1, np.round(rng.uniform(0, 10, big), 3))
    t0 = time.perf_counter()
    psp_outcome(q, p, 1e4, "lazar-semret")
    print(f"clearing {big} bids (lazar-semret, many ties): {time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    main()
