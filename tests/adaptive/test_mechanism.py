"""ADAPTIVE (seed 004): one round, Theorem 1 evaluated exactly, bad input, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from specmarket.errors import InvalidInput
from specmarket.mechanisms import get
from specmarket.mechanisms.adaptive.bandit_value import ScaledArmFamily
from specmarket.mechanisms.adaptive.mechanism import (
    Instance,
    adaptive_payment,
    capacity,
    clear,
    exact_utilities,
    joint_states,
    market,
    snr_chain,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = json.loads((ROOT / "examples" / "adaptive.json").read_text())


def test_registered_and_example_clears() -> None:
    spec = get("adaptive")
    out = spec.clear_json(EXAMPLE)
    assert set(out) >= {"winner", "index", "expected_welfare_without", "expected_welfare"}
    idx = out["index"]
    assert out["winner"] == max(idx, key=idx.get)
    w = out["winner"]
    assert out["payments"][w] == pytest.approx(0.3 * out["expected_welfare_without"][w], rel=1e-12)
    assert all(p == 0.0 for pid, p in out["payments"].items() if pid != w)
    s_all = out["expected_welfare"]
    assert all(s_all >= s - 1e-9 for s in out["expected_welfare_without"].values())
    # "welfare" means what it means for every outcome: this round's realised Σ v
    outcome = spec.clear(spec.parse(EXAMPLE))
    assert out["welfare"] == outcome.welfare == sum(outcome.values.values())
    assert "round_welfare" not in out


def test_value_and_chain() -> None:
    assert capacity(0.0) == pytest.approx(1.0)  # log2(1 + 1)
    assert capacity(30.0, 2.0) == pytest.approx(2 * np.log2(1001.0))
    p = snr_chain(-30, 30, 2)
    assert p.shape == (61, 61)
    assert np.allclose(p.sum(axis=1), 1.0)
    assert p[30, 29] == p[30, 31] == 0.25 and p[30, 30] == 0.5
    assert p[0, 0] == 0.75 and p[60, 60] == 0.75  # clamped at the ends
    p4 = snr_chain(-30, 30, 4)
    assert p4[30, 28] == pytest.approx(1 / 16) and p4[1, 0] == pytest.approx(5 / 16)


def test_delta_zero_is_vickrey_on_current_values() -> None:
    inst = Instance.parse({**EXAMPLE, "discount": 0.0})
    out = clear(inst)
    vals = [u.type * float(capacity(u.snr_db)) for u in inst.users]
    order = np.argsort(vals)[::-1]
    assert out.details["winner"] == inst.users[order[0]].id
    assert out.revenue == pytest.approx(vals[order[1]], rel=1e-12)


def test_single_user_pays_nothing() -> None:
    out = clear(Instance.parse({"users": [{"id": "a", "type": 2.0, "snr_db": 3}]}))
    assert out.payments == {"a": 0.0}


@settings(max_examples=40, deadline=None)
@given(
    types=st.lists(st.floats(0, 10), min_size=1, max_size=7),
    snrs=st.data(),
    delta=st.sampled_from([0.0, 0.3, 0.7, 0.9, 0.99]),
)
def test_no_positive_transfers_and_welfare_order(
    types: list[float], snrs: st.DataObject, delta: float
) -> None:
    users = [
        {"id": f"u{k}", "type": t, "snr_db": snrs.draw(st.integers(-30, 30))}
        for k, t in enumerate(types)
    ]
    out = clear(Instance.parse({"discount": delta, "users": users}))
    assert all(p >= 0 for p in out.payments.values())
    s = out.details["expected_welfare"]
    for sm in out.details["expected_welfare_without"].values():
        assert 0.0 <= sm <= s + 1e-9 * (1 + s)


# --- Theorem 1, exactly on the joint chain (coarse SNR chain, k = 3) --------------------------

FAM = market(-3, 3, 2, 0.7, 1.0)  # 7 SNR states
THETAS = np.array([1.0, 1.6, 0.8])
N = FAM.index.size
DEVIATIONS: list[tuple[float | None, np.ndarray | None]] = [
    (0.0, None),
    (0.5, None),
    (0.9, None),
    (1.1, None),
    (2.5, None),
    (5.0, None),
    (None, np.clip(np.arange(N) + 1, 0, N - 1)),
    (None, np.clip(np.arange(N) - 2, 0, N - 1)),
    (None, np.full(N, N - 1)),
    (3.0, np.zeros(N, dtype=int)),
]


def _max_gain(fam: ScaledArmFamily, i: int, rule=adaptive_payment) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    truth = exact_utilities(fam, THETAS, i, payment=rule)
    gain = 0.0
    for t, m in DEVIATIONS:
        rep = None if t is None else t * THETAS[i]
        dev = exact_utilities(fam, THETAS, i, reported_type=rep, report_state=m, payment=rule)
        gain = max(gain, float((dev - truth).max()))
    return float(truth.min()), gain


def test_truthful_utility_is_marginal_contribution() -> None:
    """Theorem 1's proof: U_i = S − S₋ᵢ at every joint state (eq. (8) solved exactly)."""
    states = joint_states(N, 3)
    for i in range(3):
        u = exact_utilities(FAM, THETAS, i)
        s = np.array([FAM.welfare(THETAS, x)[0] for x in states])
        sm = np.array([FAM.welfare(THETAS, x)[1][i] for x in states])
        assert np.allclose(u, s - sm, atol=1e-9)


