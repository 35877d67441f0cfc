"""Tests of the distributed data-exchange market (seed 002 §3): local auction rules, buyer and
seller strategies, the simulation, the worked example and the centralised optimum."""

from __future__ import annotations

import io
import itertools
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from specmarket.errors import InvalidInput
from specmarket.mechanisms.psp import market
from specmarket.mechanisms.psp.local_auction import (
    allocate,
    available,
    costs,
    next_reserve,
    outsider_price,
)
from specmarket.mechanisms.psp.market import (
    DataBuyer,
    DataMarket,
    DataSeller,
    centralised_optimum,
    random_market,
    simulate,
    valuation,
    worked_example,
)

# ------------------------------------------------------------------ local auction (eqs. 18–27)


def test_allocation_splits_ties_in_proportion_eq20() -> None:
    q = np.array([30.0, 20.0, 40.0])
    p = np.array([2.0, 1.0, 1.0])
    a = allocate(q, p, 70.0)
    # 30 to the price-2 bid; 40 left for 60 at price 1, shared 20:40
    np.testing.assert_allclose(a, [30.0, 40.0 / 3.0, 80.0 / 3.0])


def test_bids_below_reserve_get_nothing() -> None:
    a = allocate(np.array([10.0, 10.0]), np.array([1.0, 3.0]), 100.0, reserve=2.0)
    np.testing.assert_allclose(a, [0.0, 10.0])


def test_available_eq18_counts_only_higher_prices() -> None:
    q = np.array([30.0, 20.0])
    p = np.array([2.0, 1.0])
    assert available(q, p, 65.0, 1.0) == pytest.approx(35.0)
    assert available(q, p, 65.0, 0.5) == pytest.approx(15.0)
    assert available(q, p, 65.0, 0.5, reserve=0.8) == 0.0


def _literal_costs(q: np.ndarray, p: np.ndarray, supply: float, reserve: float) -> np.ndarray:
    """Eq. (21) with the reserve as the seller's own bid (D, p_*): an explicit auction."""
    qq = np.append(q, supply)
    pp = np.append(p, reserve)
    full = allocate(qq, pp, supply, 0.0)
    out = np.zeros(q.size)
    for i in range(q.size):
        q2 = qq.copy()
        q2[i] = 0.0
        without = allocate(q2, pp, supply, 0.0)
        d = without - full
        d[i] = 0.0
        out[i] = float(np.dot(pp, d))
    return out


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 40), st.integers(1, 8)), min_size=1, max_size=7),
    st.integers(10, 120),
    st.integers(0, 3),
)
def test_costs_eq21_match_literal_definition(
    bids: list[tuple[int, int]], supply: int, reserve: int
) -> None:
    # prices strictly above the reserve so the explicit reserve bid never ties with a buyer
    q = np.array([b[0] for b in bids], dtype=float)
    p = np.array([b[1] + 0.5 for b in bids], dtype=float)
    r = float(reserve) * 0.5 + 0.25
    np.testing.assert_allclose(costs(q, p, supply, r), _literal_costs(q, p, supply, r), atol=1e-9)


def test_cost_is_what_is_displaced() -> None:
    # seller 2 of the worked example at t = 0: A (50 @ 1) is displaced by everybody
    q = np.array([50.0, 40.0, 26.0, 20.0, 14.0])
    p = np.array([1.0, 1.2, 1.5, 2.0, 2.2])
    c = costs(q, p, 85.0, 0.01)
    # E displaces 14 units of B's partial bid (B then gets 39 of 40) → 14 units at 1.2 ... then A
    a = allocate(q, p, 85.0)
    np.testing.assert_allclose(a, [0.0, 25.0, 26.0, 20.0, 14.0])
    assert c[4] == pytest.approx(14 * 1.2 + 0.0)  # B absorbs all 14 (it still wants 15)
    assert c[1] == pytest.approx(25 * 1.0)  # without B, A gets 25 at price 1


def test_reserve_eq25_eq27() -> None:
    q = np.array([50.0, 40.0, 26.0, 20.0, 14.0])
    p = np.array([1.0, 1.2, 1.5, 2.0, 2.2])
    assert outsider_price(q, p, 85.0) == pytest.approx(1.0)
    assert next_reserve(0.01, q, p, 85.0, 0.01, 10.0) == pytest.approx(1.01)
    assert next_reserve(0.01, q, p, 85.0, 0.01, 0.5) == pytest.approx(0.5)  # capped at p^κ
    # everything fits: sticky keeps the reserve, "current" falls back to ε
    assert outsider_price(q[1:], p[1:], 200.0) is None
    assert next_reserve(1.01, q[1:], p[1:], 200.0, 0.01, 10.0) == pytest.approx(1.01)
    assert next_reserve(1.01, q[1:], p[1:], 200.0, 0.01, 10.0, sticky=False) == 0.01


