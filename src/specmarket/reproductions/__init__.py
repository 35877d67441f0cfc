"""Reproductions of the seeds' results: ``specmarket reproduce NAME`` and ``specmarket demo``.

Each module in this package that defines a module-level ``REPRODUCTION`` (a :class:`Reproduction`)
is registered under its name. A reproduction writes its tables (CSV/Parquet) and figures (PNG/SVG)
into ``ctx.out_dir`` and returns a :class:`ReproResult` describing them, which the report
(:mod:`specmarket.experiments`) turns into HTML. ``ctx.quick`` asks for a small version
(seconds, for
the demo and the tests); the full version reproduces the seed's figure.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from specmarket.errors import SpecmarketError


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


@cache
def registry() -> dict[str, Reproduction]:
    """All bundled reproductions, by name."""
    found: dict[str, Reproduction] = {}
    for info in pkgutil.iter_modules(__path__, prefix=__name__ + "."):
        module = importlib.import_module(info.name)
        rep = getattr(module, "REPRODUCTION", None)
        if rep is not None:
            found[rep.name] = rep
    return dict(sorted(found.items()))


def get(name: str) -> Reproduction:
    reg = registry()
    if name not in reg:
        raise SpecmarketError(f"unknown reproduction {name!r}; known: {', '.join(reg) or 'none'}")
    return reg[name]
