"""The live data-exchange market's book: sellers' offers, buyers' bids and each seller's local PSP
auction (seed 002 §3.3–§3.4), rebuilt from the service's append-only log.

This is the one module of the service that couples to the data-market mechanism
(:mod:`specmarket.mechanisms.psp.local_auction`); re-pointing the live market at another
implementation of the local auction means changing the calls in :meth:`Book._auction` and
:meth:`Book.bid` only.

State and durability
--------------------
The book is a pure fold over log entries (``offer`` and ``bid`` actions, in log order): the
service writes each accepted offer or bid to the log in the transaction that acknowledges it, so
a book rebuilt from the log after ``kill -9`` holds every acknowledged bid exactly once. A
process keeps a folded book per market and applies only the entries after the last one it saw,
so several workers over one database agree.

Rules (seed 002)
----------------
* A seller ``j`` offers ``supply`` units ``D^j`` with a starting ``reserve`` ``p_*^j``.
* A buyer ``i`` sends seller ``j`` a bid ``s_i^j = (d_i^j, p_i^j)``; a new bid to the same seller
  replaces the earlier one; quantity 0 withdraws it. A buyer's whole move (its bids to several
  sellers, §3.4.1) may come as one ``bids`` entry, applied bid by bid but seen by nobody half-way.
* After each accepted bid, seller ``j``'s reserve follows eq. (27),
  ``p_*^j ← min(max(p_*^j, p_{i*}^j + ε), p^κ)`` with ``i*`` the highest bid outside the minimal
  covering set of eq. (25) (``sticky``: it never falls).
* Allocation and cost at seller ``j``: eq. (20) (tie-splitting PSP) and eq. (21) (second price,
  the reserve counting as the seller's own bid), on the bids sent to ``j`` only.
* The price function buyer ``i`` faces at ``j`` is ``P_i^j(z) = inf{y : D̄^j(y; s_-i) ≥ z}`` with
  ``D̄^j`` of eq. (18) in its "≥" form (what is guaranteed at ``y``, ties included): a step
  function given as ``(z_k, y_k)`` steps.
* The quote also shows, per seller, the other buyers' bids without their ids (the bid vector
  ``s_-i^j`` of the auction, which a PSP buyer knows, seed 002 §3.1) and a ``version`` that
  counts the changes of that seller's book, so that an agent can tell what changed.
* Settlement: each buyer pays the sum of its costs (positive = pays), each seller is paid the sum
  of the costs of the bids it serves (negative payment); allocations are units per seller.
* The ε-equilibrium check of the offline simulation (:func:`~specmarket.mechanisms.psp.market.
  snapshot.check_books`, seed 002 §4.1) runs on :meth:`Book.books`; it needs each buyer's
  valuation, the operator-set fields of :func:`check_participant_fields`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from specmarket.errors import InvalidInput
from specmarket.mechanisms.psp.local_auction import (
    allocate,
    costs,
    outsider_price,
    reserve_after,
)

MECHANISM = "data-market"
ROLES = ("buyer", "seller")


def _finite(name: str, value: Any, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(name, value, "must be a number")
    x = float(value)
    if not math.isfinite(x):
        raise InvalidInput(name, value, "must be finite")
    if x < 0 or (positive and x == 0):
        raise InvalidInput(name, value, "must be positive" if positive else "must be >= 0")
    return x


BOOK_ACTIONS = ("offer", "bid", "bids", "run")  # the log entries a book folds

RESERVE_POLICIES = ("sticky", "patient")
RESERVE_UPDATES = ("bid", "run")


def check_market_fields(fields: Any) -> dict[str, Any]:
    """The operator's fields of a live data market: ``isp_price`` ``p^κ`` (default 10, the cap
    of every reserve, §3.4.4), ``epsilon`` ``ε`` (default 0.01, eq. (27)),
    ``reserve_policy`` (``patient``, the default and the offline simulation's, see
    :meth:`Book._update_reserve`; ``sticky``: eq. (27) itself) and ``reserve_update``
    (``run``, the default: the rule runs only when the seller runs its auction, ``POST …/run``,
    Algorithm 1's step — as the offline simulation's sellers do once per round; ``bid``: after
    every accepted bid and offer); nothing else. The defaults are the offline sellers' rules
    because on the seeded 200 × 20 market they are what lets the live market reach the offline
    efficiency (docs/service.md, "The default reserve rule"); a seller that never runs keeps its
    starting reserve and, with ``patient``, is never a pending move for the ε-equilibrium
    check."""
    if fields is None:
        fields = {}
    if not isinstance(fields, dict):
        raise InvalidInput("fields", fields, "must be an object")
    unknown = set(fields) - {"isp_price", "epsilon", "reserve_policy", "reserve_update"}
    if unknown:
        name = sorted(unknown)[0]
        raise InvalidInput(f"fields.{name}", fields[name], "unknown field of a data market")
    isp = _finite("fields.isp_price", fields.get("isp_price", 10.0), positive=True)
    eps = _finite("fields.epsilon", fields.get("epsilon", 0.01), positive=True)
    if eps >= isp:
        raise InvalidInput("fields.epsilon", eps, "must be below isp_price")
    policy = fields.get("reserve_policy", "patient")
    if policy not in RESERVE_POLICIES:
        raise InvalidInput("fields.reserve_policy", policy, "sticky or patient")
    update = fields.get("reserve_update", "run")
    if update not in RESERVE_UPDATES:
        raise InvalidInput("fields.reserve_update", update, "bid or run")
    return {"isp_price": isp, "epsilon": eps, "reserve_policy": policy, "reserve_update": update}


VALUATION = ("value", "demand", "elasticity")


def check_participant_fields(pid: str, role: str, fields: Any) -> dict[str, float]:
    """Operator-set fields of a live data market's participant: none for a seller; for a buyer
    either none or its valuation as the offline model names it (:class:`~specmarket.mechanisms.
    psp.market.DataBuyer`): ``value`` ``θ'(0) > 0``, ``demand`` ``D_i > 0`` and optionally
    ``elasticity`` in ``[0, 1]`` (default 0). Without them the market's ε-equilibrium cannot be
    checked (its verdict is ``unchecked``) and it closes only at ``closes_at`` or by the
    operator."""
    if fields is None:
        fields = {}
    if not isinstance(fields, dict):
        raise InvalidInput("fields", fields, "must be an object")
    if role == "seller" or not fields:
        if fields:
            name = sorted(fields)[0]
            raise InvalidInput(f"fields.{name}", fields[name], "a seller has no operator-set field")
        return {}
    unknown = set(fields) - set(VALUATION)
    if unknown:
        name = sorted(unknown)[0]
        raise InvalidInput(f"fields.{name}", fields[name],
                           "not a buyer field (value, demand, elasticity)")
    for name in ("value", "demand"):
        if name not in fields:
            raise InvalidInput(f"fields.{name}", None, "required with a buyer's valuation")
    from specmarket.mechanisms.psp.market import DataBuyer

    out = {"value": _finite("fields.value", fields["value"], positive=True),
           "demand": _finite("fields.demand", fields["demand"], positive=True),
           "elasticity": _finite("fields.elasticity", fields.get("elasticity", 0.0))}
    if out["elasticity"] > 1:
        raise InvalidInput("fields.elasticity", fields["elasticity"], "must be at most 1")
    DataBuyer(id=pid, value=out["value"], demand=out["demand"], elasticity=out["elasticity"])
    return out


def check_offer(body: Any) -> dict[str, float]:
    """A seller's offer ``{"supply": D^j > 0, "reserve": p_*^j >= 0}``."""
    if not isinstance(body, dict):
        raise InvalidInput("body", body, "must be an object")
    unknown = set(body) - {"supply", "reserve"}
    if unknown:
        raise InvalidInput(sorted(unknown)[0], None, "not a field of an offer")
    if "supply" not in body:
        raise InvalidInput("supply", None, "required")
    return {"supply": _finite("supply", body["supply"], positive=True),
            "reserve": _finite("reserve", body.get("reserve", 0.0))}


