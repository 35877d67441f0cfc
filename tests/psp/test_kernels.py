"""Compiled kernels of the data market's buyer reply against straightforward Python.

The kernels must take exactly the reference's decisions (the market tests compare whole traces);
here each piece is checked against its obvious definition on random inputs.
"""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from specmarket.mechanisms.psp import _kernels as K
from specmarket.mechanisms.psp.market import (
    _TOL,
    _Book,
    _plan,
    _Seller,
    random_market,
    simulate,
)

avail = st.lists(
    st.one_of(st.floats(1e-6, 50.0), st.sampled_from([1.0, 2.0, 2.5, 5.0])), max_size=40
)


def _sorted_desc(a: list[float]) -> list[float]:
    return sorted(a, reverse=True)


@settings(max_examples=300, deadline=None)
@given(avail, st.floats(-1.0, 300.0))
def test_smallest_cover_is_the_first_n_with_n_times_nth_largest_at_least_v(
    a: list[float], v: float
) -> None:
    s = _sorted_desc(a)
    want = next((n for n in range(1, len(s) + 1) if n * s[n - 1] >= v), 0)
    assert K.smallest_cover(np.array(a, dtype=float), v) == want
    # zeros padding (sellers out of reach) changes nothing
    padded = np.array([*a, 0.0, 0.0, 0.0], dtype=float)
    assert K.smallest_cover(padded, v) == (want if a or v > 0 else 1)


@settings(max_examples=300, deadline=None)
@given(avail)
def test_capacity_is_max_n_times_nth_largest(a: list[float]) -> None:
    s = _sorted_desc(a)
    want = max((n * s[n - 1] for n in range(1, len(s) + 1)), default=0.0)
    assert K.capacity(np.array(a, dtype=float)) == want


@settings(max_examples=300, deadline=None)
@given(avail, st.floats(0.0, 200.0))
def test_plan_matches_the_reference_pool_choice(a: list[float], x: float) -> None:
    """Positions best first (availability desc, then rank) and the per-seller quantity."""
    arr = np.array(a, dtype=float)
    ranks = np.arange(arr.size, dtype=np.int64)
    order = sorted(range(len(a)), key=lambda k: (-a[k], k))
    cands = [(a[k], k, str(k), 0.0) for k in order]
    idx, q = _plan(cands, x)
    top, q2 = K.plan(arr, ranks, x)
    assert [order[k] for k in idx] == top.tolist()
    assert q == q2


def _row(book: _Book, j: int) -> tuple[list[float], list[float]]:
    s, k = int(book.start[j]), int(book.count[j])
    return book.price[s : s + k].tolist(), book.cum[s : s + k + 1].tolist()


def _book_of(n: int) -> tuple[list[_Seller], _Book]:
    """``n`` sellers of 100 units wired to one compiled book (every bid lands in its rows)."""
    sellers = [_Seller(id=f"s{k}", rank=k, supply=100.0, reserve=0.01) for k in range(n)]
    book = _Book(sellers)
    for s in sellers:
        s.book = book
    return sellers, book


def test_book_rows_equal_the_per_seller_index_through_growth() -> None:
    """Rows that outgrow their room move to the end of the buffers and keep their content."""
    rng = np.random.default_rng(5)
    sellers, book = _book_of(6)
    for step in range(400):
        s = sellers[int(rng.integers(6))]
        buyer = f"b{int(rng.integers(60 if step < 200 else 5))}"
        q = float(rng.choice([0.0, rng.uniform(0.1, 9.0)], p=[0.2, 0.8]))
        s.set_bid(buyer, q, float(rng.choice([1.0, 1.5, rng.uniform(0.5, 3.0)])))
        book.refresh()
        for t in sellers:
            t._index()
            prices, cum = _row(book, t.rank)
            assert prices == [-p for p in t._neg]
            assert cum == t._cum
    assert int(book.room.max()) > 8  # some row moved
    assert book.end <= 3 * int((book.room + 1).sum())  # abandoned blocks stay bounded


