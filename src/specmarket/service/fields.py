"""Which fields of a mechanism's instance a participant reports and which the operator sets.

A mechanism's instance model (:class:`specmarket.core.Model`) mixes three kinds of fields:

* **market fields**, set by the operator when it opens the market (``units``, ``bands``,
  ``increment``, ``conflicts``, ``variant``, ``eligible``, ...): every top-level field of the
  instance that is not a participant list;
* **operator-set participant fields**, set when the operator adds a participant (District-D's
  prior ``distribution``): every field of a participant entry that is neither ``id`` nor reported;
* **reported fields**, the participant's sealed report (``bid``, ``ask``, ``demand``, ``wtp``,
  ``marginal_values``), replaceable while the market is open.

:data:`MECHANISM_FIELDS` is the table (mechanism name → roles → list attribute and reported
fields); the operator-set fields are derived from the instance model so that they cannot drift
from it. ``public`` lists the outcome details every participant may read once the market has
cleared (prices, winners, counts: what the mechanism announces); ``own`` lists the per-participant
detail maps of which a participant sees only its own entry. Everything else of the outcome (other
participants' allocations and payments, welfare, revenue, per-round traces that reveal reports)
is for the operator only. ``docs/service.md`` shows the table.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from pydantic import ConfigDict, ValidationError, create_model

from specmarket.core.model import Model, invalid_from_pydantic
from specmarket.errors import InvalidInput

Prune = Callable[[dict[str, Any], Mapping[str, set[str]]], dict[str, Any]]


def _prune_conflicts(market: dict[str, Any], present: Mapping[str, set[str]]) -> dict[str, Any]:
    """Drop conflict pairs naming a buyer that sent no report (it is not in the instance)."""
    out = dict(market)
    buyers = present.get("buyer", set())
    if "conflicts" in out and out["conflicts"] is not None:
        out["conflicts"] = [
            list(pair)
            for pair in out["conflicts"]
            if all(isinstance(p, str) and p in buyers for p in pair)
        ]
    return out


def _prune_district(market: dict[str, Any], present: Mapping[str, set[str]]) -> dict[str, Any]:
    """Conflicts as for TRUST; ``eligible`` restricted to reporting buyers and sellers."""
    out = _prune_conflicts(market, present)
    eligible = out.get("eligible")
    if isinstance(eligible, dict):
        buyers = present.get("buyer", set())
        sellers = present.get("seller", set())
        out["eligible"] = {
            b: [s for s in ss if s in sellers]
            for b, ss in eligible.items()
            if b in buyers and isinstance(ss, list)
        }
    return out


def _no_prune(market: dict[str, Any], present: Mapping[str, set[str]]) -> dict[str, Any]:
    return dict(market)


@dataclass(frozen=True)
class RoleFields:
    """One participant role of a mechanism: the instance list it goes to and what it reports."""

    attribute: str
    reported: tuple[str, ...]


@dataclass(frozen=True)
class MechanismFields:
    """The service's view of one mechanism (see the module docstring)."""

    roles: Mapping[str, RoleFields]
    public: tuple[str, ...] = ()
    own: tuple[str, ...] = ()
    prune: Prune = field(default=_no_prune)


#: Mechanism name → roles, reported fields and the public part of its outcome.
MECHANISM_FIELDS: dict[str, MechanismFields] = {
    "vickrey": MechanismFields(
        roles={"bidder": RoleFields("bidders", ("bid",))},
        public=("winner", "price"),
    ),
    "vcg": MechanismFields(
        roles={"bidder": RoleFields("bidders", ("marginal_values",))},
    ),
    "mcafee": MechanismFields(
        roles={"buyer": RoleFields("buyers", ("bid",)), "seller": RoleFields("sellers", ("ask",))},
        public=("winners", "buyer_price", "seller_price", "efficient_trades", "trade_reduction"),
    ),
    "trust": MechanismFields(
        roles={"buyer": RoleFields("buyers", ("bid",)), "seller": RoleFields("sellers", ("ask",))},
        public=("groups", "channels_used", "buyers_served"),
        prune=_prune_conflicts,
    ),
    "district": MechanismFields(
        roles={
            "buyer": RoleFields("buyers", ("bid", "demand")),
            "seller": RoleFields("sellers", ("ask",)),
        },
        public=("variant", "channels_used", "buyers_served"),
        prune=_prune_district,
    ),
    "cat": MechanismFields(
        roles={"user": RoleFields("users", ("demand", "wtp"))},
        public=("sharing", "team", "price", "steps", "idle_bands", "excluded"),
        own=("transfers", "delta", "contributions", "shapley", "shapley_share", "utilities"),
    ),
}


def mechanism_fields(name: str) -> MechanismFields:
    """The table row of ``name``; :class:`InvalidInput` on ``mechanism`` if the service does not
    run it (the registry may know more mechanisms than the service: dynamic ones have no one-shot
    sealed round)."""
    if name not in MECHANISM_FIELDS:
        raise InvalidInput(
            "mechanism", name, f"not served; one of {', '.join(sorted(MECHANISM_FIELDS))}"
        )
    return MECHANISM_FIELDS[name]


