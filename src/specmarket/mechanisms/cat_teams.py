"""Legal teams, the one-team choice and the ascending auction of CAT (seed 000 §B–§E).

A *legal team* (seed 000 §B, §C) is a set of SUs whose demands ``N_i`` sum exactly to the ``n``
bands for sale. Its *limit* is the highest per-band price it can pay:

* with sharing (seed 000 §D): ``L_T = Σ_{i∈T} N_i m_i / n`` (richer members cover the others'
  deficits ``δ``), i.e. the team's welfare eq. (4) divided by ``n``;
* without sharing: ``L_T = min_{i∈T} m_i`` (the bottleneck).

The *team order* (best first), which decides the §E choice, the move order of the auction and
every tie, is

* with sharing: welfare ``ω̄_T = Σ N_i m_i`` descending, then the *position mask* ``Σ_{i∈T} 2^i``
  ascending (a tie goes to the team that avoids the SU listed last);
* without sharing: bottleneck descending, then welfare descending, then the position mask ascending.

Welfare sums are always accumulated in input order starting from ``0.0`` so the enumeration and the
DP perform bit-identical floating-point additions.

Contents:

* teams: :func:`enumerate_teams` / :func:`top_two_reference` (exponential, the seed's "lists all
  the possible combinations of SUs", §B) and :func:`top_two_fast` (knapsack DP, ``O(K·n)``);
* the §E choice: :func:`partition_reference` (greedy over all teams) and
  :func:`bidding_teams_fast` (its first two teams by two DPs), :func:`choice_payoff` (eq. (7));
* the §D auction: :func:`capacity` (closed form), :func:`ascend` (``O(T log T)``) and its
  bid-by-bid twin :func:`ascend_reference` with :func:`can_pay_reference`.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Team:
    """A legal team: member positions (ascending), welfare ``Σ N_i m_i``, bottleneck ``min m_i``."""

    members: tuple[int, ...]
    welfare: float
    bottleneck: float

    @property
    def mask(self) -> int:
        """Position mask ``Σ 2^i`` used to break ties (smaller is preferred)."""
        return sum(1 << i for i in self.members)

    def limit(self, n: int, sharing: bool) -> float:
        """Highest per-band price the team meets: ``w_T / n`` with sharing, bottleneck without."""
        return self.welfare / n if sharing else self.bottleneck


def order_key(team: Team, sharing: bool) -> tuple[float, ...]:
    """Sort key of the team order (ascending key = better team); see the module docstring."""
    if sharing:
        return (-team.welfare, team.mask)
    return (-team.bottleneck, -team.welfare, team.mask)


def _make_team(members: Sequence[int], demand: Sequence[int], wtp: Sequence[float]) -> Team:
    w = 0.0
    for i in members:  # input order, same float additions as the DP
        w += demand[i] * wtp[i]
    b = min((wtp[i] for i in members), default=math.inf)
    return Team(tuple(members), w, b)


def enumerate_teams(demand: Sequence[int], wtp: Sequence[float], n: int) -> Iterator[Team]:
    """Every legal team (subset of positions whose demands sum to exactly ``n``), by recursion.

    Exponential in the number of SUs: the reference of seed 000 §B ("lists all the possible
    combinations of SUs").
    """
    k_total = len(demand)
    suffix = [0] * (k_total + 1)
    for i in range(k_total - 1, -1, -1):
        suffix[i] = suffix[i + 1] + demand[i]
    chosen: list[int] = []

    def rec(i: int, left: int) -> Iterator[Team]:
        if left == 0:
            yield _make_team(chosen, demand, wtp)
            return
        if i == k_total or suffix[i] < left:
            return
        if demand[i] <= left:
            chosen.append(i)
            yield from rec(i + 1, left - demand[i])
            chosen.pop()
        yield from rec(i + 1, left)

    yield from rec(0, n)


def top_two_reference(
    demand: Sequence[int], wtp: Sequence[float], n: int, sharing: bool
) -> tuple[Team | None, Team | None]:
    """Best and second-best legal team by explicit enumeration (``None`` where missing)."""
    teams = sorted(enumerate_teams(demand, wtp, n), key=lambda t: order_key(t, sharing))
    first = teams[0] if teams else None
    second = teams[1] if len(teams) > 1 else None
    return first, second


def _top_two_dp(
    demand: Sequence[int], wtp: Sequence[float], n: int, allowed: np.ndarray
) -> list[Team]:
    """The (up to) two best legal teams by welfare (ties: smaller position mask) among the SUs with
    ``allowed[i]``: a 0/1 knapsack over bands keeping two ranked states per band count.

    State ``(c, r)`` after SU ``k`` = the ``r``-th best set of SUs among ``0..k`` with demands
    summing to ``c``. Adding SU ``k`` gives a candidate with a higher position bit than every state
    so far, so on equal welfare the old state (without ``k``) wins; the order (welfare desc, mask
    asc) is preserved by adding the same SU to two states, so keeping the top two per ``c`` is
    exact.
    """
    neg = -math.inf
    best = np.full((2, n + 1), neg)
    best[0, 0] = 0.0
    k_total = len(demand)
    take = np.zeros((k_total, 2, n + 1), dtype=bool)
    prev = np.zeros((k_total, 2, n + 1), dtype=np.int8)
    prev[:, 1, :] = 1
    for k in range(k_total):
        d = int(demand[k])
        if not allowed[k] or d > n:
            continue
        w = d * float(wtp[k])
        o1 = best[0, d:].copy()
        o2 = best[1, d:].copy()
        c1 = best[0, : n + 1 - d] + w
        c2 = best[1, : n + 1 - d] + w
        keep1 = o1 >= c1
        # rank 0: old rank 0 or candidate rank 0
        new1 = np.where(keep1, o1, c1)
        # rank 1: if old rank 0 stays first, the better of (old rank 1, cand rank 0), else the
        # better of (old rank 0, cand rank 1); ties go to the old state (smaller mask)
        a_old2 = o2 >= c1
        b_old1 = o1 >= c2
        new2 = np.where(keep1, np.where(a_old2, o2, c1), np.where(b_old1, o1, c2))
        take[k, 0, d:] = ~keep1
        prev[k, 0, d:] = 0
        take[k, 1, d:] = np.where(keep1, ~a_old2, ~b_old1)
        prev[k, 1, d:] = np.where(keep1, np.where(a_old2, 1, 0), np.where(b_old1, 0, 1))
        best[0, d:] = new1
        best[1, d:] = new2
    out: list[Team] = []
    for r in range(2):
        if best[r, n] == neg:
            continue
        members: list[int] = []
        c, rank = n, r
        for k in range(k_total - 1, -1, -1):
            t = take[k, rank, c]
            nr = int(prev[k, rank, c])
            if t:
                members.append(k)
                c -= int(demand[k])
            rank = nr
        members.reverse()
        out.append(_make_team(members, demand, wtp))
    return out


def _bottleneck_levels(
    demand: Sequence[int], wtp: Sequence[float], n: int
) -> tuple[float | None, float | None]:
    """Best and second-best bottleneck over legal teams, in one pass (no enumeration).

    SUs are added in descending ``m_i``; two bitsets (Python ints) record the band totals reachable
    by at least one / at least two subsets. The ``m`` of the SU whose addition first makes ``n``
    reachable once (twice) is the best (second-best) bottleneck: ``U_t = {i: m_i ≥ t}`` holds ≥ 1
    (≥ 2) legal teams exactly for ``t`` up to that value.
    """
    full = (1 << (n + 1)) - 1
    once, twice = 1, 0
    b1: float | None = None
    target = 1 << n
    for i in sorted(range(len(demand)), key=lambda j: -wtp[j]):
        d = int(demand[i])
        if d > n:
            continue
        s1 = (once << d) & full
        twice = (twice | ((twice << d) & full) | (once & s1)) & full
        once |= s1
        if b1 is None and once & target:
            b1 = float(wtp[i])
        if twice & target:
            return b1, float(wtp[i])
    return b1, None


def top_two_fast(
    demand: Sequence[int], wtp: Sequence[float], n: int, sharing: bool
) -> tuple[Team | None, Team | None]:
    """Best and second-best legal team without enumeration; equal to :func:`top_two_reference`.

    With sharing: one top-two knapsack DP over all SUs. Without sharing: the bottleneck levels
    ``b1 ≥ b2`` from :func:`_bottleneck_levels`, then a top-two DP among ``{m_i ≥ b1}`` (all its
    teams have bottleneck ``b1``) and, when ``b2 < b1``, among ``{m_i ≥ b2}`` whose teams other than
    the winner all have bottleneck ``b2``.
    """
    m = np.asarray(wtp, dtype=float)
    if sharing:
        teams = _top_two_dp(demand, wtp, n, np.ones(len(demand), dtype=bool))
        return (teams[0] if teams else None, teams[1] if len(teams) > 1 else None)
    b1, b2 = _bottleneck_levels(demand, wtp, n)
    if b1 is None:
        return None, None
    top = _top_two_dp(demand, wtp, n, m >= b1)
    winner = top[0]
    if b2 is None:
        return winner, None
    if b2 == b1:
        return winner, top[1]
    low = _top_two_dp(demand, wtp, n, m >= b2)
    runner = next(t for t in low if t.members != winner.members)
    return winner, runner


def in_some_team(demand: Sequence[int], n: int) -> list[bool]:
    """Whether each SU belongs to at least one legal team (§C: the others cannot bid), in ``O(K)``
    bitset steps: prefix sums reachable by SUs before ``k`` (bit ``c``) and *mirrored* suffix sums
    after ``k`` (bit ``n − s``); SU ``k`` is in a team iff ``c + N_k = n − s`` for some pair."""
    full = (1 << (n + 1)) - 1
    k_total = len(demand)
    mirrored = [0] * (k_total + 1)
    mirrored[k_total] = 1 << n
    for k in range(k_total - 1, -1, -1):
        d = int(demand[k])
        m = mirrored[k + 1]
        mirrored[k] = m | (m >> d) if d <= n else m
    out = []
    prefix = 1
    for k in range(k_total):
        d = int(demand[k])
        out.append(d <= n and bool(((prefix << d) & full) & mirrored[k + 1]))
        if d <= n:
            prefix |= (prefix << d) & full
    return out


# --------------------------------------------------------------------------------------------
# The one-team choice of seed 000 §E: a partition of the SUs into disjoint bidding teams
# --------------------------------------------------------------------------------------------


def _best_dp(
    demand: Sequence[int], wtp: Sequence[float], n: int, allowed: np.ndarray
) -> Team | None:
    """The best legal team by welfare (ties: smaller position mask) among the SUs with
    ``allowed[i]``: a 0/1 knapsack over bands with one state per band count, ``O(K·n)``.

    Adding SU ``k`` gives a candidate with a higher position bit than every state so far, so on
    equal welfare the old state (without ``k``) is kept: the tie goes to the smaller mask.
    """
    neg = -math.inf
    best = np.full(n + 1, neg)
    best[0] = 0.0
    k_total = len(demand)
    take = np.zeros((k_total, n + 1), dtype=bool)
    for k in range(k_total):
        d = int(demand[k])
        if not allowed[k] or d > n:
            continue
        cand = best[: n + 1 - d] + d * float(wtp[k])
        better = cand > best[d:]
        take[k, d:] = better
        best[d:] = np.where(better, cand, best[d:])
    if best[n] == neg:
        return None
    members: list[int] = []
    c = n
    for k in range(k_total - 1, -1, -1):
        if take[k, c]:
            members.append(k)
            c -= int(demand[k])
    members.reverse()
    return _make_team(members, demand, wtp)


def _best_bottleneck(
    demand: Sequence[int], wtp: Sequence[float], n: int, allowed: np.ndarray
) -> float | None:
    """The best bottleneck ``max_T min_{i∈T} m_i`` over legal teams of allowed SUs (``None`` if
    there is none): SUs in descending ``m_i`` into a bitset of reachable band totals; the ``m`` of
    the SU whose addition first makes ``n`` reachable is the answer, ``O(K)`` big-integer steps."""
    full = (1 << (n + 1)) - 1
    once = 1
    target = 1 << n
    for i in sorted(range(len(demand)), key=lambda j: -wtp[j]):
        d = int(demand[i])
        if not allowed[i] or d > n:
            continue
        once |= (once << d) & full
        if once & target:
            return float(wtp[i])
    return None


def best_team(
    demand: Sequence[int], wtp: Sequence[float], n: int, sharing: bool, allowed: np.ndarray
) -> Team | None:
    """The first legal team in the team order (:func:`order_key`) among the allowed SUs.

    With sharing: the top-one welfare DP. Without sharing: the best bottleneck ``b1``, then the
    welfare DP among the allowed SUs with ``m_i ≥ b1`` (all their legal teams have bottleneck
    ``b1``, since none can have a higher one).
    """
    if sharing:
        return _best_dp(demand, wtp, n, allowed)
    b1 = _best_bottleneck(demand, wtp, n, allowed)
    if b1 is None:
        return None
    return _best_dp(demand, wtp, n, allowed & (np.asarray(wtp, dtype=float) >= b1))


def bidding_teams_fast(
    demand: Sequence[int], wtp: Sequence[float], n: int, sharing: bool
) -> tuple[Team | None, Team | None]:
    """The first two teams of the §E partition without enumeration (two rounds of
    :func:`best_team`); equal to ``partition_reference(...)[:2]``.

    The later teams of the partition never bid beyond the opening price under the move order of
    :func:`ascend` (see ``docs/cat.md``), so the auction's outcome needs only these two.
    """
    allowed = np.ones(len(demand), dtype=bool)
    first = best_team(demand, wtp, n, sharing, allowed)
    if first is None:
        return None, None
    allowed[list(first.members)] = False
    return first, best_team(demand, wtp, n, sharing, allowed)


def partition_reference(
    demand: Sequence[int], wtp: Sequence[float], n: int, sharing: bool
) -> list[Team]:
    """The §E partition by enumeration: every legal team, sorted in the team order, taken greedily
    when disjoint from the teams already taken (seed 000 §E, our procedure; exponential).

    Each round forms the team that every one of its members ranks first among the legal teams of
    the SUs still free (the members' eq. (7) payoffs rank teams in the same order, see
    ``docs/cat.md``); it stops after at most ``K`` rounds, each removing at least one SU.
    """
    teams = sorted(enumerate_teams(demand, wtp, n), key=lambda t: order_key(t, sharing))
    taken: set[int] = set()
    out: list[Team] = []
    for team in teams:
        if taken.isdisjoint(team.members):
            out.append(team)
            taken.update(team.members)
    return out


def choice_payoff(
    team: Team,
    member: int,
    demand: Sequence[int],
    wtp: Sequence[float],
    n: int,
    price: float,
    sharing: bool,
) -> float:
    """SU ``member``'s eq. (7) payoff in ``team`` at a common market price ``y`` per band.

    With sharing ``ρ_a = (ω̄_T − y·n)·S_a`` with the Shapley share ``S_a = N_a / n`` of the
    band-slot game (``docs/cat.md`` §3); without sharing the member keeps its own surplus,
    ``ρ_a = N_a (m_a − y)``, the same in every team.
    """
    if sharing:
        return (team.welfare - price * n) * demand[member] / n
    return demand[member] * (wtp[member] - price)


# --------------------------------------------------------------------------------------------
# The ascending auction of seed 000 §D with standing bids on the θ grid
# --------------------------------------------------------------------------------------------

#: Relative tolerance of "a team can pay ``k·θ``": ``k·θ ≤ L·(1 + PRICE_TOL)``, so that
#: ``3 · 0.1 = 0.30000000000000004`` counts as 0.3 (purely relative: a zero limit pays only 0).
#: At the largest accepted ``L/θ`` (:data:`MAX_CLOCK_STEPS`) it is 0.1·θ: never a whole step.
PRICE_TOL = 1e-13

#: Most clock levels an instance may need: the highest WTP over ``θ`` (else ``increment`` is
#: rejected as too small for the WTP range).
MAX_CLOCK_STEPS = 10**12


def capacity(limit: float, increment: float) -> int:
    """The highest level ``k ≥ 0`` a team with this limit can bid: ``k·θ ≤ L·(1 + PRICE_TOL)``.

    Closed form ``⌊L(1 + PRICE_TOL)/θ⌋`` corrected by at most a step or two for the rounding of
    the float division; ``ValueError`` if that exceeds :data:`MAX_CLOCK_STEPS` (never walks θ).
    """
    if not (limit >= 0.0 and math.isfinite(limit)):
        raise ValueError(f"team limit must be finite and >= 0, got {limit!r}")
    top = limit + PRICE_TOL * limit
    q = top / increment
    if not math.isfinite(q) or q > 2.0 * MAX_CLOCK_STEPS:
        raise ValueError(f"limit / increment = {q:.3g} clock steps exceeds {MAX_CLOCK_STEPS:.0e}")
    k = math.floor(q)
    while k > 0 and k * increment > top:
        k -= 1
    while (k + 1) * increment <= top:
        k += 1
    return k


def can_pay_reference(
    members: Sequence[int],
    demand: Sequence[int],
    wtp: Sequence[float],
    price: float,
    sharing: bool,
) -> bool:
    """Can the team pay ``price`` per band for every member's bands (seed 000 §D), member by member?

    Without sharing every member must afford it: ``m_i ≥ price``. With sharing the members short
    of the price need ``δ_i = N_i (price − m_i)`` (``θ − α`` per band for a bottleneck at
    ``x + α``), and the members with surplus can give at most ``N_j (m_j − price)``: the team can
    pay when what they can give covers what the others need. Same relative tolerance as
    :func:`capacity`.
    """
    if not sharing:
        return all(price <= wtp[i] + PRICE_TOL * wtp[i] for i in members)
    give = math.fsum(demand[j] * max(0.0, wtp[j] - price) for j in members)
    need = math.fsum(demand[i] * max(0.0, price - wtp[i]) for i in members)
    welfare = math.fsum(demand[i] * wtp[i] for i in members)
    return give >= need - PRICE_TOL * welfare


@dataclass(frozen=True)
class Ascent:
    """End of the auction: team ``holder`` (position in the move order) holds the standing bid at
    ``level`` (price ``level·θ``) after ``bids`` bids."""

    holder: int
    level: int
    bids: int


def ascend(caps: Sequence[int], start: tuple[int, int] | None = None) -> Ascent | None:
    """The ascending auction with standing bids, in ``O(T log T)`` steps (never walks θ).

    ``caps[j]``: highest level team ``j`` can bid (:func:`capacity`); teams are listed in the move
    order. From ``start = (level, holder)`` (default: the opening bid, level 0, placed by team 0),
    a team that does not hold the standing bid at level ``x`` may take it at ``x + 1`` if
    ``caps ≥ x + 1``; among several, the first in the move order bids. The auction ends when no
    team other than the holder can raise. While the two first able teams ``a < b`` stay able they
    alternate, so the holder at ``min(caps[a], caps[b])`` follows from the parity of the number of
    raises; then one of them drops out. Each such segment removes a team: at most ``T`` segments
    with a heap of the able teams.
    """
    t = len(caps)
    if t == 0:
        return None
    if start is None:
        level, holder, bids = 0, 0, 1
    else:
        level, holder = start
        bids = 0
        if not 0 <= holder < t or caps[holder] < level:
            raise ValueError(f"start holder {holder} cannot hold level {level}")
    heap = list(range(t))  # positions, ascending: already a min-heap

    def first_two(lvl: int) -> tuple[int | None, int | None]:
        while heap and caps[heap[0]] < lvl:
            heapq.heappop(heap)
        if not heap:
            return None, None
        a = heapq.heappop(heap)
        while heap and caps[heap[0]] < lvl:
            heapq.heappop(heap)
        b = heap[0] if heap else None
        heapq.heappush(heap, a)
        return a, b

    while True:
        a, b = first_two(level + 1)
        if a is None:
            break
        if b is None:
            if a == holder:
                break
            holder, level, bids = a, level + 1, bids + 1
            continue
        end = min(caps[a], caps[b])
        raises = end - level
        first = b if holder == a else a
        other = a if first == b else b
        holder = first if raises % 2 == 1 else other
        bids += raises
        level = end
    return Ascent(holder, level, bids)


#: Most clock levels :func:`ascend_reference` walks before refusing.
REFERENCE_MAX_LEVELS = 10**6


def ascend_reference(
    teams: Sequence[Team],
    demand: Sequence[int],
    wtp: Sequence[float],
    increment: float,
    sharing: bool,
    start: tuple[int, int] | None = None,
) -> Ascent | None:
    """The same auction walked bid by bid with :func:`can_pay_reference` (the slow twin of
    :func:`ascend`, for tests; at most :data:`REFERENCE_MAX_LEVELS` levels)."""
    if not teams:
        return None
    level, holder, bids = (0, 0, 1) if start is None else (start[0], start[1], 0)
    while True:
        if level - (start[0] if start else 0) > REFERENCE_MAX_LEVELS:
            raise ValueError("reference clock walked more than REFERENCE_MAX_LEVELS levels")
        price = (level + 1) * increment
        movers = [
            j
            for j, team in enumerate(teams)
            if j != holder and can_pay_reference(team.members, demand, wtp, price, sharing)
        ]
        if not movers:
            return Ascent(holder, level, bids)
        holder, level, bids = movers[0], level + 1, bids + 1
