"""Buyers' valuations (seed 002 Lemma 3.1, eqs. (7), (11)) — one vectorised implementation.

Buyer ``i`` has marginal value ``θ_i'(z) = v_i (1 − e_i z / D_i)`` on ``[0, D_i]`` and 0 beyond
(``v_i = θ_i'(0)``, ``e_i ∈ [0, 1]``; ``e_i = 0`` is the flat buyer of the worked example).
:class:`Valuations` holds these parameters as columns for any set of buyers and names its
methods as :class:`~specmarket.mechanisms.psp.replies.ElasticValuation` does:

* :meth:`Valuations.marginal_at` — ``θ_i'(z)``;
* :meth:`Valuations.demand` — ``ρ_i(y) = sup{z ≤ D_i : θ_i'(z) ≥ y}``, the quantity worth unit
  price ``y`` (the demand function of eq. (7)); ``strict=True`` gives the welfare-maximising
  quantity at a shadow price (``θ' > y``), used by the centralised optimum;
* :meth:`Valuations.value` — ``θ_i(x) = ∫_0^x θ_i'`` (Lemma 3.1).

The scalar helpers :func:`marginal_value`, :func:`valuation` and :func:`quantity_at_price` take
one :class:`~.model.DataBuyer` and call the same arithmetic. The compiled engine has its own
twins (``_kernels.marginal_value``, ``_kernels.quantity_at_price``), tested against these.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from specmarket.mechanisms.psp.market.model import DataBuyer

__all__ = ["Valuations", "isp_quantity", "marginal_value", "quantity_at_price", "valuation"]

_TOL = 1e-9


@dataclass(frozen=True, eq=False)
class Valuations:
    """``(θ'(0), D, e)`` of a set of buyers as arrays (one row per buyer)."""

    theta0: np.ndarray
    demand_cap: np.ndarray
    elasticity: np.ndarray

    @classmethod
    def of(cls, buyers: Sequence[DataBuyer]) -> Valuations:
        cols = np.array([(b.value, b.demand, b.elasticity) for b in buyers], float)
        cols = cols.reshape(len(buyers), 3)
        return cls(cols[:, 0].copy(), cols[:, 1].copy(), cols[:, 2].copy())

    def marginal_at(self, z: np.ndarray | float) -> np.ndarray:
        """``θ_i'(z)`` (0 beyond the demand ``D_i``)."""
        v, d, e = self.theta0, self.demand_cap, self.elasticity
        zz = np.maximum(np.asarray(z, dtype=float), 0.0)
        m = v * (1.0 - e * np.minimum(zz, d) / d)
        return np.where(zz > d, 0.0, m)

    def demand(self, y: np.ndarray | float, strict: bool = False) -> np.ndarray:
        """``ρ_i(y)``: the most a buyer wants at unit price ``y`` (eq. (7)'s demand function).

        ``strict=False``: ``sup{z ≤ D_i : θ_i'(z) ≥ y}`` with a tolerance of 10⁻⁹ on the price
        (a flat buyer wants all of ``D_i`` at its own value). ``strict=True``: the quantity where
        ``θ_i' > y`` (a flat buyer at exactly its value wants nothing), the welfare-maximising
        quantity at a shadow price.
        """
        v, d, e = self.theta0, self.demand_cap, self.elasticity
        yy = np.asarray(y, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = d * (1.0 - yy / v) / np.where(e > 0.0, e, 1.0)
        want = np.where(e > 0.0, np.clip(z, 0.0, d), d)
        if strict:
            return np.where(v > yy, want, 0.0)
        return np.where(yy > v + _TOL, 0.0, want)

    def value(self, x: np.ndarray | float) -> np.ndarray:
        """``θ_i(x) = ∫_0^x θ_i' = v_i (x − e_i x² / (2 D_i))``, ``x`` clipped to ``[0, D_i]``."""
        v, d, e = self.theta0, self.demand_cap, self.elasticity
        z = np.clip(np.asarray(x, dtype=float), 0.0, d)
        out: np.ndarray = v * (z - e * z * z / (2.0 * d))
        return out


def marginal_value(b: DataBuyer, z: float) -> float:
    """``θ_i'(z)`` of one buyer (0 beyond the demand)."""
    if z >= b.demand:
        return 0.0 if z > b.demand else b.value * (1.0 - b.elasticity)
    return b.value * (1.0 - b.elasticity * max(z, 0.0) / b.demand)


def valuation(b: DataBuyer, z: float) -> float:
    """``θ_i(z) = ∫_0^z θ_i'`` of one buyer (Lemma 3.1; :meth:`Valuations.value`'s arithmetic)."""
    z = min(max(z, 0.0), b.demand)
    return b.value * (z - b.elasticity * z * z / (2.0 * b.demand))


def quantity_at_price(b: DataBuyer, y: float) -> float:
    """``ρ_i(y)`` of one buyer (:meth:`Valuations.demand`'s arithmetic, without arrays)."""
    if y > b.value + _TOL:
        return 0.0
    if b.elasticity == 0.0:
        return b.demand
    return min(b.demand, max(0.0, b.demand * (1.0 - y / b.value) / b.elasticity))


def isp_quantity(b: DataBuyer, isp_price: float, got: float) -> float:
    """Data still worth more than ``p^κ`` beyond the ``got`` units from sellers: bought from κ."""
    if b.value <= isp_price:
        return 0.0
    return max(0.0, quantity_at_price(b, isp_price) - got)
