"""Gittins indices (seed 004 eq. (3)): fast elimination vs definition-level references."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from specmarket.errors import InvalidInput
from specmarket.mechanisms.adaptive.gittins import (
    gittins_bruteforce,
    gittins_from_json,
    gittins_indices,
    gittins_naive,
    gittins_restart,
)


def random_chain(
    rng: np.random.Generator, n: int, sparse: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    p = rng.random((n, n)) ** 3
    p[rng.random((n, n)) < sparse] = 0.0
    p[np.arange(n), rng.integers(0, n, size=n)] += 0.05  # no empty row
    p /= p.sum(axis=1, keepdims=True)
    return p, rng.normal(size=n)


@pytest.mark.parametrize("beta", [0.0, 0.3, 0.7, 0.9, 0.99, 0.999])
@pytest.mark.parametrize("seed", range(4))
def test_matches_restart_in_state(beta: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 25))
    p, r = random_chain(rng, n, sparse=0.5)
    ref = gittins_restart(p, r, beta)
    scale = 1.0 + np.abs(r).max()
    for block in (1, 3, 64):
        assert np.allclose(gittins_indices(p, r, beta, block=block), ref, rtol=0, atol=1e-9 * scale)
    assert np.allclose(gittins_naive(p, r, beta), ref, rtol=0, atol=1e-9 * scale)


@pytest.mark.parametrize("beta", [0.0, 0.5, 0.9, 0.999])
def test_matches_literal_definition(beta: float) -> None:
    rng = np.random.default_rng(7)
    for _ in range(4):
        n = int(rng.integers(1, 8))
        p, r = random_chain(rng, n, sparse=0.4)
        assert np.allclose(gittins_indices(p, r, beta), gittins_bruteforce(p, r, beta), atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 12),
    beta=st.sampled_from([0.0, 0.5, 0.9, 0.999]),
    seed=st.integers(0, 2**32 - 1),
    ties=st.booleans(),
    absorbing=st.integers(0, 3),
)
def test_property_ties_absorbing(
    n: int, beta: float, seed: int, ties: bool, absorbing: int
) -> None:
    rng = np.random.default_rng(seed)
    p, r = random_chain(rng, n, sparse=0.6)
    if ties:
        r = np.round(r)  # many equal rewards → tied indices
    for a in range(min(absorbing, n)):
        p[a] = 0.0
        p[a, a] = 1.0  # absorbing state
    got = gittins_indices(p, r, beta, block=4)
    assert np.allclose(got, gittins_restart(p, r, beta), atol=1e-9 * (1 + np.abs(r).max()))
    # the index lies between the state's reward and the best reward; top state = max reward
    assert (got >= r - 1e-12).all()
    assert got.max() == pytest.approx(r.max())


def test_known_values() -> None:
    # absorbing states: index = reward; a transient state that jumps to an absorbing one
    p = np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    r = np.array([0.0, 5.0, 2.0])
    beta = 0.9
    g = gittins_indices(p, r, beta)
    # state 0: play once (0) then sit at 5 forever: ratio (β·5/(1-β)) / (1/(1-β)) = 5β
    assert g == pytest.approx([5 * beta, 5.0, 2.0])
    # unreachable and isolated states do not disturb the others
    p2 = np.eye(4)
    assert gittins_indices(p2, [1.0, 3.0, 2.0, 0.0], 0.5) == pytest.approx([1, 3, 2, 0])
    # β = 0: the index is the reward
    rng = np.random.default_rng(0)
    pp, rr = random_chain(rng, 9)
    assert gittins_indices(pp, rr, 0.0) == pytest.approx(rr)


def test_example_file_values() -> None:
    out = gittins_from_json(
        {
            "transition": [[0.5, 0.5, 0.0], [0.25, 0.5, 0.25], [0.0, 0.5, 0.5]],
            "reward": [0.0, 1.0, 3.0],
            "discount": 0.9,
        }
    )
    ref = gittins_restart(
        [[0.5, 0.5, 0.0], [0.25, 0.5, 0.25], [0.0, 0.5, 0.5]], [0.0, 1.0, 3.0], 0.9
    )
    assert out["index"] == pytest.approx(ref.tolist(), abs=1e-12)


@pytest.mark.parametrize(
    ("p", "r", "beta", "field"),
    [
        ([[0.5, 0.4], [0.0, 1.0]], [1, 2], 0.9, "transition[0]"),
        ([[0.5, 0.5], [0.0, 1.1]], [1, 2], 0.9, "transition[1]"),
        ([[1.5, -0.5], [0.0, 1.0]], [1, 2], 0.9, "transition[0][1]"),
        ([[1.0, 0.0], [float("nan"), 1.0]], [1, 2], 0.9, "transition[1][0]"),
        ([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], [1, 2], 0.9, "transition"),
        ([], [], 0.9, "transition"),
        ([[1.0]], [1, 2], 0.9, "reward"),
        ([[1.0]], [float("inf")], 0.9, "reward[0]"),
        ([[1.0]], [1.0], 1.0, "discount"),
        ([[1.0]], [1.0], -0.1, "discount"),
        ([[1.0]], [1.0], "0.5", "discount"),
    ],
)
def test_bad_input_names_field(p: object, r: object, beta: object, field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        gittins_indices(p, r, beta)  # type: ignore[arg-type]
    assert info.value.field == field


def test_json_rejects_unknown_and_missing_keys() -> None:
    with pytest.raises(InvalidInput, match="discount"):
        gittins_from_json({"transition": [[1.0]], "reward": [1.0]})
    with pytest.raises(InvalidInput, match="beta"):
        gittins_from_json({"transition": [[1.0]], "reward": [1.0], "discount": 0.5, "beta": 1})


def test_large_chain_blocked_equals_naive() -> None:
    rng = np.random.default_rng(3)
    p, r = random_chain(rng, 300)
    assert np.allclose(gittins_indices(p, r, 0.95), gittins_naive(p, r, 0.95), atol=1e-10)


# --------------------------------------------------------------------------- compiled path


@pytest.mark.parametrize("seed", range(3))
def test_compiled_pivots_and_blas_update_match_numpy_twin(seed: int) -> None:
    from specmarket.mechanisms.adaptive import gittins as g
    from specmarket.mechanisms.adaptive._gittins_kernel import pivot_block

    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 90))
    p, r = random_chain(rng, n, sparse=0.3)
    for block in (1, 5, 64):
        twin = g._eliminate_blocked(p, r, 0.9, block, g._pivot_block_py, g._numpy_update)
        for pivots, update in (
            (pivot_block, g._numpy_update),
            (g._pivot_block_py, g._blas_update()),
            (pivot_block, g._blas_update()),
        ):
            got = g._eliminate_blocked(p.copy(), r, 0.9, block, pivots, update, True)
            assert np.allclose(got, twin, rtol=0, atol=1e-12 * (1 + np.abs(r).max()))


def test_large_chain_compiled_path_matches_references() -> None:
    from specmarket.mechanisms.adaptive.gittins import COMPILED_FROM

    rng = np.random.default_rng(11)
    n = COMPILED_FROM + 37
    p, r = random_chain(rng, n, sparse=0.2)
    fast = gittins_indices(p, r, 0.95)
    assert np.allclose(fast, gittins_naive(p, r, 0.95), rtol=0, atol=1e-10)
    for threads in (None, 2):
        assert np.allclose(gittins_indices(p, r, 0.95, threads=threads), fast, rtol=0, atol=1e-12)
    small = p[:40, :40] / p[:40, :40].sum(axis=1, keepdims=True)
    ref = gittins_indices(small, r[:40], 0.95, engine="reference")
    assert np.allclose(gittins_indices(small, r[:40], 0.95), ref, rtol=0, atol=1e-9)


@pytest.mark.parametrize("beta", [0.0, 0.7, 0.999])
def test_compiled_path_matches_restart_reference(
    monkeypatch: pytest.MonkeyPatch, beta: float
) -> None:
    from specmarket.mechanisms.adaptive import gittins as g

    monkeypatch.setattr(g, "COMPILED_FROM", 1)  # the compiled path on chains the reference can do
    rng = np.random.default_rng(int(beta * 1000))
    for _ in range(4):
        n = int(rng.integers(1, 30))
        p, r = random_chain(rng, n, sparse=0.5)
        ref = gittins_restart(p, r, beta)
        scale = 1.0 + np.abs(r).max()
        for block in (1, 4, 64):
            got = gittins_indices(p, r, beta, block=block)
            assert np.allclose(got, ref, rtol=0, atol=1e-9 * scale)


def test_engine_and_threads_are_checked() -> None:
    p, r = np.eye(2), [1.0, 0.0]
    with pytest.raises(InvalidInput, match="engine"):
        gittins_indices(p, r, 0.5, engine="turbo")
    with pytest.raises(InvalidInput, match="threads"):
        gittins_indices(p, r, 0.5, threads=0)
