"""Benchmark of CAT clearing (seed 000): §E partition + §D ascending auction + settlement.

Goal: K = 10,000 SUs and n = 100 bands cleared in at most 2 s (median wall time), with and
without sharing. Three measurements, fast path and reference interleaved in the same run:

1. the goal size: :func:`specmarket.mechanisms.cat.clear` (two knapsack DPs for the first two
   teams of the §E partition, the auction's end in closed form) against the same two teams with
   the auction *walked bid by bid* (:func:`~specmarket.mechanisms.cat_teams.ascend_reference`,
   member-level payment checks) at θ = 0.01, where the walk is still feasible (~1,000 bids);
2. a tiny increment θ = 1e-9 (about 10¹⁰ bids): the fast path only; the walk's time is
   extrapolated from its time per bid in (1);
3. the full reference :func:`~specmarket.mechanisms.cat.clear_reference` (every legal team, the
   whole partition, the walked auction) at K = 16, n = 30.

Every pair of outputs is checked equal before timing. Run ``python benchmarks/bench_cat.py``
(``--quick``: 3 repeats and smaller reference sizes; ``--repeats N``).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from specmarket.core import Outcome
from specmarket.mechanisms import cat
from specmarket.mechanisms.cat_teams import (
    Team,
    ascend,
    ascend_reference,
    bidding_teams_fast,
    capacity,
    in_some_team,
)

GOAL_SECONDS = 2.0


def make_instance(
    k: int, n: int, sharing: bool, seed: int, max_demand: int = 10, theta: float = 0.01
) -> cat.Instance:
    """``k`` SUs with demands uniform on 1..max_demand and WTP uniform on [0, 10] (0.01 grid)."""
    rng = np.random.default_rng(seed)
    users = tuple(
        cat.User(id=f"u{i}", demand=int(d), wtp=float(w) / 100)
        for i, (d, w) in enumerate(
            zip(rng.integers(1, max_demand + 1, size=k), rng.integers(0, 1001, size=k), strict=True)
        )
    )
    return cat.Instance(bands=n, increment=theta, sharing=sharing, users=users)


def clear_walked(instance: cat.Instance) -> Outcome:
    """The fast path's two teams, then the auction walked bid by bid (the clock's reference)."""
    demand = [u.demand for u in instance.users]
    wtp = [float(u.wtp) for u in instance.users]
    first, second = bidding_teams_fast(demand, wtp, instance.bands, instance.sharing)
    teams = [t for t in (first, second) if t is not None]
    end = ascend_reference(teams, demand, wtp, instance.increment, instance.sharing)
    return cat.settle(instance, teams, end, in_some_team(demand, instance.bands))


def measure(
    fns: dict[str, Callable[[], Any]], repeats: int
) -> dict[str, tuple[list[float], list[float]]]:
    """Wall and CPU seconds of each function, ``repeats`` rounds, calls interleaved per round."""
    out: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            w0, c0 = time.perf_counter(), time.process_time()
            fn()
            out[name][0].append(time.perf_counter() - w0)
            out[name][1].append(time.process_time() - c0)
    return out


def line(label: str, wall: list[float], cpu: list[float]) -> str:
    """``label: wall min/median/max, cpu min/median/max`` in seconds."""
    return (
        f"    {label:<34} wall {min(wall):8.4f} / {statistics.median(wall):8.4f} / "
        f"{max(wall):8.4f} s   cpu {min(cpu):8.4f} / {statistics.median(cpu):8.4f} / "
        f"{max(cpu):8.4f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats, smaller reference sizes")
    parser.add_argument("--repeats", type=int, default=None, help="rounds per measurement")
    args = parser.parse_args()
    repeats = args.repeats or (3 if args.quick else 7)
    print(f"CAT benchmark: {repeats} interleaved rounds; times min / median / max (seconds)")

    print("1. goal size K = 10,000 SUs, n = 100 bands, θ = 0.01 (goal: median ≤ 2 s)")
    per_bid: list[float] = []
    for sharing in (True, False):
        inst = make_instance(10_000, 100, sharing, seed=1)
        fast_out, walk_out = cat.clear(inst), clear_walked(inst)
        assert fast_out.to_json() == walk_out.to_json()
        demand = [u.demand for u in inst.users]
        wtp = [float(u.wtp) for u in inst.users]
        teams = [t for t in bidding_teams_fast(demand, wtp, 100, sharing) if t is not None]

        def closed(tm: list[Team] = teams, s: bool = sharing) -> Any:
            return ascend([capacity(t.limit(100, s), 0.01) for t in tm])

        def walked(
            tm: list[Team] = teams, d: list[int] = demand, w: list[float] = wtp, s: bool = sharing
        ) -> Any:
            return ascend_reference(tm, d, w, 0.01, s)

        t = measure(
            {
                "fast": lambda i=inst: cat.clear(i),
                "walk": lambda i=inst: clear_walked(i),
                "closed": closed,
                "walked": walked,
            },
            repeats,
        )
        med_fast = statistics.median(t["fast"][0])
        med_walk = statistics.median(t["walk"][0])
        bids = int(fast_out.details["bids"])
        per_bid.append(statistics.median(t["walked"][1]) / max(1, bids))
        surplus = float(fast_out.details["residual_profit"])
        print(
            f"  sharing={sharing}: {bids} bids, price {fast_out.details['price']:.2f}, winner "
            f"limit {fast_out.details['team_limit']:.4f}, winner's surplus {surplus:.2f}"
        )
        print(line("fast clear (closed-form auction)", *t["fast"]))
        print(line("same teams, auction walked", *t["walk"]))
        print(line("  auction alone, closed form", *t["closed"]))
        print(line("  auction alone, walked", *t["walked"]))
        verdict = "goal met" if med_fast <= GOAL_SECONDS else "MISSED"
        auction_ratio = statistics.median(t["walked"][1]) / statistics.median(t["closed"][1])
        print(
            f"    ratio walk / fast: whole clearing {med_walk / med_fast:.2f}x (median wall), "
            f"auction alone {auction_ratio:,.0f}x (median cpu);  {verdict} "
            f"(median {med_fast:.3f} s vs goal {GOAL_SECONDS} s)"
        )
        met = "met" if verdict == "goal met" else "MISSED"
        print(  # the machine-readable line of benchmarks/README.md
            f"GOAL | CAT clear K = 10,000, n = 100, sharing={sharing} | ≤ {GOAL_SECONDS} s | "
            f"{med_fast:.3f} s wall | {med_walk / med_fast:.1f}× vs auction walked | {met}"
        )

    print("2. tiny increment θ = 1e-9 at K = 10,000, n = 100 (the walk would take ~1e10 bids)")
    for sharing in (True, False):
        inst = make_instance(10_000, 100, sharing, seed=1, theta=1e-9)
        t = measure({"fast": lambda i=inst: cat.clear(i)}, repeats)
        out = cat.clear(inst)
        med = statistics.median(t["fast"][0])
        est = per_bid[0 if sharing else 1] * int(out.details["bids"])
        verdict = "goal met" if med <= GOAL_SECONDS else "MISSED"
        print(f"  sharing={sharing}: {out.details['bids']:,} bids in closed form")
        print(line("fast", *t["fast"]))
        print(
            f"    walked auction, extrapolated from its cpu time per bid in 1.: "
            f"{est / 3600:,.0f} h;  {verdict}"
        )

    k_ref = 12 if args.quick else 16
    print(
        f"3. full reference (enumeration + whole partition + walk), K = {k_ref}, n = 30, θ = 0.01"
    )
    for sharing in (True, False):
        inst = make_instance(k_ref, 30, sharing, seed=3, max_demand=8)
        assert cat.clear(inst).to_json() == cat.clear_reference(inst).to_json()
        t = measure(
            {
                "fast": lambda i=inst: cat.clear(i),
                "reference": lambda i=inst: cat.clear_reference(i),
            },
            repeats,
        )
        ratio = statistics.median(t["reference"][0]) / statistics.median(t["fast"][0])
        print(f"  sharing={sharing}:")
        print(line("fast", *t["fast"]))
        print(line("reference", *t["reference"]))
        print(f"    ratio reference / fast (median wall) {ratio:,.0f}x")


if __name__ == "__main__":
    main()
