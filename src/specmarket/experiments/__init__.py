"""Experiments: declarative scenarios, parallel resumable sweeps, results, figures, HTML reports.

Typical use::

    from specmarket.experiments import load_scenario, run_scenario, load_results, summarize

    sc = load_scenario("scenario.toml")
    sweep = run_scenario(sc, "results/my-sweep", workers=2)
    print(summarize(load_results("results/my-sweep")))

On the command line: ``specmarket run``, ``summary``, ``report``, ``reproduce`` and ``demo``
(docs/experiments.md). Heavy modules (pandas, matplotlib) are imported only when used.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

# the submodule ``generators`` shares its name with a function: imported here, the function wins
from specmarket.experiments.generators import (
    Adapter,
    Generator,
    generators,
    get_generator,
    register_generator,
)
from specmarket.experiments.scenario import Scenario, load_scenario, run_seed

if TYPE_CHECKING:
    from specmarket.experiments.results import (
        Results,
        ResultStore,
        load_results,
        mean_ci,
        summarize,
    )
    from specmarket.experiments.runner import RunError, SweepResult, execute_run, run_scenario

#: Where the names of the results store and the sweep live. They load on first use (PEP 562),
#: so that importing a submodule — the task pool of :mod:`~specmarket.experiments.runner`, say —
#: does not load pandas and pyarrow: a reproduction forks its workers before it needs them.
_HOME = {
    "Results": "results",
    "ResultStore": "results",
    "load_results": "results",
    "mean_ci": "results",
    "summarize": "results",
    "RunError": "runner",
    "SweepResult": "runner",
    "execute_run": "runner",
    "run_scenario": "runner",
}


def __getattr__(name: str) -> Any:
    """The public name ``name``, imported from its submodule on first use."""
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOME])


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
