"""CAT: the team spectrum auction with surplus sharing, rebuilt from seed 000 (analysis only).

Model (seed 000 §A–§E; see ``docs/cat.md`` for every reconstruction choice). A primary user sells
``n`` identical bands. SU ``i`` needs ``N_i`` bands, all or nothing, and values each at ``m_i``
(its willingness to pay, WTP). A *legal team* is a set of SUs whose demands sum to exactly ``n``;
an SU in no legal team cannot bid (§C).

Auction (§D). A clock shows ``p_k = k·θ`` (``θ`` = ``increment``), ``k = 0, 1, …``. A team stays
in while it can pay ``p_k`` for all ``n`` bands: without sharing while its bottleneck
``min_{i∈T} m_i ≥ p_k``; with sharing while ``Σ_{i∈T} N_i m_i ≥ n·p_k`` (members with surplus
transfer ``δ`` to members short of the price). The clock stops at the first step the runner-up
cannot meet; the price is that step's price ``(k2+1)·θ`` capped by the winner's limit. Ties follow
the team order of :mod:`specmarket.mechanisms.cat_teams` (deterministic).

Settlement. Each winning member ``i`` gets ``N_i`` bands and pays ``y·N_i`` to the PU. Its own
surplus is ``s_i = N_i (m_i − y)``; the team's residual profit is ``R = ω̄ − y·n = Σ s_i``
(eq. (7)). With sharing, the members short of the price receive ``δ_i = N_i·max(0, y − m_i)``
(§D), paid by members with surplus in proportion to it (``cont_j``, eq. (5)), and ``R`` is split
by the Shapley value of the *legal-team game* ``v(S) = R`` if ``S`` is the whole team, else ``0``
(any strict sub-coalition demands fewer than ``n`` bands and cannot bid, §C); every member is a
veto player, so the Shapley value is ``φ_i = R/|T|`` exactly (``S_a = 1/|T|`` in eq. (7)).
Without sharing the members do not cooperate: the game is additive, ``v(S) = Σ_{i∈S} s_i``, and
``φ_i = s_i``. Each member's net transfer to its team-mates is ``t_i = s_i − φ_i`` (Σ t_i = 0) and
its payment is ``y·N_i + t_i``, so its utility is ``φ_i``. Welfare per eq. (4).

JSON: ``{"bands": 10, "increment": 0.1, "sharing": true, "users": [{"id": "u1", "demand": 4,
"wtp": 3.0}, ...]}`` → ``team``, ``price``, ``allocation``, ``payments``, ``transfers``, ``delta``,
``shapley``, ``welfare``, ``revenue`` and more.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from itertools import combinations
from typing import Annotated, Any, Self

import numpy as np
from pydantic import Strict, model_validator

from specmarket.core import (
    Id,
    MechanismSpec,
    Model,
    NonNegative,
    Outcome,
    Positive,
    PositiveCount,
    require_nonempty,
    require_unique_ids,
)
from specmarket.core.spec import scalar_grid
from specmarket.errors import InvalidInput
from specmarket.mechanisms.cat_teams import (
    Team,
    clock_price,
    clock_reference,
    enumerate_teams,
    in_some_team,
    top_two_fast,
)

#: Largest ``bands × users`` :func:`clear` accepts (the DP keeps ``O(K·n)`` bytes of back-pointers).
MAX_DP_CELLS = 200_000_000

#: Largest number of SUs :func:`clear_reference` accepts (enumeration is exponential).
REFERENCE_MAX_USERS = 26


class User(Model):
    """One SU: id, demand ``N_i`` (bands, all or nothing) and WTP ``m_i`` per band."""

    id: Id
    demand: PositiveCount
    wtp: NonNegative


class Instance(Model):
    """A CAT auction: ``bands`` for sale, clock ``increment`` θ, ``sharing`` on/off, the SUs.

    SUs whose demand exceeds ``bands`` are accepted but belong to no legal team (cannot bid, §C).
    """

    bands: PositiveCount
    increment: Positive
    sharing: Annotated[bool, Strict()] = True
    users: tuple[User, ...]

    @model_validator(mode="after")
    def _check(self) -> Self:
        require_nonempty(self.users, "users")
        require_unique_ids([u.id for u in self.users], "users")
        return self


def welfare_eq4(bands: int, demand: int, wtp: float) -> float:
    """An SU's welfare of ``bands`` bands, seed 000 eq. (4).

    ``N·m`` if it gets all it needs (extra bands are useless), ``q·(q/N)·m`` if it gets ``q < N``.
    """
    if bands >= demand:
        return demand * wtp
    return bands * (bands / demand) * wtp


def legal_game(surplus: Sequence[float], sharing: bool) -> Callable[[frozenset[int]], float]:
    """The cooperative game on the winning team's members ``0..t-1`` (positions in the team).

    With sharing: ``v(S) = Σ_{i∈T} s_i`` (the residual profit ``R``, eq. (7)) if ``S = T``, else
    0 — only the whole legal team can bid. Without sharing: additive ``v(S) = Σ_{i∈S} s_i``.
    """
    t = len(surplus)
    total = math.fsum(surplus)

    def v(coalition: frozenset[int]) -> float:
        if sharing:
            return total if len(coalition) == t else 0.0
        return math.fsum(surplus[i] for i in coalition)

    return v


def shapley_closed_form(surplus: Sequence[float], sharing: bool) -> list[float]:
    """Exact Shapley values of :func:`legal_game` in ``O(|T|)``.

    Sharing: all members are symmetric veto players of a unanimity game, so ``φ_i = R/|T|``.
    No sharing: an additive game's Shapley value is each player's own worth, ``φ_i = s_i``.
    """
    if sharing:
        share = math.fsum(surplus) / len(surplus) if surplus else 0.0
        return [share] * len(surplus)
    return [float(s) for s in surplus]


def shapley_by_subsets(game: Callable[[frozenset[int]], float], players: int) -> list[float]:
    """Shapley value by the subset formula ``Σ_S |S|!(t−|S|−1)!/t! · (v(S∪i) − v(S))``.

    Exponential reference for tests (seed 000 §E); use :func:`shapley_closed_form` otherwise.
    """
    fact = math.factorial
    out = []
    for i in range(players):
        others = [j for j in range(players) if j != i]
        terms = []
        for size in range(players):
            weight = fact(size) * fact(players - size - 1) / fact(players)
            for coalition in combinations(others, size):
                s = frozenset(coalition)
                terms.append(weight * (game(s | {i}) - game(s)))
        out.append(math.fsum(terms))
    return out


def _arrays(instance: Instance) -> tuple[list[int], list[float]]:
    return [u.demand for u in instance.users], [float(u.wtp) for u in instance.users]


def settle(
    instance: Instance,
    winner: Team | None,
    runner: Team | None,
    price: float,
    steps: int,
    eligible: Sequence[bool],
) -> Outcome:
    """Bands, payments, §D transfers ``δ``, Shapley split (eq. (7)) and eq. (4) values.

    ``eligible[i]``: SU ``i`` belongs to some legal team (the others cannot bid, §C; listed in the
    output as ``excluded``)."""
    ids = [u.id for u in instance.users]
    n = instance.bands
    sharing = instance.sharing
    zero = dict.fromkeys(ids, 0.0)
    alloc = dict.fromkeys(ids, 0)
    payments, values = dict(zero), dict(zero)
    transfers, delta, contrib, shapley, utility = {}, {}, {}, {}, {}
    residual = 0.0
    if winner is not None:
        members = list(winner.members)
        users = [instance.users[i] for i in members]
        surplus = [u.demand * (u.wtp - price) for u in users]
        residual = math.fsum(surplus)
        phi = shapley_closed_form(surplus, sharing)
        deficits = (
            [u.demand * max(0.0, price - u.wtp) for u in users] if sharing else [0.0] * len(users)
        )
        pos = math.fsum(max(0.0, s) for s in surplus)
        need = math.fsum(deficits)
        for k, u in enumerate(users):
            alloc[u.id] = u.demand
            t = surplus[k] - phi[k]
            transfers[u.id] = t
            delta[u.id] = deficits[k]
            contrib[u.id] = need * max(0.0, surplus[k]) / pos if pos > 0 else 0.0
            shapley[u.id] = phi[k]
            utility[u.id] = phi[k]
            payments[u.id] = price * u.demand + t
            values[u.id] = welfare_eq4(u.demand, u.demand, u.wtp)
    details: dict[str, Any] = {
        "sharing": sharing,
        "team": [ids[i] for i in winner.members] if winner else [],
        "price": price,
        "steps": steps,
        "team_limit": winner.limit(n, sharing) if winner else None,
        "runner_up": [ids[i] for i in runner.members] if runner else None,
        "runner_up_limit": runner.limit(n, sharing) if runner else None,
        "residual_profit": residual,
        "transfers": transfers,
        "delta": delta,
        "contributions": contrib,
        "shapley": shapley,
        "shapley_share": {k: (v / residual if residual > 0 else None) for k, v in shapley.items()},
        "utilities": utility,
        "idle_bands": 0 if winner else n,
        "excluded": [pid for pid, ok in zip(ids, eligible, strict=True) if not ok],
    }
    return Outcome("cat", alloc, payments, values, details)


def clear(instance: Instance) -> Outcome:
    """Clear a CAT auction without enumerating teams (DP over bands, ``O(K·n)``).

    Winner and runner-up by :func:`~specmarket.mechanisms.cat_teams.top_two_fast`, price by
    :func:`~specmarket.mechanisms.cat_teams.clock_price`, settlement by :func:`settle`.
    """
    demand, wtp = _arrays(instance)
    n, sharing = instance.bands, instance.sharing
    if n * len(demand) > MAX_DP_CELLS:
        raise InvalidInput(
            "bands", n, f"bands × users = {n * len(demand)} exceeds the DP limit {MAX_DP_CELLS:.0e}"
        )
    winner, runner = top_two_fast(demand, wtp, n, sharing)
    eligible = in_some_team(demand, n)
    if winner is None:
        return settle(instance, None, None, 0.0, 0, eligible)
    price, steps = clock_price(
        winner.limit(n, sharing), runner.limit(n, sharing) if runner else None, instance.increment
    )
    return settle(instance, winner, runner, price, steps, eligible)


def clear_reference(instance: Instance) -> Outcome:
    """Clear by listing every legal team and running the clock step by step (seed 000 §B, §D).

    Exponential; at most :data:`REFERENCE_MAX_USERS` SUs. Equal to :func:`clear`.
    """
    if len(instance.users) > REFERENCE_MAX_USERS:
        raise ValueError(f"reference enumeration limited to {REFERENCE_MAX_USERS} users")
    demand, wtp = _arrays(instance)
    n, sharing = instance.bands, instance.sharing
    teams = list(enumerate_teams(demand, wtp, n))
    winner, price, steps = clock_reference(teams, n, instance.increment, sharing)
    runner = None
    if winner is not None and len(teams) > 1:
        from specmarket.mechanisms.cat_teams import order_key

        rest = sorted((t for t in teams if t is not winner), key=lambda t: order_key(t, sharing))
        runner = rest[0]
    members = {i for t in teams for i in t.members}
    eligible = [i in members for i in range(len(demand))]
    return settle(instance, winner, runner, price, steps, eligible)


def clear_vcg_teams(instance: Instance) -> Outcome:
    """The documented fix for the WTP part of Theorem 1: VCG over legal teams (not the seed's).

    The winner is the same welfare-maximising legal team as CAT with sharing (Theorem 2); member
    ``i`` pays its Clarke pivot ``W*_{-i} − (W* − N_i m_i)`` where ``W*`` is the best legal team's
    welfare (eq. (4)) and ``W*_{-i}`` the best legal team's welfare *to the others* (``i``'s WTP
    set to 0; ``i`` may still be a member), by the same top-two DP. Truthful in WTP for fixed
    demands (VCG over the outcome set "legal teams"), IR and no positive transfers; misreported
    *demands* can still pay (see docs/cat.md).
    """
    from specmarket.mechanisms.cat_teams import _top_two_dp

    demand, wtp = _arrays(instance)
    n = instance.bands
    ids = [u.id for u in instance.users]
    allowed = np.ones(len(ids), dtype=bool)
    best = _top_two_dp(demand, wtp, n, allowed)
    alloc = dict.fromkeys(ids, 0)
    pay = dict.fromkeys(ids, 0.0)
    values = dict.fromkeys(ids, 0.0)
    team: list[str] = []
    if best:
        winner = best[0]
        for i in winner.members:
            others = list(wtp)
            others[i] = 0.0
            w_minus = _top_two_dp(demand, others, n, allowed)[0].welfare
            own = demand[i] * wtp[i]
            alloc[ids[i]] = demand[i]
            values[ids[i]] = own
            pay[ids[i]] = w_minus - (winner.welfare - own)
            team.append(ids[i])
    return Outcome("cat-vcg-teams", alloc, pay, values, {"team": team})


def true_value(instance: Instance, pid: str, allocation: Any) -> float:
    """Eq. (4) value of ``allocation`` bands to ``pid`` whose true type is in ``instance``."""
    u = next(u for u in instance.users if u.id == pid)
    return welfare_eq4(int(allocation), u.demand, u.wtp)


def random_instance(rng: np.random.Generator) -> Instance:
    """4–10 bands, 3–8 SUs, demands 1..n, WTP on a 0.25 grid in [0, 5], θ ∈ {0.1, 0.25, 0.5, 1}."""
    n = int(rng.integers(4, 11))
    k = int(rng.integers(3, 9))
    users = tuple(
        User(id=f"u{i}", demand=int(rng.integers(1, n + 1)), wtp=float(rng.integers(0, 21)) / 4)
        for i in range(k)
    )
    theta = float(rng.choice([0.1, 0.25, 0.5, 1.0]))
    return Instance(bands=n, increment=theta, sharing=bool(rng.random() < 0.5), users=users)


def deviations(
    instance: Instance, pid: str, rng: np.random.Generator
) -> Iterator[tuple[str, Instance]]:
    """Misreports of ``pid`` (Theorem 1): every other demand in ``1..n``, and WTP on a grid on
    [0, 6], next to the truth, next to every other SU's WTP, and at random points."""
    k = next(i for i, u in enumerate(instance.users) if u.id == pid)
    me = instance.users[k]

    def with_user(user: User) -> Instance:
        users = list(instance.users)
        users[k] = user
        return instance.model_copy(update={"users": tuple(users)})

    for d in range(1, instance.bands + 1):
        if d != me.demand:
            yield f"demand={d}", with_user(me.model_copy(update={"demand": d}))
            # the seed's own misreports (Theorem 1 proof): WTP scaled so the report matches the
            # value eq. (4) gives d bands — N_l/N_t·m when d < N_t, N_t/N_m·m when d > N_t
            scaled = welfare_eq4(d, me.demand, me.wtp) / d
            yield (
                f"seed:demand={d},wtp={scaled:.6g}",
                with_user(me.model_copy(update={"demand": d, "wtp": scaled})),
            )
    points = scalar_grid(me.wtp, 0.0, 6.0, 7, 3, rng)
    points += [u.wtp + e for u in instance.users if u.id != pid for e in (-1e-6, 1e-6)]
    for x in points:
        if x >= 0 and x != me.wtp:
            yield f"wtp={x:.6g}", with_user(me.model_copy(update={"wtp": float(x)}))


SPEC = MechanismSpec(
    name="cat",
    title="CAT team spectrum auction with surplus sharing (legal teams, ascending clock, Shapley)",
    source="seed 000 (analysis §A–§E), reconstructed; see docs/cat.md",
    instance_type=Instance,
    clear=clear,
    roles=lambda inst: {u.id: "buyer" for u in inst.users},
    true_value=true_value,
    claims=frozenset({"ir", "bb", "bb-ex-ante"}),
    random_instance=random_instance,
    deviations=deviations,
    example="cat.json",
)
