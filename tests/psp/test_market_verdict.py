"""How a data-market run ends (docs/psp.md, "Termination"): the verdict, the independent
ε-equilibrium check, the cycle detector, the policies, and the golden runs docs/psp.md quotes."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from specmarket.mechanisms.psp import _kernels
from specmarket.mechanisms.psp.market import (
    POLICIES,
    DataBuyer,
    DataMarket,
    Policy,
    Valuations,
    check,
    marginal_value,
    quantity_at_price,
    random_market,
    simulate,
    valuation,
    worked_example,
)
from specmarket.mechanisms.psp.market.verdict import CycleDetector


@settings(max_examples=200, deadline=None)
@given(
    st.floats(0.1, 10.0),
    st.floats(0.5, 50.0),
    st.one_of(st.just(0.0), st.just(1.0), st.floats(0.0, 1.0)),
    st.floats(-1.0, 60.0),
    st.floats(0.0, 12.0),
)
def test_one_valuation_everywhere(v: float, d: float, e: float, z: float, y: float) -> None:
    """The vectorised ``Valuations``, the scalar helpers and the compiled twins agree."""
    b = DataBuyer(id="b", demand=d, value=v, elasticity=e)
    val = Valuations.of([b])
    assert float(val.value(z)[0]) == valuation(b, z)
    assert float(val.demand(y)[0]) == quantity_at_price(b, y)
    assert quantity_at_price(b, y) == _kernels.quantity_at_price(v, d, e, y)
    assert float(val.marginal_at(z)[0]) == pytest.approx(marginal_value(b, z), abs=1e-12)
    assert marginal_value(b, z) == _kernels.marginal_value(v, d, e, z)


def _seed_rules(m: DataMarket) -> DataMarket:
    return m.model_copy(update={"policy": "seed-only", "reserve_policy": "sticky"})


def test_worked_example_is_run_under_the_seeds_rules_by_default() -> None:
    m = worked_example()
    assert (m.policy, m.reserve_policy) == ("seed-only", "sticky")


def test_seed_105_asynchronous_converges_to_a_checked_equilibrium() -> None:
    """5 x 2, seed 105, asynchronous: two buyers hopped between the sellers for ever under the
    previous rules; the default policy ends in an ε-equilibrium confirmed by the check."""
    r = simulate(random_market(5, 2, 105, order="asynchronous"))
    assert r.status == "converged" and r.converged
    assert r.verdict.max_gain <= r.verdict.epsilon
    assert r.verdict.unhappy == () and r.verdict.seller_moves == ()
    assert r.efficiency > 0.99


def test_the_same_market_under_the_seeds_rules_is_reported_as_cycling() -> None:
    r = simulate(_seed_rules(random_market(5, 2, 105, order="asynchronous")))
    assert r.status == "cycling" and not r.converged
    assert r.verdict.cycle is not None
    assert r.verdict.cycle.length >= 2 and "b4" in r.verdict.cycle.members
    # the buyers that keep moving have replies worth more than ε: not an equilibrium
    assert r.verdict.max_gain > r.verdict.epsilon
    assert r.rounds < 1000  # detected, not run to the limit
    assert r.outcome.details["status"] == "cycling"


def test_round_limit_is_not_converged_and_the_check_finds_the_buyers_that_would_move() -> None:
    """After round 0 of the worked example, A (outbid at seller 2) has a profitable reply."""
    m = _seed_rules(worked_example()).model_copy(update={"max_rounds": 0})
    r = simulate(m)
    assert r.status == "round-limit" and r.rounds == 1
    assert "A" in r.verdict.unhappy and r.verdict.max_gain > r.verdict.epsilon


def test_check_with_either_reply_engine_gives_the_same_verdict() -> None:
    m = random_market(20, 5, 3, max_rounds=3)
    r = simulate(m, check_engine="reference")
    r2 = simulate(m, check_engine="fast")
    assert r.verdict.engine == "reference" and r2.verdict.engine == "fast"
    assert r.verdict.unhappy == r2.verdict.unhappy
    assert r.verdict.max_gain == pytest.approx(r2.verdict.max_gain, abs=1e-9)


def test_check_flags_a_seller_whose_eq27_reserve_would_move() -> None:
    from specmarket.mechanisms.psp.market import _Buyer, _Seller

    s = _Seller(id="s", rank=0, supply=10.0, reserve=0.05)
    s.set_bid("a", 8.0, 2.0)
    s.set_bid("b", 8.0, 1.5)
    s.set_bid("c", 3.0, 1.0)  # c is outside I^s = {a, b}: eq. (27) moves the reserve to 1 + ε
    s.run_auction(0.05, 5.0, sticky=True)
    assert s.reserve == pytest.approx(1.05)
    s.reserve = 0.05  # pretend the seller did not move
    buyers = [_Buyer(spec=worked_example().buyers[0], pool={})]
    *_, moves, _ = check(buyers, {"s": s}, [s], 0.05, 5.0, sticky=True)
    assert moves == ("s",)


def test_cycle_detector_needs_three_sightings_and_a_change_of_pool() -> None:
    d = CycleDetector()
    seq = ["x", "y", "x", "y", "x"]
    found = [d.observe(t, k, {"b"}, hopped=True) for t, k in enumerate(seq)]
    assert found[:4] == [None] * 4
    assert found[4] is not None and found[4].length == 2 and found[4].members == ("b",)
    creep = CycleDetector()  # the same state without any pool change is not a cycle
    assert all(creep.observe(t, "x", {"b"}, hopped=False) is None for t in range(10))


def test_policies_are_named_and_seed_only_has_no_stabiliser() -> None:
    names = {"seed-only", "stabilised", "converging", "foresight", "ascending"}
    assert set(POLICIES) == names | {
        "capped", "spread", "descending", "clock", "efficient", "settling"
    }  # fmt: skip
    seed = POLICIES["seed-only"]
    assert not (seed.price_hold or seed.quantity_hold or seed.lot_filter or seed.deafness)
    assert not (seed.strict_improvement or seed.second_strike)
    assert not (seed.winner_cap or seed.spread or seed.descend or seed.reserve_rule)
    conv = POLICIES["converging"]
    assert conv.strict_improvement and conv.second_strike == 8 and isinstance(seed, Policy)


def test_seed_only_policy_reproduces_the_worked_example() -> None:
    r = simulate(_seed_rules(worked_example()))
    assert r.status == "converged" and r.efficiency == pytest.approx(1.0)
    assert r.outcome.allocation["A"]["sellers"] == pytest.approx({"1": 25.0, "2": 25.0})


def test_default_policy_on_the_worked_example() -> None:
    """Under the default rules the synchronous example stops after t = 1 (docs/psp.md): B, given
    25 of its 40 units at seller 2, does not move to seller 1, where displacing A would cost it
    A's price for 25 units (eq. (21)): −6.9 of utility. Asynchronously it ends as the seed's."""
    m = worked_example(policy="converging", reserve_policy="patient")
    r = simulate(m)
    assert r.status == "converged" and r.rounds == 4
    assert r.outcome.allocation["A"]["sellers"] == pytest.approx({"1": 50.0})
    assert r.outcome.allocation["B"]["sellers"] == pytest.approx({"2": 25.0})
    assert r.efficiency == pytest.approx(0.9133782483, abs=1e-9)
    r = simulate(m.model_copy(update={"order": "asynchronous"}))
    assert r.status == "converged" and r.efficiency == pytest.approx(1.0)
    assert r.outcome.allocation["A"]["sellers"] == pytest.approx({"1": 25.0, "2": 25.0})


# ------------------------------------------------------------------ golden runs (docs/psp.md)

GOLDEN = [
    # (buyers, sellers, seed, options, status, rounds, messages, efficiency)
    (5, 2, 105, {"order": "asynchronous"}, "converged", 74, 590, 0.997583),
    (5, 2, 105, {"order": "synchronous"}, "converged", 71, 542, 0.999274),
    (30, 8, 0, {}, "converged", 139, 14273, 0.994203),
    (30, 8, 1, {"order": "synchronous"}, "converged", 222, 32224, 0.983086),
    (100, 20, 1, {}, "converged", 177, 158430, 0.990771),
    (30, 8, 2, {"policy": "ascending"}, "converged", 89, 12040, 0.996744),
    (
        5,
        2,
        105,
        {"order": "asynchronous", "policy": "seed-only", "reserve_policy": "sticky"},
        "cycling",
        262,
        1699,
        0.976904,
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("nb", "ns", "seed", "options", "status", "rounds", "messages", "eff"), GOLDEN
)
@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_golden_runs_quoted_in_the_docs(
    nb: int,
    ns: int,
    seed: int,
    options: dict[str, str],
    status: str,
    rounds: int,
    messages: int,
    eff: float,
    engine: str,
) -> None:
    """Both engines reproduce the figures docs/psp.md quotes, so they cannot drift together."""
    r = simulate(random_market(nb, ns, seed, max_rounds=3000, **options), engine=engine)  # type: ignore[arg-type]
    assert (r.status, r.rounds, r.messages) == (status, rounds, messages)
    assert r.efficiency == pytest.approx(eff, abs=1e-6)


def test_a_patient_seller_raises_at_the_second_look_and_would_move_says_so() -> None:
    """Reserve rule "patient": an outsider seen in two consecutive runs moves the reserve; the
    simulation reruns such a seller although no bid changed (``would_move``)."""
    from specmarket.mechanisms.psp.market import _Seller

    s = _Seller(id="s", rank=0, supply=10.0, reserve=0.05)
    for k, (q, p) in enumerate([(8.0, 2.0), (8.0, 1.5), (3.0, 1.0)]):
        s.set_bid(f"b{k}", q, p)
    s.run_auction(0.05, 5.0, sticky=True, patient=True)
    assert s.reserve == pytest.approx(0.05)  # first sighting of the outsider b2
    assert s.would_move(0.05, 5.0, True, True, 0)
    s.run_auction(0.05, 5.0, sticky=True, patient=True)
    assert s.reserve == pytest.approx(1.05)
    assert not s.would_move(0.05, 5.0, True, True, 0)


def test_rise_limit_turns_the_reserve_jump_into_a_clock_of_k_eps_steps() -> None:
    """``Policy.rise_limit = k``: the patient rule's jump to ``p_{i*} + ε`` (here 1.05) is cut
    to ``k · ε`` per run, and the seller keeps climbing while the outsider stays."""
    from specmarket.mechanisms.psp.market import _Seller

    s = _Seller(id="s", rank=0, supply=10.0, reserve=0.05)
    for k, (q, p) in enumerate([(8.0, 2.0), (8.0, 1.5), (3.0, 1.0)]):
        s.set_bid(f"b{k}", q, p)
    seen = []
    for _ in range(6):
        s.run_auction(0.05, 5.0, sticky=True, patient=True, rise_limit=2)
        seen.append(round(s.reserve, 9))
    assert seen == [0.05, 0.15, 0.25, 0.35, 0.45, 0.55]
    assert s.would_move(0.05, 5.0, True, True, 0, rise_limit=2)


def test_compiled_candidates_and_a_bounded_spread_match_the_reference() -> None:
    """``engine.candidates_fast`` lists the sellers of ``buyer._capacity_candidates`` (same
    numbers, same order) mid-run, and ``widen`` with ``limit = k`` tries at most ``k`` sellers
    more than the reply's pool (the same reply with either candidate list)."""
    from specmarket.mechanisms.psp.market import engine, simulation
    from specmarket.mechanisms.psp.market.buyer import _capacity_candidates, widen

    m = random_market(40, 12, 3, policy="spread", max_rounds=6)
    run = simulation._Run(m, reference=False, naive=False)
    for t in range(6):
        _, new = run.join(t)
        acting = run.who_acts(new, sweep=False)
        changes = run.buyers_move(acting, fresh=False)
        ran, lots = run.sellers_move(changes, [])
        run.wake(t, acting, ran, lots)
    assert run.book is not None
    run.book.set_reserves()
    compared = 0
    for b in run.active_b:
        for y in (0.5, b.price or 1.0, min(b.spec.value, 5.0)):
            assert engine.candidates_fast(b, run.book, 0.05, y) == _capacity_candidates(
                b, run.active_s, y, 0.05
            )
        reply = run.reply(b, fresh=False)
        if not reply[0]:
            continue
        compared += 1
        args = (run.active_s, run.sellers, 0.05, 5.0)
        for k in (1, 2):
            fast = widen(b, reply, *args, None, True, k, run.book)
            assert fast == widen(b, reply, *args, None, True, k, None)
            assert len(fast[0]) <= max(len(reply[0]) + k, len(reply[0]))
    assert compared > 10


