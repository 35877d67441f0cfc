"""Shared fixtures of the experiments tests: small, fast scenarios."""

from __future__ import annotations

from typing import Any

import pytest


def small(**over: Any) -> dict[str, Any]:
    """A tiny double-auction scenario (as decoded TOML); keyword arguments replace keys."""
    data: dict[str, Any] = {
        "name": "small",
        "title": "small test sweep",
        "mechanisms": ["mcafee", "vcg"],
        "generator": "double-auction",
        "repetitions": 6,
        "seed": 7,
        "sweep": {"buyers": [2, 5], "value_high": [1.0, 2.0]},
    }
    data.update(over)
    return data


@pytest.fixture
def small_data() -> dict[str, Any]:
    return small()
