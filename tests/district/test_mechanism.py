"""District-D on JSON instances: prices, properties (auditor), bad input, CLI."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from specmarket.audit import audit
from specmarket.cli import app
from specmarket.errors import InvalidInput
from specmarket.mechanisms import get
from specmarket.mechanisms.district import SPEC, Instance, clear, random_instance

ROOT = Path(__file__).resolve().parents[2]
U10 = {"type": "uniform", "low": 0, "high": 10}


def _inst(**kw: object) -> Instance:
    data = {
        "sellers": [{"id": "s1", "ask": 2.0, "distribution": U10}],
        "buyers": [{"id": "b1", "bid": 7.0, "demand": 1, "distribution": U10}],
    }
    data.update(kw)
    return Instance.parse(data)


def test_example_by_hand() -> None:
    """examples/district.json worked out by hand (φ = 2b − 10, ψ = 2a for U[0, 10]).

    Round 1: b1–s1 (Δ = 8 − 4 = 4); round 2: b3 reuses s1 and buys s2 (Δ = 8 − 6 = 2);
    round 3: b4 reuses s2 (Δ = 2); round 4: b2, which conflicts with b1 and b3, buys s3
    (Δ = 7 − 12 = −5, accepted by Algorithm 7 since γ = 8 − 5 ≥ 0). Without b2 the final
    round needs 7·… : φ ≥ ψ(s3) − γ = 12 − 8 = 4 → critical bid 7; s3 sells iff
    ψ ≤ 7 + 8 = 15 → receives 7.5.
    """
    inst = Instance.parse(json.loads((ROOT / "examples" / "district.json").read_text()))
    out = clear(inst).to_json()
    assert out["allocation"]["b1"] == ["s1"]
    assert out["allocation"]["b3"] == ["s1", "s2"]
    assert out["allocation"]["b4"] == ["s2"]
    assert out["allocation"]["b2"] == ["s3"]
    assert out["payments"] == pytest.approx(
        {"b1": 6.5, "b2": 7.0, "b3": 12.5, "b4": 2.5, "s1": -6.0, "s2": -6.0, "s3": -7.5}
    )
    assert out["revenue"] == pytest.approx(9.0)
    assert out["welfare"] == pytest.approx(9 + 8.5 + 14 + 6 - 2 - 3 - 6)
    assert out["virtual_surplus"] == pytest.approx(3.0)


def test_single_pair_prices() -> None:
    """One buyer, one seller, U[0,10]: trade iff 2b − 10 ≥ 2a; buyer pays a + 5, seller gets
    b − 5 (Myerson–Satterthwaite-style optimal prices)."""
    out = clear(_inst(variant="profit"))
    assert out.payments["b1"] == pytest.approx(7.0)
    assert out.payments["s1"] == pytest.approx(-2.0)
    out = clear(_inst(variant="profit", buyers=[{"id": "b1", "bid": 6.0, "distribution": U10}]))
    assert out.allocation["b1"] == [] and out.payments["b1"] == 0.0


def test_profit_variant_is_not_budget_balanced_per_instance() -> None:
    """Documented counterexample: Algorithm 10 keeps the *virtual* surplus ≥ 0, not the revenue.

    A buyer needing 2 channels bids 10, two sellers ask 0 (all U[0, 10]): Δ = 2·10 − 0 = 20.
    Buyer's critical bid solves 2(2c − 10) = 0 → c = 5, pays 2·5 = 10; each seller's critical ask
    solves 2·10 − ψ − 0 = 0 → ψ = 20 → a = 10 (capped at the support). Revenue 10 − 20 = −10.
    """
    data = {
        "variant": "profit",
        "sellers": [{"id": f"s{k}", "ask": 0.0, "distribution": U10} for k in (1, 2)],
        "buyers": [{"id": "b1", "bid": 10.0, "demand": 2, "distribution": U10}],
    }
    out = clear(Instance.parse(data))
    assert out.payments == pytest.approx({"b1": 10.0, "s1": -10.0, "s2": -10.0})
    assert out.revenue == pytest.approx(-10.0)


def _wins(inst: Instance, pid: str) -> bool:
    return len(clear(inst).allocation[pid]) > 0


def _bisect(inst: Instance, pid: str, buyer: bool) -> float:
    """Critical bid/ask found by bisection on the whole mechanism (the slow cross-check)."""
    side = "buyers" if buyer else "sellers"
    key = "bid" if buyer else "ask"
    agents = list(getattr(inst, side))
    k = next(i for i, a in enumerate(agents) if a.id == pid)
    dist = agents[k].distribution
    lo, hi = dist.support

    def at(x: float) -> bool:
        new = list(agents)
        new[k] = agents[k].model_copy(update={key: x})
        return _wins(inst.model_copy(update={side: tuple(new)}), pid)

    # buyers: win for x ≥ c; sellers: win for x ≤ p
    if buyer and at(lo):
        return lo
    if not buyer and at(hi):
        return hi
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if at(mid) == buyer:
            hi = mid
        else:
            lo = mid
    return 0.5 * (lo + hi)


def test_prices_match_bisection_on_the_whole_mechanism() -> None:
    checked = 0
    for t in range(40):
        inst = random_instance(np.random.default_rng([7, t]))
        out = clear(inst)
        for b in inst.buyers:
            if out.allocation[b.id]:
                c = _bisect(inst, b.id, True)
                assert out.payments[b.id] == pytest.approx(b.demand * c, abs=1e-6)
                checked += 1
        for s in inst.sellers:
            if out.allocation[s.id]:
                p = _bisect(inst, s.id, False)
                assert -out.payments[s.id] == pytest.approx(p, abs=1e-6)
                checked += 1
    assert checked > 20


def test_irregular_distribution_prices_by_bisection() -> None:
    """Ironed virtual values (a bimodal mixture): the flat ironed piece is settled exactly."""
    mix = {
        "type": "mixture",
        "weights": [0.5, 0.5],
        "components": [
            {"type": "uniform", "low": 0, "high": 4},
            {"type": "uniform", "low": 6, "high": 10},
        ],
    }
    for t in range(5):
        rng = np.random.default_rng([11, t])
        data = {
            "variant": "profit" if t % 2 else "budget-balanced",
            "sellers": [
                {"id": f"s{k}", "ask": float(rng.uniform(0, 6)), "distribution": U10}
                for k in range(2)
            ],
            "buyers": [
                {
                    "id": f"b{k}",
                    "bid": float(rng.choice([rng.uniform(0, 4), rng.uniform(6, 10)])),
                    "distribution": mix,
                }
                for k in range(3)
            ],
            "conflicts": [["b0", "b1"]],
        }
        inst = Instance.parse(data)
        out = clear(inst)
        for b in inst.buyers:
            if out.allocation[b.id]:
                assert out.payments[b.id] == pytest.approx(_bisect(inst, b.id, True), abs=1e-4)


def test_audit_quick() -> None:
    """IC, IR, NPT on random instances with conflict graphs, local markets, both demand types."""
    report = audit(SPEC, instances=80, seed=3)
    assert report.ok, report.render()
    assert report.deviations_tried > 4000


def test_audit_without_deviations_many() -> None:
    """IR, NPT and ex-ante BB over 3,000 instances (IC is the expensive part: see the slow test)."""
    report = audit(SPEC, instances=3000, seed=5, properties=("ir", "npt", "bb-ex-ante"))
    assert report.ok, report.render()


@pytest.mark.parametrize("variant", ["budget-balanced", "profit"])
def test_ex_ante_budget_balance(variant: str) -> None:
    """Proposition 8: mean revenue ≥ 0 when reports are drawn from the stated distributions, and
    the mean revenue equals the mean virtual surplus (Lemma 2, eq. (12)) within the CI."""
    rev, virt = [], []
    for t in range(1000):
        inst = random_instance(np.random.default_rng([13, t]), variant=variant)  # type: ignore[arg-type]
        out = clear(inst)
        rev.append(out.revenue)
        virt.append(out.details["virtual_surplus"])
    rev_a, virt_a = np.array(rev), np.array(virt)
    half = 1.96 * rev_a.std(ddof=1) / math.sqrt(rev_a.size)
    assert rev_a.mean() + half >= 0
    assert rev_a.mean() > 0
    diff = rev_a - virt_a
    dhalf = 1.96 * diff.std(ddof=1) / math.sqrt(diff.size)
    assert abs(diff.mean()) <= dhalf + 0.05


@pytest.mark.slow
@pytest.mark.heavy
def test_audit_10000() -> None:
    report = audit(SPEC, instances=10_000, seed=2026)
    assert report.ok, report.render()


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"buyers": [{"id": "b1", "bid": -1.0, "distribution": U10}]}, "buyers[0].bid"),
        (
            {"buyers": [{"id": "b1", "bid": 1.0, "demand": 0, "distribution": U10}]},
            "buyers[0].demand",
        ),
        ({"sellers": [{"id": "s1", "ask": float("nan"), "distribution": U10}]}, "sellers[0].ask"),
        ({"conflicts": [["b1", "zz"]]}, "conflicts[0][1]"),
        ({"conflicts": [["b1", "b1"]]}, "conflicts[0]"),
        ({"eligible": {"b1": ["nope"]}}, "eligible.b1[0]"),
        ({"eligible": {"bx": ["s1"]}}, "eligible.bx"),
        ({"variant": "greedy"}, "variant"),
        ({"sellers": []}, "sellers"),
        (
            {
                "sellers": [
                    {
                        "id": "s1",
                        "ask": 1.0,
                        "distribution": {"type": "uniform", "low": 5, "high": 1},
                    }
                ]
            },
            "sellers[0].distribution",
        ),
        ({"buyers": [{"id": "s1", "bid": 1.0, "distribution": U10}]}, "buyers[0].id"),
    ],
)
def test_bad_input_names_field(patch: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        _inst(**patch)
    assert exc.value.field.startswith(field)


def test_cli_clear_example() -> None:
    res = CliRunner().invoke(app, ["clear", "district", str(ROOT / "examples" / "district.json")])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert set(out) >= {"allocation", "payments", "welfare", "revenue"}
    assert out["payments"]["b1"] > 0 and out["payments"]["s1"] < 0


def test_registered() -> None:
    assert get("district") is SPEC
    assert SPEC.claims == {"ic", "ir", "npt", "bb-ex-ante"}


_MIXED = [
    {"type": "exponential", "rate": 0.3},
    {"type": "truncated_normal", "mean": 5.0, "sd": 2.0, "low": 0.0, "high": 10.0},
    {"type": "empirical", "values": [1.0, 3.0, 5.0, 8.0], "probs": [0.1, 0.4, 0.3, 0.2]},
    {
        "type": "mixture",
        "weights": [0.5, 0.5],
        "components": [
            {"type": "uniform", "low": 0.0, "high": 3.0},
            {"type": "uniform", "low": 6.0, "high": 10.0},
        ],
    },
    U10,
]


def _mixed_instance(rng: np.random.Generator) -> Instance:
    from specmarket.distributions import distribution_from_json

    def agent(kind: str, k: int) -> dict[str, object]:
        d = _MIXED[int(rng.integers(len(_MIXED)))]
        x = float(max(distribution_from_json(d).sample(rng), 0.0))
        if kind == "s":
            return {"id": f"s{k}", "ask": x, "distribution": d}
        return {"id": f"b{k}", "bid": x, "demand": int(rng.integers(1, 3)), "distribution": d}

    m, n = int(rng.integers(1, 4)), int(rng.integers(1, 5))
    p = rng.uniform(0, 0.6)
    return Instance.parse(
        {
            "variant": "profit" if rng.random() < 0.5 else "budget-balanced",
            "sellers": [agent("s", k) for k in range(m)],
            "buyers": [agent("b", k) for k in range(n)],
            "conflicts": [
                [f"b{i}", f"b{j}"] for i in range(n) for j in range(i + 1, n) if rng.random() < p
            ],
        }
    )


def test_audit_other_distributions() -> None:
    """Exponential, truncated normal, discrete (empirical) and irregular (mixture, ironed)."""
    spec = dataclasses.replace(SPEC, random_instance=_mixed_instance)
    report = audit(spec, instances=20, seed=4, properties=("ic", "ir", "npt"))
    assert report.ok, report.render()


# --------------------------------------------------------------------------------------------------
# compiled path against the literal transcription, on whole instances
# --------------------------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(["budget-balanced", "profit"]))
def test_clear_fast_equals_reference_exactly(seed: int, variant: str) -> None:
    """Allocation, payments and details of ``engine="fast"`` equal the literal version's (unit
    and multi-demand, conflicts, local markets, both variants), with ``==``."""
    inst = random_instance(np.random.default_rng(seed), variant=variant)  # type: ignore[arg-type]
    fast = clear(inst).to_json()
    lit = clear(inst, engine="reference").to_json()
    assert fast == lit


def test_clear_fast_equals_reference_irregular() -> None:
    """Same with an ironed (bimodal) buyer distribution, where flat pieces need the extra run."""
    spec = dataclasses.replace(SPEC, random_instance=_mixed_instance)
    for t in range(40):
        inst = spec.random_instance(np.random.default_rng([31, t]))
        assert clear(inst).to_json() == clear(inst, engine="reference").to_json()


def test_clear_unknown_engine() -> None:
    with pytest.raises(InvalidInput) as exc:
        clear(_inst(), engine="numba")  # type: ignore[arg-type]
    assert exc.value.field == "engine"


# --------------------------------------------------------------------------------------------------
# reports outside the support of the declared prior
# --------------------------------------------------------------------------------------------------

U2_12 = {"type": "uniform", "low": 2, "high": 12}


def _outside_buyer(**kw: object) -> dict[str, object]:
    """b1 bids 1 under a U[2, 12] prior; b0 (φ = 10) and s0 (ψ = 0) make γ = 10 first, so that
    Algorithm 7 accepts b1 reusing s0 at Δ = φ(2) = −8."""
    data: dict[str, object] = {
        "sellers": [{"id": "s0", "ask": 0.0, "distribution": U10}],
        "buyers": [
            {"id": "b0", "bid": 10.0, "distribution": U10},
            {"id": "b1", "bid": 1.0, "distribution": U2_12},
        ],
    }
    data.update(kw)
    return data


def test_bid_outside_support_is_rejected_naming_the_field() -> None:
    with pytest.raises(InvalidInput) as exc:
        Instance.parse(_outside_buyer())
    assert exc.value.field == "buyers[1].bid"
    assert "support [2, 12]" in exc.value.reason


def test_ask_outside_support_is_rejected_naming_the_field() -> None:
    below0 = {"type": "uniform", "low": -10, "high": -9}
    with pytest.raises(InvalidInput) as exc:
        _inst(sellers=[{"id": "s1", "ask": 0.0, "distribution": below0}])
    assert exc.value.field == "sellers[0].ask"


def test_clip_mode_shows_why_rejecting_is_the_default() -> None:
    """With ``outside_support="clip"`` both failures come back: the buyer bidding 1 under
    U[2, 12] is treated as bidding 2, wins and pays 2 (utility −1); a seller asking 0 under a
    U[−10, −9] prior (ψ = −8 < 0) sells and pays 9 instead of being paid."""
    out = clear(Instance.parse(_outside_buyer(outside_support="clip")))
    assert out.allocation["b1"] == ["s0"]
    assert out.payments["b1"] == pytest.approx(2.0)
    below0 = {"type": "uniform", "low": -10, "high": -9}
    out = clear(
        _inst(
            outside_support="clip",
            buyers=[{"id": "b1", "bid": 9.0, "distribution": U10}],
            sellers=[{"id": "s1", "ask": 0.0, "distribution": below0}],
        )
    )
    assert out.allocation["s1"] == ["b1"]
    assert out.payments["s1"] == pytest.approx(9.0)  # positive: the seller pays


def test_reports_at_the_ends_of_the_support_are_accepted() -> None:
    """Bids 2 and 12 under U[2, 12] and an ask 0 under U[0, 10] clear, individually rational."""
    data = _outside_buyer()
    data["buyers"] = [
        {"id": "b0", "bid": 10.0, "distribution": U10},
        {"id": "b1", "bid": 2.0, "distribution": U2_12},
        {"id": "b2", "bid": 12.0, "distribution": U2_12},
    ]
    out = clear(Instance.parse(data))
    assert out.allocation["b0"] and out.allocation["b2"]
    for pid, value in out.values.items():
        assert value - out.payments[pid] >= -1e-12


def test_out_of_support_copy_is_rejected_at_clearing() -> None:
    """``model_copy`` skips the validators; :func:`clear` checks the supports again."""
    inst = _inst()
    bad = inst.model_copy(update={"buyers": (inst.buyers[0].model_copy(update={"bid": 11.0}),)})
    with pytest.raises(InvalidInput) as exc:
        clear(bad)
    assert exc.value.field == "buyers[0].bid"


def test_deviations_stay_in_the_support() -> None:
    from specmarket.mechanisms.district import deviations

    for t in range(20):
        inst = random_instance(np.random.default_rng([41, t]))
        for agent in (*inst.buyers, *inst.sellers):
            lo, hi = agent.distribution.support
            for _, dev in deviations(inst, agent.id, np.random.default_rng(t)):
                clear(dev)  # admitted
                mine = next(a for a in (*dev.buyers, *dev.sellers) if a.id == agent.id)
                x = mine.bid if hasattr(mine, "bid") else mine.ask
                assert lo <= x <= hi


def test_cli_rejects_out_of_support_with_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(_outside_buyer()))
    res = CliRunner().invoke(app, ["clear", "district", str(path)])
    assert res.exit_code == 2
    assert "buyers[1].bid" in res.output