def check_bid(body: Any, where: str = "") -> dict[str, Any]:
    """A buyer's bid ``{"seller": id, "quantity": d >= 0, "price": p >= 0}`` (``where``
    prefixes the field names of an error, e.g. ``bids[2].``)."""
    if not isinstance(body, dict):
        raise InvalidInput(where.rstrip(".") or "body", body, "must be an object")
    unknown = set(body) - {"seller", "quantity", "price"}
    if unknown:
        raise InvalidInput(where + sorted(unknown)[0], None, "not a field of a bid")
    seller = body.get("seller")
    if not isinstance(seller, str) or not seller:
        raise InvalidInput(where + "seller", seller, "must be a seller's id")
    for name in ("quantity", "price"):
        if name not in body:
            raise InvalidInput(where + name, None, "required")
    return {"seller": seller, "quantity": _finite(where + "quantity", body["quantity"]),
            "price": _finite(where + "price", body["price"])}


MAX_BIDS = 10_000


def check_bids(body: Any) -> dict[str, Any]:
    """A buyer's move as one message, ``{"bids": [bid, …]}``: its bids to several sellers
    (seed 002 §3.4.1: a buyer's consistent bids, the same price in every auction of its pool),
    each as in :func:`check_bid`, at most one per seller. They are accepted together, in one
    transaction and one log entry, so nobody — the scheduler's ε-equilibrium check included —
    ever sees the book half-way through the move."""
    if not isinstance(body, dict):
        raise InvalidInput("body", body, "must be an object")
    unknown = set(body) - {"bids"}
    if unknown:
        raise InvalidInput(sorted(unknown)[0], None, "not a field of a move (bids)")
    bids = body.get("bids")
    if not isinstance(bids, list) or not bids:
        raise InvalidInput("bids", bids, "must be a non-empty list of bids")
    if len(bids) > MAX_BIDS:
        raise InvalidInput("bids", len(bids), f"at most {MAX_BIDS} bids")
    out = [check_bid(b, f"bids[{k}].") for k, b in enumerate(bids)]
    seen: set[str] = set()
    for k, b in enumerate(out):
        if b["seller"] in seen:
            raise InvalidInput(f"bids[{k}].seller", b["seller"], "a second bid to this seller")
        seen.add(b["seller"])
    return {"bids": out}


