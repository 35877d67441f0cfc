"""CAT: the team spectrum auction with surplus sharing, rebuilt from seed 000 (analysis only).

Model (seed 000 §A–§E; see ``docs/cat.md`` for every reconstruction choice). A primary user sells
``n`` identical bands. SU ``i`` needs ``N_i`` bands, all or nothing, and values each at ``m_i``
(its willingness to pay, WTP). A *legal team* is a set of SUs whose demands sum to exactly ``n``;
an SU in no legal team cannot bid (§C).

Procedure.

1. *One-team choice (§E).* Each SU joins at most one bidding team. Teams form in rounds: in each
   round the legal team of free SUs that is first in the team order forms (every member ranks it
   first by its eq. (7) payoff), until no legal team of free SUs is left — at most ``K`` rounds.
2. *Ascending auction with standing bids (§D).* Bids are per band on the grid ``k·θ``
   (``θ`` = ``increment``). The first team in the partition order opens at the opening price 0;
   a team that does not hold the standing bid ``x`` may take it with ``x + θ`` if it can pay —
   without sharing every member's WTP ``≥ x + θ``; with sharing the members with surplus transfer
   ``δ`` to the members short of ``x + θ`` within what they can give. Among several such teams the
   first in the partition order bids. When no other team can raise, the holder wins and pays its
   standing bid per band. Outcome in closed form (:func:`~specmarket.mechanisms.cat_teams.ascend`),
   never by walking θ.
3. *Settlement.* Each winning member ``i`` gets ``N_i`` bands and pays ``y·N_i`` to the PU
   (``y`` = the winning bid). Its own surplus is ``s_i = N_i (m_i − y)``; the residual profit is
   ``R = ω̄ − y·n = Σ s_i`` (eq. (7)). With sharing ``R`` is split by the Shapley value of the
   band-slot game (every one of the ``n`` bands' slots is a veto player: ``φ_i = N_i R / n``,
   ``S_a = N_a / n`` in eq. (7)); the members short of the price receive ``δ_i = N_i (y − m_i)⁺``.
   Without sharing the game is additive and ``φ_i = s_i``. Net transfer to team-mates
   ``t_i = s_i − φ_i`` (``Σ t_i = 0``), payment ``y·N_i + t_i``, utility ``φ_i ≥ 0``.

JSON: ``{"bands": 10, "increment": 0.1, "sharing": true, "users": [{"id": "u1", "demand": 4,
"wtp": 3.0}, ...]}`` → ``team``, ``price``, ``allocation``, ``payments``, ``transfers``, ``delta``,
``shapley``, ``welfare``, ``revenue`` and more.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from itertools import combinations
from typing import Annotated, Any, Literal, Self

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
    MAX_CLOCK_STEPS,
    Ascent,
    Team,
    ascend,
    ascend_reference,
    bidding_teams_fast,
    capacity,
    enumerate_teams,
    in_some_team,
    partition_reference,
)

#: Largest ``bands × users`` :func:`clear` accepts (the DP keeps ``O(K·n)`` bytes of back-pointers).
MAX_DP_CELLS = 200_000_000

#: Largest number of SUs :func:`clear_reference` accepts (enumeration is exponential).
REFERENCE_MAX_USERS = 26

Engine = Literal["fast", "reference"]


class User(Model):
    """One SU: id, demand ``N_i`` (bands, all or nothing) and WTP ``m_i`` per band."""

    id: Id
    demand: PositiveCount
    wtp: NonNegative


class Instance(Model):
    """A CAT auction: ``bands`` for sale, clock ``increment`` θ, ``sharing`` on/off, the SUs.

    SUs whose demand exceeds ``bands`` are accepted but belong to no legal team (cannot bid, §C).
    ``increment`` must leave at most :data:`~specmarket.mechanisms.cat_teams.MAX_CLOCK_STEPS`
    grid levels below the highest WTP (a smaller θ is rejected, naming ``increment``).
    """

    bands: PositiveCount
    increment: Positive
    sharing: Annotated[bool, Strict()] = True
    users: tuple[User, ...]

    @model_validator(mode="after")
    def _check(self) -> Self:
        require_nonempty(self.users, "users")
        require_unique_ids([u.id for u in self.users], "users")
        top = max(float(u.wtp) for u in self.users)
        steps = top / self.increment
        if not steps <= MAX_CLOCK_STEPS:
            raise InvalidInput(
                "increment",
                self.increment,
                f"too small for the WTP range: the clock would need {steps:.3g} steps of θ to "
                f"reach the highest WTP {top:g} (at most {MAX_CLOCK_STEPS:.0e})",
            )
        return self


def welfare_eq4(bands: int, demand: int, wtp: float) -> float:
    """An SU's welfare of ``bands`` bands, seed 000 eq. (4).

    ``N·m`` if it gets all it needs (extra bands are useless), ``q·(q/N)·m`` if it gets ``q < N``.
    """
    if bands >= demand:
        return demand * wtp
    return bands * (bands / demand) * wtp


def slot_game(
    demand: Sequence[int], residual: float
) -> tuple[list[int], Callable[[frozenset[int]], float]]:
    """The band-slot game of the winning team with sharing (seed 000 eq. (7), our choice).

    Players are the ``n = Σ N_i`` band slots; slot ``s`` belongs to member ``owner[s]``.
    ``v(S) = R`` if ``S`` holds every slot, else 0: a coalition missing any slot demands fewer than
    ``n`` bands, is not a legal team and cannot bid (§C). Returns ``(owner, v)``.
    """
    owner = [i for i, d in enumerate(demand) for _ in range(d)]
    n = len(owner)

    def v(coalition: frozenset[int]) -> float:
        return residual if len(coalition) == n else 0.0

    return owner, v


def additive_game(surplus: Sequence[float]) -> Callable[[frozenset[int]], float]:
    """The game without sharing on the members ``0..t-1``: ``v(S) = Σ_{i∈S} s_i`` (no pooling)."""

    def v(coalition: frozenset[int]) -> float:
        return math.fsum(surplus[i] for i in coalition)

    return v


def shapley_closed_form(
    surplus: Sequence[float], demand: Sequence[int], sharing: bool
) -> list[float]:
    """Exact Shapley values of the team's game in ``O(|T|)``.

    Sharing: the ``n`` slots of the unanimity :func:`slot_game` are symmetric veto players, each
    gets ``R/n``, so member ``i`` gets ``φ_i = N_i R / n`` (``S_a = N_a/n`` in eq. (7), the same
    in every legal team, as §E assumes). No sharing: an additive game's Shapley value is each
    player's own worth, ``φ_i = s_i``.
    """
    if sharing:
        total = math.fsum(surplus)
        n = sum(demand)
        return [d * total / n for d in demand]
    return [float(s) for s in surplus]


def shapley_by_subsets(game: Callable[[frozenset[int]], float], players: int) -> list[float]:
    """Shapley value by the subset formula ``Σ_S |S|!(t−|S|−1)!/t! · (v(S∪i) − v(S))``.

    Exponential reference for tests; use :func:`shapley_closed_form` otherwise.
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
    teams: Sequence[Team],
    ascent: Ascent | None,
    eligible: Sequence[bool],
) -> Outcome:
    """Bands, payments, §D transfers ``δ``, Shapley split (eq. (7)) and eq. (4) values.

    ``teams``: the bidding teams in the move order (at least the first two of the §E partition);
    ``ascent``: the end of the auction; ``eligible[i]``: SU ``i`` belongs to some legal team (the
    others cannot bid, §C; listed as ``excluded``).
    """
    ids = [u.id for u in instance.users]
    n = instance.bands
    sharing = instance.sharing
    zero = dict.fromkeys(ids, 0.0)
    alloc = dict.fromkeys(ids, 0)
    payments, values = dict(zero), dict(zero)
    transfers, delta, contrib, shapley, utility, share = {}, {}, {}, {}, {}, {}
    residual = 0.0
    winner = teams[ascent.holder] if ascent is not None else None
    price = ascent.level * instance.increment if ascent is not None else 0.0
    runner = None
    if ascent is not None and len(teams) > 1:
        runner = teams[1] if ascent.holder == 0 else teams[0]
    if winner is not None:
        users = [instance.users[i] for i in winner.members]
        demand = [u.demand for u in users]
        surplus = [u.demand * (u.wtp - price) for u in users]
        residual = math.fsum(surplus)
        phi = shapley_closed_form(surplus, demand, sharing)
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
            share[u.id] = u.demand / n if sharing else None
            utility[u.id] = phi[k]
            payments[u.id] = price * u.demand + t
            values[u.id] = welfare_eq4(u.demand, u.demand, u.wtp)

    def names(team: Team | None) -> list[str] | None:
        return [ids[i] for i in team.members] if team is not None else None

    details: dict[str, Any] = {
        "sharing": sharing,
        "team": names(winner) or [],
        "price": price,
        "level": ascent.level if ascent is not None else 0,
        "bids": ascent.bids if ascent is not None else 0,
        "bidding_teams": [names(t) for t in teams[:2]],
        "team_limit": winner.limit(n, sharing) if winner else None,
        "runner_up": names(runner),
        "runner_up_limit": runner.limit(n, sharing) if runner else None,
        "residual_profit": residual,
        "transfers": transfers,
        "delta": delta,
        "contributions": contrib,
        "shapley": shapley,
        "shapley_share": share,
        "utilities": utility,
        "idle_bands": 0 if winner else n,
        "excluded": [pid for pid, ok in zip(ids, eligible, strict=True) if not ok],
    }
    return Outcome("cat", alloc, payments, values, details)


