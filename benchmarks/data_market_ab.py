"""Interleaved A/B of the data market's engine, and one long run with progress lines.

``ab``: for each size and policy, one seeded run (``random_market(B, S, 0)``, asynchronous,
patient reserves) in a fresh process per side, alternating the old code (``--old``, a ``src``
directory put first on ``PYTHONPATH``) and the new one (``--new``), ``--pairs`` times. Each
process first runs a small warm-up market (loads the compiled kernels), then times ``simulate``
in CPU seconds (``time.process_time``). It prints one JSON line per run and, per size and policy,
the min / median CPU of each side; it checks that both sides give the same status, rounds,
messages and efficiency (the engine's changes must not move a trajectory).

``one``: a single run in this process (the code on ``PYTHONPATH``) that prints a progress line
every ``--every`` rounds (round, CPU-s, wall-s) and stops at ``--budget`` CPU seconds: the round
reached is then reported, not a verdict (docs/psp.md, "Scale"). ``--split`` adds where the time
went: wall-clock accumulators on the engine's and the simulation's main functions (a few
hundred nanoseconds per call, unlike cProfile, which inflates every Python call and overstated
the Python-level costs of this engine several-fold).

Run: ``python benchmarks/data_market_ab.py ab --old /work/main/src --new src --sizes
1000x100,2000x200 --policies converging,clock`` or ``python benchmarks/data_market_ab.py one
10000 1000 --policy clock --budget 1380``. Not run by the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any


class _Stop(Exception):
    pass


def _timers() -> tuple[dict[str, float], dict[str, int]]:
    """Wrap the main functions of a run in wall-clock accumulators (``--split``)."""
    import functools

    from specmarket.mechanisms.psp import _kernels
    from specmarket.mechanisms.psp.market import engine, simulation

    acc: dict[str, float] = {}
    calls: dict[str, int] = {}

    def wrap(obj: Any, name: str, label: str) -> None:
        f = getattr(obj, name)

        @functools.wraps(f)
        def timed(*args: Any, **kw: Any) -> Any:
            t = time.perf_counter()
            try:
                return f(*args, **kw)
            finally:
                acc[label] = acc.get(label, 0.0) + time.perf_counter() - t
                calls[label] = calls.get(label, 0) + 1

        setattr(obj, name, timed)

    wrap(_kernels, "reply", "compiled reply (_kernels.reply)")
    wrap(simulation, "best_reply_fast", "engine.best_reply_fast (incl. compiled reply)")
    wrap(simulation, "gain", "buyer.gain (strict improvement)")
    wrap(_kernels, "own_cost_pair", "compiled own_cost_pair")
    wrap(engine._Book, "refresh", "_Book.refresh")
    wrap(simulation, "_apply", "buyer._apply")
    wrap(simulation._Run, "buyers_move", "_Run.buyers_move (all replies)")
    wrap(simulation._Run, "sellers_move", "_Run.sellers_move")
    wrap(simulation._Run, "wake", "_Run.wake")
    wrap(simulation._Run, "finish", "_Run.finish (verdict)")
    return acc, calls


def one(
    nb: int, ns: int, policy: str, budget: float, every: int, max_rounds: int, split: bool
) -> dict[str, Any]:
    """One seeded run; progress lines on stderr when ``every > 0``."""
    from specmarket.mechanisms.psp.market import random_market, simulate

    simulate(random_market(60, 8, 1, policy=policy, max_rounds=60))  # type: ignore[arg-type]
    acc, calls = _timers() if split else ({}, {})
    m = random_market(nb, ns, 0, policy=policy, max_rounds=max_rounds)  # type: ignore[arg-type]
    c0, w0 = time.process_time(), time.perf_counter()
    reached = [0]

    def tick(t: int) -> None:
        reached[0] = t
        cpu = time.process_time() - c0
        if every > 0 and t % every == 0:
            load = os.getloadavg()[0]
            print(f"round {t}: {cpu:.1f} CPU-s, {time.perf_counter() - w0:.1f} wall-s, load "
                  f"{load:.2f}", file=sys.stderr, flush=True)  # fmt: skip
        if cpu > budget:
            raise _Stop

    out: dict[str, Any] = {"size": f"{nb}x{ns}", "policy": policy}
    try:
        r = simulate(m, on_round=tick)
    except _Stop:
        out.update(status=f"budget exceeded at round {reached[0]}")
    else:
        out.update(status=r.status, rounds=r.rounds, messages=r.messages,
                   efficiency=round(r.efficiency, 6))  # fmt: skip
    out.update(cpu=round(time.process_time() - c0, 2), wall=round(time.perf_counter() - w0, 2))
    for label, sec in sorted(acc.items(), key=lambda kv: -kv[1]):
        print(f"  {label:48s} {sec:8.2f} s {100 * sec / out['wall']:5.1f} % of wall, "
              f"{calls[label]:9d} calls, {1e6 * sec / calls[label]:8.1f} us/call",
              file=sys.stderr)  # fmt: skip
    return out


def ab(a: argparse.Namespace) -> None:
    sizes = [tuple(int(v) for v in s.split("x")) for s in a.sizes.split(",")]
    policies = a.policies.split(",")
    runs: list[dict[str, Any]] = []
    for pair in range(a.pairs):
        for nb, ns in sizes:
            for policy in policies:
                for side, src in (("old", a.old), ("new", a.new)):
                    env = {**os.environ, "PYTHONPATH": os.path.abspath(src)}
                    cmd = [sys.executable, __file__, "one", str(nb), str(ns), "--policy", policy]
                    res = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
                    rec = {"side": side, "pair": pair, "load": round(os.getloadavg()[0], 2),
                           **json.loads(res.stdout.strip().splitlines()[-1])}  # fmt: skip
                    runs.append(rec)
                    print(json.dumps(rec), flush=True)
    for nb, ns in sizes:
        for policy in policies:
            key = f"{nb}x{ns}"
            sel = [r for r in runs if r["size"] == key and r["policy"] == policy]
            traj = {json.dumps([r.get(k) for k in ("status", "rounds", "messages", "efficiency")])
                    for r in sel}  # fmt: skip
            cpu = {s: sorted(r["cpu"] for r in sel if r["side"] == s) for s in ("old", "new")}
            med = {s: statistics.median(v) for s, v in cpu.items()}
            print(f"{key} {policy}: old CPU-s {cpu['old']} (median {med['old']:.2f}), new "
                  f"{cpu['new']} (median {med['new']:.2f}), new/old {med['new'] / med['old']:.3f}"
                  f", same trajectory: {len(traj) == 1}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("ab", help="interleaved old/new runs in fresh processes")
    p.add_argument("--old", required=True, help="src directory of the old code")
    p.add_argument("--new", required=True, help="src directory of the new code")
    p.add_argument("--sizes", default="1000x100,2000x200")
    p.add_argument("--policies", default="converging,clock")
    p.add_argument("--pairs", type=int, default=2)
    q = sub.add_parser("one", help="one run, with progress lines")
    q.add_argument("buyers", type=int)
    q.add_argument("sellers", type=int)
    q.add_argument("--policy", default="converging")
    q.add_argument("--budget", type=float, default=float("inf"), help="CPU seconds")
    q.add_argument("--every", type=int, default=0, help="progress line every k rounds")
    q.add_argument("--max-rounds", type=int, default=10_000)
    q.add_argument("--split", action="store_true", help="time the main functions (stderr)")
    a = ap.parse_args()
    if a.cmd == "ab":
        ab(a)
    else:
        res = one(a.buyers, a.sellers, a.policy, a.budget, a.every, a.max_rounds, a.split)
        print(json.dumps(res))


if __name__ == "__main__":
    main()
