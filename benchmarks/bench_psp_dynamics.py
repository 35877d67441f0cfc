"""Benchmark: classic PSP ε-best-reply dynamics, 1,000 buyers, synchronous order, to equilibrium
(goal: ≤ 5 s).

Lazar–Semret population (``θ'(0) ~ U[10, 20]``, ``q̄ ~ U[50, 100]``, ``Q = 100``, budget 100,
``ε = 5``, reserve 0.1). The synchronous order (every buyer replies to the same snapshot, about 13
bids per buyer: the setting of Lazar–Semret's 11.9) is the one measured; the asynchronous order
converges in about two rounds and would measure something much easier. Timed interleaved:

* the fast engine on 1,000 buyers (the goal);
* the fast engine and the reference engine (re-sorts and re-runs the auction with and without the
  buyer at every evaluation, ``O(I²)`` each) on ``--ref-players`` buyers (default 200: at 1,000
  the reference takes over five minutes a run), checked to reach the same bids;
* the one-shot clearing ``psp_outcome`` against the literal definition on 200 bids.

No run has a time budget: a run stops at equilibrium or after ``max_rounds`` rounds, and its
``converged`` flag says which.

Run: ``python benchmarks/bench_psp_dynamics.py [--quick] [--players 1000] [--ref-players 200]``.
"""

from __future__ import annotations

import numpy as np

from _harness import goal, machine_note, measure, parser, print_samples
from specmarket.mechanisms.psp.dynamics import random_population, run_dynamics
from specmarket.mechanisms.psp.rules import literal_outcome, psp_outcome


def dynamics(players: int, engine: str, seed: int = 0) -> object:
    vals = random_population(np.random.default_rng(seed), players)
    return run_dynamics(
        vals, 100.0, 0.1, 5.0, 100.0, seed=seed, engine=engine, order="synchronous"
    )


def main() -> None:
    ap = parser(__doc__, "300 buyers, reference on 100")
    ap.add_argument("--players", type=int, default=None, help="buyers (default 1000)")
    ap.add_argument("--ref-players", type=int, default=None, help="buyers of the ratio run")
    args = ap.parse_args()
    n = args.players or (300 if args.quick else 1000)
    ref_n = args.ref_players or (100 if args.quick else 200)
    repeats = args.repeats or 5
    print(machine_note())
    s = measure(
        {
            f"fast, {n} buyers": lambda: dynamics(n, "fast"),
            f"fast, {ref_n} buyers": lambda: dynamics(ref_n, "fast"),
            f"reference, {ref_n} buyers": lambda: dynamics(ref_n, "reference"),
        },
        repeats,
        warmup=False,
        skip_repeats={f"reference, {ref_n} buyers": min(repeats, 5)},
    )
    print_samples("PSP ε-best-reply dynamics, synchronous order", list(s.values()))
    big = s[f"fast, {n} buyers"].result
    print(
        f"  {n} buyers: rounds {big.rounds}, bids {big.total_bids} "  # type: ignore[attr-defined]
        f"({big.bids_per_player:.1f} per buyer; Lazar–Semret report about 11.9), "  # type: ignore[attr-defined]
        f"converged {big.converged}, efficiency {big.efficiency:.4f}"  # type: ignore[attr-defined]
    )
    small_fast = s[f"fast, {ref_n} buyers"]
    small_ref = s[f"reference, {ref_n} buyers"]
    same = np.allclose(small_fast.result.quantities, small_ref.result.quantities)  # type: ignore[attr-defined]
    ratio = small_ref.median("cpu") / small_fast.median("cpu")
    print(f"  {ref_n} buyers: fast and reference reach the same bids: {same}")
    goal(
        f"PSP dynamics {n} buyers, synchronous",
        "≤ 5 s",
        s[f"fast, {n} buyers"].median("cpu"),
        5.0,
        "cpu",
        ratio=ratio,
        versus=f"reference at {ref_n} buyers",
    )

    rng = np.random.default_rng(0)
    m = 200
    q = np.append(100.0, rng.uniform(0, 10, m))
    p = np.append(0.1, np.round(rng.uniform(0, 10, m), 1))
    for rule in ("lazar-semret", "split"):
        c = measure(
            {
                "psp_outcome": lambda rule=rule: psp_outcome(q, p, 100.0, rule),
                "literal_outcome": lambda rule=rule: literal_outcome(q, p, 100.0, rule),
            },
            repeats,
            warmup=False,
            skip_repeats={"literal_outcome": 3},
        )
        (a, cost), (a2, cost2) = c["psp_outcome"].result, c["literal_outcome"].result
        ok = np.allclose(a, a2) and np.allclose(cost, cost2, atol=1e-7)
        title = f"one-shot clearing of {m} bids ({rule}); equal: {ok}"
        print_samples(title, list(c.values()), "ms")
        ratio = c["literal_outcome"].median("cpu") / c["psp_outcome"].median("cpu")
        print(f"  ratio literal / fast: {ratio:.0f}×")


if __name__ == "__main__":
    main()
