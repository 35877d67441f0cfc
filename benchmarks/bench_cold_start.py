"""Benchmark: cold start of the command line (goal: median ≤ 0.35 s wall on an idle machine).

Each run is a fresh interpreter (``python -m specmarket ...``) of one of the two everyday commands,
``specmarket clear vickrey examples/vickrey.json`` and ``specmarket mechanisms``, interleaved with
two references in the same round:

* ``python -c pass`` – the interpreter's own start, the floor no command can go under;
* ``import everything`` – what the command line cost when the registries scanned and imported
  every module (all mechanisms, reproductions and CLI plug-ins: scipy, numba, networkx, pandas,
  matplotlib ...).

Wall time is ``time.perf_counter`` around the subprocess; CPU time is the change in
``resource.getrusage(RUSAGE_CHILDREN)`` user + system time, so it counts the child alone. One
unmeasured warm-up round fills the bytecode and file caches first. The verdict uses the median
wall time of each command. Run: ``python benchmarks/bench_cold_start.py [--repeats 7]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL_SECONDS = 0.35

EVERYTHING = (
    "import specmarket.mechanisms as m, specmarket.reproductions as r, specmarket.commands as c; "
    "m.registry(); r.registry(); [c.load(n) for n in c.names()]"
)

CASES: dict[str, list[str]] = {
    "clear vickrey": ["-m", "specmarket", "clear", "vickrey", "examples/vickrey.json"],
    "mechanisms": ["-m", "specmarket", "mechanisms"],
    "ref: python -c pass": ["-c", "pass"],
    "ref: import everything": ["-c", EVERYTHING],
}
GOALS = ("clear vickrey", "mechanisms")


def run_once(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one fresh interpreter running ``python ARGS``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"python {' '.join(args)} failed:\n{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--repeats", type=int, default=7, help="measured rounds (default 7, ≥ 5)")
    args = ap.parse_args()
    if args.repeats < 1:
        ap.error("--repeats must be at least 1")
    path = os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path}

    for case in CASES.values():  # warm-up: bytecode and file caches
        run_once(case, env)
    walls: dict[str, list[float]] = {name: [] for name in CASES}
    cpus: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(args.repeats):  # interleaved: each round runs every case once
        for name, case in CASES.items():
            wall, cpu = run_once(case, env)
            walls[name].append(wall)
            cpus[name].append(cpu)

    print(f"cold start, {args.repeats} fresh interpreters each ({sys.executable})")
    print(f"{'case':<24} {'wall min / median / max (s)':>28}   {'CPU min / median / max (s)':>27}")
    for name in CASES:
        w, c = sorted(walls[name]), sorted(cpus[name])
        print(
            f"{name:<24} {w[0]:8.3f} {statistics.median(w):8.3f} {w[-1]:8.3f}   "
            f"{c[0]:8.3f} {statistics.median(c):8.3f} {c[-1]:8.3f}"
        )
    load = os.getloadavg()[0]
    cores = os.cpu_count() or 1
    print(f"load average {load:.2f} on {cores} core(s) during the run")
    everything = statistics.median(walls["ref: import everything"])
    floor = statistics.median(walls["ref: python -c pass"])
    for name in GOALS:
        med = statistics.median(walls[name])
        verdict = "goal met" if med <= GOAL_SECONDS else "MISSED"
        print(
            f"{name}: median {med:.3f} s wall (goal ≤ {GOAL_SECONDS} s: {verdict}); "
            f"{everything / med:.1f}x faster than importing everything; "
            f"{med - floor:.3f} s above the bare interpreter"
        )
        if load > cores:  # waiting for a core inflates wall time; CPU time says what it costs
            cpu = statistics.median(cpus[name])
            rel = "≤" if cpu <= GOAL_SECONDS else ">"
            print(
                f"  machine loaded: CPU median {cpu:.3f} s {rel} {GOAL_SECONDS} s; the rest of the "
                "wall time is waiting for a core"
            )


if __name__ == "__main__":
    main()
