"""specmarket: truthful auctions for secondary wireless markets.

Mechanisms (``specmarket.mechanisms``) are pure functions over immutable, validated instances that
return an :class:`~specmarket.core.Outcome` with signed payments (positive: the participant pays).

The names below are imported on first access (PEP 562), so that ``import specmarket.cli`` does not
load pydantic and numpy before a command needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from specmarket.core import InvalidInput, MechanismSpec, Outcome, SpecmarketError
    from specmarket.mechanisms import get as get_mechanism
    from specmarket.mechanisms import registry as mechanism_registry

__version__ = "0.1.0"

#: public name -> (module, attribute there)
_LAZY: dict[str, tuple[str, str]] = {
    "InvalidInput": ("specmarket.errors", "InvalidInput"),
    "MechanismSpec": ("specmarket.core.spec", "MechanismSpec"),
    "Outcome": ("specmarket.core.outcome", "Outcome"),
    "SpecmarketError": ("specmarket.errors", "SpecmarketError"),
    "get_mechanism": ("specmarket.mechanisms", "get"),
    "mechanism_registry": ("specmarket.mechanisms", "registry"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attribute = _LAZY[name]
        value = getattr(importlib.import_module(module), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'specmarket' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "InvalidInput",
    "MechanismSpec",
    "Outcome",
    "SpecmarketError",
    "__version__",
    "get_mechanism",
    "mechanism_registry",
]
