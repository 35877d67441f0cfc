"""Benchmark: the reproductions' independent runs with 1 and 2 workers (goal: ≥ 1.8× with
``-j 2`` on two free cores, identical numbers).

Every reproduction hands its independent runs to the experiment runner
(:func:`specmarket.experiments.runner.map_tasks`; ``baselines`` is a scenario sweep, measured by
``bench_runner.py``). This script times exactly that phase — the reproduction's own task function
over its own task list, with ``workers=1`` and ``workers=2`` interleaved, checked identical — at a
size where one run takes seconds rather than minutes (the full versions take minutes to tens of
minutes per run):

* ``adaptive``: all 19 SU counts and 12 discount factors of Figs. 2–7, 100 runs × 100 rounds each
  (the full reproduction: 500 runs);
* ``district``: 10…100 buyers, 8 markets per size (full: 40);
* ``lazar-semret``: all 17 populations 2…150, 1 repetition (full: 10).

Beside it, the machine's own 2-process speed-up at that moment (a CPU burn, no runner): on a
shared machine that, not the runner, bounds the ratio. And the speed-up two free cores would give,
from the measured CPU seconds of every task of the ``-j 1`` runs: the total over the makespan of
the pool's schedule (costliest task first, each next task to the first free worker), less the
extra CPU the pool itself costs (``-j 2`` CPU minus ``-j 1`` CPU, shared by the two workers).

Run: ``python benchmarks/bench_reproductions.py [--quick] [--repeats N] [--only NAME]``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from _harness import goal, machine_note, measure, parser, print_samples
from bench_runner import machine_speedup
from specmarket.experiments.runner import map_tasks


class Timed:
    """``fn`` that records the CPU seconds of every call (task) in ``seconds``."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn
        self.seconds: list[float] = []

    def __call__(self, task: Any) -> Any:
        c = time.process_time()
        out = self.fn(task)
        self.seconds.append(time.process_time() - c)
        return out


def two_core_speedup(
    seconds: list[float], costs: list[float], pool_cpu: float
) -> float:
    """Total work over the makespan of greedy list scheduling on two workers in the pool's order
    (costliest first by ``costs``), the pool's own extra CPU spread over both workers."""
    order = sorted(range(len(seconds)), key=lambda i: -costs[i])
    free = [pool_cpu / 2, pool_cpu / 2]
    for i in order:
        k = 0 if free[0] <= free[1] else 1
        free[k] += seconds[i]
    return sum(seconds) / max(free)


def adaptive_tasks(quick: bool) -> tuple[Callable[[Any], Any], list[Any], Callable[[Any], float]]:
    from specmarket.reproductions import adaptive as a

    runs, rounds = (6, 40) if quick else (100, 100)
    ks = [3, 9, 15, 21] if quick else list(range(3, 22))
    deltas = [0.0, 0.5, 0.9]
    if not quick:
        deltas = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99]
    tasks = [(k, 0.7, runs, rounds, 0) for k in ks] + [(12, d, runs, rounds, 0) for d in deltas]
    return a._point_task, tasks, a._point_cost


def district_tasks(quick: bool) -> tuple[Callable[[Any], Any], list[Any], Callable[[Any], float]]:
    from specmarket.reproductions import district as d

    sizes = [10, 30, 50] if quick else list(range(10, 101, 10))
    reps = 2 if quick else 8
    tasks = [(n, rep, 10, 0.3, 0) for n in sizes for rep in range(reps)]
    return d._market_task, tasks, d._market_cost


def lazar_tasks(quick: bool) -> tuple[Callable[[Any], Any], list[Any], Callable[[Any], float]]:
    from specmarket.reproductions import lazar_semret as ls

    pops = ls.QUICK_POPULATIONS if quick else ls.FULL_POPULATIONS
    children = np.random.SeedSequence(0).spawn(len(pops))
    tasks = [(n, 0, children[k]) for k, n in enumerate(pops)]
    return ls._one_run, tasks, lambda t: float(t[0]) ** 2


BUILDERS = {"adaptive": adaptive_tasks, "district": district_tasks, "lazar-semret": lazar_tasks}


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--only", choices=sorted(BUILDERS), default=None, help="one reproduction")
    args = ap.parse_args()
    repeats = args.repeats or (3 if args.quick else 5)
    print(machine_note())
    for name, build in BUILDERS.items():
        if args.only and name != args.only:
            continue
        fn, tasks, cost = build(args.quick)
        bounds: list[float] = []
        timed = Timed(fn)
        s = measure(
            {
                "-j 1": lambda timed=timed, tasks=tasks, cost=cost: map_tasks(
                    timed, tasks, 1, cost
                ),
                "-j 2": lambda fn=fn, tasks=tasks, cost=cost: map_tasks(fn, tasks, 2, cost),
                "burn": lambda b=bounds: b.append(machine_speedup(1_500_000)),
            },
            repeats,
        )
        s.pop("burn")
        one, two = s["-j 1"], s["-j 2"]
        print_samples(f"{name}: {len(tasks)} independent tasks", [one, two])
        same = repr(one.result) == repr(two.result)
        bound = float(np.median(bounds))
        ratio = one.median("wall") / two.median("wall")
        cpu = two.median("cpu") / one.median("cpu")
        per_task = [
            float(np.median(timed.seconds[i :: len(tasks)])) for i in range(len(tasks))
        ]
        ideal = two_core_speedup(
            per_task, [cost(t) for t in tasks], max(0.0, two.median("cpu") - one.median("cpu"))
        )
        print(
            f"  identical results: {same}; CPU -j 2 / -j 1 {cpu:.2f}; "
            f"machine's own 2-process speed-up now: {bound:.2f}×; "
            f"on two free cores (from the tasks' CPU seconds): {ideal:.2f}×"
        )
        goal(
            f"reproduce {name}: -j 2 vs -j 1 ({len(tasks)} tasks)",
            "≥ 1.8× (two free cores)",
            ratio,
            1.8,
            "wall",
            higher_is_better=True,
            median_text=f"{ratio:.2f}× (machine bound {bound:.2f}×, free cores {ideal:.2f}×)",
        )


if __name__ == "__main__":
    main()