# ------------------------------------------------------------------ the worked example (§3.4.4)


def _seed_rules(m: DataMarket) -> DataMarket:
    """The seed's rules alone: sticky eq. (27) reserves, no stabiliser (policy seed-only)."""
    return m.model_copy(update={"policy": "seed-only", "reserve_policy": "sticky"})


def test_worked_example_end_state() -> None:
    res = simulate(_seed_rules(worked_example()), keep_trace=True)
    # t = 0..3 as in the seed, then the final sweep (every buyer replies once more: no bid)
    assert res.status == "converged" and res.rounds == 5
    alloc = res.outcome.allocation
    assert alloc["A"]["sellers"] == pytest.approx({"1": 25.0, "2": 25.0})
    assert alloc["B"]["sellers"] == pytest.approx({"1": 40.0})
    assert alloc["C"]["sellers"] == pytest.approx({"2": 26.0})
    assert alloc["D"]["sellers"] == pytest.approx({"2": 20.0})
    assert alloc["E"]["sellers"] == pytest.approx({"2": 14.0})
    assert alloc["1"] == pytest.approx(65.0) and alloc["2"] == pytest.approx(85.0)
    # price 1 + ε: seller 2's reserve, the price of A's consistent bid, and what C, D, E pay
    eps = 0.01
    assert res.outcome.details["reserves"]["2"] == pytest.approx(1 + eps)
    assert res.outcome.details["bids"]["A"]["price"] == pytest.approx(1 + eps)
    for pid, qty in (("C", 26.0), ("D", 20.0), ("E", 14.0)):
        assert res.outcome.payments[pid] == pytest.approx(qty * (1 + eps))
    assert res.efficiency == pytest.approx(1.0)


def test_worked_example_trajectory() -> None:
    res = simulate(_seed_rules(worked_example()), keep_trace=True)
    t0, t1, t2 = res.trace[0], res.trace[1], res.trace[2]
    # t = 0: everybody bids truthfully at the larger seller 2
    assert {c["seller"] for c in t0["bids"]} == {"2"}
    assert t0["sellers"]["2"]["reserve"] == pytest.approx(1.01)
    # t = 1: A (outbid) and B (partial: 25 of 40) move to seller 1; C, D, E hold
    moved = {(c["buyer"], c["seller"], c["quantity"]) for c in t1["bids"]}
    assert moved == {("A", "1", 50.0), ("A", "2", 0.0), ("B", "1", 40.0), ("B", "2", 0.0)}
    # t = 2: A splits 25 + 25 consistently over both sellers at one price
    assert {(c["seller"], c["quantity"]) for c in t2["bids"]} == {("1", 25.0), ("2", 25.0)}
    assert len({c["price"] for c in t2["bids"]}) == 1
    assert res.trace[3]["bids"] == []


def test_worked_example_asynchronous_reaches_same_allocation() -> None:
    for seed in range(5):
        for m in (worked_example(), _seed_rules(worked_example())):
            res = simulate(m.model_copy(update={"order": "asynchronous", "seed": seed}))
            assert res.status == "converged"
        total = {b: res.outcome.allocation[b]["total"] for b in "ABCDE"}
        assert total == pytest.approx({"A": 50.0, "B": 40.0, "C": 26.0, "D": 20.0, "E": 14.0})


# ------------------------------------------------------------------ strategies


def test_buyer_bids_consistently_over_fewest_sellers() -> None:
    # 60 wanted, sellers 40, 35, 30: one seller cannot cover, two can (2·35 ≥ 60)
    m = DataMarket(
        buyers=(DataBuyer(id="x", demand=60.0, value=2.0),),
        sellers=(
            DataSeller(id="a", supply=40.0),
            DataSeller(id="b", supply=35.0),
            DataSeller(id="c", supply=30.0),
        ),
    )
    res = simulate(m)
    assert res.outcome.allocation["x"]["sellers"] == pytest.approx({"a": 30.0, "b": 30.0})


