"""Outcome.to_frame and Outcome._repr_html_: one row per participant, numbers from the examples."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from specmarket.core import Outcome
from specmarket.mechanisms import get, registry

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _mcafee() -> tuple[Outcome, dict[str, str]]:
    spec = get("mcafee")
    inst = spec.parse(json.loads((EXAMPLES / "mcafee.json").read_text()))
    return spec.clear(inst), dict(spec.roles(inst))


def test_to_frame_mcafee_example_rows_and_numbers() -> None:
    # bids 9, 7, 6 and asks 2, 4, 5: k = 3 efficient trades (6 >= 5); no 4th seller, so
    # p0 = +inf and the 3rd pair is sacrificed: b1, b2 pay b_(3) = 6, s1, s2 receive s_(3) = 5
    out, roles = _mcafee()
    df = out.to_frame(roles)
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == ["role", "allocation", "payment", "value", "utility"]
    assert list(df.index) == list(out.allocation)
    assert df.index.name == "participant"
    assert df.loc["b1", "role"] == "buyer" and df.loc["s1", "role"] == "seller"
    assert df.loc["b1", "payment"] == 6.0
    assert df.loc["s1", "payment"] == -5.0
    assert df.loc["b1", "utility"] == 9.0 - 6.0
    assert df.loc["s2", "utility"] == -4.0 + 5.0
    assert df.loc["b3", "payment"] == 0.0 and df.loc["b3", "utility"] == 0.0
    # the frame's sums are the outcome's aggregates: Σ value = W, Σ payment = R, Σ u + R = W
    assert df["value"].sum() == pytest.approx(out.welfare)
    assert df["payment"].sum() == pytest.approx(out.revenue)
    assert df["utility"].sum() + out.revenue == pytest.approx(out.welfare)
    assert df.attrs["mechanism"] == "mcafee"


def test_to_frame_without_roles_has_no_role_column() -> None:
    out = Outcome("m", {"a": 1, "b": 0}, {"a": 2.0, "b": 0.0}, {"a": 5.0, "b": 0.0})
    df = out.to_frame()
    assert list(df.columns) == ["allocation", "payment", "value", "utility"]
    assert df.loc["a", "utility"] == 3.0


def test_to_frame_roles_from_details_and_missing_ids() -> None:
    out = Outcome(
        "m", {"a": [1, 2], "b": []}, {"a": 1.0, "b": 0.0}, {"a": 2.0}, {"roles": {"a": "buyer"}}
    )
    df = out.to_frame()
    assert df.loc["a", "role"] == "buyer"
    assert pd.isna(df.loc["b", "role"])
    assert df.loc["a", "allocation"] == [1, 2]
    assert df.loc["b", "value"] == 0.0  # no value recorded: it has nothing


def test_repr_html_is_a_table_with_every_participant() -> None:
    out, _ = _mcafee()
    html = out._repr_html_()
    assert "<table" in html and "</table>" in html
    assert "mcafee" in html
    for pid in out.allocation:
        assert f">{pid}<" in html
    assert f"welfare {out.welfare:.6g}" in html


def test_repr_html_escapes_markup() -> None:
    out = Outcome("<m>", {"<x>": 1}, {"<x>": 0.0}, {"<x>": 1.0})
    html = out._repr_html_()
    assert "<m>" not in html and "&lt;m&gt;" in html
    assert "<x>" not in html


def test_repr_html_abbreviates_a_large_outcome() -> None:
    ids = [f"p{k}" for k in range(1000)]
    out = Outcome("m", dict.fromkeys(ids, 1), dict.fromkeys(ids, 1.0), dict.fromkeys(ids, 2.0))
    html = out._repr_html_()
    assert ">p0<" in html and ">p999<" in html and ">p500<" not in html
    assert "1000 participants" in html


@pytest.mark.parametrize("name", sorted(registry()))
def test_to_frame_of_every_mechanism_is_consistent(name: str) -> None:
    # on random instances of every registered mechanism: one row per participant, every one with
    # its role, and the frame's sums are the outcome's welfare and revenue
    spec = registry()[name]
    assert spec.random_instance is not None
    for seed in range(3):
        inst = spec.random_instance(np.random.default_rng([seed, 19]))
        out = spec.clear(inst)
        roles = dict(spec.roles(inst))
        df = out.to_frame(roles)
        assert list(df.index) == list(out.allocation)
        assert set(df["role"]) <= {"buyer", "seller"} and not df["role"].isna().any()
        assert df["payment"].sum() == pytest.approx(out.revenue, abs=1e-9)
        assert df["value"].sum() == pytest.approx(out.welfare, abs=1e-9)
        assert (df["utility"] == df["value"] - df["payment"]).all()