def test_state_code_is_monotone_in_the_price() -> None:
    """The bracket argument of the bisection: codes (and quotes) never rise with the price."""
    sellers = [_Seller(id="s", rank=0, supply=10.0, reserve=0.5)]
    book = _Book(sellers)
    sellers[0].book = book
    for i, (q, p) in enumerate([(3.0, 2.0), (2.0, 1.5), (4.0, 1.5), (1.0, 0.9)]):
        sellers[0].set_bid(f"b{i}", q, p)
    book.refresh()
    book.active[:] = True
    book.set_reserves()
    own_q, own_p = book.own_q.copy(), book.own_p.copy()
    own_q[0], own_p[0] = 2.0, 1.5
    args = (book.price, book.cum, book.start, book.count, book.supply, book.reserve, own_q, own_p)
    ys = np.linspace(0.0, 3.0, 601)
    codes = [K.state(*args, 0.05, 0, float(y))[0] for y in ys]
    quotes = [K.state(*args, 0.05, 0, float(y))[1] for y in ys]
    reach = [c for c in codes if c >= 0]
    assert all(a >= b for a, b in itertools.pairwise(reach))
    assert all(a <= b + _TOL for a, b in itertools.pairwise(quotes))


def test_compiled_replies_match_reference_on_a_crowded_market() -> None:
    """Many buyers per seller: multi-seller pools, price holds, rows that grow and move."""
    m = random_market(90, 12, 11, max_rounds=60)
    fast = simulate(m, keep_trace=True, engine="fast")
    ref = simulate(m, keep_trace=True, engine="reference")
    assert fast.trace == ref.trace
    assert fast.outcome.to_json() == ref.outcome.to_json()
    spread = {}
    for rec in fast.trace:
        for c in rec["bids"]:
            if c["quantity"] > 0:
                key = (rec["round"], c["buyer"])
                spread[key] = spread.get(key, 0) + 1
    assert max(spread.values()) >= 2  # some buyer spread a consistent bid over several sellers


def test_probe_starts_at_the_hint_then_steps_beyond_it_then_bisects() -> None:
    """The warm-started target search (choice 5): hint, hint ± width, then midpoints."""
    assert K.probe(0.0, 10.0, 0, 3.0, 0.2) == 3.0
    assert K.probe(0.0, 10.0, 0, -1.0, 0.2) == 5.0  # no hint
    assert K.probe(0.0, 10.0, 0, 10.0, 0.2) == 5.0  # hint on the bracket's edge
    assert K.probe(3.0, 10.0, 1, 3.0, 0.2) == 3.2  # the hint passed: look just above it
    assert K.probe(0.0, 3.0, 1, 3.0, 0.2) == 2.8  # the hint failed: look just below it
    assert K.probe(0.0, 3.1, 1, 3.0, 0.2) == 1.55  # hint not an end: bisect
    assert K.probe(3.0, 3.1, 1, 3.0, 0.2) == 3.05  # the step leaves the bracket: bisect
    assert K.probe(3.0, 3.2, 2, 3.0, 0.2) == 3.1


def test_pack_keeps_every_row_and_lays_them_out_in_rank_order() -> None:
    """`_Book.pack` (once per round): same row contents, contiguous, room max(8, 2·count)."""
    rng = np.random.default_rng(11)
    sellers, book = _book_of(5)
    for step in range(300):
        s = sellers[int(rng.integers(5))]
        q = float(rng.choice([0.0, rng.uniform(0.1, 9.0)], p=[0.3, 0.7]))
        s.set_bid(f"b{int(rng.integers(80 if step < 150 else 4))}", q, float(rng.uniform(0.5, 3)))
        book.refresh()
        before = [_row(book, j) for j in range(5)]
        if step % 7 == 0:
            book.pack()
            assert [_row(book, j) for j in range(5)] == before
            assert (np.diff(book.start) == book.room[:-1] + 1).all()
            assert (book.room == np.maximum(8, 2 * book.count)).all()
            assert book.end <= book.price.size


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([0.0, 0.5, 1.0, 2.5, 7.0, 12.0]),
            st.sampled_from([0.0, 0.2, 1.0, 1.0 + 1e-13, 1.5, 2.0, 3.0]),
        ),
        max_size=30,
    ),
    st.sampled_from([0.0, 1.0, 10.0, 25.0, 200.0]),
    st.sampled_from([0.0, 0.2, 1.0, 1.5]),
)
def test_compiled_seller_round_matches_the_local_auction(
    bids: list[tuple[float, float]], supply: float, reserve: float
) -> None:
    """The seller's compiled eq. (20) allocation and eq. (25) outsider price = local_auction's."""
    from specmarket.mechanisms.psp import local_auction as LA

    qp = np.array(bids, dtype=float).reshape(len(bids), 2)
    q, p = qp[:, 0].copy(), qp[:, 1].copy()
    np.testing.assert_allclose(
        K.allocate(qp, supply, reserve), LA.allocate(q, p, supply, reserve), rtol=1e-12, atol=1e-12
    )
    out = LA.outsider_price(q, p, supply)
    got = K.outsider_price(qp, supply)
    assert (out is None and np.isnan(got)) or out == got
