"""TRUST baseline (Zhou & Zheng 2009)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from specmarket.audit import audit
from specmarket.errors import InvalidInput
from specmarket.mechanisms.trust import SPEC, Instance, clear, clear_arrays, group_buyers

ROOT = Path(__file__).resolve().parents[2]


def test_example_by_hand() -> None:
    """Groups {b1, b3, b4} (σ = 3·6 = 18) and {b2, b5} (σ = 2·4 = 8); asks 2, 3, 6 → k = 2:
    group 1 buys s1, pays σ_(2) = 8 shared by 3; s1 receives a_(2) = 3."""
    inst = Instance.parse(json.loads((ROOT / "examples" / "trust.json").read_text()))
    out = clear(inst)
    assert out.details["groups"] == [["b1", "b3", "b4"], ["b2", "b5"]]
    assert out.allocation["s1"] == ["b1", "b3", "b4"]
    assert out.payments["b1"] == pytest.approx(8 / 3)
    assert out.payments["s1"] == pytest.approx(-3.0)
    assert out.payments["b2"] == 0.0 and out.allocation["b2"] == []
    assert out.revenue == pytest.approx(5.0)


def test_grouping_is_independent_sets() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        n = int(rng.integers(1, 12))
        c = np.triu(rng.random((n, n)) < 0.4, 1)
        c = c | c.T
        groups = group_buyers(n, c)
        assert sorted(b for g in groups for b in g) == list(range(n))
        for g in groups:
            assert not any(c[a, b] for a in g for b in g)


def test_no_trade_below_two_pairs() -> None:
    res = clear_arrays(np.array([5.0]), np.array([1.0]), [[0]])
    assert res.winners == []


def test_audit() -> None:
    report = audit(SPEC, instances=50, seed=4)
    assert report.ok, report.render()


def test_bad_input() -> None:
    with pytest.raises(InvalidInput) as exc:
        Instance.parse(
            {
                "sellers": [{"id": "s", "ask": 1.0}],
                "buyers": [{"id": "b", "bid": 1.0}],
                "conflicts": [["b", "x"]],
            }
        )
    assert exc.value.field == "conflicts[0][1]"


def test_trust_declares_no_prior() -> None:
    """TRUST is prior-free: a report has no support to leave (a ``distribution`` key is an
    unknown field), and it is individually rational for every non-negative report."""
    with pytest.raises(InvalidInput) as exc:
        Instance.parse(
            {
                "sellers": [{"id": "s", "ask": 1.0}],
                "buyers": [
                    {
                        "id": "b",
                        "bid": 1.0,
                        "distribution": {"type": "uniform", "low": 2, "high": 12},
                    }
                ],
            }
        )
    assert exc.value.field.startswith("buyers[0].distribution")
    rng = np.random.default_rng(5)
    for _ in range(200):
        n, m = int(rng.integers(2, 9)), int(rng.integers(2, 7))
        inst = Instance.parse(
            {
                "sellers": [
                    {"id": f"s{k}", "ask": float(a)} for k, a in enumerate(rng.exponential(50, m))
                ],
                "buyers": [
                    {"id": f"b{k}", "bid": float(b)} for k, b in enumerate(rng.exponential(50, n))
                ],
            }
        )
        out = clear(inst)
        for pid, value in out.values.items():
            assert value - out.payments[pid] >= -1e-9