def test_isp_buys_the_rest_when_value_exceeds_overage_price() -> None:
    m = DataMarket(
        buyers=(DataBuyer(id="x", demand=50.0, value=8.0),),
        sellers=(DataSeller(id="a", supply=20.0),),
        isp_price=3.0,
    )
    res = simulate(m)
    a = res.outcome.allocation["x"]
    assert a["sellers"] == pytest.approx({"a": 20.0}) and a["isp"] == pytest.approx(30.0)
    assert res.efficiency == pytest.approx(1.0)
    # no one bids above the cap
    assert res.outcome.details["bids"]["x"]["price"] <= 3.0


def test_low_value_buyer_does_not_use_isp() -> None:
    m = DataMarket(
        buyers=(DataBuyer(id="x", demand=50.0, value=2.0),),
        sellers=(DataSeller(id="a", supply=20.0),),
        isp_price=3.0,
    )
    assert simulate(m).outcome.allocation["x"]["isp"] == 0.0


def test_late_seller_and_buyer_join() -> None:
    m = DataMarket(
        buyers=(
            DataBuyer(id="x", demand=30.0, value=2.0),
            DataBuyer(id="y", demand=30.0, value=3.0, join_round=3),
        ),
        sellers=(DataSeller(id="a", supply=30.0), DataSeller(id="b", supply=30.0, join_round=5)),
    )
    res = simulate(m, keep_trace=True)
    assert res.converged and res.rounds >= 6
    assert "b" in res.trace[5]["joined"] and "y" in res.trace[3]["joined"]
    assert res.outcome.allocation["x"]["total"] == pytest.approx(30.0)
    assert res.outcome.allocation["y"]["total"] == pytest.approx(30.0)


# ------------------------------------------------------------------ optimum, simulation properties


def _greedy_optimum(buyers: list[DataBuyer], supply: float, isp: float, step: float) -> float:
    """Slow reference: hand out small units to the highest marginal value."""
    x = np.zeros(len(buyers))
    left = supply
    w = 0.0
    while True:
        mv = np.array(
            [
                b.value * (1 - b.elasticity * (xi + step / 2) / b.demand)
                if xi + step <= b.demand + 1e-12
                else -1.0
                for b, xi in zip(buyers, x, strict=False)
            ]
        )
        k = int(np.argmax(mv))
        price = 0.0 if left >= step else isp
        if mv[k] <= price:
            break
        x[k] += step
        w += mv[k] * step - price * step
        left -= step
    return w


@pytest.mark.parametrize("seed", range(4))
def test_optimum_matches_greedy_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    buyers = [
        DataBuyer(
            id=f"b{k}",
            demand=float(rng.integers(1, 6)),
            value=float(rng.uniform(1, 5)),
            elasticity=float(rng.choice([0.0, 0.5, 1.0])),
        )
        for k in range(6)
    ]
    supply, isp = float(rng.integers(3, 15)), 3.0
    opt = centralised_optimum(buyers, supply, isp)
    ref = _greedy_optimum(buyers, supply, isp, 0.01)
    assert opt.welfare == pytest.approx(ref, abs=0.05)
    w = sum(valuation(b, opt.quantities[b.id]) for b in buyers) - isp * opt.isp
    assert w == pytest.approx(opt.welfare)
    assert sum(opt.quantities.values()) <= supply + opt.isp + 1e-9


def test_random_market_is_feasible_and_deterministic() -> None:
    m = random_market(25, 5, 0, max_rounds=300)
    r1, r2 = simulate(m), simulate(m)
    assert r1.outcome.to_json() == r2.outcome.to_json()
    assert r1.rounds <= 301  # convergence is not guaranteed (see docs/psp.md); feasibility is
    for s in m.sellers:
        assert r1.outcome.allocation[s.id] <= s.supply + 1e-7
    for b in m.buyers:
        assert r1.outcome.allocation[b.id]["total"] <= b.demand + 1e-7
    assert 0.85 <= r1.efficiency <= 1.0 + 1e-9
    # revenue adds up: buyers' payments = sellers' receipts + ISP's
    assert sum(r1.outcome.payments.values()) == pytest.approx(0.0, abs=1e-7)


