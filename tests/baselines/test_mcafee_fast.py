"""McAfee's fast engine against its reference, and the columnar (Parquet/CSV) path against JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from specmarket import io
from specmarket.cli import app
from specmarket.errors import InvalidInput
from specmarket.mechanisms import mcafee

reports = st.lists(
    st.one_of(st.integers(0, 6).map(float), st.floats(0, 10, allow_nan=False)),
    min_size=1,
    max_size=40,
)


def same(a: mcafee.Clearing, b: mcafee.Clearing) -> bool:
    return (
        a.buyers.tolist() == b.buyers.tolist()
        and a.sellers.tolist() == b.sellers.tolist()
        and (a.buyer_price, a.seller_price, a.efficient_trades, a.reduced)
        == (b.buyer_price, b.seller_price, b.efficient_trades, b.reduced)
    )


@settings(max_examples=400, deadline=None)
@given(reports, reports)
def test_fast_engine_equals_reference(bids: list[float], asks: list[float]) -> None:
    b, a = np.array(bids), np.array(asks)
    fast = mcafee.clear_arrays(b, a)
    ref = mcafee.clear_arrays_reference(b, a)
    assert same(fast, ref)
    assert same(mcafee.clear_arrays(b, a, engine="reference"), ref)
    assert fast.buyers.dtype == np.int64 and fast.sellers.dtype == np.int64


def test_fast_engine_equals_reference_large_with_ties() -> None:
    rng = np.random.default_rng(7)
    for n_b, n_s, scale in ((20_000, 15_000, 3), (5_000, 30_000, 50), (1, 40_000, 1000)):
        b = np.round(rng.uniform(0, scale, n_b))
        a = np.round(rng.uniform(0, scale, n_s))
        assert same(mcafee.clear_arrays(b, a), mcafee.clear_arrays_reference(b, a))


def test_unknown_engine() -> None:
    with pytest.raises(InvalidInput, match="engine"):
        mcafee.clear_arrays(np.ones(2), np.ones(2), engine="turbo")


# --------------------------------------------------------------------------- columnar path


def instance(rng: np.random.Generator, n_b: int, n_s: int, ties: bool) -> dict:
    b, a = rng.uniform(0, 10, n_b), rng.uniform(0, 10, n_s)
    if ties:
        b, a = np.round(b), np.round(a)
    return {
        "buyers": [{"id": f"b{i}", "bid": float(v)} for i, v in enumerate(b)],
        "sellers": [{"id": f"s{j}", "ask": float(v)} for j, v in enumerate(a)],
    }


def rows(data: dict, rng: np.random.Generator) -> pa.Table:
    """The instance as rows, buyers and sellers interleaved at random (order kept per side)."""
    items = [(b["id"], "buyer", b["bid"]) for b in data["buyers"]]
    items += [(s["id"], "seller", s["ask"]) for s in data["sellers"]]
    n_b = len(data["buyers"])
    slots = rng.permutation(len(items))
    table: list = [None] * len(items)
    for k, pos in enumerate(sorted(slots[:n_b])):
        table[pos] = items[k]
    for k, pos in enumerate(sorted(slots[n_b:])):
        table[pos] = items[n_b + k]
    return pa.table(
        {
            "id": [t[0] for t in table],
            "side": [t[1] for t in table],
            "report": [t[2] for t in table],
        }
    )


@pytest.mark.parametrize("seed", range(12))
def test_columnar_text_equals_json_path(tmp_path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    data = instance(rng, int(rng.integers(1, 60)), int(rng.integers(1, 60)), ties=seed % 2 == 0)
    if seed % 3 == 0:  # ids that JSON must escape
        data["buyers"][0]["id"] = 'é"\\x'
        data["sellers"][-1]["id"] = "tab\there"
    expected = io.dumps(mcafee.SPEC.clear_json(data))
    table = rows(data, rng)
    pq.write_table(table, tmp_path / "m.parquet")
    pcsv.write_csv(table, tmp_path / "m.csv")
    assert io.clear_columnar("mcafee", tmp_path / "m.parquet") == expected
    assert io.clear_columnar("mcafee", tmp_path / "m.csv") == expected


def test_columnar_no_trade_and_integer_reports(tmp_path: Path) -> None:
    t = pa.table({"id": ["b", "s"], "side": ["buyer", "seller"], "report": [1, 2]})
    pq.write_table(t, tmp_path / "m.parquet")
    data = {"buyers": [{"id": "b", "bid": 1.0}], "sellers": [{"id": "s", "ask": 2.0}]}
    expected = io.dumps(mcafee.SPEC.clear_json(data))
    assert io.clear_columnar("mcafee", tmp_path / "m.parquet") == expected
    assert json.loads(expected)["winners"] == []


def write_csv(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "bad.csv"
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ("id,side,report\nb,buyer,1\ns,seller,nan\n", "rows[1].report", "finite"),
        ("id,side,report\nb,buyer,1\ns,seller,inf\n", "rows[1].report", "finite"),
        ("id,side,report\nb,buyer,-1\ns,seller,2\n", "rows[0].report", "≥ 0"),
        ("id,side,report\nb,buyer,1\ns,seller,abc\n", "rows[1].report", "number"),
        ("id,side,report\nb,buyer,1\ns,seller,\n", "rows[1].report", "missing"),
        ("id,side,report\nb,buyer,1\ns,vendor,2\n", "rows[1].side", "buyer"),
        ("id,side,report\nb,buyer,1\nb,seller,2\n", "rows[1].id", "duplicate"),
        ("id,side,report\n,buyer,1\ns,seller,2\n", "rows[0].id", "non-empty"),
        ("id,side,report\nb,buyer,1\nc,buyer,2\n", "side", "seller"),
        ("id,side,bid\nb,buyer,1\ns,seller,2\n", "columns", "missing column 'report'"),
        ("id,side,report,x\nb,buyer,1,0\ns,seller,2,0\n", "columns", "unknown column 'x'"),
        ("id,side,report\nb,buyer,1,5\ns,seller,2\n", "file", "malformed CSV"),
    ],
)
def test_columnar_errors_name_column_and_row(
    tmp_path: Path, text: str, field: str, words: str
) -> None:
    with pytest.raises(InvalidInput, match=words) as info:
        io.clear_columnar("mcafee", write_csv(tmp_path, text))
    assert info.value.field == field


def test_parquet_type_errors(tmp_path: Path) -> None:
    t = pa.table({"id": [1, 2], "side": ["buyer", "seller"], "report": [1.0, 2.0]})
    pq.write_table(t, tmp_path / "m.parquet")
    with pytest.raises(InvalidInput, match="strings") as info:
        io.clear_columnar("mcafee", tmp_path / "m.parquet")
    assert info.value.field == "columns.id"
    t = pa.table({"id": ["b", "s"], "side": ["buyer", "seller"], "report": [1.0, None]})
    pq.write_table(t, tmp_path / "n.parquet")
    with pytest.raises(InvalidInput, match="missing") as info:
        io.clear_columnar("mcafee", tmp_path / "n.parquet")
    assert info.value.field == "rows[1].report"
    (tmp_path / "junk.parquet").write_text("not parquet")
    with pytest.raises(InvalidInput, match="Parquet"):
        io.clear_columnar("mcafee", tmp_path / "junk.parquet")


def test_cli_columnar(tmp_path: Path) -> None:
    runner = CliRunner()
    t = pa.table(
        {
            "id": ["b1", "s1", "b2", "s2"],
            "side": ["buyer", "seller", "buyer", "seller"],
            "report": [9, 2, 7, 8],
        }
    )  # k = 1, p0 = (7 + 8) / 2 = 7.5 ∈ [2, 9]: b1 and s1 trade at 7.5
    pq.write_table(t, tmp_path / "m.parquet")
    res = runner.invoke(app, ["clear", "mcafee", str(tmp_path / "m.parquet")])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["winners"] == ["b1", "s1"] and out["payments"]["s1"] == -7.5
    res = runner.invoke(app, ["clear", "vickrey", str(tmp_path / "m.parquet")])
    assert res.exit_code == 2 and "JSON only" in res.stderr
    res = runner.invoke(app, ["clear", "mcafee", str(write_csv(tmp_path, "id,side,report\n"))])
    assert res.exit_code == 2
    res = runner.invoke(app, ["clear", "nosuch", str(tmp_path / "m.parquet")])
    assert res.exit_code == 2 and "unknown mechanism" in res.stderr
