"""Benchmark of the distributed data-exchange market (seed 002 §3: efficiency and speed).

1. Efficiency: random markets of 100 buyers × 20 sellers over ``--seeds`` seeds; the distribution
   of welfare / centralised optimum, rounds and verdicts. The convergence table of every policy
   is ``benchmarks/data_market_convergence.py``.
2. Speed of the reply: the compiled buyer reply (``_Book`` + ``_kernels``, the default) against
   the per-seller reference and the per-seller bid scan, same market, first ``--speed-rounds``
   rounds, interleaved repeats (identical outcomes checked).
3. Scale: each market of ``--sizes`` (seed 0, asynchronous) under each policy of ``--policies``,
   run to its verdict and repeated (≥ 5 runs when a run takes under a minute of CPU, 3 when
   longer, fewer only when the size's CPU allowance ``--size-budget`` is used up, which is
   printed). Printed per size: verdict, rounds, messages and efficiency (identical in every
   repeat: the run is seeded; checked), CPU and wall seconds min / median / max, then the
   growth slope of the median CPU with buyers × sellers. Goals (decided from the median):
   10,000 × 1,000 converged with efficiency ≥ 0.98 in ≤ 60 CPU-s; 50,000 × 5,000 reaches its
   verdict (any status) in ≤ 900 CPU-s (15 min). A run that passes its CPU budget ``--budget``
   is stopped and reported as ``budget exceeded`` (goal MISSED): that is not a verdict of the
   market, and the market's status is then unknown, never "not converged".

``--profile`` runs the first size of the first policy once under cProfile (``--profile-rounds``
rounds) and prints the functions with the most own time.

Run: ``python benchmarks/bench_data_market.py [--quick] [--skip efficiency speed]
[--sizes 2000x200,10000x1000] [--policies converging,spread] [--budget 1200]
[--size-budget 1500] [--profile]``. Not run by the tests.
"""

from __future__ import annotations

import cProfile
import itertools
import math
import pstats
import statistics
import time
from dataclasses import dataclass, field

import numpy as np

from _harness import cpu_seconds, goal, machine_note, measure, parser, print_samples
from specmarket.mechanisms.psp.market import random_market, simulate

FULL_SIZES = "2000x200,10000x1000"
QUICK_SIZES = "300x30,1000x100"
# goals of the scale runs: size → (needs convergence and efficiency ≥ 0.98, CPU seconds)
GOALS = {(10_000, 1_000): (True, 60.0), (50_000, 5_000): (False, 900.0)}


class _OutOfTime(Exception):
    pass


def efficiency(seeds: int, reserve: str, epsilon: float, policy: str) -> None:
    effs, rounds, status = [], [], []
    t0 = cpu_seconds()
    for s in range(seeds):
        m = random_market(
            100,
            20,
            s,
            epsilon=epsilon,
            reserve_policy=reserve,  # type: ignore[arg-type]
            policy=policy,  # type: ignore[arg-type]
            max_rounds=3000,
        )
        r = simulate(m)
        effs.append(r.efficiency)
        rounds.append(r.rounds)
        status.append(r.status)
    e = np.array(effs)
    q = np.percentile(e, [0, 10, 25, 50, 75, 90, 100])
    conv = status.count("converged")
    print(
        f"[efficiency] 100x20, {seeds} seeds, policy {policy}, reserve {reserve}, eps {epsilon}: "
        f"mean {e.mean():.4f} sd {e.std():.4f} | min/p10/p25/median/p75/p90/max "
        + "/".join(f"{x:.4f}" for x in q)
        + f" | converged {conv}/{seeds} | rounds median {np.median(rounds):.0f} max "
        f"{max(rounds)} | {cpu_seconds() - t0:.1f} CPU-s"
    )


