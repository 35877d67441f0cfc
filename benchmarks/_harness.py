"""Shared timing and printing of the benchmark scripts (format: ``benchmarks/README.md``).

A benchmark measures the goal's own size, runs the fast path and its reference in the same run,
interleaved (fast, reference, fast, reference, ...), repeats (≥ 5 where one run takes under a
minute), prints min / median / max of wall and CPU time, the ratio of the medians, and a verdict
``goal met`` / ``MISSED`` taken from the median. Every goal also ends in one machine-readable line

    GOAL | work | goal | median | ratio | met

that ``benchmarks/run_all.py`` collects into the goals table. CPU time is the process's own
(``time.process_time``) plus that of finished child processes (``RUSAGE_CHILDREN``), so it also
counts worker pools and subprocesses. The machine these scripts run on is often shared: CPU seconds
and same-run ratios are the robust numbers, wall time is inflated by other jobs; each script prints
the load average next to its results.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

#: Prefix of the machine-readable goal line.
GOAL_PREFIX = "GOAL | "


def cpu_seconds() -> float:
    """CPU seconds of this process and of its finished (waited-for) children."""
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


@dataclass
class Samples:
    """Wall and CPU seconds of the repeats of one measured callable."""

    name: str
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    result: Any = None

    def median(self, clock: str = "cpu") -> float:
        return statistics.median(self.cpu if clock == "cpu" else self.wall)

    def line(self, unit: str = "s") -> str:
        f = 1e3 if unit == "ms" else 1.0

        def three(xs: list[float]) -> str:
            return "/".join(f"{f * x:.4g}" for x in (min(xs), statistics.median(xs), max(xs)))

        return (
            f"  {self.name:<34s} wall {three(self.wall)} {unit}   cpu {three(self.cpu)} {unit}"
            f"   (min/median/max of {len(self.wall)})"
        )


def measure(
    fns: dict[str, Callable[[], Any]],
    repeats: int,
    warmup: bool = True,
    skip_repeats: dict[str, int] | None = None,
) -> dict[str, Samples]:
    """Time every callable ``repeats`` times, interleaved (one of each per round).

    ``warmup`` runs each once first, untimed (imports, JIT compilation, caches).
    ``skip_repeats`` caps the repeats of slow callables (e.g. ``{"reference": 1}``): those run in
    the first rounds only, still interleaved with the others.
    """
    caps = skip_repeats or {}
    out = {name: Samples(name) for name in fns}
    if warmup:
        for name, fn in fns.items():
            if caps.get(name, repeats) > 0:
                out[name].result = fn()
    for r in range(repeats):
        for name, fn in fns.items():
            if r >= caps.get(name, repeats):
                continue
            c0, t0 = cpu_seconds(), time.perf_counter()
            res = fn()
            t1, c1 = time.perf_counter(), cpu_seconds()
            s = out[name]
            s.wall.append(t1 - t0)
            s.cpu.append(c1 - c0)
            s.result = res
    return out


def machine_note() -> str:
    """Cores and load average, for the reader of the numbers."""
    load = os.getloadavg()
    return (
        f"machine: {os.cpu_count()} cores visible, load average {load[0]:.1f} / {load[1]:.1f} / "
        f"{load[2]:.1f} (1/5/15 min); CPU seconds are the robust numbers on a shared machine"
    )


def fmt_seconds(x: float) -> str:
    """``0.0149 → '14.9 ms'``, ``1.52 → '1.52 s'``."""
    if x < 1.0:
        return f"{x * 1e3:.3g} ms"
    return f"{x:.3g} s"


def goal(
    work: str,
    goal_text: str,
    median: float,
    limit: float,
    clock: str,
    ratio: float | None = None,
    versus: str = "reference",
    higher_is_better: bool = False,
    median_text: str | None = None,
) -> bool:
    """Print the verdict and the ``GOAL |`` line; returns whether the goal is met.

    ``median`` (seconds, or a ratio when ``higher_is_better``) is compared with ``limit``;
    ``ratio`` is the reference's median over the fast path's (how many times faster), if any.
    """
    met = median >= limit if higher_is_better else median <= limit
    shown = median_text or (f"{median:.3g}×" if higher_is_better else fmt_seconds(median))
    ratio_text = f"{ratio:.3g}× vs {versus}" if ratio is not None else "-"
    verdict = "met" if met else "MISSED"
    print(f"  -> {work}: median {shown} ({clock}); {goal_text}: {'goal met' if met else 'MISSED'}")
    print(f"{GOAL_PREFIX}{work} | {goal_text} | {shown} {clock} | {ratio_text} | {verdict}")
    return met


def parser(description: str | None, quick_help: str = "smaller sizes, fewer repeats") -> Any:
    """An ``argparse`` parser with the common options ``--quick`` and ``--repeats``."""
    first = (description or "").strip().splitlines()
    ap = argparse.ArgumentParser(
        description=first[0] if first else None,
        epilog="Output format (the GOAL lines): benchmarks/README.md.",
    )
    ap.add_argument("--quick", action="store_true", help=quick_help)
    ap.add_argument("--repeats", type=int, default=None, help="timed repeats (default: 7)")
    return ap


def parse_goal_line(line: str) -> tuple[str, str, str, str, str] | None:
    """``(work, goal, median, ratio, met)`` of a ``GOAL |`` line, else ``None``."""
    if not line.startswith(GOAL_PREFIX):
        return None
    parts = [p.strip() for p in line[len(GOAL_PREFIX) :].split(" | ")]
    if len(parts) != 5:
        return None
    return parts[0], parts[1], parts[2], parts[3], parts[4]


def print_samples(title: str, samples: Sequence[Samples], unit: str = "s") -> None:
    print(title)
    for s in samples:
        print(s.line(unit))