def test_trace_is_json_lines_with_message_counts() -> None:
    sink = io.StringIO()
    res = simulate(worked_example(), trace=sink)
    lines = [json.loads(x) for x in sink.getvalue().splitlines()]
    assert lines[-1]["verdict"]["status"] == res.status == "converged"
    lines = lines[:-1]
    assert [x["round"] for x in lines] == list(range(res.rounds))
    assert lines[-1]["messages"] == res.messages
    assert all(a["messages"] <= b["messages"] for a, b in itertools.pairwise(lines))


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"buyers": []}, "buyers"),
        ({"sellers": [{"id": "s", "supply": -1.0}]}, "sellers[0].supply"),
        (
            {"buyers": [{"id": "b", "demand": 1.0, "value": 1.0, "elasticity": 2.0}]},
            "buyers[0].elasticity",
        ),
        ({"epsilon": 20.0}, "epsilon"),
        ({"buyers": [{"id": "isp", "demand": 1.0, "value": 1.0}]}, "buyers/sellers"),
        ({"isp_price": float("nan")}, "isp_price"),
    ],
)
def test_bad_input_names_the_field(patch: dict[str, object], field: str) -> None:
    base = json.loads(json.dumps(worked_example().model_dump()))
    base.update(patch)
    with pytest.raises(InvalidInput) as exc:
        DataMarket.parse(base)
    assert exc.value.field == field


# ------------------------------------------------------------------ compiled replies


def _same_run(m: DataMarket) -> None:
    fast = simulate(m, keep_trace=True, engine="fast")
    ref = simulate(m, keep_trace=True, engine="reference")
    assert fast.trace == ref.trace
    assert (fast.rounds, fast.messages, fast.status) == (ref.rounds, ref.messages, ref.status)
    assert fast.outcome.to_json() == ref.outcome.to_json()


@pytest.mark.parametrize(
    ("seed", "options"),
    [
        (0, {}),
        (1, {"order": "synchronous"}),
        (2, {"elastic": False}),
        (3, {"reserve_policy": "decay"}),
        (4, {"reserve_policy": "sticky"}),
        (5, {"reserve_policy": "patient"}),
        (6, {"policy": "seed-only", "reserve_policy": "sticky"}),
        (7, {"policy": "stabilised", "order": "synchronous"}),
        (8, {"policy": "ascending"}),
        (9, {"policy": "spread"}),
        (10, {"policy": "efficient", "order": "synchronous"}),
    ],
)
def test_compiled_replies_match_per_seller_reference(seed: int, options: dict) -> None:
    """The compiled reply (the default) gives the same trajectory, bit for bit, as the
    per-seller reference: every round's bids, reserves, messages, welfare."""
    _same_run(random_market(30, 8, seed, max_rounds=40, **options))


def test_compiled_replies_match_on_worked_example_and_late_joins() -> None:
    _same_run(worked_example())
    m = random_market(12, 5, 7, max_rounds=40)
    sellers = tuple(
        s.model_copy(update={"join_round": 3}) if k % 2 else s for k, s in enumerate(m.sellers)
    )
    buyers = tuple(
        b.model_copy(update={"join_round": 2}) if k % 3 == 0 else b for k, b in enumerate(m.buyers)
    )
    _same_run(m.model_copy(update={"sellers": sellers, "buyers": buyers}))


def _freed_wakes(*args: object) -> np.ndarray:
    return market._lot_uses(*args).any(axis=0)  # type: ignore[arg-type]


def test_freed_lot_wakes_only_buyers_it_can_give_more_than_an_eps_step() -> None:
    """Choice 7: a lot at reserve r wakes a buyer iff min(lot, ρ(r − ε) − held) > ε/θ'(0)."""
    eps = 0.05
    # buyers: flat 10 @ 2; elastic θ'(z) = 4(1 − z/20); flat 10 @ 1 (below the lot's reach)
    value = np.array([2.0, 4.0, 1.0])
    demand = np.array([10.0, 20.0, 10.0])
    el = np.array([0.0, 1.0, 0.0])
    held = np.array([9.0, 9.0, 0.0])
    # ρ(1.95) for the elastic buyer = 20(1 − 1.95/4) = 10.25: wants 1.25 more than it holds
    big = _freed_wakes(value, demand, el, held, np.array([2.0]), np.array([5.0]), eps)
    assert big.tolist() == [True, True, False]
    # a lot of 0.02 is below the flat buyer's step 0.05/2 but above the elastic one's 0.05/4
    small = _freed_wakes(value, demand, el, held, np.array([2.0]), np.array([0.02]), eps)
    assert small.tolist() == [False, True, False]
    sliver = _freed_wakes(value, demand, el, held, np.array([2.0]), np.array([0.01]), eps)
    assert not sliver.any()
    # a lot priced beyond the elastic buyer's want: ρ(3.95) = 0.25 < held
    dear = _freed_wakes(value, demand, el, held, np.array([4.0]), np.array([5.0]), eps)
    assert dear.tolist() == [False, False, False]
    # several lots: any one suffices
    both = _freed_wakes(value, demand, el, held, np.array([4.0, 2.0]), np.array([5.0, 5.0]), eps)
    assert both.tolist() == [True, True, False]