def speed(n_b: int, n_s: int, rounds: int, repeats: int) -> None:
    """Compiled replies vs the per-seller reference (and the bid scan), interleaved."""
    m = random_market(n_b, n_s, 0, max_rounds=rounds)
    fns = {
        "compiled": lambda: simulate(m, engine="fast"),
        "reference (sorted index)": lambda: simulate(m, engine="reference"),
        "reference (bid scan)": lambda: simulate(m, engine="reference", naive=True),
    }
    slow = max(1, min(3, repeats))
    out = measure(
        fns,
        repeats,
        warmup=False,
        skip_repeats={"reference (sorted index)": slow, "reference (bid scan)": slow},
    )
    fast, ref, scan = (out[k].result for k in fns)
    same = ref.outcome.to_json() == fast.outcome.to_json() and ref.messages == fast.messages
    close = abs(scan.welfare - fast.welfare) <= 1e-6 * max(1.0, abs(fast.welfare))
    title = (
        f"[speed] {n_b}x{n_s}, first {fast.rounds} rounds; compiled = sorted index bit for bit: "
        f"{same}; bid scan (sums in bid order) same welfare to 1e-6: {close}"
    )
    print_samples(title, list(out.values()))
    c = out["compiled"].median()
    for k in list(fns)[1:]:
        print(f"  {k} / compiled (median CPU): {out[k].median() / c:.2f}x")


@dataclass
class Scale:
    """The repeats of one size under one policy."""

    nb: int
    ns: int
    policy: str
    cpu: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)
    outcome: tuple[str, int, int, float] | None = None  # status, rounds, messages, efficiency
    exceeded: str | None = None  # "budget exceeded at round r (c CPU-s per round)"
    same: bool = True
    note: str = ""


def one_run(nb: int, ns: int, policy: str, budget: float) -> tuple[float, float, object]:
    """One market to its verdict; raises nothing: a passed budget returns the round reached."""
    m = random_market(nb, ns, 0, max_rounds=10_000, policy=policy)  # type: ignore[arg-type]
    c0, t0 = cpu_seconds(), time.perf_counter()
    reached = [0]

    def tick(t: int) -> None:
        reached[0] = t
        if cpu_seconds() - c0 > budget:
            raise _OutOfTime

    try:
        r = simulate(m, on_round=tick, engine="fast")
    except _OutOfTime:
        return cpu_seconds() - c0, time.perf_counter() - t0, reached[0]
    return cpu_seconds() - c0, time.perf_counter() - t0, r


def scale(nb: int, ns: int, policy: str, budget: float, size_budget: float, most: int) -> Scale:
    """Repeat one size: ≥ 5 runs under a CPU minute, 3 above, within ``size_budget`` CPU-s."""
    sc = Scale(nb, ns, policy)
    while True:
        cpu, wall, r = one_run(nb, ns, policy, budget)
        sc.cpu.append(cpu)
        sc.wall.append(wall)
        if isinstance(r, int):
            sc.exceeded = (
                f"budget exceeded: no verdict within the {budget:.0f} CPU-s budget "
                f"(reached round {r}, {cpu / max(r, 1):.2f} CPU-s per round)"
            )
            return sc
        got = (r.status, r.rounds, r.messages, r.efficiency)  # type: ignore[attr-defined]
        if sc.outcome is None:
            sc.outcome = got
        sc.same = sc.same and got == sc.outcome
        want = min(most, 5 if statistics.median(sc.cpu) < 60 else 3)
        if len(sc.cpu) >= want:
            return sc
        if sum(sc.cpu) + statistics.median(sc.cpu) > size_budget:
            sc.note = (
                f" (stopped after {len(sc.cpu)} of {want} runs: the next would pass the "
                f"size's {size_budget:.0f} CPU-s allowance)"
            )
            return sc


def report(sc: Scale) -> None:
    def three(xs: list[float]) -> str:
        return "/".join(f"{x:.1f}" for x in (min(xs), statistics.median(xs), max(xs)))

    work = f"data market {sc.nb:,} x {sc.ns:,} ({sc.policy}, seed 0)"
    times = f"CPU {three(sc.cpu)} s, wall {three(sc.wall)} s (min/median/max of {len(sc.cpu)})"
    if sc.exceeded is not None:
        print(f"[scale] {work}: {sc.exceeded}; {times}")
    else:
        assert sc.outcome is not None
        st, rounds, msgs, eff = sc.outcome
        print(
            f"[scale] {work}: verdict {st}, {rounds} rounds, {msgs:,} messages, efficiency "
            f"{eff:.4f}; {times}{sc.note}"
            + ("" if sc.same else "; WARNING: repeats differ (not deterministic)")
        )
    spec = GOALS.get((sc.nb, sc.ns))
    if spec is None:
        return
    needs_eq, limit = spec
    med = statistics.median(sc.cpu)
    text = (
        f"converged, efficiency ≥ 0.98, ≤ {limit:.0f} CPU-s"
        if needs_eq
        else f"verdict in ≤ {limit:.0f} CPU-s"
    )
    if sc.exceeded is not None:
        goal(work, text, math.inf, limit, "cpu", median_text=f"budget exceeded ({med:.0f} s)")
        return
    assert sc.outcome is not None
    ok_eq = not needs_eq or (sc.outcome[0] == "converged" and sc.outcome[3] >= 0.98)
    shown = f"{med:.1f} s, {sc.outcome[0]}, efficiency {sc.outcome[3]:.4f}"
    goal(work, text, med if ok_eq else math.inf, limit, "cpu", median_text=shown)


