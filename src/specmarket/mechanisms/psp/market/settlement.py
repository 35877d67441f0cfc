"""Settlement of the data-exchange market: final allocation and payments (seed 002 eq. (21)).

Each seller's payments are the eq. (21) second-price costs of its final bid vector
(:func:`~specmarket.mechanisms.psp.local_auction.costs`, the reserve counting as the seller's own
bid); a buyer also pays ``p^κ`` per unit bought from the ISP κ. Signed payments: positive = the
participant pays (buyers), negative = it receives (sellers, the ISP).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from specmarket.core import Outcome
from specmarket.mechanisms.psp.local_auction import costs
from specmarket.mechanisms.psp.market.buyer import _Buyer
from specmarket.mechanisms.psp.market.model import ISP_ID, DataMarket
from specmarket.mechanisms.psp.market.optimum import Optimum, centralised_optimum
from specmarket.mechanisms.psp.market.seller import _Seller
from specmarket.mechanisms.psp.market.valuation import Valuations, valuation
from specmarket.mechanisms.psp.market.verdict import Status, Verdict

__all__ = ["MarketResult", "settle", "welfare"]

_TOL = 1e-9


@dataclass(frozen=True)
class MarketResult:
    """Outcome of :func:`~.simulation.simulate` plus its statistics, verdict and trace lines.

    ``status`` is ``"converged"`` (an ε-equilibrium confirmed by :func:`.verdict.check`),
    ``"cycling"`` (a repeated state, ``verdict.cycle``) or ``"round-limit"``.
    """

    outcome: Outcome
    rounds: int
    messages: int
    converged: bool
    status: Status
    verdict: Verdict
    welfare: float
    optimum: Optimum
    efficiency: float
    trace: tuple[dict[str, Any], ...]


def welfare(val: Valuations, held: np.ndarray, isp: np.ndarray, isp_price: float) -> float:
    """``Σ_i θ_i(x_i) − p^κ · Σ_i (ISP data)``, ``x_i`` what buyer ``i`` holds (sellers + ISP)."""
    return float(np.sum(val.value(held)) - isp_price * np.sum(isp))


def settle(
    market: DataMarket,
    buyers: dict[str, _Buyer],
    sellers: dict[str, _Seller],
    rounds: int,
    messages: int,
    verdict: Verdict,
    records: list[dict[str, Any]],
) -> MarketResult:
    """Final allocation, eq. (21) payments, welfare, optimum, efficiency and the verdict."""
    cap = market.isp_price
    pay: dict[str, float] = {b: 0.0 for b in buyers}
    by_seller: dict[str, dict[str, float]] = {b: {} for b in buyers}
    seller_alloc: dict[str, float] = {}
    seller_pay: dict[str, float] = {}
    prices: dict[str, float] = {}
    for s in sellers.values():
        ids = list(s.bids)
        q = np.array([s.bids[i][0] for i in ids], dtype=float)
        p = np.array([s.bids[i][1] for i in ids], dtype=float)
        a = np.array([s.alloc.get(i, 0.0) for i in ids], dtype=float)
        c = costs(q, p, s.supply, s.reserve) if ids else np.zeros(0)
        for i, ai, ci in zip(ids, a, c, strict=True):
            if ai > _TOL:
                by_seller[i][s.id] = float(ai)
                pay[i] += float(ci)
        seller_alloc[s.id] = float(a.sum())
        seller_pay[s.id] = -float(c.sum())
        prices[s.id] = s.reserve
    isp_total = 0.0
    values: dict[str, float] = {}
    allocation: dict[str, Any] = {}
    for bid_, b in buyers.items():
        x = sum(by_seller[bid_].values()) + b.isp
        pay[bid_] += cap * b.isp
        isp_total += b.isp
        values[bid_] = valuation(b.spec, x)
        allocation[bid_] = {"sellers": by_seller[bid_], "isp": b.isp, "total": x}
    allocation.update(seller_alloc)
    allocation[ISP_ID] = isp_total
    payments = {**pay, **seller_pay, ISP_ID: -cap * isp_total}
    values.update({s: 0.0 for s in seller_alloc})
    values[ISP_ID] = -cap * isp_total
    welfare = float(sum(values.values()))
    opt = centralised_optimum(market.buyers, sum(s.supply for s in market.sellers), cap)
    eff = welfare / opt.welfare if opt.welfare > 0 else 1.0
    bids = {
        bid_: {"pool": dict(b.pool), "price": b.price, "isp": b.isp} for bid_, b in buyers.items()
    }
    outcome = Outcome(
        mechanism="data-market",
        allocation=allocation,
        payments=payments,
        values=values,
        details={
            "rounds": rounds,
            "messages": messages,
            "converged": verdict.status == "converged",
            "status": verdict.status,
            "verdict": verdict.to_json(),
            "reserves": prices,
            "bids": bids,
            "optimum_welfare": opt.welfare,
            "optimum_price": opt.price,
            "efficiency": eff,
        },
    )
    return MarketResult(
        outcome=outcome,
        rounds=rounds,
        messages=messages,
        converged=verdict.status == "converged",
        status=verdict.status,
        verdict=verdict,
        welfare=welfare,
        optimum=opt,
        efficiency=eff,
        trace=tuple(records),
    )