def test_price_war_rule_raises_the_reserve_at_the_kth_war_only() -> None:
    from specmarket.mechanisms.psp.market import _Seller

    s = _Seller(id="s", rank=0, supply=10.0, reserve=0.05)
    s.set_bid("a", 6.0, 2.0)
    s.set_bid("b", 6.0, 1.0)  # b partially served (4 of 6): over-demanded, no outsider
    s.run_auction(0.05, 5.0, sticky=True, second_strike=2)
    for war in range(1, 4):  # b re-bids a little higher each time: a price war
        s.set_bid("b", 6.0, 1.09 + 0.01 * war)
        s.run_auction(0.05, 5.0, sticky=True, second_strike=2)
        if war < 2:
            assert s.reserve == pytest.approx(0.05)
    assert s.reserve == pytest.approx(1.11 + 0.05)  # at the second war: b's price + ε
    assert s.alloc["b"] == 0.0  # recomputed at the new reserve: b is no longer admitted


# the three efficiency losses of docs/psp.md, "Efficiency": each seeded market, its efficiency
# under the default rules and under the policy flag that removes the loss (both engines)
@pytest.mark.parametrize(
    ("nb", "ns", "seed", "elastic", "policy", "before", "after"),
    [
        (5, 2, 158, False, "capped", 0.7190, 0.9653),  # reserve overshoot: winner_cap
        (5, 2, 75, False, "spread", 0.9068, 0.9984),  # fewest-sellers pool: spread
        (10, 3, 160, False, "efficient", 0.8764, 0.9987),  # stale sticky reserve: descend
    ],
)
def test_efficiency_losses_and_their_rule_changes(
    nb: int, ns: int, seed: int, elastic: bool, policy: str, before: float, after: float
) -> None:
    if policy == "efficient":  # the loss shows under the rules without descend
        base = simulate(random_market(nb, ns, seed, elastic=elastic, policy="spread"))
    else:
        base = simulate(random_market(nb, ns, seed, elastic=elastic))
    assert base.status == "converged" and base.efficiency == pytest.approx(before, abs=1e-4)
    m = random_market(nb, ns, seed, elastic=elastic, policy=policy)  # type: ignore[arg-type]
    fast, ref = simulate(m, keep_trace=True), simulate(m, keep_trace=True, engine="reference")
    assert fast.status == "converged" and fast.efficiency == pytest.approx(after, abs=1e-4)
    assert fast.trace == ref.trace and fast.outcome.to_json() == ref.outcome.to_json()


