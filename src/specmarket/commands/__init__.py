"""CLI plug-ins: every module here defining ``register(app: typer.Typer) -> None`` adds its commands
to the ``specmarket`` app. Keeps :mod:`specmarket.cli` small and lets each mechanism bring its own
commands (``gittins``, ``simulate ...``) without editing a shared file."""

from __future__ import annotations

import importlib
import pkgutil

import typer


def register_all(app: typer.Typer) -> None:
    for info in pkgutil.iter_modules(__path__, prefix=__name__ + "."):
        module = importlib.import_module(info.name)
        register = getattr(module, "register", None)
        if register is not None:
            register(app)
