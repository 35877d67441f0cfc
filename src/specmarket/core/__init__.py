"""The shared vocabulary of specmarket: validated inputs, outcomes, mechanism specs, errors."""

from specmarket.core.model import (
    Count,
    Finite,
    Id,
    Model,
    NonNegative,
    Positive,
    PositiveCount,
    require_nonempty,
    require_spectrum_market,
    require_unique_ids,
)
from specmarket.core.outcome import Outcome
from specmarket.core.spec import MechanismSpec, Role
from specmarket.errors import InvalidInput, SpecmarketError

__all__ = [
    "Count",
    "Finite",
    "Id",
    "InvalidInput",
    "MechanismSpec",
    "Model",
    "NonNegative",
    "Outcome",
    "Positive",
    "PositiveCount",
    "Role",
    "SpecmarketError",
    "require_nonempty",
    "require_spectrum_market",
    "require_unique_ids",
]