def test_quantity_hold_keeps_a_bid_moved_by_at_most_one_eps_step() -> None:
    """Choice 7c: same pool, same price, |Δ total| ≤ ε/θ'(0) → the bid is kept."""
    spec = DataBuyer(id="b", demand=20.0, value=2.0, elasticity=1.0)
    b = market._Buyer(spec=spec, pool={"s1": 5.0, "s2": 5.0}, price=1.5)
    eps = 0.1  # step ε/θ'(0) = 0.05 in total
    assert market._holds(b, {"s1": 5.02, "s2": 5.02}, 1.5, eps)
    assert market._holds(b, {"s1": 4.98, "s2": 4.98}, 1.5, eps)
    assert not market._holds(b, {"s1": 5.03, "s2": 5.03}, 1.5, eps)  # 0.06 > 0.05
    assert not market._holds(b, {"s1": 5.0, "s3": 5.0}, 1.5, eps)  # another pool
    assert not market._holds(b, {"s1": 5.0, "s2": 5.0}, 1.6, eps)  # another price
    assert not market._holds(market._Buyer(spec=spec), {"s1": 5.0}, 1.5, eps)  # first bid
    # a held reply sends nothing and leaves the buyer's state alone
    sellers = {
        j: market._Seller(id=j, rank=k, supply=50.0, reserve=eps)
        for k, j in enumerate(["s1", "s2"])
    }
    for j in sellers:
        sellers[j].set_bid("b", 5.0, 1.5)
    assert market._apply(b, ({"s1": 5.01, "s2": 5.01}, 1.5, 0.0, 10.02), sellers, eps) == []
    assert b.pool == {"s1": 5.0, "s2": 5.0} and sellers["s1"].bids["b"] == (5.0, 1.5)


def test_lot_deafness_set_by_a_null_lot_reply_and_cleared_by_any_bid() -> None:
    """Choice 7 (d): woken only by lots (lowest waking reserve 1.8), sent nothing: deaf from 1.8."""
    b = market._Buyer(spec=DataBuyer(id="b", demand=10.0, value=3.0, elasticity=0.5))
    assert market._listen(b, [], {"b": 1.8}) == [] and b.deaf == 1.8
    market._listen(b, [], {"b": 1.9})
    assert b.deaf == 1.8  # only lots strictly below 1.8 wake it now
    market._listen(b, [], {})  # woken for another reason, sent nothing: unchanged
    assert b.deaf == 1.8
    sent = [{"buyer": "b", "seller": "s", "quantity": 1.0, "price": 2.0}]
    assert market._listen(b, sent, {}) == sent and b.deaf == float("inf")


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 30), st.integers(1, 40))
def test_lot_wakes_matches_the_lots_by_buyers_matrix(seed: int, n_lots: int, n_buyers: int) -> None:
    """The O((L + B) log L) wake-up equals the plain matrix test with deafness, buyer by buyer."""
    rng = np.random.default_rng(seed)
    value = rng.uniform(1.0, 6.0, n_buyers)
    demand = rng.uniform(5.0, 30.0, n_buyers)
    el = np.where(rng.random(n_buyers) < 0.2, 0.0, rng.uniform(0.0, 1.0, n_buyers))
    held = rng.uniform(0.0, 1.0, n_buyers) * demand
    deaf = np.where(rng.random(n_buyers) < 0.5, np.inf, rng.uniform(0.5, 4.0, n_buyers))
    lot_r = np.round(rng.uniform(0.05, 5.0, n_lots), 2)  # rounded: equal reserves happen
    lot_f = np.where(
        rng.random(n_lots) < 0.3, rng.uniform(0.0, 0.02, n_lots), rng.exponential(3.0, n_lots)
    )
    eps = 0.05
    uses = market._lot_uses(value, demand, el, held, lot_r, lot_f, eps)
    uses &= lot_r[:, None] < deaf[None, :]
    expected = np.where(
        uses.any(axis=0), np.where(uses, lot_r[:, None], np.inf).min(axis=0), np.inf
    )
    got = market._lot_wakes(value, demand, el, held, deaf, lot_r, lot_f, eps)
    assert np.array_equal(got, expected)


def test_small_market_with_a_hopping_cycle_converges() -> None:
    """30 x 8, seed 16: with permanent lot deafness three buyers hopped between two sellers for
    2,000 rounds; under the default policy the run ends in a verified ε-equilibrium."""
    r = simulate(random_market(30, 8, 16, max_rounds=1000))
    assert r.status == "converged" and r.rounds < 500
    assert r.efficiency > 0.95
