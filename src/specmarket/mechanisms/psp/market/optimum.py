"""The centralised optimum of the data-exchange market: the benchmark of the efficiency ratio.

Maximise ``Σ_i θ_i(x_i) − p^κ y`` subject to ``Σ_i x_i ≤ S + y``, ``y ≥ 0`` (``S`` the sellers'
total supply, ``y`` the data bought from the ISP κ; sellers' own value 0, seed 002 §3.2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from specmarket.mechanisms.psp.market.model import DataBuyer
from specmarket.mechanisms.psp.market.valuation import Valuations

__all__ = ["Optimum", "centralised_optimum"]


@dataclass(frozen=True)
class Optimum:
    """Centralised optimum: welfare, per-buyer quantities, data from the ISP, shadow price."""

    welfare: float
    quantities: dict[str, float]
    isp: float
    price: float


def centralised_optimum(buyers: Sequence[DataBuyer], supply: float, isp_price: float) -> Optimum:
    """Exact maximum of ``Σ θ_i(x_i) − p^κ y`` s.t. ``Σ x_i ≤ S + y``, ``y ≥ 0`` (choice 10).

    A concave separable problem with piecewise-linear marginal values: water-filling. The shadow
    price ``λ`` of the sellers' supply ``S`` is found by bisection on the (monotone) aggregate
    demand ``X(λ)`` down to adjacent floating-point numbers; then the buyers whose demand jumps
    inside the final bracket (flat valuations at exactly ``λ``) share what is left, which is exact
    because they all have marginal value ``λ`` there. If ``λ > p^κ``, the price is ``p^κ`` and the
    excess demand is bought from the ISP.
    """
    val = Valuations.of(buyers)
    value, dem, el = val.theta0, val.demand_cap, val.elasticity

    def _demand_at(lam: float) -> np.ndarray:
        return val.demand(lam, strict=True)

    def total(lam: float) -> float:
        return float(_demand_at(lam).sum())

    lo, hi = 0.0, float(value.max())
    if total(0.0) <= supply:
        x = _demand_at(0.0)
        flat = el == 0
        x[flat] = dem[flat]
        lam = 0.0
    else:
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            if mid <= lo or mid >= hi:
                break
            if total(mid) > supply:
                lo = mid
            else:
                hi = mid
        lam = hi
        if lam > isp_price:
            x = _demand_at(isp_price)
            isp = float(x.sum()) - supply
            w = float(val.value(x).sum())
            return Optimum(
                welfare=float(w - isp_price * isp),
                quantities={b.id: float(xi) for b, xi in zip(buyers, x, strict=True)},
                isp=isp,
                price=isp_price,
            )
        x_hi = _demand_at(hi)
        x_lo = _demand_at(lo)
        # flat buyers with value in (lo, hi] are fully in x_lo but not x_hi: share the rest
        gap = x_lo - x_hi
        rest = supply - float(x_hi.sum())
        x = x_hi + (gap * (rest / gap.sum()) if gap.sum() > 0 and rest > 0 else 0.0)
    w = float(val.value(x).sum())
    return Optimum(
        welfare=float(w),
        quantities={b.id: float(xi) for b, xi in zip(buyers, x, strict=True)},
        isp=0.0,
        price=float(lam),
    )