@dataclass
class Seller:
    """One seller's offer and the bids sent to it (buyer id → (quantity, price))."""

    supply: float
    reserve: float
    bids: dict[str, tuple[float, float]] = field(default_factory=dict)
    version: int = 0  # changes of this seller's book (offers and bids), for agents
    prev_out: float | None = None  # the outsider price i* of the last run (patient rule)
    runs: int = 0  # the seller's own runs of its auction (``POST …/run``)
    # what every view of this book shares, for one state (version, reserve, supply): the
    # auction (ids, eq. (20), eq. (21)), the price function P^j over *all* bids and the bid
    # vector — a quote needs the buyer-specific ones only at the few sellers it bid to
    cached: tuple[tuple[int, float, float], _Shared] | None = field(
        default=None, repr=False, compare=False)


@dataclass
class _Shared:
    ids: list[str]
    alloc: np.ndarray
    cost: np.ndarray
    allocated: float
    price_function: list[tuple[float, float]]
    bids: list[list[float]]
    entry_json: str | None = None  # the quote's ``market`` entry of a buyer not bidding here


def dumps(obj: Any) -> str:
    """JSON as the service answers it (Starlette's ``JSONResponse``: compact, no NaN)."""
    return json.dumps(obj, ensure_ascii=False, allow_nan=False, indent=None,
                      separators=(",", ":"))