def slopes(results: list[Scale]) -> None:
    for policy in dict.fromkeys(s.policy for s in results):
        pts = [
            (float(s.nb) * s.ns, statistics.median(s.cpu), s.exceeded is not None)
            for s in results
            if s.policy == policy
        ]
        for (x0, c0, e0), (x1, c1, e1) in itertools.pairwise(pts):
            bound = " (a lower bound: a run passed its budget)" if e1 and not e0 else ""
            if e0:
                continue
            slope = math.log(c1 / c0) / math.log(x1 / x0)
            print(
                f"[scale] growth slope ({policy}) d log CPU / d log(buyers x sellers), "
                f"{x0:.0f} -> {x1:.0f}: {slope:.2f}{bound}"
            )


def profile(nb: int, ns: int, policy: str, rounds: int, top: int) -> None:
    m = random_market(nb, ns, 0, max_rounds=rounds, policy=policy)  # type: ignore[arg-type]
    pr = cProfile.Profile()
    pr.enable()
    r = simulate(m, engine="fast")
    pr.disable()
    print(f"[profile] {nb}x{ns} ({policy}), {r.rounds} rounds (limit {rounds}), by own time:")
    pstats.Stats(pr).sort_stats("tottime").print_stats(top)


def main() -> None:
    ap = parser(__doc__, quick_help=f"sizes {QUICK_SIZES}, 5 seeds, speed at 300 x 30")
    for action in ap._actions:  # this script's own default
        if action.dest == "repeats":
            action.help = "most runs per scale size (default 5)"
    ap.add_argument("--seeds", type=int, default=None, help="100 x 20 seeds (default 50)")
    ap.add_argument(
        "--reserve", default="patient", choices=["sticky", "current", "decay", "patient"]
    )
    ap.add_argument("--epsilon", type=float, default=0.05)
    ap.add_argument("--speed", type=int, nargs=2, default=None, help="NB NS (default 2000 200)")
    ap.add_argument("--speed-rounds", type=int, default=10)
    ap.add_argument("--sizes", "--big", default=None, help=f"NBxNS,... (default {FULL_SIZES})")
    ap.add_argument(
        "--policies", "--rules", default="converging", help="policies of the scale runs"
    )
    ap.add_argument("--budget", type=float, default=1200.0, help="CPU seconds per run")
    ap.add_argument("--size-budget", type=float, default=1500.0, help="CPU seconds per size")
    ap.add_argument("--profile", action="store_true", help="cProfile the first scale run")
    ap.add_argument("--profile-rounds", type=int, default=40)
    ap.add_argument(
        "--skip", nargs="*", default=[], choices=["efficiency", "speed", "scale", "big"]
    )
    a = ap.parse_args()
    seeds = a.seeds or (5 if a.quick else 50)
    nb_s, ns_s = a.speed or ((300, 30) if a.quick else (2000, 200))
    sizes = [
        tuple(int(v) for v in part.split("x"))
        for part in (a.sizes or (QUICK_SIZES if a.quick else FULL_SIZES)).split(",")
    ]
    most = a.repeats or 5
    print(machine_note())
    simulate(random_market(20, 5, 0, max_rounds=3))  # compile (or load) the kernels: not timed
    if "efficiency" not in a.skip:
        efficiency(seeds, a.reserve, a.epsilon, "converging")
    if "speed" not in a.skip:
        speed(nb_s, ns_s, a.speed_rounds, most)
    policies = a.policies.split(",")
    if a.profile:
        profile(sizes[0][0], sizes[0][1], policies[0], a.profile_rounds, 30)
    if "scale" in a.skip or "big" in a.skip:
        return
    results = []
    for policy in policies:
        for nb, ns in sizes:
            sc = scale(nb, ns, policy, a.budget, a.size_budget, most)
            report(sc)
            results.append(sc)
    slopes(results)
    print(machine_note())


if __name__ == "__main__":
    main()
