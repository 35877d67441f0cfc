"""Errors raised by specmarket.

Every error a user can trigger with bad input is an :class:`InvalidInput` that names the field (as a
path such as ``bidders[2].bid``) and the offending value, so that the CLI can print one line
and exit
with status 2 instead of a traceback from deep inside numpy.
"""

from __future__ import annotations

from typing import Any


class SpecmarketError(Exception):
    """Base class of every error specmarket raises on purpose."""


class InvalidInput(SpecmarketError, ValueError):
    """Bad input: names the field, the value and what is wrong with it.

    Parameters
    ----------
    field
        Dotted path of the field, e.g. ``"buyers[0].bid"``.
    value
        The offending value as received.
    reason
        What is wrong, in words ("must be finite", "unknown id", ...).
    """

    def __init__(self, field: str, value: Any, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"{field}: {reason} (got {_short_repr(value)})")


class UnknownMechanism(SpecmarketError, KeyError):
    """A mechanism name that the registry does not know."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        self.known = known
        super().__init__(name)

    def __str__(self) -> str:
        return f"unknown mechanism {self.name!r}; known: {', '.join(self.known)}"


def _short_repr(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
