"""Declarative experiment scenarios (TOML), validated before any run starts.

A scenario names the mechanisms to compare, an instance generator
(:mod:`specmarket.experiments.generators`) with its fixed parameters, sweep axes (generator
parameters with a list of values each; runs cover their cartesian product), the number of
repetitions of each grid point and a master seed::

    name = "baselines"
    title = "McAfee vs VCG as the market grows"
    mechanisms = ["mcafee", "vcg"]
    generator = "double-auction"
    repetitions = 200
    seed = 2026

    [params]            # fixed generator parameters (defaults for the rest)
    value_high = 1.0

    [sweep]             # axes: cartesian product, in this order
    buyers = [2, 4, 8, 16, 32, 64]

    [labels]            # optional axis/metric labels for figures
    buyers = "buyers = sellers"

    [quick]             # optional smaller version (`--quick`): repetitions, sweep, params
    repetitions = 20
    sweep = { buyers = [2, 8, 32] }

Every mistake (unknown mechanism or generator, a mechanism the generator cannot feed, an unknown
parameter, a wrong type, an empty axis, a value the generator rejects) is an
:class:`~specmarket.errors.InvalidInput` naming the field, raised by :func:`load_scenario`.

Seeds: run ``(point, repetition)`` draws from ``numpy.random.default_rng(seed)`` with
``seed = run_seed(master, point, repetition)``, a 63-bit integer from
``SeedSequence(master, spawn_key=(point, repetition))`` — the same child ``SeedSequence.spawn``
would make — so a run's numbers depend neither on the number of workers nor on the order in which
runs finish, adding repetitions keeps the existing runs, and any single row can be re-run from the
``seed`` column of the results.
"""

from __future__ import annotations

import itertools
import json
from functools import cached_property
from pathlib import Path
from typing import Any, Self

import numpy as np
from pydantic import Field, model_validator

from specmarket import io
from specmarket.core import Id, Model, PositiveCount
from specmarket.core.model import Count
from specmarket.errors import InvalidInput
from specmarket.experiments.generators import Generator, get_generator

#: Columns every results row has besides the sweep axes and the metrics.
RESERVED_COLUMNS = ("run", "point", "rep", "seed", "mechanism")


class QuickOverrides(Model):
    """What ``--quick`` replaces: fewer repetitions, a smaller sweep, other fixed parameters."""

    repetitions: PositiveCount | None = None
    sweep: dict[str, list[Any]] | None = None
    params: dict[str, Any] | None = None