def _entry_model(instance_type: type[Model], attribute: str) -> type[Model]:
    """The model of one entry of the list ``attribute`` (``tuple[Buyer, ...]`` → ``Buyer``)."""
    annotation = instance_type.model_fields[attribute].annotation
    args = typing.get_args(annotation)
    entry = args[0] if args else None
    if not (isinstance(entry, type) and issubclass(entry, Model)):
        raise TypeError(f"{instance_type.__name__}.{attribute} is not a tuple of models")
    return entry


@dataclass(frozen=True)
class RoleSchema:
    """Resolved models of one role: the full entry, and partial models of its two field sets."""

    role: str
    attribute: str
    entry: type[Model]
    reported: tuple[str, ...]
    operator: tuple[str, ...]
    report_model: type[Any]
    operator_model: type[Any]


@dataclass(frozen=True)
class MarketSchema:
    """Resolved models of one mechanism for the service."""

    mechanism: str
    fields: MechanismFields
    market: tuple[str, ...]
    market_model: type[Any]
    roles: Mapping[str, RoleSchema]


def _partial(name: str, source: type[Model], names: tuple[str, ...]) -> type[Any]:
    """A model with only the fields ``names`` of ``source`` (same types, defaults, constraints),
    unknown keys forbidden: checks one side's fields before the whole instance exists."""
    spec: dict[str, Any] = {
        n: (source.model_fields[n].annotation, source.model_fields[n]) for n in names
    }
    model: type[Any] = create_model(
        name, __config__=ConfigDict(extra="forbid", frozen=True), **spec
    )
    return model


@cache
def market_schema(mechanism: str) -> MarketSchema:
    """Resolve the table row of ``mechanism`` against its registered instance model."""
    from specmarket.mechanisms import get

    row = mechanism_fields(mechanism)
    instance_type = get(mechanism).instance_type
    attributes = {r.attribute for r in row.roles.values()}
    market = tuple(n for n in instance_type.model_fields if n not in attributes)
    roles: dict[str, RoleSchema] = {}
    for role, rf in row.roles.items():
        entry = _entry_model(instance_type, rf.attribute)
        unknown = set(rf.reported) - set(entry.model_fields)
        if unknown:
            raise TypeError(f"{mechanism}: reported fields {unknown} not in {entry.__name__}")
        operator = tuple(n for n in entry.model_fields if n != "id" and n not in rf.reported)
        roles[role] = RoleSchema(
            role=role,
            attribute=rf.attribute,
            entry=entry,
            reported=rf.reported,
            operator=operator,
            report_model=_partial(f"{mechanism}_{role}_report", entry, rf.reported),
            operator_model=_partial(f"{mechanism}_{role}_fields", entry, operator),
        )
    return MarketSchema(
        mechanism=mechanism,
        fields=row,
        market=market,
        market_model=_partial(f"{mechanism}_market", instance_type, market),
        roles=roles,
    )


def check_partial(model: type[Any], data: Any, prefix: str = "") -> dict[str, Any]:
    """Validate ``data`` with a partial model; return it as given (JSON types, only the keys
    sent). Raises :class:`InvalidInput` naming the field."""
    if not isinstance(data, dict):
        raise InvalidInput(prefix or "<root>", data, "must be a JSON object")
    try:
        model.model_validate(data)
    except ValidationError as err:
        raise invalid_from_pydantic(err, prefix) from None
    return dict(data)


def split_instance(
    mechanism: str, instance: dict[str, Any]
) -> tuple[dict[str, Any], list[tuple[str, str, dict[str, Any], dict[str, Any]]]]:
    """Split an instance JSON (the ``specmarket clear`` format) into what the operator sets and
    what each participant reports: ``(market fields, [(id, role, operator fields, report)])``.

    The inverse of the instance the service exports at close, used to replay a file through the
    service (``specmarket market upload``) and by the tests.
    """
    schema = market_schema(mechanism)
    if not isinstance(instance, dict):
        raise InvalidInput("<root>", instance, "must be a JSON object")
    market = {k: v for k, v in instance.items() if k in schema.market}
    people: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = []
    for role in schema.roles.values():
        entries = instance.get(role.attribute, [])
        if not isinstance(entries, list):
            raise InvalidInput(role.attribute, entries, "must be a list")
        for k, entry in enumerate(entries):
            if not isinstance(entry, dict) or "id" not in entry:
                raise InvalidInput(f"{role.attribute}[{k}]", entry, "must be an object with an id")
            fields = {f: entry[f] for f in role.operator if f in entry}
            report = {f: entry[f] for f in role.reported if f in entry}
            people.append((str(entry["id"]), role.role, fields, report))
    return market, people
