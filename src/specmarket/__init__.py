"""specmarket: truthful auctions for secondary wireless markets.

Mechanisms (``specmarket.mechanisms``) are pure functions over immutable, validated instances that
return an :class:`~specmarket.core.Outcome` with signed payments (positive: the participant pays).
"""

from specmarket.core import InvalidInput, MechanismSpec, Outcome, SpecmarketError
from specmarket.mechanisms import get as get_mechanism
from specmarket.mechanisms import registry as mechanism_registry

__version__ = "0.1.0"

__all__ = [
    "InvalidInput",
    "MechanismSpec",
    "Outcome",
    "SpecmarketError",
    "__version__",
    "get_mechanism",
    "mechanism_registry",
]
