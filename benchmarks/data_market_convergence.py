"""Convergence table of the data-exchange market (seed 002 §3; docs/psp.md, "Convergence").

For every market size × buyer order × policy × valuation family, runs seeded random markets
(:func:`specmarket.mechanisms.psp.market.random_market`) to their verdict and prints one row:
the share of runs per status (``converged`` = an ε-equilibrium confirmed by the independent
check), mean and minimum efficiency (welfare / centralised optimum), median and maximum rounds,
the CPU seconds spent, how often the cycle breaker switched (``Policy.break_cycles``: runs in
which it fired / switches in all; policies without it print ``–``) and the seed of the row's
least efficient run. ``--breaks`` also prints, under each row, every run in which the breaker
fired: its switches, its efficiency, and the same market's status and efficiency with the
breaker switched off (the policy's other rules unchanged), i.e. the breaker's welfare cost or
gain. Goal (docs/psp.md): 100 % converged, mean efficiency ≥ 0.985 and minimum ≥ 0.95 at every
size, flat valuations included.

Run: ``python benchmarks/data_market_convergence.py [--quick] [--policies converging,seed-only]
[--orders asynchronous,synchronous] [--sizes 5x2:200,10x3:200,30x8:50] [--reserve patient]
[--max-rounds 3000] [--breaks]``. Without ``--reserve`` the seed's policies run with sticky
reserves and the others with patient ones.
Not run by the tests.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections import Counter
from typing import Any

import numpy as np

from specmarket.mechanisms.psp.market import POLICIES, random_market, simulate

FULL = "5x2:200,10x3:200,30x8:50,100x20:20,300x30:5,2000x200:2"
QUICK = "5x2:20,10x3:20,30x8:5,100x20:2"
STATUSES = ("converged", "cycling", "stalled", "round-limit")
# the reserve rule each policy is meant for (docs/psp.md, "Policies")
RESERVE_OF = {"seed-only": "sticky", "stabilised": "sticky"}


def _sizes(text: str) -> list[tuple[int, int, int]]:
    out = []
    for part in text.split(","):
        dims, _, seeds = part.partition(":")
        nb, _, ns = dims.partition("x")
        out.append((int(nb), int(ns), int(seeds or 10)))
    return out


def row(
    nb: int,
    ns: int,
    seeds: int,
    order: str,
    policy: str,
    reserve: str,
    elastic: bool,
    max_rounds: int,
    breaks: bool = False,
) -> str:
    """Run ``seeds`` markets and format one table row (and, with ``breaks``, the runs in which
    the cycle breaker fired, each against the same market without the breaker)."""
    t0 = time.process_time()
    status: Counter[str] = Counter()
    eff, rounds = [], []
    fired, switches = 0, 0
    broken = []
    for s in range(seeds):
        m = random_market(
            nb,
            ns,
            s,
            order=order,  # type: ignore[arg-type]
            policy=policy,  # type: ignore[arg-type]
            reserve_policy=reserve,  # type: ignore[arg-type]
            elastic=elastic,
            max_rounds=max_rounds,
        )
        r = simulate(m)
        status[r.status] += 1
        eff.append(r.efficiency)
        rounds.append(r.rounds)
        fired += bool(r.verdict.breaks)
        if r.verdict.breaks:
            broken.append((s, m, r))
        switches += len(r.verdict.breaks)
    cpu = time.process_time() - t0
    shares = " | ".join(_share(status[k], seeds) for k in STATUSES)
    e = np.array(eff)
    breaker = f"{fired} / {switches}" if POLICIES[policy].break_cycles else "–"
    flag = (
        "goal met"
        if status["converged"] == seeds and e.mean() >= 0.985 and e.min() >= 0.95
        else "MISSED"
    )
    line = (
        f"| {nb} × {ns} | {seeds} | {order} | {policy} | {reserve} | "
        f"{'elastic' if elastic else 'flat'} | {shares} | {e.mean():.4f} | {e.min():.4f} | "
        f"{int(np.median(rounds))} / {max(rounds)} | {cpu:.1f} | {flag} | {breaker} | "
        f"{int(e.argmin())} |"
    )
    if breaks and broken:
        line += "\n" + _without_breaker(policy, broken)
    return line


def _without_breaker(policy: str, broken: list[tuple[int, Any, Any]]) -> str:
    """One line per run in which the breaker fired: its switches and efficiency, then the same
    market under the policy with ``break_cycles = break_after = 0``."""
    pol = POLICIES[policy]
    lines = []
    try:
        POLICIES[policy] = dataclasses.replace(pol, break_cycles=0, break_after=0)
        for s, m, r in broken:
            off = simulate(m)
            sw = ", ".join(f"{b.reason} at {b.round} → stage {b.stage}" for b in r.verdict.breaks)
            lines.append(
                f"    seed {s}: {sw}; {r.status}, {r.rounds} rounds, efficiency "
                f"{r.efficiency:.4f}; without the breaker {off.status}, {off.rounds} rounds, "
                f"{off.efficiency:.4f} ({r.efficiency - off.efficiency:+.4f})"
            )
    finally:
        POLICIES[policy] = pol
    return "\n".join(lines)


def _share(k: int, n: int) -> str:
    """``k`` of ``n`` runs in per cent; one decimal unless it is exactly 0 or 100 %, so that
    one run in 200 does not read as none (or all)."""
    return f"{100 * k // n} %" if k in (0, n) else f"{100 * k / n:.1f} %"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help=f"sizes {QUICK} (a few minutes)")
    ap.add_argument("--sizes", default=None, help=f"NBxNS:SEEDS,... (default {FULL})")
    ap.add_argument("--policies", default="converging,stabilised,seed-only")
    ap.add_argument("--orders", default="asynchronous,synchronous")
    ap.add_argument(
        "--reserve",
        default=None,
        help="reserve policies, comma-separated (default: each policy's own, RESERVE_OF)",
    )
    ap.add_argument("--valuations", default="elastic,flat")
    ap.add_argument("--max-rounds", type=int, default=3000)
    ap.add_argument(
        "--breaks",
        action="store_true",
        help="list the runs in which the cycle breaker fired, against the same run without it",
    )
    a = ap.parse_args()
    sizes = _sizes(a.sizes or (QUICK if a.quick else FULL))
    print(
        "| size | seeds | order | policy | reserve | valuations | "
        + " | ".join(STATUSES)
        + " | mean eff. | min eff. | rounds (median / max) | CPU s | goal | breaker | worst seed |"
    )
    print("|" + "---|" * (13 + len(STATUSES)))
    for nb, ns, seeds in sizes:
        for policy in a.policies.split(","):
            reserves = a.reserve.split(",") if a.reserve else [RESERVE_OF.get(policy, "patient")]
            for reserve in reserves:
                for order in a.orders.split(","):
                    for val in a.valuations.split(","):
                        line = row(
                            nb, ns, seeds, order, policy, reserve, val == "elastic",
                            a.max_rounds, a.breaks,
                        )  # fmt: skip
                        print(line, flush=True)


if __name__ == "__main__":
    main()
