"""Elastic valuations (seed 002 Definition 1.2) and the truthful ε-best reply of classic PSP.

Valuations
----------
:class:`ElasticValuation` is a valuation ``θ`` given by its marginal ``θ'`` (the demand function), a
continuous piecewise-linear function through breakpoints ``(z_0 = 0, θ'(0)), …, (z_K, 0)``. It is
checked against Definition 1.2: ``θ(0) = 0`` (by construction, ``θ = ∫ θ'``), ``θ'`` continuous,
``θ' ≥ 0``, non-increasing, and *elastic*: a ``γ > 0`` with ``θ'(z) ≤ θ'(η) − γ (z − η)`` whenever
``θ'(z) > 0`` — i.e. every segment on which ``θ'`` is positive falls with slope ≤ −γ < 0. A convex
valuation (rising marginal), a flat positive stretch or a negative marginal is refused with
:class:`~specmarket.errors.InvalidInput`. The marginal must reach 0 at its last breakpoint (finite
demand; ``θ' = 0`` afterwards). :meth:`ElasticValuation.linear` builds the family of the
Lazar–Semret experiments, ``θ'(z) = θ'(0) (1 − z/q̄)^+``.

Truthful ε-best reply (Lazar–Semret; seed 002 Proposition 4.2 for one resource)
--------------------------------------------------------------------------------
Against the others' bids ``s_-i`` (the seller's reserve bid included), with
``Q_i(y) = [Q − Σ_{k≠i, p_k ≥ y} q_k]^+`` (eq. (2), "≥" form) and the market price function
``P_i(z) = inf{y ≥ 0 : Q_i(y) ≥ z}`` (eq. (1)),

``v_i = [sup G_i − ε/θ'_i(0)]^+``, ``w_i = θ'_i(v_i)``, where
``G_i = {z ≥ 0 : z ≤ Q_i(θ'_i(z)), ∫_0^z P_i ≤ b_i}`` (``b_i`` the budget).

The "≥" form of ``Q_i`` is used for both tie rules: it is the quantity ``i`` is *guaranteed* at
price ``y`` under either rule, ties included. ``sup G_i`` is exact: ``Q_i`` is a step function of
the price, so ``sup{z ≤ Q_i(θ'(z))} = max over price steps (lo, hi] of min(θ'^{-1}(lo), Q_i on the
step)``, one vectorised pass over the others' bids sorted by price; the budget bound inverts the
prefix integral of ``P_i``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from specmarket.errors import InvalidInput

__all__ = ["ElasticValuation", "Others", "best_reply", "bid_outcome"]


@dataclass(frozen=True, eq=False)
class ElasticValuation:
    """An elastic valuation ``θ`` through its piecewise-linear marginal (Definition 1.2).

    Parameters
    ----------
    z
        Breakpoint quantities, ``z[0] = 0``, strictly increasing.
    marginal
        ``θ'`` at the breakpoints: ``> 0`` before the last one, ``= 0`` at the last one, strictly
        decreasing.
    field
        Name used in error messages.
    """

    z: np.ndarray
    marginal: np.ndarray
    field: str = "valuation"

    def __post_init__(self) -> None:
        z = np.asarray(self.z, dtype=float)
        m = np.asarray(self.marginal, dtype=float)
        f = self.field
        if z.ndim != 1 or z.shape != m.shape or len(z) < 2:
            raise InvalidInput(
                f, (list(z), list(m)), "needs ≥ 2 breakpoints (z, θ'(z)) of equal count"
            )
        if not (np.all(np.isfinite(z)) and np.all(np.isfinite(m))):
            raise InvalidInput(f, list(m), "breakpoints must be finite numbers")
        if z[0] != 0.0:
            raise InvalidInput(f"{f}.z[0]", float(z[0]), "the first breakpoint must be z = 0")
        if np.any(np.diff(z) <= 0):
            raise InvalidInput(f"{f}.z", list(z), "breakpoints must be strictly increasing")
        if np.any(m < 0):
            raise InvalidInput(f"{f}.marginal", list(m), "θ' must be ≥ 0 (Definition 1.2)")
        if m[-1] != 0.0:
            raise InvalidInput(
                f"{f}.marginal", list(m), "θ' must reach 0 at the last breakpoint (finite demand)"
            )
        if np.any(np.diff(m) >= 0):
            raise InvalidInput(
                f"{f}.marginal",
                list(m),
                "θ' must be strictly decreasing while positive (Definition 1.2: non-increasing and "
                "elastic, γ > 0); a convex or flat valuation is not elastic",
            )
        object.__setattr__(self, "z", z)
        object.__setattr__(self, "marginal", m)
        # θ at the breakpoints (trapezoids)
        object.__setattr__(
            self, "_theta", np.concatenate(([0.0], np.cumsum(np.diff(z) * (m[:-1] + m[1:]) / 2)))
        )

    @classmethod
    def linear(cls, theta0: float, qbar: float, field: str = "valuation") -> ElasticValuation:
        """The family ``θ'(z) = θ'(0) (1 − z/q̄)^+`` (Lazar–Semret's experiments)."""
        if not (np.isfinite(theta0) and theta0 > 0):
            raise InvalidInput(f"{field}.theta0", theta0, "θ'(0) must be a finite number > 0")
        if not (np.isfinite(qbar) and qbar > 0):
            raise InvalidInput(f"{field}.qbar", qbar, "q̄ must be a finite number > 0")
        return cls(np.array([0.0, qbar]), np.array([theta0, 0.0]), field)

    @property
    def theta0(self) -> float:
        """``θ'(0)``, the highest marginal value."""
        return float(self.marginal[0])

    @property
    def saturation(self) -> float:
        """The quantity where ``θ'`` reaches 0 (no more demand)."""
        return float(self.z[-1])

    @property
    def gamma(self) -> float:
        """The elasticity constant ``γ`` of Definition 1.2 (smallest slope magnitude)."""
        return float(np.min(-np.diff(self.marginal) / np.diff(self.z)))

    @property
    def kappa(self) -> float:
        """``sup |θ''|`` (largest slope magnitude), the ``κ`` of the efficiency bound."""
        return float(np.max(-np.diff(self.marginal) / np.diff(self.z)))

    def marginal_at(self, x: np.ndarray | float) -> np.ndarray:
        """``θ'(x)`` (0 beyond the last breakpoint)."""
        out: np.ndarray = np.interp(x, self.z, self.marginal, right=0.0)
        return out

    def demand(self, y: np.ndarray | float) -> np.ndarray:
        """``θ'^{-1}(y)``: the quantity at which the marginal value equals ``y`` (0 if
        ``y ≥ θ'(0)``, the saturation point if ``y ≤ 0``)."""
        out: np.ndarray = np.interp(y, self.marginal[::-1], self.z[::-1])
        return out

    def value(self, x: np.ndarray | float) -> np.ndarray:
        """``θ(x) = ∫_0^x θ'``."""
        xa = np.minimum(np.asarray(x, dtype=float), self.z[-1])
        k = np.clip(np.searchsorted(self.z, xa, side="right") - 1, 0, len(self.z) - 2)
        dz = xa - self.z[k]
        m0 = self.marginal[k]
        slope = (self.marginal[k + 1] - m0) / (self.z[k + 1] - self.z[k])
        theta: np.ndarray = self._theta  # type: ignore[attr-defined]  # set in __post_init__
        out: np.ndarray = theta[k] + m0 * dz + 0.5 * slope * dz * dz
        return out


class Others:
    """The other players' bids ``s_-i`` (seller's reserve bid included), sorted by price.

    Precomputes what the best reply and the bid evaluation need: cumulative quantities, each bid's
    ``G(p_k) = Σ_{l, p_l ≥ p_k} q_l`` (its whole tie group included), and the prefix integral of
    the price-at-position curve.
    """

    def __init__(self, quantities: np.ndarray, prices: np.ndarray, total: float) -> None:
        order = np.lexsort((quantities, -np.asarray(prices)))
        self.qs = np.asarray(quantities, dtype=float)[order]
        self.ps = np.asarray(prices, dtype=float)[order]
        self.total = float(total)
        self.cum = np.concatenate(([0.0], np.cumsum(self.qs)))
        self.neg = -self.ps
        last = np.searchsorted(self.neg, self.neg, side="right")
        self.G = self.cum[last]
        self.fb = np.concatenate(([0.0], np.cumsum(self.ps * self.qs)))

    @classmethod
    def from_sorted(cls, qs: np.ndarray, ps: np.ndarray, total: float) -> Others:
        """Build from arrays already sorted by descending price (no copy of the sort)."""
        self = cls.__new__(cls)
        self.qs = qs
        self.ps = ps
        self.total = float(total)
        self.cum = np.concatenate(([0.0], np.cumsum(qs)))
        self.neg = -ps
        last = np.searchsorted(self.neg, self.neg, side="right")
        self.G = self.cum[last]
        self.fb = np.concatenate(([0.0], np.cumsum(ps * qs)))
        return self

    def F(self, w: float) -> float:
        """``∫_0^w P_{-i}``, the value of the first ``w`` units of the others' bids."""
        n = len(self.qs)
        if n == 0 or w <= 0:
            return 0.0
        k = int(np.searchsorted(self.cum, w, side="right")) - 1
        if k >= n:
            return float(self.fb[n])
        return float(self.fb[k] + self.ps[k] * (w - self.cum[k]))

    def available(self, y: float) -> float:
        """``Q_i(y) = [Q − Σ_{p_k ≥ y} q_k]^+`` (eq. (2), ≥ form)."""
        cnt = int(np.searchsorted(self.neg, -y, side="right"))
        return max(0.0, self.total - float(self.cum[cnt]))

    def cost_of(self, z: float) -> float:
        """``∫_0^z P_i(ζ) dζ = F(Q) − F(Q − z)``: the least cost of ``z`` units (eq. (1))."""
        return self.F(self.total) - self.F(self.total - min(z, self.total))


def best_reply_quantity(val: ElasticValuation, others: Others, budget: float = np.inf) -> float:
    """``sup G_i``: the largest ``z`` with ``z ≤ Q_i(θ'(z))`` and cost ``∫_0^z P_i ≤ budget``."""
    ps = others.ps
    lo = np.concatenate((ps, [0.0]))
    avail = np.maximum(others.total - others.cum, 0.0)  # Q_i on the step below each bid
    ok = lo < val.theta0
    z_star = float(np.max(np.minimum(val.demand(lo[ok]), avail[ok]))) if np.any(ok) else 0.0
    z_star = max(z_star, 0.0)
    if np.isfinite(budget):
        fq = others.F(others.total)
        t = fq - budget
        if t > 0:
            k = int(np.searchsorted(others.fb, t, side="left"))  # fb[k-1] < t ≤ fb[k]
            w = others.cum[k - 1] + (t - others.fb[k - 1]) / ps[k - 1]
            z_star = min(z_star, max(others.total - float(w), 0.0))
    return z_star


def best_reply(
    val: ElasticValuation, others: Others, epsilon: float, budget: float = np.inf
) -> tuple[float, float]:
    """The truthful ε-best reply ``(v_i, w_i)``: ``v = [sup G_i − ε/θ'(0)]^+``, ``w = θ'(v)``."""
    if not (np.isfinite(epsilon) and epsilon > 0):
        raise InvalidInput("epsilon", epsilon, "must be a finite number > 0")
    v = max(best_reply_quantity(val, others, budget) - epsilon / val.theta0, 0.0)
    return v, float(val.marginal_at(v))


def bid_outcome(
    x: float, y: float, others: Others, tie_rule: str = "lazar-semret"
) -> tuple[float, float]:
    """Allocation and cost ``(a_i, c_i)`` of the bid ``(x, y)`` against ``others``, ``O(I)``.

    Same rules as :func:`specmarket.mechanisms.psp.rules.psp_outcome` for one player: ``≥`` rule
    ``a = min(x, Q_i(y))`` and ``c = Σ_{p_k ≤ y} p_k [(q_k − E'_k)^+ − (q_k − E_k)^+]`` with
    ``E'_k = (G(p_k) − Q)^+`` (without ``i``) and ``E_k = (G(p_k) + x − Q)^+``; split rule eq. (20)
    and the Clarke-pivot form of eq. (4).
    """
    Q = others.total
    if x <= 0:
        return 0.0, 0.0
    if tie_rule == "split":
        s_gt = float(others.cum[int(np.searchsorted(others.neg, -y, side="left"))])
        s_ge = float(others.cum[int(np.searchsorted(others.neg, -y, side="right"))])
        tied = s_ge - s_gt
        a = min(x, x / (x + tied) * max(Q - s_gt, 0.0))
        f_full = others.F(min(Q, s_ge)) + y * min(max(Q - s_ge, 0.0), x)
        if Q - x > s_ge:
            f_full += others.F(Q - x) - others.F(s_ge)
        c = others.F(Q) - f_full + y * a
        return a, max(c, 0.0)
    a = min(x, others.available(y))
    start = int(np.searchsorted(others.neg, -y, side="left"))  # first bid with p_k ≤ y
    qk = others.qs[start:]
    gk = others.G[start:]
    gain = np.maximum(qk - np.maximum(gk - Q, 0.0), 0.0) - np.maximum(
        qk - np.maximum(gk + x - Q, 0.0), 0.0
    )
    c = float(np.dot(others.ps[start:], gain))
    return a, max(c, 0.0)