@dataclass
class Book:
    """The folded state of one live data market (see the module docstring)."""

    isp_price: float = 10.0
    epsilon: float = 0.01
    sellers: dict[str, Seller] = field(default_factory=dict)
    seq: int = 0
    bids_accepted: int = 0
    reserve_policy: str = "sticky"
    reserve_update: str = "bid"

    # -------------------------------------------------------------- updates (log entries)

    def offer(self, seller: str, supply: float, reserve: float) -> None:
        """Seller ``seller`` offers ``supply`` with a starting ``reserve`` (replacing an earlier
        offer keeps the bids it received)."""
        old = self.sellers.get(seller)
        s = Seller(supply, min(reserve, self.isp_price), {} if old is None else old.bids,
                   0 if old is None else old.version + 1, None if old is None else old.prev_out,
                   0 if old is None else old.runs)
        self.sellers[seller] = s
        if self.reserve_update == "bid":
            self._update_reserve(s)

    def check_bid_target(self, seller: str, where: str = "") -> None:
        """A bid can go only to a seller that has made an offer."""
        if seller not in self.sellers:
            raise InvalidInput(where + "seller", seller, "no offer from this seller (yet)")

    def bid(self, buyer: str, seller: str, quantity: float, price: float) -> None:
        """Buyer ``buyer``'s bid to ``seller`` replaces its earlier one there; then the seller's
        reserve is updated, eq. (27)."""
        self.check_bid_target(seller)
        s = self.sellers[seller]
        if quantity <= 0:
            s.bids.pop(buyer, None)
        else:
            s.bids[buyer] = (quantity, price)
        s.version += 1
        self.bids_accepted += 1
        if self.reserve_update == "bid":
            self._update_reserve(s)

    def run(self, seller: str) -> None:
        """Seller ``seller`` runs its auction (Algorithm 1's step): its reserve rule on its
        current bids (with ``reserve_update = "run"``; after every bid otherwise)."""
        self.check_bid_target(seller)
        s = self.sellers[seller]
        before = s.reserve
        s.runs += 1
        self._update_reserve(s)
        if s.reserve != before:  # a run that moves nothing changes nothing a buyer sees
            s.version += 1

    def pending(self, seller: str) -> bool:
        """Whether ``seller``'s reserve rule, run on its current bids, would move its reserve
        (what the ε-equilibrium check asks of a seller, §4.1). ``patient`` needs two runs to
        move (a bid outside ``I^j`` in two consecutive runs), so for a seller that runs its
        auction (``runs`` > 0 with ``reserve_update = "run"``) the question is whether one run
        *or the next* would move it — else a book could pass the check and the seller's next
        two runs move its reserve anyway, after the scheduler may already have closed it;
        two runs reach the rule's fixed point on fixed bids (the outsider price does not
        depend on the reserve). A seller that never runs keeps its reserve: nothing pending."""
        twin = self.copy()
        s = twin.sellers[seller]
        before = s.reserve
        twin._update_reserve(s)
        if self.reserve_policy == "patient" and self.reserve_update == "run" and s.runs > 0:
            twin._update_reserve(s)
        return abs(s.reserve - before) > 1e-12

    def _update_reserve(self, s: Seller) -> None:
        """The seller's reserve after a run of its auction: ``sticky``, eq. (27),
        ``p_*^j ← min(max(p_*^j, p_{i*}^j + ε), p^κ)``; ``patient`` (the offline simulation's
        default, docs/psp.md), raised only when a bid was left outside ``I^j`` in two
        consecutive runs, to the lower of the two outsider prices + ε — a transient outbid
        (two buyers crossing) then no longer lifts the reserve for good."""
        q, p = self._arrays(s)
        out = outsider_price(q, p, s.supply)
        if self.reserve_policy == "patient":
            if out is not None and s.prev_out is not None:
                s.reserve = reserve_after(s.reserve, min(out, s.prev_out), self.epsilon,
                                          self.isp_price, sticky=True)
            s.prev_out = out
            return
        s.reserve = reserve_after(s.reserve, out, self.epsilon, self.isp_price, sticky=True)

    def apply(self, seq: int, action: str, actor: str, body: Any) -> None:
        """Fold one log entry (``offer`` and ``run`` by a seller ``participant:<id>``, ``bid``
        and ``bids`` by a buyer)."""
        pid = actor.split(":", 1)[1] if actor.startswith("participant:") else actor
        if action == "offer":
            self.offer(pid, float(body["supply"]), float(body["reserve"]))
        elif action == "bid":
            self.bid(pid, str(body["seller"]), float(body["quantity"]), float(body["price"]))
        elif action == "bids":  # one move: its bids in order, as if sent one by one
            for b in body["bids"]:
                self.bid(pid, str(b["seller"]), float(b["quantity"]), float(b["price"]))
        elif action == "run":
            self.run(pid)
        self.seq = max(self.seq, seq)

    def copy(self) -> Book:
        """An independent copy (a fold that may be rolled back must not touch a cached book)."""
        return Book(self.isp_price, self.epsilon,
                    {k: Seller(v.supply, v.reserve, dict(v.bids), v.version, v.prev_out,
                               v.runs, v.cached) for k, v in self.sellers.items()},
                    self.seq, self.bids_accepted, self.reserve_policy, self.reserve_update)

    # -------------------------------------------------------------- views

    def books(self) -> dict[str, tuple[float, float, dict[str, tuple[float, float]]]]:
        """Every seller's ``(supply, reserve, bids)``, the input of the ε-equilibrium check."""
        return {sid: (s.supply, s.reserve, dict(s.bids)) for sid, s in self.sellers.items()}

    @staticmethod
    def _arrays(s: Seller, without: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        items = [v for k, v in s.bids.items() if k != without]
        if not items:
            return np.zeros(0), np.zeros(0)
        arr = np.asarray(items, dtype=float)
        return arr[:, 0], arr[:, 1]

    def _shared(self, s: Seller) -> _Shared:
        """What the views of seller ``s`` share in its current state, computed once per state
        (a bid, an offer or a reserve that moved is a new state; :attr:`Seller.cached`)."""
        key = (s.version, s.reserve, s.supply)
        if s.cached is not None and s.cached[0] == key:
            return s.cached[1]
        ids = list(s.bids)
        q, p = self._arrays(s)
        if ids:
            alloc, cost = allocate(q, p, s.supply, s.reserve), costs(q, p, s.supply, s.reserve)
        else:
            alloc, cost = np.zeros(0), np.zeros(0)
        shared = _Shared(ids, alloc, cost, float(alloc.sum()), self._steps(s, q, p),
                         [[bq, bp] for bq, bp in s.bids.values()])
        s.cached = (key, shared)
        return shared

    def _auction(self, s: Seller) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Buyer ids, allocations (eq. (20)) and costs (eq. (21)) at seller ``s``."""
        shared = self._shared(s)
        return shared.ids, shared.alloc, shared.cost

    def _sold(self, s: Seller) -> float:
        """Units seller ``s`` allocates now (eq. (20)), without the costs."""
        return self._shared(s).allocated

    def price_function(self, seller: str, buyer: str) -> list[tuple[float, float]]:
        """``P_i^j`` as steps ``(z_k, y_k)``: a bid at unit price ``y_k`` is *guaranteed* up to
        ``z_k`` units whatever the tie rule — the "≥" form ``[D^j − Σ_{k≠i, p_k ≥ y} d_k]^+`` of
        eq. (18) used by the best reply (:mod:`specmarket.mechanisms.psp.replies`) — at the
        reserve and at ``ε`` above each other admitted bid (a new price must differ by ``ε``)."""
        s = self.sellers[seller]
        if buyer not in s.bids:
            return list(self._shared(s).price_function)
        q, p = self._arrays(s, without=buyer)
        return self._steps(s, q, p)

    def _steps(self, s: Seller, q: np.ndarray, p: np.ndarray) -> list[tuple[float, float]]:
        """The steps of :meth:`price_function` on the bids ``(q, p)`` at seller ``s``."""
        ok = (p >= s.reserve - 1e-12) & (p > 0) & (q > 0)
        q, p = q[ok], p[ok]
        prices = sorted({s.reserve, *[float(x) + self.epsilon for x in p]})
        steps: list[tuple[float, float]] = []
        reached = 0.0
        for y in prices:  # non-decreasing in y: sweep prices upward
            z = max(0.0, s.supply - float(q[p >= y - 1e-12].sum()))
            if z > reached + 1e-12:
                steps.append((z, y))
                reached = z
        return steps

    def seller_view(self, seller: str) -> dict[str, Any]:
        """One seller's book: offer, reserve, each bid with its allocation and cost."""
        s = self.sellers[seller]
        ids, alloc, cost = self._auction(s)
        return {
            "seller": seller, "supply": s.supply, "reserve": s.reserve, "version": s.version,
            "pending": self.pending(seller),
            "allocated": float(alloc.sum()), "revenue": float(cost.sum()),
            "bids": [{"buyer": b, "quantity": s.bids[b][0], "price": s.bids[b][1],
                      "allocation": float(a), "cost": float(c)}
                     for b, a, c in zip(ids, alloc, cost, strict=True)],
        }

    def quote(self, buyer: str) -> dict[str, Any]:
        """What ``buyer`` gets and faces: per seller it bid to, its bid, allocation, cost, the
        reserve and its price function; totals over sellers; and under ``market``, for *every*
        seller with an offer, its supply, reserve, units allocated, book ``version``, the price
        function the buyer faces there and the other buyers' bids ``[quantity, price]`` without
        their ids (what its reply needs)."""
        per: list[dict[str, Any]] = []
        market = []
        for sid, s in self.sellers.items():
            if buyer in s.bids:  # the few sellers of its pool: views of its own
                own, seen = self._pool_entries(sid, buyer)
                per.append(own)
                market.append(seen)
            else:
                shared = self._shared(s)
                market.append(self._market_entry(sid, shared.price_function, shared.bids))
        return {"buyer": buyer, "seq": self.seq, "sellers": per,
                "allocation": sum(x["allocation"] for x in per),
                "cost": sum(x["cost"] for x in per), "market": market}

    def quote_text(self, buyer: str, head: dict[str, Any]) -> str:
        """``{**head, **quote(buyer)}`` as JSON text (:func:`dumps`), the quote's hot path: the
        ``market`` entry of a seller the buyer has not bid to is the same for every such buyer,
        so its text is encoded once per seller state and reused (encoding a 200 × 20 quote
        costs more than building it)."""
        per: list[dict[str, Any]] = []
        parts: list[str] = []
        for sid, s in self.sellers.items():
            if buyer in s.bids:
                own, seen = self._pool_entries(sid, buyer)
                per.append(own)
                parts.append(dumps(seen))
                continue
            shared = self._shared(s)
            if shared.entry_json is None:
                shared.entry_json = dumps(
                    self._market_entry(sid, shared.price_function, shared.bids))
            parts.append(shared.entry_json)
        top = dumps({**head, "buyer": buyer, "seq": self.seq, "sellers": per,
                     "allocation": sum(x["allocation"] for x in per),
                     "cost": sum(x["cost"] for x in per)})
        return top[:-1] + ',"market":[' + ",".join(parts) + "]}"

    def _market_entry(self, sid: str, steps: Any, bids: Any) -> dict[str, Any]:
        """Seller ``sid``'s ``market`` entry of a quote: its offer, units allocated, version,
        and the price function and other buyers' bids ``[quantity, price]`` the buyer faces
        there (copied: the caller's lists may be the seller's shared views)."""
        s = self.sellers[sid]
        return {"seller": sid, "reserve": s.reserve, "supply": s.supply,
                "allocated": self._shared(s).allocated, "version": s.version,
                "price_function": list(steps), "bids": [list(x) for x in bids]}

    def _pool_entries(self, sid: str, buyer: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """For a seller ``sid`` that ``buyer`` bids to: the buyer's own entry (its bid,
        allocation, cost, reserve and price function there) and the seller's ``market`` entry
        as this buyer sees it (the bids of the others only)."""
        s = self.sellers[sid]
        shared = self._shared(s)
        k = shared.ids.index(buyer)
        steps = self.price_function(sid, buyer)
        own = {"seller": sid, "quantity": s.bids[buyer][0], "price": s.bids[buyer][1],
               "allocation": float(shared.alloc[k]), "cost": float(shared.cost[k]),
               "reserve": s.reserve, "price_function": steps}
        others = [(q, p) for b, (q, p) in s.bids.items() if b != buyer]
        return own, self._market_entry(sid, steps, others)

    def public(self) -> dict[str, Any]:
        """What everyone may see while the market runs: per seller its supply, reserve and the
        quantity allocated (no buyer's bid)."""
        out = [{"seller": sid, "supply": s.supply, "reserve": s.reserve,
                "allocated": self._sold(s), "version": s.version}
               for sid, s in self.sellers.items()]
        return {"seq": self.seq, "bids_accepted": self.bids_accepted, "sellers": out}

    def settle(self) -> dict[str, Any]:
        """The outcome: allocation (units) and signed payment per participant, and per seller
        its book; buyers pay their costs, sellers are paid their buyers' costs."""
        allocation: dict[str, float] = {}
        payments: dict[str, float] = {}
        books = {}
        for sid, s in self.sellers.items():
            ids, alloc, cost = self._auction(s)
            for b, a, c in zip(ids, alloc, cost, strict=True):
                allocation[b] = allocation.get(b, 0.0) + float(a)
                payments[b] = payments.get(b, 0.0) + float(c)
            allocation[sid] = allocation.get(sid, 0.0) + float(alloc.sum())
            payments[sid] = payments.get(sid, 0.0) - float(cost.sum())
            books[sid] = self.seller_view(sid)
        return {"mechanism": MECHANISM, "allocation": allocation, "payments": payments,
                "revenue": 0.0, "bids_accepted": self.bids_accepted, "sellers": books,
                "reserves": {sid: s.reserve for sid, s in self.sellers.items()}}
