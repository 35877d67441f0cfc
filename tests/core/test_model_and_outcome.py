"""The shared vocabulary: validation errors name the field, outcomes add up."""

from __future__ import annotations

import math

import pytest

from specmarket import InvalidInput, Outcome, get_mechanism, mechanism_registry
from specmarket.errors import UnknownMechanism


def test_registry_lists_the_baselines_and_foils() -> None:
    names = set(mechanism_registry())
    assert {"vickrey", "vcg", "mcafee", "first-price", "pay-as-bid"} <= names


def test_unknown_mechanism_is_a_clear_error() -> None:
    with pytest.raises(UnknownMechanism, match="unknown mechanism 'nope'"):
        get_mechanism("nope")


def test_outcome_sign_convention_and_totals() -> None:
    o = Outcome("x", {"b": 1, "s": 1}, {"b": 6.0, "s": -5.0}, {"b": 9.0, "s": -2.0})
    assert o.welfare == 7.0
    assert o.revenue == 1.0
    assert o.utility("b") == 3.0 and o.utility("s") == 3.0
    assert math.isclose(o.utility("b") + o.utility("s") + o.revenue, o.welfare)
    j = o.to_json()
    assert j["mechanism"] == "x" and j["payments"] == {"b": 6.0, "s": -5.0}
    with pytest.raises(TypeError):
        o.payments["b"] = 0.0  # type: ignore[index]


def test_outcome_requires_the_same_ids() -> None:
    with pytest.raises(ValueError, match="same ids"):
        Outcome("x", {"a": 1}, {"b": 0.0}, {})


def test_instances_are_immutable() -> None:
    inst = get_mechanism("vickrey").parse({"bidders": [{"id": "a", "bid": 1.0}]})
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen error
        inst.bidders = ()  # type: ignore[misc]


BAD = [
    # (mechanism, instance, field named in the error)
    ("vickrey", {"bidders": [{"id": "a", "bid": float("nan")}]}, "bidders[0].bid"),
    ("vickrey", {"bidders": [{"id": "a", "bid": float("inf")}]}, "bidders[0].bid"),
    ("vickrey", {"bidders": [{"id": "a", "bid": float("-inf")}]}, "bidders[0].bid"),
    ("vickrey", {"bidders": [{"id": "a", "bid": -1.0}]}, "bidders[0].bid"),
    ("vickrey", {"bidders": [{"id": "a", "bid": "3"}]}, "bidders[0].bid"),
    ("vickrey", {"bidders": [{"id": "a", "bid": True}]}, "bidders[0].bid"),
    ("vickrey", {"bidders": [{"id": "a"}]}, "bidders[0].bid"),
    ("vickrey", {"bidders": [{"id": "", "bid": 1.0}]}, "bidders[0].id"),
    ("vickrey", {"bidders": [{"id": 5, "bid": 1.0}]}, "bidders[0].id"),
    ("vickrey", {"bidders": [{"id": "a", "bid": 1.0}, {"id": "a", "bid": 2.0}]}, "bidders[1].id"),
    ("vickrey", {"bidders": []}, "bidders"),
    ("vickrey", {"bidders": [{"id": "a", "bid": 1.0, "colour": "red"}]}, "bidders[0].colour"),
    ("vickrey", {}, "bidders"),
    ("vickrey", [], "<root>"),
    ("vcg", {"units": 0, "bidders": [{"id": "a", "marginal_values": [1]}]}, "units"),
    ("vcg", {"units": 1.5, "bidders": [{"id": "a", "marginal_values": [1]}]}, "units"),
    ("vcg", {"units": -2, "bidders": [{"id": "a", "marginal_values": [1]}]}, "units"),
    (
        "vcg",
        {"units": 2, "bidders": [{"id": "a", "marginal_values": []}]},
        "bidders[0].marginal_values",
    ),
    (
        "vcg",
        {"units": 2, "bidders": [{"id": "a", "marginal_values": [1, 2]}]},
        "bidders[0].marginal_values[1]",
    ),
    (
        "vcg",
        {"units": 2, "bidders": [{"id": "a", "marginal_values": [float("nan")]}]},
        "bidders[0].marginal_values[0]",
    ),
    (
        "vcg",
        {"units": 2, "bidders": [{"id": "a", "marginal_values": [-1]}]},
        "bidders[0].marginal_values[0]",
    ),
    (
        "vcg",
        {
            "units": 2,
            "bidders": [{"id": "a", "marginal_values": [1]}, {"id": "a", "marginal_values": [1]}],
        },
        "bidders[1].id",
    ),
    ("vcg", {"units": 2, "bidders": []}, "bidders"),
    (
        "mcafee",
        {"buyers": [{"id": "b", "bid": float("nan")}], "sellers": [{"id": "s", "ask": 1}]},
        "buyers[0].bid",
    ),
    (
        "mcafee",
        {"buyers": [{"id": "b", "bid": 1}], "sellers": [{"id": "s", "ask": float("inf")}]},
        "sellers[0].ask",
    ),
    (
        "mcafee",
        {"buyers": [{"id": "b", "bid": 1}], "sellers": [{"id": "s", "ask": -3}]},
        "sellers[0].ask",
    ),
    ("mcafee", {"buyers": [], "sellers": [{"id": "s", "ask": 1}]}, "buyers"),
    ("mcafee", {"buyers": [{"id": "b", "bid": 1}], "sellers": []}, "sellers"),
    (
        "mcafee",
        {"buyers": [{"id": "x", "bid": 1}], "sellers": [{"id": "x", "ask": 1}]},
        "sellers[0].id",
    ),
    (
        "mcafee",
        {
            "buyers": [{"id": "b", "bid": 1}, {"id": "b", "bid": 2}],
            "sellers": [{"id": "s", "ask": 1}],
        },
        "buyers[1].id",
    ),
    (
        "mcafee",
        {
            "buyers": [{"id": "b", "bid": 1}],
            "sellers": [{"id": "s", "ask": 1}, {"id": "s", "ask": 1}],
        },
        "sellers[1].id",
    ),
]


@pytest.mark.parametrize(("name", "data", "field"), BAD)
def test_bad_input_names_the_field(name: str, data: object, field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        get_mechanism(name).parse(data)
    assert info.value.field == field
    assert field in str(info.value)