class Scenario(Model):
    """One experiment: mechanisms × generator parameter grid × repetitions, from a master seed."""

    name: Id
    title: str = ""
    description: str = ""
    mechanisms: tuple[Id, ...]
    generator: Id
    params: dict[str, Any] = Field(default_factory=dict)
    sweep: dict[str, list[Any]] = Field(default_factory=dict)
    repetitions: PositiveCount = 10
    seed: Count = 0
    metrics: tuple[str, ...] | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    quick: QuickOverrides | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        from specmarket.mechanisms import registry

        gen = get_generator(self.generator)
        if not self.mechanisms:
            raise InvalidInput("mechanisms", [], "must name at least one mechanism")
        reg = registry()
        seen: set[str] = set()
        for k, name in enumerate(self.mechanisms):
            field = f"mechanisms[{k}]"
            if name in seen:
                raise InvalidInput(field, name, "listed twice")
            seen.add(name)
            if name not in reg:
                raise InvalidInput(field, name, f"unknown mechanism; known: {', '.join(reg)}")
            if not gen.supports(reg[name]):
                can = ", ".join(sorted(gen.adapters)) or "those with a random_instance"
                raise InvalidInput(
                    field, name, f"generator {gen.name!r} cannot feed it; it feeds: {can}"
                )
        _check_params(gen, self.params, self.sweep, "")
        if self.metrics is not None:
            for k, m in enumerate(self.metrics):
                if m not in gen.metrics:
                    raise InvalidInput(
                        f"metrics[{k}]",
                        m,
                        f"unknown metric; {gen.name!r} gives: {', '.join(gen.metrics)}",
                    )
        if self.quick is not None:
            q = self.quick
            _check_params(
                gen,
                self.params if q.params is None else q.params,
                self.sweep if q.sweep is None else q.sweep,
                "quick.",
            )
        return self

    # ------------------------------------------------------------------ derived

    @cached_property
    def gen(self) -> Generator:
        """The generator object."""
        return get_generator(self.generator)

    @property
    def axes(self) -> list[str]:
        """Sweep axis names, in file order."""
        return list(self.sweep)

    @cached_property
    def points(self) -> list[dict[str, Any]]:
        """The grid: one dict of axis values per point (cartesian product, last axis fastest)."""
        return [
            dict(zip(self.axes, vals, strict=True))
            for vals in itertools.product(*(self.sweep[a] for a in self.axes))
        ]

    @cached_property
    def point_params(self) -> list[Any]:
        """The validated generator parameters of each grid point."""
        return [self.gen.params.parse({**self.params, **pt}) for pt in self.points]

    @property
    def n_runs(self) -> int:
        """Grid points × repetitions (each run clears one market with every mechanism)."""
        return len(self.points) * self.repetitions

    @property
    def metric_names(self) -> list[str]:
        """Metrics to summarise and plot (the scenario's choice, else all of the generator's)."""
        return list(self.metrics) if self.metrics is not None else list(self.gen.metrics)

    def label(self, column: str) -> str:
        """Readable label of an axis or metric for figures and tables."""
        if column in self.labels:
            return self.labels[column]
        if column in self.gen.metrics:
            return self.gen.metrics[column]
        return self.gen.param_labels.get(column, column.replace("_", " "))

    def with_quick(self) -> Scenario:
        """The small version: the ``[quick]`` overrides applied (itself if there are none)."""
        data = self.to_dict()
        q = data.pop("quick", None) or {}
        for key, value in q.items():
            if value is not None:
                data[key] = value
        return Scenario.parse(data)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (round-trips through :meth:`Scenario.parse`)."""
        return self.model_dump(mode="json", exclude_none=True)

    def fingerprint(self) -> str:
        """Canonical JSON of what determines the numbers (used to refuse mixing two scenarios)."""
        d = self.to_dict()
        keep = ("mechanisms", "generator", "params", "sweep", "repetitions", "seed")
        return json.dumps({k: d.get(k) for k in keep}, sort_keys=True)

    def run_index(self, point: int, rep: int) -> int:
        """Index of run ``(point, rep)``: points in grid order, repetitions inside."""
        return point * self.repetitions + rep


def _check_params(
    gen: Generator, params: dict[str, Any], sweep: dict[str, list[Any]], prefix: str
) -> None:
    fields = set(gen.params.model_fields)
    known = ", ".join(gen.params.model_fields) or "none"
    for key in params:
        if key not in fields:
            raise InvalidInput(
                f"{prefix}params.{key}",
                params[key],
                f"unknown parameter of generator {gen.name!r}; known: {known}",
            )
    for axis, values in sweep.items():
        if axis not in fields:
            raise InvalidInput(
                f"{prefix}sweep.{axis}",
                values,
                f"unknown parameter of generator {gen.name!r}; known: {known}",
            )
        if axis in params:
            raise InvalidInput(f"{prefix}sweep.{axis}", values, "is also fixed in [params]")
    try:
        gen.params.parse(dict(params))
    except InvalidInput as exc:
        if exc.field not in sweep:  # else every point of that axis replaces the faulty value
            raise InvalidInput(f"{prefix}params.{exc.field}", exc.value, exc.reason) from None
    for axis, values in sweep.items():
        if len(values) == 0:
            raise InvalidInput(
                f"{prefix}sweep.{axis}", values, "empty axis: give at least one value"
            )
        for k, v in enumerate(values):
            try:
                gen.params.parse({**params, axis: v})
            except InvalidInput as exc:
                if exc.field == axis:
                    raise InvalidInput(f"{prefix}sweep.{axis}[{k}]", v, exc.reason) from None
                # a cross-field check: judged on the grid points below
    axes = list(sweep)
    for vals in itertools.product(*(sweep[a] for a in axes)):
        point = dict(zip(axes, vals, strict=True))
        try:
            gen.params.parse({**params, **point})
        except InvalidInput as exc:
            raise InvalidInput(
                f"{prefix}sweep (point {point})", exc.value, f"{exc.field}: {exc.reason}"
            ) from None


def load_scenario(source: str | Path | dict[str, Any], quick: bool = False) -> Scenario:
    """Read and validate a scenario from a TOML file (or an already decoded dict).

    With ``quick=True`` the ``[quick]`` overrides are applied.
    """
    data = io.read_toml(source) if isinstance(source, (str, Path)) else source
    scenario = Scenario.parse(data)
    return scenario.with_quick() if quick else scenario


def run_seed(master: int, point: int, rep: int) -> int:
    """The 63-bit seed of run ``(point, rep)``: ``SeedSequence(master, spawn_key=(point, rep))``."""
    state = np.random.SeedSequence(master, spawn_key=(point, rep)).generate_state(2, np.uint32)
    return int((int(state[0]) << 32 | int(state[1])) & ((1 << 63) - 1))


__all__ = ["RESERVED_COLUMNS", "Scenario", "load_scenario", "run_seed"]
