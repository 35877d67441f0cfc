"""Benchmark: ``specmarket reproduce NAME -j 2`` against ``-j 1``, the whole command at its
default (full) size (goal: ≥ 1.8× on two free cores, identical numbers).

Each repeat runs the command as a user does — a fresh process, ``--no-progress``, its own output
folder — once with ``-j 1`` and once with ``-j 2``, interleaved, after one untimed warm-up of
each (numba's on-disk cache, the file cache). Wall time decides the goal; CPU seconds (the child
process and its workers) show what the pool costs. Every CSV table of the ``-j 2`` folder must be
byte for byte the one of the ``-j 1`` folder (the figures' SVG files carry a date and random ids,
so they are not compared).

Beside each, the machine's own 2-process speed-up at that moment (a CPU burn, no runner): on a
shared machine that, not the runner, bounds the ratio. ``baselines`` is a scenario sweep and is
measured by ``bench_runner.py``; ``cat`` runs in seconds at one worker.

Run: ``python benchmarks/bench_reproductions.py [--quick] [--repeats N] [--only NAME]``
(``--quick``: the reproductions' ``--quick`` sizes, which take seconds and so are dominated by
start-up; the goal is about the full sizes). Full sizes take about 4 minutes a repeat on two free
cores (lazar-semret 3, adaptive 0.7, district 0.4); repeats default to 5, 3 for lazar-semret.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from _harness import goal, machine_note, measure, parser, print_samples
from bench_runner import machine_speedup

NAMES = ("adaptive", "district", "lazar-semret")
#: Repeats at the full size (lazar-semret's -j 1 run takes two minutes).
REPEATS = {"adaptive": 5, "district": 5, "lazar-semret": 3}
#: Bound on one command's wall time (s); a run over it fails the benchmark loudly.
TIMEOUT = 900.0


def run_reproduction(name: str, workers: int, quick: bool, out: Path) -> dict[str, bytes]:
    """Run ``specmarket reproduce`` in a fresh process into ``out``; its CSV files' bytes."""
    cmd = [sys.executable, "-m", "specmarket", "reproduce", name, "-j", str(workers)]
    cmd += ["--no-progress", "-o", str(out)] + (["--quick"] if quick else [])
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return {p.name: p.read_bytes() for p in sorted(out.glob("*.csv"))}


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--only", choices=NAMES, default=None, help="one reproduction")
    args = ap.parse_args()
    print(machine_note())
    with tempfile.TemporaryDirectory(prefix="bench-repro-") as tmp:
        for name in NAMES:
            if args.only and name != args.only:
                continue
            repeats = args.repeats or (3 if args.quick else REPEATS[name])
            bounds: list[float] = []
            base = Path(tmp) / name
            s = measure(
                {
                    "-j 1": lambda n=name, d=base: run_reproduction(n, 1, args.quick, d / "j1"),
                    "-j 2": lambda n=name, d=base: run_reproduction(n, 2, args.quick, d / "j2"),
                    "burn": lambda b=bounds: b.append(machine_speedup(1_500_000)),
                },
                repeats,
            )
            s.pop("burn")
            one, two = s["-j 1"], s["-j 2"]
            size = "quick" if args.quick else "full"
            print_samples(f"specmarket reproduce {name} ({size} size)", [one, two])
            same = one.result == two.result and bool(one.result)
            bound = float(np.median(bounds))
            ratio = one.median("wall") / two.median("wall")
            cpu = two.median("cpu") / one.median("cpu")
            print(
                f"  {len(one.result)} CSV tables, identical: {same}; CPU -j 2 / -j 1 {cpu:.2f}; "
                f"machine's own 2-process speed-up now: {bound:.2f}×"
            )
            if not same:
                raise SystemExit(f"reproduce {name}: -j 2 tables differ from -j 1")
            goal(
                f"reproduce {name} ({size}): -j 2 vs -j 1, whole command",
                "≥ 1.8× (two free cores)",
                ratio,
                1.8,
                "wall",
                higher_is_better=True,
                median_text=f"{ratio:.2f}× (machine bound {bound:.2f}×)",
            )


if __name__ == "__main__":
    main()
