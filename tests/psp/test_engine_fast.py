"""The engine's shortcuts against their plain twins (docs/psp.md, "Scale").

* the seller's cached bid matrix, updated in place (changed rows, appended bidders, holes for
  withdrawn bids), against a matrix rebuilt from the bid dictionary;
* ``engine.own_cost_pair`` (two bids priced in one compiled call) against two
  ``engine.own_cost_excl`` calls, bit for bit;
* ``buyer.gain`` (the paired strict-improvement test) against ``buyer.gain_reference`` on
  every test of whole random runs, bit for bit;
* the compiled book's rows, rebuilt from those matrices, against the bid dictionaries, and
  whole compiled runs against the per-seller reference engine.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

from specmarket.mechanisms.psp.market import random_market, simulate, simulation
from specmarket.mechanisms.psp.market.buyer import gain, gain_reference
from specmarket.mechanisms.psp.market.engine import own_cost_excl, own_cost_pair
from specmarket.mechanisms.psp.market.seller import _Seller


def _fresh(s: _Seller) -> _Seller:
    """A seller with the same bids and a matrix built from scratch."""
    t = _Seller(id=s.id, rank=s.rank, supply=s.supply, reserve=s.reserve)
    for k, (q, p) in s.bids.items():
        t.set_bid(k, q, p)
    return t


def test_the_bid_matrix_updated_in_place_prices_bids_like_a_rebuilt_one() -> None:
    rng = np.random.default_rng(3)
    for trial in range(40):
        s = _Seller(id="s", rank=0, supply=float(rng.uniform(5, 80)), reserve=0.05)
        names = [f"b{k}" for k in range(int(rng.integers(2, 30)))]
        for _ in range(120):
            who = str(rng.choice(names))
            q = 0.0 if rng.random() < 0.35 else float(rng.uniform(0.5, 20))
            p = float(rng.choice([1.0, 1.5, 2.0, 2.5, rng.uniform(0.5, 3)]))
            s.set_bid(who, q, p)
            if rng.random() < 0.3:
                s.reserve = float(rng.choice([0.05, 1.0, 1.5]))
            if rng.random() < 0.5:  # the matrix is used (and kept) between changes
                s._matrix()
            ref = _fresh(s)
            ref.reserve = s.reserve
            live = s._matrix()
            live = live[live[:, 0] > 0]
            assert np.array_equal(live, ref._matrix())
            for k in ref.bids:
                assert s._row[k] < s._matrix().shape[0]
                assert tuple(s._matrix()[s._row[k]]) == ref.bids[k]
            for buyer in [who, names[trial % len(names)], "new"]:
                mine = (float(rng.uniform(0.1, 30)), float(rng.choice([1.0, 1.5, 2.2, 2.5])))
                assert s.own_cost(buyer, mine) == ref.own_cost(buyer, mine)
                assert np.array_equal(s.others(buyer, mine), ref.others(buyer, mine))


def test_own_cost_pair_is_two_own_cost_excl_calls_bit_for_bit() -> None:
    rng = np.random.default_rng(5)
    for _ in range(500):
        n = int(rng.integers(0, 40))
        bids = np.column_stack((rng.uniform(0.5, 20, n), rng.choice([1.0, 1.5, 2.0, 2.5], n)))
        holes = rng.random(n) < 0.2
        bids[holes] = 0.0
        supply, reserve = float(rng.uniform(5, 200)), float(rng.choice([0.05, 1.0, 1.5]))
        row = int(rng.integers(-1, n)) if n else -1
        a = (float(rng.choice([0.0, rng.uniform(0.1, 30)])), float(rng.choice([1.0, 1.5, 2.2])))
        b = (float(rng.choice([0.0, rng.uniform(0.1, 30)])), float(rng.choice([1.0, 2.5])))
        got = own_cost_pair(bids, row, a, b, supply, reserve)
        want_a = own_cost_excl(bids, row, a, supply, reserve) if a[0] > 0 else (0.0, 0.0)
        want_b = own_cost_excl(bids, row, b, supply, reserve) if b[0] > 0 else (0.0, 0.0)
        assert got == (*want_a, *want_b)
        # a hole is no bid: the same numbers as on the matrix without the holes
        if row < 0 or not holes[row]:
            keep = ~holes
            r2 = -1 if row < 0 else int(keep[:row].sum())
            assert own_cost_pair(bids[keep], r2, a, b, supply, reserve) == got


@pytest.mark.parametrize(
    ("nb", "ns", "seed", "policy"),
    [(40, 6, 0, "converging"), (60, 8, 1, "clock"), (30, 5, 2, "descending")],
)
def test_paired_gain_is_the_reference_gain_on_whole_runs(
    monkeypatch: pytest.MonkeyPatch, nb: int, ns: int, seed: int, policy: str
) -> None:
    calls = itertools.count()

    def both(*args: Any, **kw: Any) -> float:
        got = gain(*args, **kw)
        want = gain_reference(*args, **kw)
        assert got == want or (np.isnan(got) and np.isnan(want))
        next(calls)
        return got

    monkeypatch.setattr(simulation, "gain", both)
    m = random_market(nb, ns, seed, policy=policy, max_rounds=300)  # type: ignore[arg-type]
    checked = simulate(m)
    monkeypatch.undo()
    plain = simulate(m)
    assert next(calls) > 50
    assert (checked.rounds, checked.messages, checked.efficiency) == (
        plain.rounds,
        plain.messages,
        plain.efficiency,
    )


def test_a_quote_counts_the_bids_above_its_price() -> None:
    """``_kernels._quote``'s binary search over a book row rebuilt from the seller's cached
    matrix (``_Book.refresh``): the number of bids above the price (the code ``2k + own``) is
    the plain count over the bid dictionary, ties and withdrawn bids included."""
    from specmarket.mechanisms.psp import _kernels as K
    from specmarket.mechanisms.psp.market import _Book

    rng = np.random.default_rng(9)
    grid = [0.5, 1.0, 1.0 + 1e-9, 1.5, 2.0, 2.5]
    for _ in range(200):
        s = _Seller(id="s", rank=0, supply=float(rng.uniform(5, 80)), reserve=0.05)
        book = _Book([s])
        s.book = book
        for k in range(int(rng.integers(0, 12))):
            s.set_bid(f"b{k}", float(rng.uniform(0.5, 9)), float(rng.choice(grid)))
            if rng.random() < 0.3:
                s._matrix()  # cached, so the next withdrawal leaves a hole
                s.set_bid(f"b{int(rng.integers(0, k + 1))}", 0.0, 0.0)
        book.refresh()
        book.active[:] = True
        book.set_reserves()
        prices = np.array([p for _, p in s.bids.values()])
        for y in [*grid, 0.05, 0.2, 3.0, *rng.uniform(0.0, 3.0, 5)]:
            code, _ = K.state(
                book.price, book.cum, book.start, book.count, book.supply, book.reserve,
                book.own_q, book.own_p, 0.05, 0, float(y),
            )  # fmt: skip
            yj = max(float(y), s.reserve)
            t = (yj - 2 * 1e-9) + 1e-9
            assert code == 2 * int((prices > t).sum())


@pytest.mark.parametrize(
    ("seed", "policy"), [(11, "clock"), (12, "converging"), (13, "descending")]
)
def test_compiled_replies_with_price_holds_match_the_reference_on_crowded_markets(
    seed: int, policy: str
) -> None:
    """Whole traces of crowded runs (many price holds, withdrawn bids, rows rebuilt from the
    cached matrices) under the scale policies equal the per-seller reference's, bit for bit."""
    m = random_market(90, 12, seed, max_rounds=80, policy=policy)  # type: ignore[arg-type]
    fast = simulate(m, keep_trace=True, engine="fast")
    ref = simulate(m, keep_trace=True, engine="reference")
    assert fast.trace == ref.trace
    assert fast.outcome.to_json() == ref.outcome.to_json()
