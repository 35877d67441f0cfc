"""The explicit registry tables agree with the modules they name, and name every module there is.

Each table (mechanisms, CLI command plug-ins, reproductions) is checked both ways: every row imports
and defines what it says, and every module of the package that defines a mechanism, a ``register``
function or a reproduction has a row, so a forgotten or stale row fails here.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

import pytest
import typer

import specmarket.commands as commands_pkg
import specmarket.mechanisms as mechanisms_pkg
import specmarket.reproductions as reproductions_pkg
from specmarket.commands import TABLE as COMMAND_TABLE
from specmarket.errors import UnknownMechanism
from specmarket.mechanisms import TABLE as MECHANISM_TABLE
from specmarket.mechanisms import get, specs_of
from specmarket.reproductions import TABLE as REPRODUCTION_TABLE
from specmarket.reproductions import Reproduction


def _modules(pkg: ModuleType) -> list[ModuleType]:
    """Every module under ``pkg`` (recursively), imported."""
    return [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(pkg.__path__, prefix=pkg.__name__ + ".")
    ]


# -- mechanisms ---------------------------------------------------------------------------------


@pytest.mark.parametrize("row", MECHANISM_TABLE, ids=lambda r: r.name)
def test_every_mechanism_row_agrees_with_its_module(row: mechanisms_pkg.Row) -> None:
    module = importlib.import_module(row.module)
    spec = get(row.name)
    assert spec.name == row.name
    assert any(s is spec for s in specs_of(module)), f"{row.module} does not define {row.name}"
    assert spec.title == row.title
    assert row.claims.split() == sorted(spec.claims)


def test_every_mechanism_module_has_its_rows() -> None:
    names = [r.name for r in MECHANISM_TABLE]
    assert len(names) == len(set(names)), "a mechanism name appears twice"
    found = set()
    for module in _modules(mechanisms_pkg):
        for spec in specs_of(module):
            assert spec.name in names, f"{module.__name__} defines {spec.name!r}, not in TABLE"
            assert get(spec.name) is spec  # a package re-exporting a spec is fine, a twin is not
            found.add(spec.name)
    assert found == set(names)


def test_registry_and_get() -> None:
    reg = mechanisms_pkg.registry()
    assert list(reg) == sorted(r.name for r in MECHANISM_TABLE) == mechanisms_pkg.names()
    assert get("vickrey") is reg["vickrey"]
    with pytest.raises(UnknownMechanism, match="unknown mechanism 'nope'; known: adaptive"):
        get("nope")


# -- reproductions ------------------------------------------------------------------------------


@pytest.mark.parametrize("row", REPRODUCTION_TABLE, ids=lambda r: r.name)
def test_every_reproduction_row_agrees_with_its_module(row: reproductions_pkg.Row) -> None:
    rep = importlib.import_module(row.module).REPRODUCTION
    assert isinstance(rep, Reproduction) and rep.name == row.name
    assert reproductions_pkg.get(row.name) is rep
    assert 0 < len(row.line) <= 56, "one short line for `specmarket reproduce --help`"


def test_every_reproduction_module_has_a_row() -> None:
    rows = {(r.name, r.module) for r in REPRODUCTION_TABLE}
    defined = {
        (m.REPRODUCTION.name, m.__name__)
        for m in _modules(reproductions_pkg)
        if hasattr(m, "REPRODUCTION")
    }
    assert defined == rows
    assert reproductions_pkg.names() == sorted(r.name for r in REPRODUCTION_TABLE)
    assert set(reproductions_pkg.registry()) == {r.name for r in REPRODUCTION_TABLE}


def test_a_broken_reproduction_row_is_reported_not_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    from specmarket.commands.experiments import discover_tolerantly

    broken = reproductions_pkg.Row("ghost", "specmarket.reproductions.no_such_module", "x")
    monkeypatch.setitem(reproductions_pkg._ROWS, "ghost", broken)
    found, failures = discover_tolerantly()
    assert "baselines" in found and "ghost" not in found
    assert [f.name for f in failures] == ["ghost"] and "no_such_module" in failures[0].error


# -- CLI command plug-ins -----------------------------------------------------------------------


def _top_level_names(app: typer.Typer) -> set[str]:
    names = {c.name or c.callback.__name__.replace("_", "-") for c in app.registered_commands}
    return names | {g.name for g in app.registered_groups if g.name}


def test_every_command_module_registers_what_its_rows_say() -> None:
    modules = [m for m in _modules(commands_pkg) if hasattr(m, "register")]
    in_table = {r.module for r in COMMAND_TABLE}
    assert {m.__name__ for m in modules} == in_table, "a commands module without a row (or back)"
    for module in modules:
        registered = _top_level_names(commands_pkg.build([module.__name__]))
        rows = {r.command for r in COMMAND_TABLE if r.module == module.__name__}
        # a module may add to a group another module defines (data_market -> simulate)
        assert registered <= rows, (module.__name__, registered, rows)


@pytest.mark.parametrize("name", commands_pkg.names())
def test_every_command_row_loads_with_its_panel(name: str) -> None:
    cmd = commands_pkg.load(name)
    assert cmd is not None and cmd.name == name
    panels = {r.panel for r in COMMAND_TABLE if r.command == name}
    assert len(panels) == 1 and getattr(cmd, "rich_help_panel", None) in panels


def test_simulate_has_the_subcommands_of_both_modules() -> None:
    simulate = commands_pkg.load("simulate")
    assert simulate is not None
    assert {"psp", "data-market"} <= set(simulate.commands)  # type: ignore[attr-defined]


def test_unknown_command_is_not_loaded() -> None:
    assert commands_pkg.load("nope") is None
