"""Immutable, validated input models shared by all mechanisms.

Instances are pydantic models configured ``frozen`` (immutable), ``extra="forbid"`` (unknown
keys are
errors) and with *strict* finite numbers (no NaN/±inf, no strings or booleans where a number is
expected). Validation happens once, when the model is built — from JSON at the CLI boundary or from
Python keyword arguments — and any failure is re-raised as :class:`specmarket.errors.InvalidInput`
naming the field and the value.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError

from specmarket.errors import InvalidInput

#: Largest magnitude accepted for a reported number. Far beyond any price or quantity of a real
#: market, and small enough that sums and products of a few thousand reports stay finite.
MAX_MAGNITUDE = 1e15

#: A finite real number (rejects NaN, ±inf, |x| > 1e15, strings, booleans).
Finite = Annotated[float, Strict(), Field(allow_inf_nan=False, ge=-MAX_MAGNITUDE, le=MAX_MAGNITUDE)]
#: A finite real number in [0, 1e15].
NonNegative = Annotated[float, Strict(), Field(allow_inf_nan=False, ge=0, le=MAX_MAGNITUDE)]
#: A finite real number in (0, 1e15].
Positive = Annotated[float, Strict(), Field(allow_inf_nan=False, gt=0, le=MAX_MAGNITUDE)]
#: A whole number in [0, 1e9] (rejects floats and booleans).
Count = Annotated[int, Strict(), Field(ge=0, le=10**9)]
#: A whole number in [1, 1e9].
PositiveCount = Annotated[int, Strict(), Field(ge=1, le=10**9)]
#: A participant id: a non-empty string.
Id = Annotated[str, Strict(), Field(min_length=1)]


def _loc_to_path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            text = str(part)
            if not text.replace("_", "a").replace("-", "a").isalnum():
                text = json.dumps(text)  # keys with spaces, newlines, brackets… stay one line
            path += ("." if path else "") + text
    return path or "<root>"


def invalid_from_pydantic(err: ValidationError, prefix: str = "") -> InvalidInput:
    """Turn the first error of a pydantic ``ValidationError`` into an :class:`InvalidInput`."""
    first = err.errors(include_url=False)[0]
    loc = tuple(
        p for p in first.get("loc", ()) if not (isinstance(p, str) and p.startswith("function-"))
    )
    path = _loc_to_path(loc)
    if prefix:
        path = f"{prefix}.{path}" if path != "<root>" else prefix
    msg = first.get("msg", "invalid")
    ctx_err = (first.get("ctx") or {}).get("error")
    if isinstance(ctx_err, InvalidInput):
        # raised by a nested model or a validator: prefix its field with where it sits
        if path == "<root>":
            return ctx_err
        inner = ctx_err.field
        if inner == "<root>":
            full = path
        else:
            full = path + (inner if inner.startswith("[") else "." + inner)
        return InvalidInput(full, ctx_err.value, ctx_err.reason)
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if first.get("type") == "finite_number":
        msg = "must be a finite number (no NaN or infinity)"
    return InvalidInput(path, first.get("input"), msg)


class Model(BaseModel):
    """Base of every input model: frozen, no unknown keys, errors as :class:`InvalidInput`."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as err:
            raise invalid_from_pydantic(err) from None

    @classmethod
    def parse(cls, data: Any) -> Self:
        """Validate a decoded JSON/TOML object (dict) into an immutable instance."""
        if not isinstance(data, dict):
            raise InvalidInput("<root>", data, "must be a JSON object")
        try:
            return cls.model_validate(data)
        except ValidationError as err:
            raise invalid_from_pydantic(err) from None


def require_unique_ids(ids: list[str] | tuple[str, ...], field: str) -> None:
    """Raise :class:`InvalidInput` if an id occurs twice (``field`` names the list)."""
    seen: set[str] = set()
    for k, pid in enumerate(ids):
        if pid in seen:
            raise InvalidInput(f"{field}[{k}].id", pid, "duplicate id")
        seen.add(pid)


def require_nonempty(items: tuple[Any, ...] | list[Any], field: str) -> None:
    """Raise :class:`InvalidInput` for an empty market side."""
    if len(items) == 0:
        raise InvalidInput(field, list(items), "must not be empty")


def require_spectrum_market(
    buyers: tuple[Any, ...], sellers: tuple[Any, ...], conflicts: tuple[tuple[str, str], ...]
) -> tuple[set[str], set[str]]:
    """Checks shared by the spectrum double auctions with reuse (District-D, TRUST): both sides
    non-empty, ids unique within and across sides, every conflict a pair of two different known
    buyers. Returns ``(buyer ids, seller ids)``."""
    require_nonempty(sellers, "sellers")
    require_nonempty(buyers, "buyers")
    require_unique_ids([s.id for s in sellers], "sellers")
    require_unique_ids([b.id for b in buyers], "buyers")
    seller_ids = {s.id for s in sellers}
    buyer_ids = {b.id for b in buyers}
    for k, b in enumerate(buyers):
        if b.id in seller_ids:
            raise InvalidInput(f"buyers[{k}].id", b.id, "id is also used by a seller")
    for k, (u, v) in enumerate(conflicts):
        for side, pid in enumerate((u, v)):
            if pid not in buyer_ids:
                raise InvalidInput(f"conflicts[{k}][{side}]", pid, "unknown buyer id")
        if u == v:
            raise InvalidInput(f"conflicts[{k}]", [u, v], "a buyer cannot conflict with itself")
    return buyer_ids, seller_ids