@pytest.mark.parametrize("i", [0, 1, 2])
def test_periodic_ex_post_ic_and_ir(i: int) -> None:
    min_u, gain = _max_gain(FAM, i)
    assert min_u >= -1e-9  # periodic ex post IR
    assert gain <= 1e-9  # periodic ex post IC against every listed misreport


def _second_value(fam: ScaledArmFamily, th: np.ndarray, x: np.ndarray, w: int) -> float:
    return float(np.max(np.delete(th * fam.base_reward[x], w)))


def _no_factor(fam: ScaledArmFamily, th: np.ndarray, x: np.ndarray, w: int) -> float:
    return float(fam.welfare(th, x)[1][w])


def _second_index(fam: ScaledArmFamily, th: np.ndarray, x: np.ndarray, w: int) -> float:
    return float(np.max(np.delete(th * fam.index[x], w)))


def _with_self(fam: ScaledArmFamily, th: np.ndarray, x: np.ndarray, w: int) -> float:
    return (1 - fam.discount) * float(fam.welfare(th, x)[0])


@pytest.mark.slow
@pytest.mark.parametrize(
    ("rule", "breaks"),
    [(_second_value, "ic"), (_second_index, "ic"), (_no_factor, "ir"), (_with_self, "ir")],
)
def test_wrong_payment_rules_are_caught(rule, breaks: str) -> None:  # type: ignore[no-untyped-def]
    """The same checks reject plausible wrong payment rules."""
    if breaks == "ir":
        truthful = [exact_utilities(FAM, THETAS, i, payment=rule).min() for i in range(3)]
        assert min(truthful) < -1e-3
        return
    gains = (_max_gain(FAM, i, rule)[1] for i in range(3))
    assert any(g > 1e-3 for g in gains)


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"discount": 1.0}, "discount"),
        ({"discount": -0.1}, "discount"),
        ({"bandwidth": 0.0}, "bandwidth"),
        ({"step": {"type": "binomial", "n": 3}}, "step.n"),
        ({"step": {"type": "gauss", "n": 2}}, "step.type"),
        ({"snr_db": {"low": 5, "high": 5}}, "snr_db.high"),
        ({"users": []}, "users"),
        ({"users": [{"id": "a", "type": 1.0, "snr_db": 31}]}, "users[0].snr_db"),
        ({"users": [{"id": "a", "type": 1.0, "snr_db": 2.5}]}, "users[0].snr_db"),
        ({"users": [{"id": "a", "type": -1.0, "snr_db": 2}]}, "users[0].type"),
        (
            {
                "users": [
                    {"id": "a", "type": 1.0, "snr_db": 2},
                    {"id": "a", "type": 1.0, "snr_db": 0},
                ]
            },
            "users[1].id",
        ),
        ({"extra": 1}, "extra"),
    ],
)
def test_bad_input_names_field(patch: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        Instance.parse({**EXAMPLE, **patch})
    assert info.value.field == field


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "specmarket.cli", *args], capture_output=True, text=True, cwd=ROOT
    )


def test_cli_commands(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from specmarket.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["clear", "adaptive", str(ROOT / "examples" / "adaptive.json")])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["winner"] in {"u1", "u2", "u3"}
    res = runner.invoke(app, ["gittins", str(ROOT / "examples" / "gittins.json")])
    assert res.exit_code == 0
    assert len(json.loads(res.stdout)["index"]) == 3
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps({"transition": [[0.5, 0.4], [0, 1]], "reward": [1, 2], "discount": 0.9})
    )
    res = runner.invoke(app, ["gittins", str(bad)])
    assert res.exit_code == 2
    assert "transition[0]" in res.output


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    delta=st.sampled_from([0.3, 0.7, 0.9]),
    n_step=st.sampled_from([2, 4]),
)
def test_theorem1_random_two_user_markets(seed: int, delta: float, n_step: int) -> None:
    """Random types, δ and step size (k = 2, 7 SNR states): U_i = S − S₋ᵢ ≥ 0 and no misreport of
    θ or e (random ones included) raises U_i at any joint state."""
    rng = np.random.default_rng(seed)
    fam = market(-3, 3, n_step, delta, 1.0)
    n = fam.index.size
    th = rng.uniform(0.5, 3.0, size=2)
    states = joint_states(n, 2)
    for i in range(2):
        truth = exact_utilities(fam, th, i)
        ref = np.array([fam.welfare(th, x)[0] - fam.welfare(th, x)[1][i] for x in states])
        assert np.allclose(truth, ref, atol=1e-9)
        assert truth.min() >= -1e-9
        for _ in range(4):
            rep_t = float(th[i] * rng.uniform(0.0, 3.0)) if rng.random() < 0.7 else None
            rep_s = rng.integers(0, n, size=n) if rng.random() < 0.5 else None
            dev = exact_utilities(fam, th, i, reported_type=rep_t, report_state=rep_s)
            assert (dev <= truth + 1e-9).all()


def test_ties_go_to_first_listed_and_identical_users_pay_their_externality() -> None:
    users = [{"id": "a", "type": 1, "snr_db": 3}, {"id": "b", "type": 1, "snr_db": 3}]
    out = clear(Instance.parse({"discount": 0.7, "users": users}))
    assert out.details["winner"] == "a"
    fam = market(-30, 30, 2, 0.7, 1.0)
    alone = fam.welfare([1.0], [33])[0]  # S₋a = value of b alone
    assert out.payments["a"] == pytest.approx(0.3 * alone, rel=1e-12)
