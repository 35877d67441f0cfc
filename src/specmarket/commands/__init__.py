"""CLI plug-ins: the commands that live outside :mod:`specmarket.cli`, in one explicit table.

Each module here defines ``register(app: typer.Typer) -> None`` that adds its commands to an app.
:data:`TABLE` names every such command with the module that registers it and the help panel it is
listed under in ``specmarket --help``. :class:`LazyGroup` (the ``specmarket`` app's command group)
knows the names from the table alone and imports a module only when one of its commands is run or
shown in a help page (``specmarket --help`` lists them all, importing the light command modules but
nothing heavy), so ``specmarket clear ...`` imports none of them. ``tests/test_registry.py``
checks that each module registers exactly the commands its rows name.

A command may be spread over several modules: ``simulate data-market`` is added by
:mod:`.data_market` to the ``simulate`` group that :mod:`.psp` defines, so ``simulate`` has a row
for each, and loading ``simulate`` registers both.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, NamedTuple

import typer
from typer.core import TyperGroup
from typer.main import get_group

if TYPE_CHECKING:
    from typer._click import Command, Context

#: Help panels of ``specmarket --help``.
MECHANISMS = "Mechanisms"
SIMULATIONS = "Simulations"
EXPERIMENTS = "Experiments"
SERVICE = "Service"


class Row(NamedTuple):
    """One row of :data:`TABLE`: a top-level command, the module that registers it, its panel."""

    command: str
    module: str
    panel: str


TABLE: tuple[Row, ...] = (
    Row("gittins", "specmarket.commands.adaptive", MECHANISMS),
    Row("simulate", "specmarket.commands.psp", SIMULATIONS),
    Row("simulate", "specmarket.commands.data_market", SIMULATIONS),
    Row("run", "specmarket.commands.experiments", EXPERIMENTS),
    Row("summary", "specmarket.commands.experiments", EXPERIMENTS),
    Row("report", "specmarket.commands.experiments", EXPERIMENTS),
    Row("reproduce", "specmarket.commands.experiments", EXPERIMENTS),
    Row("demo", "specmarket.commands.experiments", EXPERIMENTS),
    Row("serve", "specmarket.commands.service", SERVICE),
    Row("market", "specmarket.commands.service", SERVICE),
    Row("agent", "specmarket.commands.agent", SERVICE),
)

#: Commands already built, by name (one import and registration per command for the process).
_loaded: dict[str, Command] = {}


def names() -> list[str]:
    """The plug-in command names, in table order (imports nothing)."""
    return list(dict.fromkeys(row.command for row in TABLE))


def build(modules: list[str]) -> typer.Typer:
    """A fresh app with the commands of ``modules`` registered (each module imported)."""
    app = typer.Typer()
    for module in modules:
        importlib.import_module(module).register(app)
    return app


def load(name: str) -> Command | None:
    """The click command of plug-in ``name``: imports and registers the modules of its rows."""
    if name not in _loaded:
        rows = [row for row in TABLE if row.command == name]
        if not rows:
            return None
        group = get_group(build(list(dict.fromkeys(row.module for row in rows))))
        cmd = group.commands.get(name)
        if cmd is None:
            raise RuntimeError(f"modules {[r.module for r in rows]} register no command {name!r}")
        cmd.rich_help_panel = rows[0].panel  # type: ignore[attr-defined]  # Typer's commands have it
        _loaded[name] = cmd
    return _loaded[name]


class LazyGroup(TyperGroup):
    """The ``specmarket`` command group: its own commands plus the plug-ins of :data:`TABLE`,
    each imported on first use."""

    def list_commands(self, ctx: Context) -> list[str]:
        own = super().list_commands(ctx)
        return own + [n for n in names() if n not in own]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        cmd = super().get_command(ctx, cmd_name)
        return cmd if cmd is not None else load(cmd_name)

    def resolve_command(
        self, ctx: Context, args: list[str]
    ) -> tuple[str | None, Command | None, list[str]]:
        if args and args[0] not in self.list_commands(ctx):
            # an unknown name: load every plug-in so that "did you mean ..." can suggest them
            for name in names():
                cmd = load(name)
                if cmd is not None:
                    self.commands.setdefault(name, cmd)
        return super().resolve_command(ctx, args)


__all__ = ["TABLE", "LazyGroup", "Row", "build", "load", "names"]
