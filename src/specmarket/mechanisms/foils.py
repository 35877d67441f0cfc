"""Two mechanisms that are *not* truthful, kept as foils for the property auditor and for teaching.

* ``first-price``: one item, highest bid wins (ties: listed first) and pays its own bid.
* ``pay-as-bid``: a double auction where the efficient trades happen and every trader pays or
  receives its own report (buyers pay their bid, sellers receive their ask).

Both are individually rational and budget balanced but not incentive compatible: a bidder gains by
shading its bid. The auditor must find that (tests/test_audit.py).
"""

from __future__ import annotations

import numpy as np

from specmarket.core import MechanismSpec, Outcome
from specmarket.mechanisms import mcafee, vickrey


def clear_first_price(instance: vickrey.Instance) -> Outcome:
    """Highest bid wins and pays its bid."""
    ids = [b.id for b in instance.bidders]
    bids = np.array([b.bid for b in instance.bidders], dtype=float)
    w = int(np.argmax(bids))
    return Outcome(
        mechanism="first-price",
        allocation={pid: int(k == w) for k, pid in enumerate(ids)},
        payments={pid: (float(bids[w]) if k == w else 0.0) for k, pid in enumerate(ids)},
        values={pid: (float(bids[w]) if k == w else 0.0) for k, pid in enumerate(ids)},
        details={"winner": ids[w], "price": float(bids[w])},
    )


def clear_pay_as_bid(instance: mcafee.Instance) -> Outcome:
    """All efficient trades; each trader pays/receives its own report."""
    bids = np.array([b.bid for b in instance.buyers], dtype=float)
    asks = np.array([s.ask for s in instance.sellers], dtype=float)
    border = np.argsort(-bids, kind="stable")
    sorder = np.argsort(asks, kind="stable")
    k = mcafee.efficient_trades(bids[border], asks[sorder])
    bwin, swin = set(border[:k].tolist()), set(sorder[:k].tolist())
    alloc, pay, val = {}, {}, {}
    for i, b in enumerate(instance.buyers):
        alloc[b.id] = int(i in bwin)
        pay[b.id] = b.bid if i in bwin else 0.0
        val[b.id] = b.bid if i in bwin else 0.0
    for j, s in enumerate(instance.sellers):
        alloc[s.id] = int(j in swin)
        pay[s.id] = -s.ask if j in swin else 0.0
        val[s.id] = -s.ask if j in swin else 0.0
    winners = [instance.buyers[i].id for i in border[:k]] + [
        instance.sellers[j].id for j in sorder[:k]
    ]
    return Outcome("pay-as-bid", alloc, pay, val, {"winners": winners})


SPECS = (
    MechanismSpec(
        name="first-price",
        title="First-price auction of one item (not truthful; a foil for the auditor)",
        source="textbook; foil",
        instance_type=vickrey.Instance,
        clear=clear_first_price,
        roles=vickrey.SPEC.roles,
        true_value=vickrey.true_value,
        claims=frozenset({"ir", "bb", "npt"}),
        random_instance=vickrey.random_instance,
        deviations=vickrey.deviations,
        example="vickrey.json",
    ),
    MechanismSpec(
        name="pay-as-bid",
        title="Pay-as-bid double auction (not truthful; a foil for the auditor)",
        source="textbook; foil",
        instance_type=mcafee.Instance,
        clear=clear_pay_as_bid,
        roles=mcafee.roles,
        true_value=mcafee.true_value,
        claims=frozenset({"ir", "bb", "npt"}),
        random_instance=mcafee.random_instance,
        deviations=mcafee.deviations,
        example="mcafee.json",
    ),
)