def test_own_cost_with_a_cached_allocation_is_own_cost_fast_bit_for_bit() -> None:
    """``Policy.spread`` tries many bids per seller with the others' allocation computed once
    (``engine.own_cost_with``); it must give the very numbers of ``own_cost_fast``."""
    import numpy as np

    from specmarket.mechanisms.psp.market.engine import (
        allocate_fast,
        own_cost_fast,
        own_cost_with,
    )

    rng = np.random.default_rng(7)
    for _ in range(300):
        n = int(rng.integers(0, 8))
        rest = np.column_stack((rng.uniform(0.5, 20, n), rng.choice([1.0, 1.5, 2.0, 2.5], n)))
        supply, reserve = float(rng.uniform(5, 60)), float(rng.choice([0.05, 1.0, 1.5]))
        without = allocate_fast(rest, supply, reserve)
        base = (rest, without, float(without.sum()))
        for mine in [(float(rng.uniform(0.1, 30)), float(rng.choice([1.0, 1.5, 2.2])))] * 2:
            qp = np.vstack((rest, np.array([mine])))
            assert own_cost_with(base, mine, supply, reserve) == own_cost_fast(qp, supply, reserve)


def test_own_cost_excl_is_own_cost_fast_on_the_others_bids() -> None:
    """The strict-improvement test prices a bid with one compiled call on the seller's cached
    bid matrix (``_Seller.own_cost`` → ``engine.own_cost_excl``): the allocation of
    ``own_cost_fast`` on ``_Seller.others`` exactly, the eq. (21) cost up to the order of sums."""
    import numpy as np

    from specmarket.mechanisms.psp.market.engine import own_cost_excl, own_cost_fast

    rng = np.random.default_rng(11)
    for _ in range(500):
        n = int(rng.integers(0, 40))
        bids = np.column_stack((rng.uniform(0.5, 20, n), rng.choice([1.0, 1.5, 2.0, 2.5], n)))
        supply, reserve = float(rng.uniform(5, 200)), float(rng.choice([0.05, 1.0, 1.5]))
        row = int(rng.integers(-1, n)) if n else -1
        mine = (float(rng.uniform(0.1, 30)), float(rng.choice([1.0, 1.5, 2.2, 2.5])))
        rest = bids if row < 0 else np.delete(bids, row, axis=0)
        want = own_cost_fast(np.vstack((rest, np.array([mine]))), supply, reserve)
        got = own_cost_excl(bids, row, mine, supply, reserve)
        assert got[0] == want[0]
        assert got[1] == pytest.approx(want[1], rel=1e-12, abs=1e-9)


