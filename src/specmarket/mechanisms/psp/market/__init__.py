"""The distributed data-exchange market of seed 002 §3 (the 2cm platform of CMHK).

Buyers and sellers are separate users. Every seller runs its own local PSP auction and knows only
the bids sent to it; every buyer knows the public offers ``(D^j, p_*^j)`` and the bid vectors of
the auctions it queries; the ISP is seller ``κ`` with unlimited data at the overage price ``p^κ``.
The files follow the seed's concepts:

* :mod:`.model` — the input model (buyers, sellers, the market; scenarios);
* :mod:`.valuation` — valuations ``θ_i``, ``θ_i'`` and the demand ``ρ_i(y)`` (Lemma 3.1, eq. (7));
* :mod:`.optimum` — the centralised optimum (the efficiency benchmark);
* :mod:`.seller` — the seller's progressive allocation (Lemma 3.3, Algorithm 1);
* :mod:`.buyer` — the opt-out buyer's reply (Lemma 3.2, Algorithm 2);
* :mod:`.engine` — the compiled engine (the only module importing the numba kernels);
* :mod:`.settlement` — final allocation and payments (eq. (21));
* :mod:`.policy` — every stabiliser not in the seed, in one named object;
* :mod:`.verdict` — the ε-equilibrium check and the cycle detector that give each run a status;
* :mod:`.simulation` — the time step of §3.4.3, repeated until a verdict;
* :mod:`.mechanism` — the registered mechanism ``data-market``.
"""

from __future__ import annotations

from specmarket.mechanisms.psp.market.buyer import (
    _apply,
    _Buyer,
    _holds,
    _listen,
    _lot_uses,
    _lot_wakes,
    _plan,
    best_reply_reference,
)
from specmarket.mechanisms.psp.market.engine import _Book, best_reply_fast
from specmarket.mechanisms.psp.market.mechanism import SPEC, clear, true_value
from specmarket.mechanisms.psp.market.model import (
    ISP_ID,
    DataBuyer,
    DataMarket,
    DataSeller,
    random_market,
    worked_example,
)
from specmarket.mechanisms.psp.market.optimum import Optimum, centralised_optimum
from specmarket.mechanisms.psp.market.policy import DEAF_RESET, POLICIES, Policy
from specmarket.mechanisms.psp.market.seller import _Seller
from specmarket.mechanisms.psp.market.settlement import MarketResult
from specmarket.mechanisms.psp.market.simulation import simulate
from specmarket.mechanisms.psp.market.valuation import (
    Valuations,
    marginal_value,
    quantity_at_price,
    valuation,
)
from specmarket.mechanisms.psp.market.verdict import Cycle, Verdict, check

_TOL = 1e-9

__all__ = [
    "DEAF_RESET",
    "ISP_ID",
    "POLICIES",
    "SPEC",
    "Cycle",
    "DataBuyer",
    "DataMarket",
    "DataSeller",
    "MarketResult",
    "Optimum",
    "Policy",
    "Valuations",
    "Verdict",
    "_Book",
    "_Buyer",
    "_Seller",
    "_apply",
    "_holds",
    "_listen",
    "_lot_uses",
    "_lot_wakes",
    "_plan",
    "best_reply_fast",
    "best_reply_reference",
    "centralised_optimum",
    "check",
    "clear",
    "marginal_value",
    "quantity_at_price",
    "random_market",
    "simulate",
    "true_value",
    "valuation",
    "worked_example",
]
