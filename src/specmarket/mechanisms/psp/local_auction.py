"""The seller's local auction of the data-exchange market (seed 002 §3.3–§3.4.2).

Each seller ``j`` sees only the bids ``s_i^j = (d_i^j, p_i^j)`` sent to it. These pure functions
implement its rules on one bid vector:

* :func:`available` — the quantity left to a bidder at unit price ``y``, eq. (18);
* :func:`allocate` — the tie-splitting allocation, eq. (20) (Tuffin's revision of PSP);
* :func:`costs` — the second-price cost, eq. (21), the seller's reserve counting as its own bid
  ``(D^j, p_*^j)`` ("player 0" of Lazar–Semret);
* :func:`outsider_price` / :func:`next_reserve` — the minimal covering set ``I^j`` of eq. (25) and
  the reserve update ``p_*^j ← p_{i*}^j + ε`` of eq. (27), capped at the ISP's overage price
  ``p^κ`` (§3.4.4).

A bid whose price is below the reserve is not admitted (it gets nothing): the reserve is "the
lowest price that j will accept to perform any allocation" (§3.4.3).
"""

from __future__ import annotations

import numpy as np

__all__ = ["allocate", "available", "costs", "next_reserve", "outsider_price", "reserve_after"]

_TOL = 1e-12


def _admitted(prices: np.ndarray, reserve: float) -> np.ndarray:
    return (prices >= reserve - _TOL) & (prices > 0)


def available(
    quantities: np.ndarray, prices: np.ndarray, supply: float, y: float, reserve: float = 0.0
) -> float:
    """Quantity available at unit price ``y`` given the other bids, seed 002 eq. (18).

    ``D̄^j(y) = [D^j − Σ_{p_k > y} d_k]^+``; 0 if ``y`` is below the reserve. ``quantities`` and
    ``prices`` are the *other* bidders' bids.
    """
    if y < reserve - _TOL:
        return 0.0
    above = (prices > y + _TOL) & _admitted(prices, reserve)
    return max(0.0, float(supply) - float(quantities[above].sum()))


def allocate(
    quantities: np.ndarray, prices: np.ndarray, supply: float, reserve: float = 0.0
) -> np.ndarray:
    """Tie-splitting PSP allocation of one seller, seed 002 eq. (20).

    ``a_i = min{d_i, d_i / Σ_{p_k = p_i} d_k · [D − Σ_{p_k > p_i} d_k]^+}``: bidders are served in
    decreasing price; a group of equal prices shares what is left in proportion to quantity.
    Bids below the reserve get nothing. O(k log k) for k bids.
    """
    q = np.asarray(quantities, dtype=float)
    p = np.asarray(prices, dtype=float)
    out = np.zeros(q.size)
    ok = _admitted(p, reserve) & (q > 0)
    idx = np.flatnonzero(ok)
    if idx.size == 0:
        return out
    order = idx[np.argsort(-p[idx], kind="stable")]
    left = float(supply)
    k = 0
    while k < order.size and left > _TOL:
        price = p[order[k]]
        m = k
        while m < order.size and abs(p[order[m]] - price) <= _TOL:
            m += 1
        group = order[k:m]
        want = float(q[group].sum())
        if want <= left:
            out[group] = q[group]
            left -= want
        else:
            out[group] = q[group] * (left / want)
            left = 0.0
        k = m
    return out


def costs(
    quantities: np.ndarray, prices: np.ndarray, supply: float, reserve: float = 0.0
) -> np.ndarray:
    """Second-price costs of one seller's auction, seed 002 eq. (21).

    ``c_i = Σ_{k≠i} p_k [a_k(0; s_-i) − a_k(s_i; s_-i)] + p_* [u(0; s_-i) − u(s_i; s_-i)]``:
    what ``i``'s allocation displaces, valued at the displaced bids' prices, where the unsold
    quantity ``u`` is valued at the reserve ``p_*`` (the seller's own bid). Computed by re-running
    :func:`allocate` without each winner (k is small: the bids one seller receives).
    """
    q = np.asarray(quantities, dtype=float)
    p = np.asarray(prices, dtype=float)
    full = allocate(q, p, supply, reserve)
    unsold = float(supply) - float(full.sum())
    out = np.zeros(q.size)
    for i in np.flatnonzero(full > _TOL):
        q2 = q.copy()
        q2[i] = 0.0
        without = allocate(q2, p, supply, reserve)
        diff = without - full
        diff[i] = 0.0
        unsold2 = float(supply) - float(without.sum())
        out[i] = float(np.dot(p, diff)) + reserve * (unsold2 - unsold)
    return out


def outsider_price(quantities: np.ndarray, prices: np.ndarray, supply: float) -> float | None:
    """Price of ``i*``, the highest bid outside the minimal covering set ``I^j``, eq. (25).

    ``I^j`` is the smallest set of highest-priced bids whose quantities reach ``D^j`` (a tie
    group at the boundary belongs to ``I^j``). ``None`` when no bid lies outside it.
    """
    q = np.asarray(quantities, dtype=float)
    p = np.asarray(prices, dtype=float)
    live = (q > 0) & (p > 0)
    if not live.any():
        return None
    qs, ps = q[live], p[live]
    order = np.argsort(-ps, kind="stable")
    cum = np.cumsum(qs[order])
    n = int(np.searchsorted(cum, float(supply) - _TOL))
    if n >= order.size:
        return None
    boundary = ps[order[n]]
    below = ps[order[n + 1 :]]
    below = below[below < boundary - _TOL]
    return float(below[0]) if below.size else None


def next_reserve(
    current: float,
    quantities: np.ndarray,
    prices: np.ndarray,
    supply: float,
    epsilon: float,
    cap: float,
    sticky: bool = True,
) -> float:
    """Reserve for the next round, seed 002 eq. (27): ``p_*^j = p_{i*}^j + ε``, capped at ``p^κ``.

    With ``sticky`` the reserve never falls (the seller remembers the highest price it had to turn
    away); otherwise it is recomputed from the current bids and falls back to ``ε`` when every bid
    fits (Algorithm 1, line 1).
    """
    return reserve_after(current, outsider_price(quantities, prices, supply), epsilon, cap, sticky)


def reserve_after(
    current: float, outsider: float | None, epsilon: float, cap: float, sticky: bool = True
) -> float:
    """Eq. (27) given the outsider price ``p_{i*}`` (``None``: every bid fits): see
    :func:`next_reserve`."""
    base = current if sticky else epsilon
    if outsider is None:
        return min(base, cap)
    return min(max(base, outsider + epsilon), cap)
