"""The buyer's move and the ε-equilibrium check on a market given as plain data.

A live market (the service's ``data-market``, :mod:`specmarket.service.live`) has no simulation
state: what it has is each seller's offer ``(D^j, p_*^j)`` and its bid vector
``{buyer: (d_i^j, p_i^j)}`` (seed 002 §3.3). These two public entry points build the offline
simulation's own state objects from that data and run its rules on them, so that the live
service and its agents use exactly the code of :func:`~.simulation.simulate`:

* :class:`LiveBuyer` — one buyer's move, as a round of the simulation makes it
  (``_Run.reply`` + ``_Run.send``): Algorithm 2 / Lemma 3.2 reply
  (:func:`.buyer.best_reply_reference`), the strict-improvement rule of §4.1 / eq. (46) (send only
  if the reply gains more than ε, :func:`.buyer.gain`) and the price and quantity holds of the
  policy (:class:`~.policy.Policy`); ``fresh=True`` is the final sweep's reply from scratch;
  :meth:`LiveBuyer.woken_by` the lot filter that decides whether freed data wakes it;
* :func:`check_books` — the independent ε-equilibrium check of :func:`.verdict.check` on the
  current books.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from specmarket.mechanisms.psp.market.buyer import (
    _apply,
    _Buyer,
    _lot_uses,
    best_reply_reference,
    gain,
    widen,
)
from specmarket.mechanisms.psp.market.model import DataBuyer
from specmarket.mechanisms.psp.market.policy import POLICIES, Policy
from specmarket.mechanisms.psp.market.seller import _Seller
from specmarket.mechanisms.psp.market.valuation import isp_quantity
from specmarket.mechanisms.psp.market.verdict import Status, Verdict, check

__all__ = ["LiveBuyer", "SellerBook", "check_books"]

_TOL = 1e-9

SellerBook = tuple[float, float, Mapping[str, tuple[float, float]]]
"""One seller's state: ``(supply D^j, reserve p_*^j, {buyer id: (quantity, price)})``."""


def _sellers(books: Mapping[str, SellerBook]) -> dict[str, _Seller]:
    return {
        sid: _Seller(id=sid, rank=k, supply=float(supply), reserve=float(reserve),
                     bids={b: (float(q), float(p)) for b, (q, p) in bids.items() if q > _TOL})
        for k, (sid, (supply, reserve, bids)) in enumerate(books.items())
    }


@dataclass
class LiveBuyer:
    """One buyer that moves against snapshots of the books, keeping its state between moves
    (its pool, price, ISP purchase and last target, as the simulation's buyer does).

    ``policy`` names the simulation's stabilisers (default ``converging``: strict improvement,
    price and quantity holds; the seller-side rules are not the buyer's); :meth:`woken_by` is
    the simulation's lot filter, for a caller that decides when the buyer looks again.
    """

    spec: DataBuyer
    epsilon: float
    isp_price: float
    policy: Policy = field(default_factory=lambda: POLICIES["converging"])
    _b: _Buyer = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._b = _Buyer(spec=self.spec)

    @property
    def bids(self) -> dict[str, tuple[float, float]]:
        """The bids this buyer believes it holds: seller → (quantity, price)."""
        return {j: (q, self._b.price) for j, q in self._b.pool.items()}

    @property
    def isp(self) -> float:
        """What the buyer buys from the ISP κ beyond its bids (its last reply's)."""
        return self._b.isp

    def woken_by(self, lots: Sequence[tuple[float, float]], held: float) -> bool:
        """Whether freed data wakes this buyer, as in the simulation: ``lots`` are
        ``(reserve, units freed)`` of sellers whose unsold data grew (or whose reserve fell),
        ``held`` what the buyer holds (sellers and ISP); with the policy's lot filter a lot
        must be able to add more than one ε-step to it (:func:`.buyer._lot_uses`)."""
        if not lots:
            return False
        if not self.policy.lot_filter:
            return True
        r, f = np.asarray(lots, dtype=float).reshape(-1, 2).T
        s = self.spec
        wakes = _lot_uses(np.array([s.value]), np.array([s.demand]), np.array([s.elasticity]),
                          np.array([held]), r, f, self.epsilon)
        return bool(wakes.any())

    def move(self, books: Mapping[str, SellerBook], fresh: bool = False) -> list[dict[str, Any]]:
        """The bids to send now, ``{"seller", "quantity", "price"}`` (quantity 0 withdraws), on
        ``books`` (which hold this buyer's own current bids under its id); ``[]`` when the
        buyer keeps its bids. ``fresh``: reply from scratch (no price hold, no quantity hold,
        strict improvement required), the simulation's final sweep."""
        b, pol, eps, cap = self._b, self.policy, self.epsilon, self.isp_price
        sellers = _sellers(books)
        active = list(sellers.values())
        who = _Buyer(spec=b.spec, pool=dict(b.pool)) if fresh else b
        reply = best_reply_reference(who, active, eps, cap, pol.price_hold and not fresh)
        fs = eps if pol.foresight else None
        if pol.spread:
            args = (fs, True, pol.spread_limit, None, pol.spread_fill)
            reply = widen(b, reply, active, sellers, eps, cap, *args)
        if (pol.strict_improvement or fresh) and gain(b, reply, sellers, cap, fs, True) <= eps:
            return []
        return _apply(b, reply, sellers, eps, pol.quantity_hold and not fresh)


def check_books(
    buyers: Sequence[DataBuyer],
    books: Mapping[str, SellerBook],
    epsilon: float,
    isp_price: float,
    sticky: bool = True,
    eq27: bool = True,
) -> Verdict:
    """:func:`.verdict.check` on the current books: ``converged`` when no buyer has a reply
    (from scratch) that gains more than ε and no seller's eq. (27) would move its reserve,
    else ``stalled`` (seed 002 §4.1). A buyer's current ISP purchase is what it still wants at
    ``p^κ`` beyond the quantities it bids (as the simulation's buyer records it). ``eq27``
    off: the sellers follow another reserve rule and are not checked against eq. (27)."""
    sellers = _sellers(books)
    state = []
    for spec in buyers:
        pool = {j: s.bids[spec.id][0] for j, s in sellers.items() if spec.id in s.bids}
        price = max((sellers[j].bids[spec.id][1] for j in pool), default=0.0)
        state.append(_Buyer(spec=spec, pool=pool, price=price,
                            isp=isp_quantity(spec, isp_price, sum(pool.values()))))
    worst, worst_id, unhappy, moves, engine = check(
        state, sellers, list(sellers.values()), epsilon, isp_price, sticky, eq27=eq27
    )
    status: Status = "converged" if not unhappy and not moves else "stalled"
    return Verdict(status, epsilon, worst, worst_id, unhappy, moves, None, engine)
