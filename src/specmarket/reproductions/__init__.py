"""Reproductions of the seeds' results: ``specmarket reproduce NAME`` and ``specmarket demo``.

:data:`TABLE` has one row per reproduction: its name, the module that defines it as a module-level
``REPRODUCTION`` (a :class:`Reproduction`), and one short line saying what it shows, so that
``specmarket reproduce --help`` lists them without importing any (they load pandas and
matplotlib); :func:`get` imports only the module asked for, :func:`registry` all of them.
``tests/test_registry.py`` checks that the rows agree with the modules and that every module of this
package defining ``REPRODUCTION`` has a row. A reproduction writes its tables (CSV/Parquet) and figures (PNG/SVG)
into ``ctx.out_dir`` and returns a :class:`ReproResult` describing them, which the report
(:mod:`specmarket.experiments`) turns into HTML. ``ctx.quick`` asks for a small version
(seconds, for
the demo and the tests); the full version reproduces the seed's figure.
"""

# The table keeps one row per line, however long:
# ruff: noqa: E501

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from specmarket.errors import SpecmarketError


class Row(NamedTuple):
    """One row of :data:`TABLE`: the name, the module defining ``REPRODUCTION``, and one short
    line (at most 56 characters, to fit 80 columns) for ``specmarket reproduce --help``."""

    name: str
    module: str
    line: str


TABLE: tuple[Row, ...] = (
    Row("adaptive", "specmarket.reproductions.adaptive", "ADAPTIVE vs Vickrey (seed 004 Figs. 2–7)"),
    Row("baselines", "specmarket.reproductions.baselines", "McAfee vs VCG double auction as the market grows"),
    Row("cat", "specmarket.reproductions.cat", "CAT team auction vs VCG and no sharing (seed 000)"),
    Row("district", "specmarket.reproductions.district", "District-D vs TRUST vs McAfee vs buyers (seed 003)"),
    Row("lazar-semret", "specmarket.reproductions.lazar_semret", "PSP ε-best-reply dynamics vs population (seed 002)"),
)

_ROWS: dict[str, Row] = {row.name: row for row in sorted(TABLE)}


@dataclass(frozen=True)
class ReproContext:
    """Where and how to run a reproduction."""

    out_dir: Path
    quick: bool = False
    seed: int = 0
    workers: int = 1


@dataclass
class ReproResult:
    """What a reproduction produced.

    ``tables`` maps a short caption to a CSV or Parquet path; ``figures`` maps a caption to a PNG
    (an SVG beside it with the same stem is welcome); ``summary`` is a few sentences of findings in
    plain text or simple Markdown (what matches the seed, what does not, and why).
    """

    name: str
    title: str
    tables: dict[str, Path] = field(default_factory=dict)
    figures: dict[str, Path] = field(default_factory=dict)
    summary: str = ""
    parameters: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Reproduction:
    """A named, runnable reproduction of a seed's result."""

    name: str
    title: str
    run: Callable[[ReproContext], ReproResult]


def names() -> list[str]:
    """The bundled reproduction names, sorted (imports nothing)."""
    return list(_ROWS)


def rows() -> list[Row]:
    """The rows of :data:`TABLE`, sorted by name (imports nothing)."""
    return list(_ROWS.values())


def load(row: Row) -> Reproduction:
    """Import the module of ``row`` and return the reproduction it defines."""
    rep = getattr(importlib.import_module(row.module), "REPRODUCTION", None)
    if not isinstance(rep, Reproduction) or rep.name != row.name:
        raise RuntimeError(f"module {row.module} defines no reproduction named {row.name!r}")
    return rep


def registry() -> dict[str, Reproduction]:
    """All bundled reproductions, by name; imports every reproduction module."""
    return {row.name: load(row) for row in _ROWS.values()}


def get(name: str) -> Reproduction:
    """The reproduction called ``name``, importing only its module."""
    row = _ROWS.get(name)
    if row is None:
        raise SpecmarketError(f"unknown reproduction {name!r}; known: {', '.join(_ROWS) or 'none'}")
    return load(row)