@pytest.mark.slow
def test_spread_run_does_not_depend_on_the_hash_seed() -> None:
    """The utilities of the replies sum over sellers in a fixed order: the same run under two
    ``PYTHONHASHSEED`` values (30 × 8, seed 2, elastic, ``spread``; they once differed)."""
    import os
    import subprocess
    import sys

    code = (
        "from specmarket.mechanisms.psp.market import random_market, simulate;"
        "r = simulate(random_market(30, 8, 2, policy='spread', max_rounds=3000));"
        "print(r.status, r.rounds, r.messages, repr(r.efficiency))"
    )
    out = []
    for h in ("0", "3"):
        env = {**os.environ, "PYTHONHASHSEED": h}
        run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        out.append(run.stdout)
    assert out[0] == out[1]


def test_the_states_of_the_three_efficiency_losses_quoted_in_the_docs() -> None:
    """docs/psp.md, "Efficiency": the reserves, rounds and holdings quoted for each loss."""
    sold = lambda r, j: r.outcome.allocation[j]  # noqa: E731
    r = simulate(random_market(5, 2, 158, elastic=False))
    assert r.rounds == 5 and r.outcome.details["reserves"]["s1"] == pytest.approx(4.0231, abs=1e-4)
    assert sold(r, "s1") == 0.0
    r = simulate(random_market(5, 2, 158, elastic=False, policy="capped"))
    assert r.rounds == 4 and r.outcome.details["reserves"]["s1"] == pytest.approx(3.9751, abs=1e-4)
    assert r.outcome.allocation["b2"]["sellers"] == pytest.approx({"s1": 24.069}, abs=1e-3)
    r = simulate(random_market(5, 2, 75, elastic=False))
    assert r.rounds == 4
    assert r.outcome.allocation["b2"]["sellers"] == pytest.approx({"s1": 16.736}, abs=1e-3)
    r = simulate(random_market(5, 2, 75, elastic=False, policy="spread"))
    assert r.rounds == 4 and r.outcome.allocation["b1"]["total"] == 0.0
    assert set(r.outcome.details["bids"]["b2"]["pool"]) == {"s0", "s1"}
    r = simulate(random_market(10, 3, 160, elastic=False, policy="spread"))
    assert r.rounds == 7 and r.outcome.details["reserves"]["s1"] == pytest.approx(2.8311, abs=1e-4)
    assert 50.761 - sold(r, "s1") == pytest.approx(16.013, abs=1e-3)
    r = simulate(random_market(10, 3, 160, elastic=False, policy="efficient"))
    assert r.rounds == 7 and r.outcome.details["reserves"]["s1"] == pytest.approx(2.7811, abs=1e-4)
    assert sold(r, "s1") == pytest.approx(50.761, abs=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("policy", "rounds", "messages", "eff", "unsold", "above"),
    [
        ("converging", 153, 8_470_791, 0.9846, 0.027, 83),
        ("descending", 427, 16_322_833, 0.9948, 0.008, 17),
        ("clock", 847, 41_443_968, 0.9976, 0.0015, 0),
    ],
)
def test_scale_diagnosis_quoted_in_the_docs(
    policy: str, rounds: int, messages: int, eff: float, unsold: float, above: int
) -> None:
    """docs/psp.md, "Why large markets lose welfare": 1,000 × 100, seed 0. Under the default
    rules the loss is data left unsold at sellers whose reserves ended above the optimum's
    shadow price λ; ``descend`` lets those reserves fall and recovers most of it."""
    m = random_market(1000, 100, 0, max_rounds=3000, policy=policy)  # type: ignore[arg-type]
    r = simulate(m)
    assert (r.status, r.rounds, r.messages) == ("converged", rounds, messages)
    assert r.efficiency == pytest.approx(eff, abs=5e-5)
    supply = {s.id: s.supply for s in m.sellers}
    sold = sum(r.outcome.allocation[j] for j in supply)
    assert 1 - sold / sum(supply.values()) == pytest.approx(unsold, abs=5e-4)
    reserves = r.outcome.details["reserves"]
    lam = r.optimum.price
    assert sum(reserves[j] > lam + m.epsilon for j in supply) == above


