"""Tests of the CAT reproduction helpers (VCG comparison, eq. (4) optimum, Theorem 1 fixes)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from specmarket.mechanisms import cat
from specmarket.reproductions import ReproContext
from specmarket.reproductions import cat as repro


def _inst(bands: int, users: list[tuple[int, float]], sharing: bool = True) -> cat.Instance:
    return cat.Instance(
        bands=bands,
        increment=0.1,
        sharing=sharing,
        users=tuple(cat.User(id=f"u{i}", demand=d, wtp=w) for i, (d, w) in enumerate(users)),
    )


def test_vcg_identical_units_leaves_partial_bands() -> None:
    # bids per band: u0 4 x 3.0, u1 6 x 2.0, u2 5 x 2.5 -> u0 gets 4, u2 gets 5, u1 gets 1 of 6
    res = repro.vcg_identical_units(_inst(10, [(4, 3.0), (6, 2.0), (5, 2.5)]))
    assert res["allocation"] == [4, 1, 5]
    assert res["partial"] == 1 and res["idle"] == 0
    assert res["welfare"] == pytest.approx(12 + 12.5 + 1 * (1 / 6) * 2.0)
    # Clarke: u0 displaces 4 of the others' losing bids (2.0 x 4)
    assert res["payments"][0] == pytest.approx(8.0)


def test_eq4_optimum_matches_brute_force() -> None:
    rng = np.random.default_rng(4)
    for _ in range(30):
        n = int(rng.integers(1, 6))
        k = int(rng.integers(1, 4))
        demand = [int(x) for x in rng.integers(1, 6, size=k)]
        wtp = [float(x) / 4 for x in rng.integers(0, 20, size=k)]
        best = max(
            sum(cat.welfare_eq4(q, d, m) for q, d, m in zip(qs, demand, wtp, strict=True))
            for qs in itertools.product(range(n + 1), repeat=k)
            if sum(qs) <= n
        )
        w, alloc = repro.eq4_optimum(demand, wtp, n)
        assert w == pytest.approx(best)
        assert sum(alloc) <= n
        assert sum(
            cat.welfare_eq4(q, d, m) for q, d, m in zip(alloc, demand, wtp, strict=True)
        ) == pytest.approx(w)


def test_vcg_over_legal_teams_is_truthful_in_wtp() -> None:
    rng = np.random.default_rng(7)
    for _ in range(8):
        inst = cat.random_instance(rng)
        out = cat.clear_vcg_teams(inst)
        assert all(p >= -1e-9 for p in out.payments.values())
        for user in inst.users:
            u0 = out.utility(user.id)
            assert u0 >= -1e-9
            for label, dev in cat.deviations(inst, user.id, rng):
                if not label.startswith("wtp"):
                    continue
                od = cat.clear_vcg_teams(dev)
                u = cat.true_value(inst, user.id, od.allocation[user.id]) - od.payments[user.id]
                assert u <= u0 + 1e-7


def test_vcg_eq4_fix_audit_is_clean() -> None:
    rng = np.random.default_rng(8)
    insts = [cat.random_instance(rng) for _ in range(3)]
    gains, examples = repro.audit_theorem1(repro.clear_vcg_eq4, insts, rng)
    assert examples == [] and max(max(g) for g in gains.values()) <= 1e-7


@pytest.mark.slow
def test_reproduction_quick(tmp_path: Path) -> None:
    res = repro.REPRODUCTION.run(ReproContext(out_dir=tmp_path, quick=True, seed=0))
    for path in [*res.tables.values(), *res.figures.values()]:
        assert path.exists()
    assert "Theorem 1" in res.summary
    assert "section D draws" in res.tables and "IR: 0 members" in res.summary


def test_section_d_draws_all_go_the_seeds_way() -> None:
    counts = repro.section_d_draws(np.random.default_rng(3), 60)
    assert counts["draws"] == 60
    for key in (
        "team 1 wins without sharing",
        "team 2 wins with sharing",
        "price x + θ with sharing",
        "rich member better off with sharing",
    ):
        assert counts[key] == 60, key
    assert counts["rich member gets exactly 0 with sharing"] == 0
