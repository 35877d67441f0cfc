"""ADAPTIVE (seed 004): Gittins indices (:mod:`.gittins`), exact bandit values
(:mod:`.bandit_value`)
and the mechanism (:mod:`.mechanism`, which defines ``SPEC``)."""

from specmarket.mechanisms.adaptive.gittins import gittins_indices
from specmarket.mechanisms.adaptive.mechanism import Instance, clear

__all__ = ["Instance", "clear", "gittins_indices"]