# ------------------------------------------------------------------ the cycle breaker


def _with_breaker(monkeypatch: pytest.MonkeyPatch, name: str, **switches: int) -> None:
    """Run policy ``name`` with the breaker's switches set (a variant under its name)."""
    base = POLICIES[name]
    monkeypatch.setitem(POLICIES, name, dataclasses.replace(base, **switches))


def test_settled_stages_take_the_efficiency_rules_back_one_by_one() -> None:
    """``Policy.settled`` (docs/psp.md, "Convergence", the cycle breaker): stage 1 stops
    reserves from falling, stage 2 returns to Lemma 3.2's pools and eq. (27)'s rise, later
    stages halve the price-war patience down to one war; ``fill=False`` also returns to pools
    of equal shares."""
    pol = POLICIES["settling"]
    assert pol.settled(0) == pol and pol.break_cycles == 5 and pol.break_after == 2000
    one, two = pol.settled(1), pol.settled(2)
    assert not (one.descend or one.step_down) and one.spread and one.winner_cap
    assert one.spread_fill and not pol.settled(1, fill=False).spread_fill
    assert not pol.settled(0, fill=False).spread_fill and pol.settled(0, fill=False).descend
    assert not (two.descend or two.spread or two.winner_cap) and two.second_strike == 8
    assert [pol.settled(k).second_strike for k in (3, 4, 5, 6)] == [4, 2, 1, 1]
    # without the step-down, the filled pools and the breaker, the policy is `efficient`
    plain = dataclasses.replace(
        pol, name="efficient", step_down=False, spread_fill=False, break_cycles=0
    )
    assert dataclasses.replace(plain, break_after=0) == POLICIES["efficient"]