def _clear_fast(instance: Instance) -> Outcome:
    demand, wtp = _arrays(instance)
    n, sharing = instance.bands, instance.sharing
    if n * len(demand) > MAX_DP_CELLS:
        raise InvalidInput(
            "bands", n, f"bands × users = {n * len(demand)} exceeds the DP limit {MAX_DP_CELLS:.0e}"
        )
    first, second = bidding_teams_fast(demand, wtp, n, sharing)
    eligible = in_some_team(demand, n)
    teams = [t for t in (first, second) if t is not None]
    caps = [capacity(t.limit(n, sharing), instance.increment) for t in teams]
    return settle(instance, teams, ascend(caps), eligible)


def clear(instance: Instance, *, engine: Engine = "fast") -> Outcome:
    """Clear a CAT auction: §E partition, §D ascending auction, settlement (:func:`settle`).

    ``engine="fast"``: the first two teams of the partition by two knapsack DPs
    (``O(K·n)``; the later teams cannot bid above the opening price, see ``docs/cat.md``) and the
    auction's end in closed form (:func:`~specmarket.mechanisms.cat_teams.ascend`).
    ``engine="reference"``: :func:`clear_reference`.
    """
    if engine == "reference":
        return clear_reference(instance)
    if engine != "fast":
        raise InvalidInput("engine", engine, "must be 'fast' or 'reference'")
    return _clear_fast(instance)


def clear_reference(instance: Instance) -> Outcome:
    """Clear by listing every legal team, forming the whole §E partition greedily and walking the
    auction bid by bid with member-level payment checks (seed 000 §B, §D, §E).

    Exponential; at most :data:`REFERENCE_MAX_USERS` SUs. Equal to :func:`clear`.
    """
    if len(instance.users) > REFERENCE_MAX_USERS:
        raise ValueError(f"reference enumeration limited to {REFERENCE_MAX_USERS} users")
    demand, wtp = _arrays(instance)
    n, sharing = instance.bands, instance.sharing
    teams = partition_reference(demand, wtp, n, sharing)
    ascent = ascend_reference(teams, demand, wtp, instance.increment, sharing)
    members = {i for t in enumerate_teams(demand, wtp, n) for i in t.members}
    eligible = [i in members for i in range(len(demand))]
    return settle(instance, teams, ascent, eligible)


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
