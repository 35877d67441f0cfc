"""S and S₋ᵢ by Whittle's formula vs brute-force DP on the joint chain and vs Monte Carlo."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from specmarket.mechanisms.adaptive.bandit_value import ScaledArmFamily, bandit_value_bruteforce
from specmarket.mechanisms.adaptive.mechanism import market


@pytest.mark.parametrize("delta", [0.0, 0.5, 0.7, 0.95])
@pytest.mark.parametrize("thetas", [(1.0,), (1.0, 2.5), (1.3, 0.0, 0.8), (2.0, 2.0, 1.0)])
def test_whittle_equals_joint_dp_on_coarse_snr_chain(
    delta: float, thetas: tuple[float, ...]
) -> None:
    fam = market(-4, 4, 2, delta, 1.0)  # 9 SNR states
    th = np.array(thetas)
    n = fam.index.size
    exact = bandit_value_bruteforce(fam.transition, th[:, None] * fam.base_reward, delta)
    k = th.size
    without = [
        bandit_value_bruteforce(fam.transition, np.delete(th, i)[:, None] * fam.base_reward, delta)
        if k > 1
        else None
        for i in range(k)
    ]
    for x in itertools.product(range(n), repeat=k):
        total, minus = fam.welfare(th, np.array(x))
        assert total == pytest.approx(exact[x], rel=1e-10, abs=1e-10)
        for i in range(k):
            ref = 0.0 if without[i] is None else without[i][tuple(np.delete(x, i))]
            assert minus[i] == pytest.approx(ref, rel=1e-10, abs=1e-10)


def test_whittle_random_chains_different_shapes() -> None:
    rng = np.random.default_rng(11)
    for _ in range(5):
        n = int(rng.integers(2, 7))
        p = rng.random((n, n)) ** 2
        p /= p.sum(axis=1, keepdims=True)
        r0 = rng.random(n) * 3
        beta = float(rng.choice([0.3, 0.9, 0.99]))
        fam = ScaledArmFamily.build(p, r0, beta)
        th = rng.uniform(0.2, 3, size=3)
        exact = bandit_value_bruteforce(p, th[:, None] * r0, beta)
        for x in itertools.product(range(n), repeat=3):
            assert fam.welfare(th, np.array(x))[0] == pytest.approx(exact[x], rel=1e-9)


def test_single_arm_is_plain_discounted_value() -> None:
    fam = market(-30, 30, 2, 0.9, 1.0)
    v = np.linalg.solve(np.eye(61) - 0.9 * fam.transition, 2.0 * fam.base_reward)
    for x in (0, 17, 30, 60):
        assert fam.welfare([2.0], [x])[0] == pytest.approx(v[x], rel=1e-12)


def test_type_grid_matches_direct() -> None:
    fam = market(-30, 30, 2, 0.7, 1.0)
    grid = fam.grid(np.arange(1, 11, dtype=float))
    rng = np.random.default_rng(2)
    types = rng.integers(0, 10, size=(20, 5))
    states = rng.integers(0, 61, size=(20, 5))
    excl = rng.integers(-1, 5, size=20)
    got = grid.welfare_without(types, states, excl)
    for r in range(20):
        total, minus = fam.welfare(types[r] + 1.0, states[r])
        assert got[r] == pytest.approx(total if excl[r] < 0 else minus[excl[r]], rel=1e-12)


def test_monte_carlo_agrees_for_many_users() -> None:
    """k = 8 SUs on the full 61-state chain: simulate the index policy (optimal by Gittins'
    theorem) and compare its mean discounted welfare with S (4 standard errors)."""
    delta = 0.7
    fam = market(-30, 30, 2, delta, 1.0)
    rng = np.random.default_rng(5)
    th = rng.integers(1, 11, size=8).astype(float)
    x0 = rng.integers(0, 61, size=8)
    exact = fam.welfare(th, x0)[0]
    runs, rounds = 4000, 60
    x = np.tile(x0, (runs, 1))
    total = np.zeros(runs)
    rows = np.arange(runs)
    for t in range(rounds):
        w = np.argmax(th * fam.index[x], axis=1)
        total += delta**t * th[w] * fam.base_reward[x[rows, w]]
        z = rng.binomial(2, 0.5, size=runs) - 1
        x[rows, w] = np.clip(x[rows, w] + z, 0, 60)
    se = total.std(ddof=1) / np.sqrt(runs)
    tail = delta**rounds * th.max() * fam.base_reward.max() / (1 - delta)
    assert abs(total.mean() - exact) < 4 * se + tail + 1e-9
