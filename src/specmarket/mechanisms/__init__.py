"""The mechanism registry.

Every module (or subpackage) under :mod:`specmarket.mechanisms` that defines a module-level ``SPEC``
(a :class:`~specmarket.core.MechanismSpec`) or ``SPECS`` (a tuple of them) is registered under its
``name``. Adding a mechanism is adding a module; nothing else needs editing.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from specmarket.core.spec import MechanismSpec
from specmarket.errors import UnknownMechanism


@cache
def registry() -> dict[str, MechanismSpec]:
    """All registered mechanisms, by name (sorted)."""
    found: dict[str, MechanismSpec] = {}
    for info in pkgutil.walk_packages(__path__, prefix=__name__ + "."):
        module = importlib.import_module(info.name)
        specs = list(getattr(module, "SPECS", ()))
        if hasattr(module, "SPEC"):
            specs.append(module.SPEC)
        for spec in specs:
            if spec.name in found and found[spec.name] is not spec:
                raise RuntimeError(f"two mechanisms named {spec.name!r}")
            found[spec.name] = spec
    return dict(sorted(found.items()))


def get(name: str) -> MechanismSpec:
    """The mechanism called ``name``; :class:`UnknownMechanism` if none is."""
    reg = registry()
    if name not in reg:
        raise UnknownMechanism(name, list(reg))
    return reg[name]


__all__ = ["get", "registry"]
