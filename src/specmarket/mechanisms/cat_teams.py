"""Winner, runner-up and price of the CAT auction (seed 000): enumeration and dynamic programming.

A *legal team* (seed 000 §B, §C) is a set of SUs whose demands ``N_i`` sum exactly to the ``n``
bands for sale. Its *limit* is the highest per-band price it can meet on the clock:

* with sharing (seed 000 §D): ``L_T = Σ_{i∈T} N_i m_i / n`` (richer members cover the others'
  deficits ``δ``), i.e. the team's welfare eq. (4) divided by ``n``;
* without sharing: ``L_T = min_{i∈T} m_i`` (the bottleneck).

The *order* of teams (best first), which decides the winner, the runner-up and every tie, is

* with sharing: welfare ``w_T = Σ N_i m_i`` descending, then the *position mask* ``Σ_{i∈T} 2^i``
  ascending (a tie goes to the team that avoids the SU listed last);
* without sharing: bottleneck descending, then welfare descending, then the position mask ascending.

Welfare sums are always accumulated in input order starting from ``0.0`` so the enumeration and the
DP perform bit-identical floating-point additions.

Two implementations:

* :func:`enumerate_teams` / :func:`top_two_reference` list every legal team (exponential, the
  seed's "the mechanism of legal teams lists all the possible combinations of SUs", §B);
* :func:`top_two_fast` finds the same two teams without enumeration: a 0/1-knapsack DP over bands
  that keeps the two best partial teams per band count (``O(K·n)`` vectorised numpy steps) and, for
  the no-sharing order, one ``O(K)`` pass of bitset subset-sum counting over SUs sorted by ``m_i``
  to find the best and second-best bottleneck first.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

#: Relative tolerance of the clock's "can meet the price" test.
PRICE_TOL = 1e-9


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


def meets(limit: float, price: float) -> bool:
    """The clock test: can a team with this limit pay ``price`` per band (relative tolerance)?"""
    return limit >= price - PRICE_TOL * max(1.0, abs(price))


def last_met_step(limit: float, increment: float) -> int:
    """Largest ``k ≥ 0`` with ``meets(limit, k·θ)``: the last clock step a team can meet."""
    k = max(0, math.floor(limit / increment))
    while meets(limit, (k + 1) * increment):
        k += 1
    while k > 0 and not meets(limit, k * increment):
        k -= 1
    return k


def clock_price(
    winner_limit: float, runner_limit: float | None, increment: float
) -> tuple[float, int]:
    """Closing price and number of clock steps (seed 000 §D, our reconstruction).

    The clock shows ``p_k = k·θ`` for ``k = 0, 1, ...``; it stops at the first step the runner-up
    cannot meet, ``k2 + 1`` with ``k2 = last_met_step(L2)``. The price is ``p_{k2+1}`` capped by the
    winner's limit: ``min((k2 + 1)·θ, L1)``. With no runner-up the price is the opening price 0.
    """
    if runner_limit is None:
        return 0.0, 0
    k2 = last_met_step(runner_limit, increment)
    return min((k2 + 1) * increment, winner_limit), k2 + 1


def clock_reference(
    teams: Sequence[Team], n: int, increment: float, sharing: bool
) -> tuple[Team | None, float, int]:
    """Run the ascending clock literally over an explicit list of legal teams (the reference).

    Step ``k`` shows ``p_k = k·θ``; a team stays in while it meets the price. When at most one
    team can meet the next price the auction ends: a lone survivor wins at that next price; if no
    team meets it, the best survivor (team order) wins and pays its own limit. Returns
    ``(winner, price, steps)``.
    """
    if not teams:
        return None, 0.0, 0
    ordered = sorted(teams, key=lambda t: order_key(t, sharing))
    if len(ordered) == 1:
        return ordered[0], 0.0, 0
    k = 0
    active = list(ordered)
    while True:
        nxt = [t for t in active if meets(t.limit(n, sharing), (k + 1) * increment)]
        if len(nxt) >= 2:
            active = nxt
            k += 1
            continue
        if len(nxt) == 1:
            return nxt[0], min((k + 1) * increment, nxt[0].limit(n, sharing)), k + 1
        best = active[0]
        return best, best.limit(n, sharing), k + 1
