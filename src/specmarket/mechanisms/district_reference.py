"""A literal, slow transcription of District-D's algorithms (seed 003, Appendices B–C).

Kept as the reference that the fast implementation in :mod:`specmarket.mechanisms.district` is
tested against and benchmarked with. Nothing is incremental: every round recomputes every buyer's
seller set from scratch (Algorithm 9), every pricing rerun starts from an empty transaction list
(Algorithms 11–12, line 1), and the seller pricing builds Algorithm 8's set for every buyer. The
complexity is the seed's ``O(M²N³ + M³N²)`` (Appendix B.2). Same tie-breaking as the fast version,
and the same summation order: every sum of virtual asks ``Σ ψ_i`` is taken in increasing order
(:func:`_psi_sum`), as the fast path adds the cheapest channels first, so that both give
bit-for-bit the same marginal revenues and thresholds and the tests can compare them exactly.
This module defines no ``SPEC``: it is not a separate mechanism.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from specmarket.mechanisms.district import Market


@dataclass(frozen=True)
class RefTransaction:
    """``(S_l, j_l)`` with its marginal revenue ``Δ_l``."""

    buyer: int
    sellers: tuple[int, ...]
    delta: float


def _rank_key(market: Market, i: int) -> tuple[float, int]:
    return (float(market.psi[i]), i)


def _psi_sum(market: Market, sellers: list[int]) -> float:
    """``Σ_{i ∈ sellers} ψ_i``, added in increasing ``ψ`` (floating-point addition is not
    associative; this is the fast path's order)."""
    total = 0.0
    for x in sorted(float(market.psi[i]) for i in sellers):
        total += x
    return total


def tradable(
    market: Market, trans: list[RefTransaction], j: int, removed_seller: int | None
) -> list[int]:
    """``S^j``: sellers whose transaction with ``j`` is feasible given ``T`` (eligible, and no buyer
    already on the channel conflicts with ``j``)."""
    out = []
    for i in range(market.n_sellers):
        if i == removed_seller or not market.eligible[j, i]:
            continue
        holders = [t.buyer for t in trans if i in t.sellers]
        if any(market.conflict[j, h] for h in holders):
            continue
        out.append(i)
    return out


def sold(trans: list[RefTransaction]) -> set[int]:
    """``T^s``: sellers already in some transaction."""
    return {i for t in trans for i in t.sellers}


def delta(market: Market, trans: list[RefTransaction], sellers: tuple[int, ...], n: int) -> float:
    """Eq. (30): ``Δ_{S,n}(T) = r_n φ_n − Σ_{i∈S, i∉T^s} ψ_i``."""
    ts = sold(trans)
    return float(market.demand[n]) * float(market.phi[n]) - _psi_sum(
        market, [i for i in sellers if i not in ts]
    )


def construct_s_star_alg9(
    market: Market, trans: list[RefTransaction], n: int, removed_seller: int | None = None
) -> tuple[int, ...] | None:
    """Algorithm 9 (``None`` if ``n`` cannot get ``r_n`` channels)."""
    r = int(market.demand[n])
    sn = tradable(market, trans, n, removed_seller)
    ts = sold(trans)
    x = sorted((i for i in sn if i in ts), key=lambda i: _rank_key(market, i))
    if len(x) >= r:
        return tuple(sorted(x[:r]))
    z = sorted((i for i in sn if i not in ts), key=lambda i: _rank_key(market, i))
    y = z[: r - len(x)]
    if len(x) + len(y) < r:
        return None
    return tuple(sorted(x + y))


def construct_s_star_alg8(
    market: Market, trans: list[RefTransaction], m: int, j: int
) -> tuple[int, ...] | None:
    """Algorithm 8: the best set for ``j`` that contains ``m`` (``None`` if there is none)."""
    r = int(market.demand[j])
    sj = tradable(market, trans, j, None)
    if m not in sj:
        return None
    ts = sold(trans)
    x = sorted((i for i in sj if i in ts and i != m), key=lambda i: _rank_key(market, i))
    if len(x) >= r - 1:
        return tuple(sorted([*x[: r - 1], m]))
    z = sorted((i for i in sj if i not in ts and i != m), key=lambda i: _rank_key(market, i))
    y = z[: r - len(x) - 1]
    if len(x) + len(y) < r - 1:
        return None
    return tuple(sorted([*x, *y, m]))


def winner_determination(
    market: Market, removed_buyer: int | None = None, removed_seller: int | None = None
) -> list[RefTransaction]:
    """Algorithm 7 (``market.profit`` false) or Algorithm 10 (true), literally."""
    trans: list[RefTransaction] = []
    gamma = 0.0
    while True:
        # MaxMarginalRev(T)
        winners = {t.buyer for t in trans}
        best: RefTransaction | None = None
        for n in range(market.n_buyers):
            if n == removed_buyer or n in winners:
                continue
            s = construct_s_star_alg9(market, trans, n, removed_seller)
            if s is None:
                continue
            d = delta(market, trans, s, n)
            if best is None or d > best.delta:
                best = RefTransaction(n, s, d)
        if best is None:
            return trans
        ok = best.delta >= 0 if market.profit else gamma + best.delta >= 0
        if not ok:
            return trans
        gamma += best.delta
        trans.append(best)


def buyer_virtual_threshold(market: Market, n: int) -> float:
    """Algorithm 11 (and its budget-balanced counterpart) in virtual-value space: the least
    ``φ_n`` that makes ``n`` win. Line 4 ``b^l_(S)`` solves ``Δ_{S,n}(T_{l−1}, b) = Δ_l``."""
    trans = winner_determination(market, removed_buyer=n)
    r = float(market.demand[n])
    c = math.inf
    gamma = 0.0
    for ell in range(len(trans) + 1):
        prefix = trans[:ell]
        s = construct_s_star_alg9(market, prefix, n)
        target = trans[ell].delta if ell < len(trans) else (0.0 if market.profit else -gamma)
        if s is not None:
            ts = sold(prefix)
            cost = _psi_sum(market, [i for i in s if i not in ts])
            c = min(c, (target + cost) / r)
        if ell < len(trans):
            gamma += trans[ell].delta
    return c


def seller_virtual_threshold(market: Market, m: int) -> float:
    """Algorithm 12 (and its budget-balanced counterpart) in virtual space: the largest ``ψ_m``
    that makes ``m`` sell. Line 4 uses Algorithm 8's set for every buyer ``j``."""
    trans = winner_determination(market, removed_seller=m)
    p = -math.inf
    gamma = 0.0
    for ell in range(len(trans) + 1):
        prefix = trans[:ell]
        winners = {t.buyer for t in prefix}
        target = trans[ell].delta if ell < len(trans) else (0.0 if market.profit else -gamma)
        ts = sold(prefix)
        for j in range(market.n_buyers):
            if j in winners:
                continue
            s = construct_s_star_alg8(market, prefix, m, j)
            if s is None:
                continue
            rest = _psi_sum(market, [i for i in s if i != m and i not in ts])
            p = max(p, float(market.demand[j]) * float(market.phi[j]) - rest - target)
        if ell < len(trans):
            gamma += trans[ell].delta
    return p
