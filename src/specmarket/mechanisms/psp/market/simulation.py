"""The simulation: seed 002's time step repeated until a verdict (§3.4.3, Algorithms 1–2).

"Defining a single iteration of the auction, where a seller updates bid vector ``s^j``, and the
buyers' response ``s_i``, to comprise a single time step" (§3.4.3). One round of
:func:`simulate` is one such step, read from the buyers' side:

1. users that join this round arrive (a new seller's offer ``(D^j, ε)`` is public, §3.4.4);
2. the buyers that have a reason to act reply (Algorithm 2, :mod:`.buyer`) — all against the same
   snapshot (``order="synchronous"``, the seed's worked example) or one after another in a seeded
   random order (``"asynchronous"``);
3. every seller whose bid vector changed reruns its auction and moves its reserve (Algorithm 1,
   :mod:`.seller`) and notifies its bidders;
4. who acts next: buyers partially served or outbid, and buyers that freed data can serve;
5. the state is hashed for the cycle detector (:mod:`.verdict`) and the round recorded; with
   the cycle breaker (``Policy.break_cycles``) a detected cycle switches the market to settling
   rules (``Policy.settled``) instead of ending the run.

When nobody has a reason to act, every buyer replies once more from scratch (the final sweep)
and the run ends if nobody sends a bid; :func:`.verdict.check` then decides the status. The
stabilisers that are not the seed's are switched by the market's :class:`~.policy.Policy`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Hashable
from typing import Any, Literal, TextIO

import numpy as np

from specmarket.mechanisms.psp.market.buyer import (
    _apply,
    _Buyer,
    _listen,
    _lot_wakes,
    best_reply_reference,
    gain,
    widen,
)
from specmarket.mechanisms.psp.market.engine import _Book, best_reply_fast
from specmarket.mechanisms.psp.market.model import DataMarket
from specmarket.mechanisms.psp.market.policy import POLICIES
from specmarket.mechanisms.psp.market.seller import _Seller
from specmarket.mechanisms.psp.market.settlement import MarketResult, settle, welfare
from specmarket.mechanisms.psp.market.valuation import Valuations
from specmarket.mechanisms.psp.market.verdict import (
    Break,
    Cycle,
    CycleDetector,
    Status,
    Verdict,
    check,
)

__all__ = ["simulate"]

_TOL = 1e-9
Reply = tuple[dict[str, float], float, float, float]


def simulate(
    market: DataMarket,
    trace: TextIO | None = None,
    keep_trace: bool = False,
    on_round: Callable[[int], None] | None = None,
    engine: Literal["fast", "reference"] = "fast",
    naive: bool = False,
    check_engine: str = "auto",
) -> MarketResult:
    """Run the distributed data-exchange market until its verdict (:mod:`.verdict`).

    Parameters
    ----------
    market
        The scenario (its ``policy`` names the stabilisers, :data:`~.policy.POLICIES`).
    trace
        If given, one JSON line per round is written to it, then one line with the verdict.
    keep_trace
        Keep the round records in the result (small markets only).
    on_round
        Progress callback, called with the round number.
    engine
        ``"fast"``: the compiled buyer reply (:mod:`.engine`); ``"reference"``: the per-seller
        Python reply (:func:`.buyer.best_reply_reference`). Identical results (tested).
    naive
        With ``engine="reference"``: scan every bid for eq. (18) instead of a sorted index.
    check_engine
        The reply code of the final ε-equilibrium check (:func:`.verdict.check`).

    Returns
    -------
    MarketResult
        Allocation, eq. (21) payments, rounds, messages, welfare, the centralised optimum, the
        efficiency ratio and the verdict (``status``).
    """
    run = _Run(market, engine == "reference" or naive, naive)
    cycle: Cycle | None = None
    quiet, swept = False, False
    for t in range(market.max_rounds + 1):
        if on_round is not None:
            on_round(t)
        joined, new_seller = run.join(t)
        acting = run.who_acts(new_seller, sweep=swept)
        changes = run.buyers_move(acting, fresh=swept)
        ran, lots = run.sellers_move(changes, joined if new_seller else [])
        run.wake(t, acting, ran, lots)
        run.rounds = t + 1
        cycle = run.detector.observe(t, run.state_key(), run.movers(changes), run.hopped)
        fired = run.breaker(t, cycle)
        run.record(t, joined, changes, trace, keep_trace, fired)
        if cycle is not None and fired is None:
            break
        cycle = None
        if not changes and not run.to_act and t >= run.last_join:
            if run.pending():  # a seller's rule would still move its reserve: rerun it
                swept = False
                continue
            if swept or not run.active_b:  # the sweep sent nothing: the market is quiet
                quiet = True
                break
            swept = True  # every buyer replies once more from scratch
            continue
        swept = False
    return run.finish(quiet, cycle, trace, check_engine)


class _Run:
    """The state of one simulation: users, the compiled book, who acts next, counters."""

    def __init__(self, market: DataMarket, reference: bool, naive: bool) -> None:
        self.market = market
        self.policy = POLICIES[market.policy]
        self.eps, self.cap = market.epsilon, market.isp_price
        self.sticky = market.reserve_policy != "current"
        self.rng = np.random.default_rng(market.seed)
        self.sellers = {
            s.id: _Seller(id=s.id, rank=k, supply=s.supply, reserve=self.eps, naive=naive)
            for k, s in enumerate(market.sellers)
        }
        self.buyers = {b.id: _Buyer(spec=b) for b in market.buyers}
        self.book: _Book | None = None
        if not reference:
            self.book = _Book(list(self.sellers.values()))
            for s in self.sellers.values():
                s.book = self.book
        self.seller_join = {s.id: s.join_round for s in market.sellers}
        self.buyer_join = {b.id: b.join_round for b in market.buyers}
        self.last_join = max([*self.seller_join.values(), *self.buyer_join.values()])
        self.active_s: list[_Seller] = []
        self.active_b: list[_Buyer] = []
        self.val = Valuations.of([])
        self.pos: dict[str, int] = {}  # buyer id → index in active_b
        self.held = np.zeros(0)  # what each active buyer holds (sellers + ISP)
        self.to_act: set[str] = set()
        self.lot_only: dict[str, float] = {}  # woken only by freed data → lowest waking reserve
        self.waiting: dict[str, float] = {}
        self.messages = 0
        self.rounds = 0
        self.records: list[dict[str, Any]] = []
        self.detector = CycleDetector()
        self.keys: dict[str, tuple[frozenset[str], int, int]] = {}  # coarse state per buyer
        self.hopped = False
        self.force: set[str] = set()  # sellers to rerun although no bid changed
        self.base = self.policy  # the market's policy; self.policy is the one in force
        self.breaks: list[Break] = []  # the cycle breaker's switches (Policy.break_cycles)
        self.since_break = 0  # round at which the breaker last switched (or 0)
        self.stage, self.fill = 0, True  # the breaker's stage and whether spread_fill is kept

    def breaker(self, t: int, cycle: Cycle | None) -> Break | None:
        """The cycle breaker (``Policy.break_cycles``): on a detected ``cycle``, or when
        ``break_after`` rounds passed since the last switch without the market going quiet,
        move to the next settling stage (``Policy.settled``), forget the states seen so far
        (they were reached under other rules) and return the switch; None if it does not fire
        (off, exhausted, or no reason). Under ``spread_fill`` a detected cycle first returns
        to pools of equal shares (the buyers' rule that lets them alternate between pools);
        a slow run, and any later cycle, takes the next step of ``Policy.settled``. The
        switch's ``stage`` counts the steps taken."""
        base = self.base
        if len(self.breaks) >= base.break_cycles:
            return None
        overdue = base.break_after > 0 and t + 1 - self.since_break >= base.break_after
        if cycle is None and not overdue:
            return None
        if cycle is not None and self.fill and base.spread_fill:
            self.fill = False
        else:
            self.stage += 1
        steps = self.stage + (not self.fill)  # fill is only ever dropped under spread_fill
        fired = Break(t, steps, "cycle" if cycle is not None else "rounds", cycle)
        self.breaks.append(fired)
        self.policy = base.settled(self.stage, self.fill)
        self.detector = CycleDetector(self.detector.repeats)
        self.since_break = t + 1
        return fired

    def seller_would_move(self, s: _Seller) -> bool:
        """The seller's own reserve rule, run once more on its bids, would move its reserve."""
        patient = self.market.reserve_policy == "patient"
        pol = self.policy
        return s.would_move(
            self.eps, self.cap, self.sticky, patient, pol.second_strike, pol.winner_cap,
            pol.descend, pol.rise_limit, pol.step_down,
        )  # fmt: skip

    def pending(self) -> bool:
        """Mark for a rerun the sellers whose reserve rule has not finished (``patient``)."""
        self.force = {s.id for s in self.active_s if self.seller_would_move(s)}
        return bool(self.force)

    # ---- 1. joins
    def join(self, t: int) -> tuple[list[str], bool]:
        joined: list[str] = []
        new_seller = False
        for sid, r in self.seller_join.items():
            if r == t:
                self.active_s.append(self.sellers[sid])
                if self.book is not None:
                    self.book.active[self.sellers[sid].rank] = True
                joined.append(sid)
                new_seller = True
                self.messages += 1  # the seller's public offer (D^j, ε), §3.4.4
        for bid_, r in self.buyer_join.items():
            if r == t:
                self.pos[bid_] = len(self.active_b)
                self.active_b.append(self.buyers[bid_])
                joined.append(bid_)
                self.to_act.add(bid_)
        if len(self.held) < len(self.active_b):  # new buyers hold nothing yet (one copy)
            self.held = np.concatenate((self.held, np.zeros(len(self.active_b) - len(self.held))))
            self.val = Valuations.of([b.spec for b in self.active_b])
        if new_seller:  # everyone looks at the new offers
            self.to_act.update(b.spec.id for b in self.active_b)
            self.lot_only.clear()
        return joined, new_seller

    def who_acts(self, new_seller: bool, sweep: bool) -> list[_Buyer]:
        if sweep:
            self.to_act.update(b.spec.id for b in self.active_b)
        acting = [b for b in self.active_b if b.spec.id in self.to_act]
        self.to_act = set()
        self.waiting, self.lot_only = self.lot_only, {}
        if self.market.order == "asynchronous":
            acting = [acting[k] for k in self.rng.permutation(len(acting))]
        return acting

    # ---- 2. buyers reply (Algorithm 2)
    def reply(self, b: _Buyer, fresh: bool) -> Reply:
        # the sweep: from scratch (no price to hold, no warm start); the pool only tells the
        # engine which bids are the buyer's own (eq. (18) excludes them)
        who = _Buyer(spec=b.spec, pool=dict(b.pool)) if fresh else b
        hold = self.policy.price_hold and not fresh
        if self.book is not None:
            self.book.refresh()
            self.messages += 2 * (len(self.active_s) - len(b.pool))  # quotes outside the pool
            reply = best_reply_fast(who, self.book, self.eps, self.cap, hold)
        else:
            self.messages += 2 * sum(1 for s in self.active_s if s.id not in b.pool)
            reply = best_reply_reference(who, self.active_s, self.eps, self.cap, hold)
        pol = self.policy
        if pol.spread:
            fs = self.eps if pol.foresight else None
            args = (self.active_s, self.sellers, self.eps, self.cap, fs, self.sticky)
            reply = widen(b, reply, *args, pol.spread_limit, self.book, pol.spread_fill)
        return reply

    def send(self, b: _Buyer, reply: Reply, fresh: bool) -> list[dict[str, Any]]:
        """The reply's bids (none if it gains at most ε where that is required)."""
        improve = self.policy.strict_improvement or fresh
        fs = self.eps if self.policy.foresight else None
        if improve and gain(b, reply, self.sellers, self.cap, fs, self.sticky) <= self.eps:
            sent: list[dict[str, Any]] = []
        else:
            hold = self.policy.quantity_hold and not fresh
            sent = _apply(b, reply, self.sellers, self.eps, hold)
        return _listen(b, sent, self.waiting) if self.policy.deafness else sent

    def buyers_move(self, acting: list[_Buyer], fresh: bool) -> list[dict[str, Any]]:
        if self.book is not None:
            self.book.set_reserves()
            self.book.pack()
        changes: list[dict[str, Any]] = []
        if self.market.order == "asynchronous":
            for b in acting:
                changes.extend(self.send(b, self.reply(b, fresh), fresh))
        else:
            replies = [(b, self.reply(b, fresh)) for b in acting]
            for b, reply in replies:
                changes.extend(self.send(b, reply, fresh))
        self.messages += len(changes)
        return changes

    # ---- 3. sellers rerun their auctions (Algorithm 1)
    def sellers_move(
        self, changes: list[dict[str, Any]], new: list[str]
    ) -> tuple[list[_Seller], list[tuple[float, float]]]:
        touched = {c["seller"] for c in changes}
        lots: list[tuple[float, float]] = []  # (reserve, freed units) of the round's lots
        ran: list[_Seller] = []
        patient = self.market.reserve_policy == "patient"
        for s in self.active_s:
            if s.id not in touched and s.id not in new and s.id not in self.force:
                continue
            before_sold, before_res = s.sold, s.reserve
            pol = self.policy
            s.run_auction(
                self.eps, self.cap, self.sticky, patient, pol.second_strike, pol.winner_cap,
                pol.descend, pol.rise_limit, pol.step_down,
            )  # fmt: skip
            ran.append(s)
            self.messages += len(s.bids)  # notify every bidder of the new bid vector
            if s.reserve < before_res - _TOL:  # all its unsold data is newly within reach
                lots.append((s.reserve, s.supply - s.sold))
            elif s.sold < before_sold - _TOL:  # only what it returned this round is new
                lots.append((s.reserve, before_sold - s.sold))
        if self.market.reserve_policy == "decay":
            # option (not in the seed): a seller left with unsold data in a quiet round lowers
            # its sticky reserve by ε, undoing the overshoot of the early rounds
            for s in self.active_s:
                if s.id in touched or s.reserve <= self.eps + _TOL:
                    continue
                if s.supply - s.sold > 1e-7:
                    s.reserve = max(self.eps, s.reserve - self.eps)
                    s.run_auction(self.eps, self.cap, self.sticky)
                    ran.append(s)
                    self.messages += 1 + len(s.bids)
                    lots.append((s.reserve, s.supply - s.sold))
        self.force = set()
        return ran, lots

    # ---- 4. who has a reason to act next round
    def wake(
        self, t: int, acting: list[_Buyer], ran: list[_Seller], lots: list[tuple[float, float]]
    ) -> None:
        # only a buyer that moved or bids at a seller that reran its auction can see a change
        affected = {b.spec.id for b in acting}.union(*(s.bids.keys() for s in ran))
        for bid_ in affected:
            b = self.buyers[bid_]
            got = {j: self.sellers[j].alloc.get(bid_, 0.0) for j in b.pool}
            partial = any(got[j] < q - 1e-7 for j, q in b.pool.items())
            if partial and got != b.last_seen:
                self.to_act.add(bid_)
            b.last_seen = got
            self.held[self.pos[bid_]] = sum(got.values()) + b.isp
        if not (lots and self.active_b):
            return
        # freed data (public offers) wakes the buyers it can give more than an ε-step to
        lot_r, lot_f = np.array(lots).T
        pol = self.policy
        if pol.deafness and (t + 1) % pol.deaf_reset == 0:  # every buyer listens again
            for b in self.active_b:
                b.deaf = math.inf
        deaf = np.fromiter((b.deaf for b in self.active_b), float, len(self.active_b))
        v = self.val
        lowest = _lot_wakes(
            v.theta0, v.demand_cap, v.elasticity, self.held, deaf, lot_r, lot_f, self.eps,
            pol.lot_filter,
        )  # fmt: skip
        for k in np.flatnonzero(lowest < math.inf):
            bid_ = self.active_b[k].spec.id
            if bid_ not in self.to_act:
                self.lot_only[bid_] = float(lowest[k])
            self.to_act.add(bid_)

    # ---- 5. record and hash
    def record(
        self,
        t: int,
        joined: list[str],
        changes: list[dict[str, Any]],
        trace: TextIO | None,
        keep: bool,
        fired: Break | None = None,
    ) -> None:
        if trace is None and not keep:
            return
        isp = np.fromiter((b.isp for b in self.active_b), float, len(self.active_b))
        rec = {
            "round": t,
            "joined": joined,
            "bids": changes,
            "sellers": {
                s.id: {"sold": round(s.sold, 9), "reserve": round(s.reserve, 9)}
                for s in self.active_s
            },
            "messages": self.messages,
            "welfare": welfare(self.val, self.held, isp, self.cap),
        }
        if fired is not None:  # the cycle breaker switched at the end of this round
            rec["break"] = fired.to_json()
        if trace is not None:
            trace.write(json.dumps(rec) + "\n")
        if keep:
            self.records.append(rec)

    def movers(self, changes: list[dict[str, Any]]) -> set[str]:
        """Buyers whose bids changed this round; updates their coarse state keys."""
        moved = {c["buyer"] for c in changes}
        self.hopped = False
        for bid_ in moved:
            b = self.buyers[bid_]
            cell = 0.1 * self.eps / b.spec.value  # a tenth of the buyer's ε-step
            key = (
                frozenset(b.pool),
                round(sum(b.pool.values()) / cell),
                round(b.price * 100 / self.eps),
            )
            old = self.keys.get(bid_)
            if old is not None and old[0] != key[0]:
                self.hopped = True
            self.keys[bid_] = key
        return moved

    def state_key(self) -> Hashable:
        reserves = tuple(round(s.reserve * 100 / self.eps) for s in self.active_s)
        return hash((frozenset(self.keys.items()), reserves))

    def finish(
        self, quiet: bool, cycle: Cycle | None, trace: TextIO | None, check_engine: str
    ) -> MarketResult:
        gain_, worst, unhappy, moves, used = check(
            self.active_b, self.sellers, self.active_s, self.eps, self.cap, self.sticky,
            check_engine, self.policy.foresight, self.seller_would_move,
            self.market.reserve_policy in ("sticky", "current") and not self.policy.reserve_rule,
        )  # fmt: skip
        status: Status
        if cycle is not None:
            status = "cycling"
        elif not quiet:
            status = "round-limit"
        else:
            status = "converged" if not unhappy and not moves else "stalled"
        verdict = Verdict(
            status, self.eps, gain_, worst, unhappy, moves, cycle, used, tuple(self.breaks)
        )
        if trace is not None:
            trace.write(json.dumps({"verdict": verdict.to_json(), "rounds": self.rounds}) + "\n")
        return settle(
            self.market, self.buyers, self.sellers, self.rounds, self.messages, verdict,
            self.records,
        )  # fmt: skip
