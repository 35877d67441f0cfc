"""Experiments: declarative scenarios, parallel resumable sweeps, results, figures, HTML reports.

Typical use::

    from specmarket.experiments import load_scenario, run_scenario, load_results, summarize

    sc = load_scenario("scenario.toml")
    sweep = run_scenario(sc, "results/my-sweep", workers=2)
    print(summarize(load_results("results/my-sweep")))

On the command line: ``specmarket run``, ``summary``, ``report``, ``reproduce`` and ``demo``
(docs/experiments.md). Heavy modules (matplotlib) are imported only when figures are drawn.
"""

from specmarket.experiments.generators import (
    Adapter,
    Generator,
    generators,
    get_generator,
    register_generator,
)
from specmarket.experiments.results import Results, ResultStore, load_results, mean_ci, summarize
from specmarket.experiments.runner import RunError, SweepResult, execute_run, run_scenario
from specmarket.experiments.scenario import Scenario, load_scenario, run_seed

__all__ = [
    "Adapter",
    "Generator",
    "ResultStore",
    "Results",
    "RunError",
    "Scenario",
    "SweepResult",
    "execute_run",
    "generators",
    "get_generator",
    "load_results",
    "load_scenario",
    "mean_ci",
    "register_generator",
    "run_scenario",
    "run_seed",
    "summarize",
]