def test_the_breaker_turns_a_cycle_of_efficient_into_a_checked_equilibrium(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """5 × 2, seed 15, asynchronous, elastic: `efficient` is reported cycling; with the breaker
    switched on it switches once, at the detected cycle, and ends in an ε-equilibrium that the
    independent check confirms; the switch is in the verdict and the trace."""
    m = random_market(5, 2, 15, order="asynchronous", policy="efficient", max_rounds=3000)
    cyc = simulate(m)
    assert cyc.status == "cycling" and cyc.verdict.breaks == ()
    assert cyc.outcome.details["verdict"]["breaks"] == []
    _with_breaker(monkeypatch, "efficient", break_cycles=5, break_after=1000)
    r = simulate(m, keep_trace=True)
    assert r.status == "converged"
    assert r.verdict.max_gain <= r.verdict.epsilon and r.verdict.unhappy == ()
    assert r.verdict.seller_moves == () and r.verdict.cycle is None
    (fired,) = r.verdict.breaks
    assert (fired.stage, fired.reason) == (1, "cycle") and fired.cycle is not None
    assert fired.round < r.rounds and fired.cycle.length >= 2
    # the run is `efficient`'s up to the switch: the same round at which it was detected
    assert fired.round == cyc.rounds - 1
    marked = [rec for rec in r.trace if "break" in rec]
    assert [rec["round"] for rec in marked] == [fired.round]
    assert marked[0]["break"] == fired.to_json()
    assert r.outcome.details["verdict"]["breaks"] == [fired.to_json()]
    assert r.efficiency > cyc.efficiency


def test_the_breaker_ends_a_clock_cycle_and_a_slow_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """`clock` with the breaker: seed 15 cycles and is switched at the detected cycle; seed 89
    cycles only after 2,000 rounds (`clock`'s worst run at 5 × 2, efficiency 0.69) and is
    switched by the round count (``break_after``). Both end converged, by the check."""
    runs = {}
    for seed in (15, 89):
        m = random_market(5, 2, seed, order="asynchronous", policy="clock", max_rounds=3000)
        runs[seed] = [simulate(m)]
    _with_breaker(monkeypatch, "clock", break_cycles=5, break_after=1000)
    for seed, pair in runs.items():
        m = random_market(5, 2, seed, order="asynchronous", policy="clock", max_rounds=3000)
        pair.append(simulate(m))
    for before, after in runs.values():
        assert before.status == "cycling" and after.status == "converged"
        assert after.verdict.max_gain <= after.verdict.epsilon
        assert after.efficiency > before.efficiency
    assert [b.reason for b in runs[15][1].verdict.breaks] == ["cycle"]
    assert runs[89][0].rounds > 2000
    assert [(b.round, b.reason) for b in runs[89][1].verdict.breaks] == [(999, "rounds")]


def test_the_breaker_does_not_grant_converged(monkeypatch: pytest.MonkeyPatch) -> None:
    """The breaker only changes the rules; the status still comes from the check. Stopped
    right after its switch (round limit), the seed-15 market is not converged and the check
    names a buyer with a reply worth more than ε. ``break_cycles`` bounds the switches: with a
    breaker that fires every 5 rounds, one switch allowed gives one switch (round 4) and the
    run goes on past round 9 under stage 1; two allowed give a second at round 9."""
    _with_breaker(monkeypatch, "efficient", break_cycles=5, break_after=1000)
    m = random_market(5, 2, 15, order="asynchronous", policy="efficient", max_rounds=3000)
    first = simulate(m).verdict.breaks[0].round
    cut = simulate(m.model_copy(update={"max_rounds": first + 1}))
    assert cut.status == "round-limit" and len(cut.verdict.breaks) == 1
    assert cut.verdict.unhappy and cut.verdict.max_gain > cut.verdict.epsilon
    short = m.model_copy(update={"max_rounds": 60})
    switches = {}
    for k in (1, 2):
        _with_breaker(monkeypatch, "efficient", break_cycles=k, break_after=5)
        r = simulate(short)
        switches[k] = [(b.round, b.stage, b.reason) for b in r.verdict.breaks]
        assert r.rounds > 10
        assert (r.status == "converged") == (r.verdict.max_gain <= r.verdict.epsilon)
    assert switches == {1: [(4, 1, "rounds")], 2: [(4, 1, "rounds"), (9, 2, "rounds")]}


def test_step_down_lowers_a_reserve_that_no_bid_reaches() -> None:
    """``Policy.step_down`` (docs/psp.md, "Efficiency", loss 4): a seller with unsold data and
    no bid below its reserve lowers it by ε per run, down to ε; ``descend`` alone keeps it."""
    from specmarket.mechanisms.psp.market import _Seller

    s = _Seller(id="s", rank=0, supply=10.0, reserve=0.2)
    s.set_bid("a", 4.0, 3.0)  # 6 units unsold, no bid below 0.2
    assert not s.would_move(0.05, 5.0, True, True, 8, descend=True)
    assert s.would_move(0.05, 5.0, True, True, 8, descend=True, step_down=True)
    for want in (0.15, 0.1, 0.05, 0.05):
        s.run_auction(0.05, 5.0, True, True, 8, descend=True, step_down=True)
        assert s.reserve == pytest.approx(want) and s.alloc == {"a": 4.0}


def test_step_down_recovers_the_data_a_risen_reserve_left_unsold() -> None:
    """10 × 3, seed 90, synchronous, flat: under `efficient` s2's reserve rose to b3's price + ε
    (3.1418) in the first pile-up; b3 (value 3.092) and b8 (3.078) left it, so no bid lies
    below the reserve and ``descend`` never lowers it: 17.7 units unsold, efficiency 0.892.
    `settling` (with ``step_down``) lowers it step by step until they take the data (and,
    with ``spread_fill``, reaches the optimum's welfare)."""
    m = random_market(10, 3, 90, order="synchronous", elastic=False, max_rounds=3000)
    eff = simulate(m.model_copy(update={"policy": "efficient"}))
    assert eff.status == "converged" and eff.efficiency == pytest.approx(0.892030, abs=1e-6)
    assert eff.outcome.details["reserves"]["s2"] == pytest.approx(3.141751, abs=1e-6)
    assert eff.outcome.allocation["s2"] < 0.7 * m.sellers[2].supply
    r = simulate(m.model_copy(update={"policy": "settling"}))
    assert r.status == "converged" and r.verdict.breaks == ()
    assert r.efficiency == pytest.approx(1.0, abs=1e-9)
    assert r.outcome.details["reserves"]["s2"] < 2.92


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(0.01, 100.0), min_size=1, max_size=8), st.floats(0.0, 1.0))
def test_water_level_is_the_consistent_bid_that_takes_want(
    avail: list[float], share: float
) -> None:
    """``buyer.water_level``: one bid quantity ``q`` at every seller of the pool, each giving
    ``min(q, a_j)``, adds up to ``want``; with equal room it is Lemma 3.2's ``want / n``."""
    from specmarket.mechanisms.psp.market.buyer import water_level

    want = share * sum(avail)
    q = water_level(avail, want)
    assert sum(min(q, a) for a in avail) == pytest.approx(want, rel=1e-9, abs=1e-9)
    assert q <= max(avail) + 1e-12
    if len(avail) * min(avail) >= want:
        assert q == pytest.approx(want / len(avail))


