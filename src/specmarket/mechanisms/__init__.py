"""The mechanism registry: one explicit table, each module imported on first use.

:data:`TABLE` has one row per mechanism: its registry name, the module that defines its
:class:`~specmarket.core.MechanismSpec` (as ``SPEC``, or among ``SPECS``), the properties it claims
and its one-line title. The row carries the claims and the title so that ``specmarket mechanisms``
lists every mechanism without importing any of them (District-D's module loads scipy, the data
market's loads numba); :func:`get` imports only the module of the mechanism asked for, and
:func:`registry` imports them all. ``tests/test_registry.py`` checks that every row agrees with the
spec its module defines, and that every spec under :mod:`specmarket.mechanisms` has a row, so a
forgotten or stale row fails a test. Adding a mechanism is adding a module and one row here.
"""
# The table keeps one row per line, however long:
# ruff: noqa: E501

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, NamedTuple

from specmarket.errors import UnknownMechanism

if TYPE_CHECKING:
    from specmarket.core.spec import MechanismSpec


class Row(NamedTuple):
    """One row of :data:`TABLE`: what the listing shows, and where the spec lives."""

    name: str
    module: str
    claims: str  # the claimed properties, space-separated, sorted
    title: str


TABLE: tuple[Row, ...] = (
    Row("adaptive", "specmarket.mechanisms.adaptive.mechanism", "bb npt", "ADAPTIVE: repeated channel auction, Gittins-index allocation, externality payments"),
    Row("cat", "specmarket.mechanisms.cat", "bb bb-ex-ante ir", "CAT team spectrum auction with surplus sharing (legal teams, ascending clock, Shapley)"),
    Row("data-market", "specmarket.mechanisms.psp.market", "", "Distributed PSP data-exchange market (2cm), simulated to convergence"),
    Row("district", "specmarket.mechanisms.district", "bb-ex-ante ic ir npt", "District-D: Bayesian-optimal truthful spectrum double auction with local markets"),
    Row("first-price", "specmarket.mechanisms.foils", "bb ir npt", "First-price auction of one item (not truthful; a foil for the auditor)"),
    Row("mcafee", "specmarket.mechanisms.mcafee", "bb ic ir npt", "McAfee's trade-reduction double auction"),
    Row("pay-as-bid", "specmarket.mechanisms.foils", "bb ir npt", "Pay-as-bid double auction (not truthful; a foil for the auditor)"),
    Row("psp", "specmarket.mechanisms.psp.rules", "bb npt", "Progressive second price auction of one divisible resource (Lazar–Semret)"),
    Row("trust", "specmarket.mechanisms.trust", "bb ic ir npt", "TRUST double spectrum auction with reuse (baseline of District-D)"),
    Row("vcg", "specmarket.mechanisms.vcg", "bb ic ir npt", "VCG auction of k identical units (Clarke pivot payments)"),
    Row("vickrey", "specmarket.mechanisms.vickrey", "bb ic ir npt", "Vickrey second-price auction of one item"),
)

_ROWS: dict[str, Row] = {row.name: row for row in sorted(TABLE)}


def names() -> list[str]:
    """The registered mechanism names, sorted (imports nothing)."""
    return list(_ROWS)


def rows() -> list[Row]:
    """The rows of :data:`TABLE`, sorted by name (imports nothing)."""
    return list(_ROWS.values())


def specs_of(module: Any) -> list[MechanismSpec[Any]]:
    """The specs a mechanism module defines: its ``SPEC`` and the members of its ``SPECS``."""
    found: list[MechanismSpec[Any]] = list(getattr(module, "SPECS", ()))
    if hasattr(module, "SPEC"):
        found.append(module.SPEC)
    return found


def get(name: str) -> MechanismSpec[Any]:
    """The mechanism called ``name``, importing only its module; :class:`UnknownMechanism` if no
    row of :data:`TABLE` has that name."""
    row = _ROWS.get(name)
    if row is None:
        raise UnknownMechanism(name, names())
    for spec in specs_of(importlib.import_module(row.module)):
        if spec.name == name:
            return spec
    raise RuntimeError(f"module {row.module} defines no mechanism named {name!r} (see TABLE)")


def registry() -> dict[str, MechanismSpec[Any]]:
    """All registered mechanisms, by name (sorted); imports every mechanism module."""
    return {name: get(name) for name in _ROWS}


__all__ = ["TABLE", "Row", "get", "names", "registry", "rows", "specs_of"]
