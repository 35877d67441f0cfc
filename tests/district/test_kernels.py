"""Compiled District-D kernels against their Python twin and the literal transcription.

The kernels (:mod:`specmarket.mechanisms._district_kernels`) must take exactly the decisions of the
Python twin (:class:`district._State`, :func:`district._thresholds_python`) and of the literal
algorithms (:mod:`district_reference`, summing virtual asks in the same order): transactions,
marginal revenues, virtual thresholds and hence payments are compared with ``==``.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from specmarket.mechanisms import _district_kernels as K
from specmarket.mechanisms import district as D
from specmarket.mechanisms import district_reference as ref


def random_market(rng: np.random.Generator, n: int, m: int, multi: bool, profit: bool) -> D.Market:
    """As in ``test_winner_determination``: conflicts, local markets, forced ties."""
    phi = rng.uniform(-10, 10, n)
    psi = rng.uniform(0, 20, m)
    if rng.random() < 0.3:  # force ties
        phi, psi = np.round(phi), np.round(psi)
    demand = rng.integers(1, 4, n) if multi else np.ones(n, dtype=int)
    c = np.triu(rng.random((n, n)) < rng.uniform(0, 0.7), 1)
    eligible = rng.random((n, m)) < (0.7 if rng.random() < 0.5 else 1.1)
    return D.Market(phi, psi, demand, c | c.T, eligible, profit)


U64 = st.integers(0, 2**64 - 1)


def _key(th: D.Thresholds) -> tuple[object, ...]:
    return (
        [(t.buyer, t.sellers, t.delta, t.gamma) for t in th.trace],
        th.buyer,
        th.seller,
    )


@settings(max_examples=300, deadline=None)
@given(U64)
def test_popcount_and_lowest_bit(x: int) -> None:
    v = np.uint64(x)
    assert K.popcount(v) == x.bit_count()
    if x:
        assert K.lowest_bit(v) == (x & -x).bit_length() - 1


def _words(bits: int, nw: int) -> np.ndarray:
    return np.array([(bits >> (64 * w)) & (2**64 - 1) for w in range(nw)], dtype=np.uint64)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 150), st.data())
def test_row_costs_and_choose_sellers_match_the_twin(m: int, data: st.DataObject) -> None:
    """Algorithm 9's costs and set on uint64 words equal the twin's on Python ints."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    psi = np.round(rng.uniform(0, 20, m), int(rng.integers(0, 3)))
    r = data.draw(st.integers(1, 4))
    mk = D.Market(
        np.array([1.0]), psi, np.array([r]), np.zeros((1, 1), bool), rng.random((1, m)) < 0.6
    )
    sold_bits = sum(1 << p for p in range(m) if rng.random() < 0.3)
    blocked = sum(1 << p for p in range(m) if rng.random() < 0.2)  # held by conflicting buyers
    st_py = D._State(mk, None, None)
    st_py.sold = sold_bits
    st_py.usable[0] &= ~blocked
    nw = mk.eligible_words.shape[1]
    row, sold = _words(st_py.usable[0], nw), _words(sold_bits, nw)
    have = K.count_reusable(row, sold)
    assert have == (st_py.usable[0] & sold_bits).bit_count()
    assert K.row_costs(row, sold, r, mk.psi_ranked, have) == st_py.row_costs(0)
    pick = np.zeros(nw, dtype=np.uint64)
    K.choose_sellers(row, sold, r, pick)
    got = sum(int(w) << (64 * i) for i, w in enumerate(pick))
    assert got == st_py.choose_sellers(0)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([-np.inf, 0.0, 1.0, 2.5, 3.0]), min_size=1, max_size=70), st.data())
def test_tournament_tree_is_first_argmax(scores: list[float], data: st.DataObject) -> None:
    """The root of the tree is ``numpy.argmax`` (first maximum) after any sequence of updates."""
    n = len(scores)
    half = 1
    while half < n:
        half *= 2
    score = np.full(half, -np.inf)
    tree = np.zeros(2 * half, dtype=np.int64)
    tree[half:] = np.arange(half)
    for i in range(half):
        K.tree_fix(tree, score, i)
    for k, v in enumerate(scores):
        K.set_score(tree, score, k, v)
    for _ in range(data.draw(st.integers(0, 20))):
        k = data.draw(st.integers(0, n - 1))
        K.set_score(tree, score, k, data.draw(st.sampled_from([-np.inf, 0.0, 1.0, 2.5, 3.0])))
        want = int(np.argmax(score[:n]))
        assert K.step(score, tree) == (want if score[want] > -np.inf else -1)


def _random(seed: int, n_max: int = 12, m_max: int = 9) -> D.Market:
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, n_max + 1)), int(rng.integers(1, m_max + 1))
    return random_market(rng, n, m, bool(rng.random() < 0.5), bool(rng.random() < 0.5))


@settings(max_examples=400, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_compiled_equals_python_twin(seed: int) -> None:
    """Winners, Δ, γ and every threshold bit for bit; also the runs without one agent."""
    mk = _random(seed)
    assert _key(D.critical_thresholds(mk)) == _key(D._thresholds_python(mk))
    rng = np.random.default_rng(seed + 1)
    b, s = int(rng.integers(mk.n_buyers)), int(rng.integers(mk.n_sellers))
    for kw in ({"skip_buyer": b}, {"skip_seller": s}, {}):
        fast = D.determine_winners(mk, **kw)  # type: ignore[arg-type]
        assert fast == D._determine_winners_python(mk, **kw)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_compiled_equals_literal_reference(seed: int) -> None:
    """The compiled path and the literal appendix algorithms agree exactly (unit and
    multi-demand, budget-balanced and profit-driven, conflicts, local markets, forced ties)."""
    mk = _random(seed, 10, 7)
    assert _key(D.critical_thresholds(mk)) == _key(D.critical_thresholds(mk, "reference"))


def test_compiled_equals_twin_on_larger_markets() -> None:
    """Markets large enough for several 64-bit words per row (M up to 150) and long reruns."""
    for t in range(12):
        rng = np.random.default_rng([21, t])
        n, m = int(rng.integers(30, 90)), int(rng.integers(60, 150))
        mk = random_market(rng, n, m, bool(t % 2), bool(t % 3 == 0))
        assert _key(D.critical_thresholds(mk)) == _key(D._thresholds_python(mk))


def test_unknown_engine() -> None:
    from specmarket.errors import InvalidInput

    with pytest.raises(InvalidInput) as exc:
        D.critical_thresholds(_random(0), "numba")  # type: ignore[arg-type]
    assert exc.value.field == "engine"


def test_literal_reference_sums_in_increasing_order() -> None:
    """The literal version adds virtual asks cheapest first, as the fast path does."""
    mk = D.Market(
        np.array([1.0]),
        np.array([0.3, 0.1, 0.2]),
        np.array([3]),
        np.zeros((1, 1), bool),
        np.ones((1, 3), bool),
    )
    assert ref.delta(mk, [], (0, 1, 2), 0) == 3.0 - ((0.1 + 0.2) + 0.3)


@pytest.mark.parametrize(("n", "m"), [(0, 3), (3, 0), (0, 0), (1, 65), (70, 1), (5, 130)])
def test_degenerate_markets(n: int, m: int) -> None:
    """No buyers, no sellers, one word boundary crossed: compiled and twin agree."""
    mk = D.Market(
        np.ones(n), np.full(m, 0.5), np.full(n, 2), np.zeros((n, n), bool), np.ones((n, m), bool)
    )
    assert _key(D.critical_thresholds(mk)) == _key(D._thresholds_python(mk))