def test_a_filled_pool_reaches_the_small_sellers_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """5 × 2, seed 170, asynchronous, flat (docs/psp.md, "The cycle breaker and policy
    settling"): b0 holds what s0 has for it, and the 5.42 units s1 has for it are not
    reachable by a pool of equal shares (2 × 5.42 is less than its total). The same bid at
    both sellers (``spread_fill``) takes them: 0.9489 → the optimum."""
    m = random_market(5, 2, 170, order="asynchronous", elastic=False, policy="settling")
    filled = simulate(m)
    assert filled.status == "converged" and filled.efficiency == pytest.approx(1.0, abs=1e-9)
    _with_breaker(monkeypatch, "settling", spread_fill=False)
    equal = simulate(m)
    assert equal.status == "converged" and equal.efficiency == pytest.approx(0.9489, abs=1e-4)


@pytest.mark.parametrize("policy", ["efficient", "settling"])
def test_a_live_buyer_moves_as_the_simulation_does(policy: str) -> None:
    """``snapshot.LiveBuyer`` (the live service's agents) makes the move of the simulation's
    ``_Run.reply`` + ``_Run.send`` on the same books, ``spread`` and ``spread_fill`` included:
    every buyer of a 30 × 8 market after 12 rounds, from its own state."""
    import copy

    from specmarket.mechanisms.psp.market import simulation
    from specmarket.mechanisms.psp.market.snapshot import LiveBuyer

    m = random_market(30, 8, 4, policy=policy, max_rounds=12)  # type: ignore[arg-type]
    run = simulation._Run(m, reference=True, naive=False)
    for t in range(12):
        _, new = run.join(t)
        acting = run.who_acts(new, sweep=False)
        ran, lots = run.sellers_move(run.buyers_move(acting, fresh=False), [])
        run.wake(t, acting, ran, lots)
    books = {s.id: (s.supply, s.reserve, dict(s.bids)) for s in run.active_s}
    moved = 0
    for b in run.active_b:
        live = LiveBuyer(b.spec, m.epsilon, m.isp_price, POLICIES[policy])
        live._b = copy.deepcopy(b)
        got = live.move(books)
        twin = copy.deepcopy(run)
        mine = twin.buyers[b.spec.id]
        want = twin.send(mine, twin.reply(mine, fresh=False), fresh=False)
        assert got == want
        moved += bool(got)
    assert moved >= 3
