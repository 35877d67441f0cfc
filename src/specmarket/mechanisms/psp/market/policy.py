"""The stabilisers a simulation adds to the seed's rules, in one named object (docs/psp.md,
"Policies").

``seed-only`` runs seed 002's rules alone; ``stabilised`` adds the holds, lot filter and lot
deafness that earlier versions of this simulation grew to reach convergence more often;
``converging`` (the default) adds the strict-improvement requirement, the price-war reserve rule
(``second_strike = 8``) and the final sweep; ``ascending`` fires the price-war rule at the second
war (faster, less efficient); ``foresight`` values a reply at the reserve it will trigger;
``capped``, ``spread``, ``descending`` (``converging`` + ``descend``, the rule that recovers the
welfare large markets lose to reserves left above the clearing price), ``clock`` (``descending``
with reserves that rise by at most ε per run, the policy for large markets) and ``efficient``
change the seed's reserve and pool rules (docs/psp.md, "Efficiency" and "Scale"); ``settling``
is ``efficient`` with reserves that also step down by ε when unsold data meets no bid
(``step_down``), pools that may take all of a small seller's data (``spread_fill``) and the
cycle breaker (``break_cycles``: a detected cycle switches the market
step by step back towards ``converging``'s rules instead of ending the run): the policy for
small and medium markets (measured up to 300 × 30; ``clock`` stays the one for large markets,
docs/psp.md, "The cycle breaker and policy settling"). Whatever
the policy, a run is ``converged`` only when the check of :mod:`.verdict` confirms it (docs/psp.md,
"Convergence", for what each rule buys).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

__all__ = ["DEAF_RESET", "POLICIES", "Policy", "PolicyName"]

DEAF_RESET = 50  # default period after which all buyers listen to lots again (Policy.deaf_reset)


@dataclass(frozen=True)
class Policy:
    """The rules a simulation adds to the seed's own (docs/psp.md, "Policies").

    The seed's rules are eqs. (18), (20), (25), (27), Lemma 3.2 and Algorithms 1–2 with the
    truthful ε-best reply of §4.1 (target shaded by ``ε/θ'(0)``). Every other rule lives here so
    that a reader can switch it off and see what it buys.

    Attributes
    ----------
    name
        The policy's name (``DataMarket.policy``).
    price_hold
        A new price within ε of the old one is not sent (the buyer keeps its price and adjusts its
        quantity) unless that costs more than half an ε-step of data ``ε/θ'(0)·D_i/2``.
    quantity_hold
        A reply that keeps pool and price and moves the total by at most one ε-step is not sent.
    lot_filter
        Freed data wakes a buyer only if one lot can add more than one ε-step to it; without the
        filter every lot wakes every buyer that wants more at the lot's reserve.
    deafness
        A buyer woken only by freed data whose reply sends nothing stops listening to lots at
        that reserve or above until it bids again, and all buyers listen again every
        ``deaf_reset`` rounds.
    strict_improvement
        A reply is sent only if it raises the buyer's utility (eq. (20) allocation, eq. (21)
        cost, against the current bids) by more than ε — the seed's ε-best reply set, eq. (46):
        a buyer whose bid is already within ε of its reply keeps it.
    second_strike
        ``k > 0``: a seller that sees ``k`` price wars (runs in which it stays over-demanded
        while its partially served bids change) since its reserve last rose raises its reserve
        above the partially served bids (``p + ε``), as eq. (27) does for the bids left out of
        ``I^j``; ``0``: never. Ends the slow climb of two buyers outbidding each other by one
        shading step per reply (docs/psp.md, "Convergence").
    foresight
        The utility of a reply (``strict_improvement``, the final sweep, the verdict) is taken at
        the reserve each seller's eq. (27) sets on the resulting bid vector, not the stale one.
    final_sweep
        When the market is quiet, every buyer replies once more (with the policy's filters);
        the run ends only if nobody sends a bid, so no stabiliser can hide a profitable reply.
    winner_cap
        A seller's reserve rise (eq. (27), or the patient rule) stops at the lowest price among
        the bids of ``I^j``: eq. (27)'s ``p_{i*} + ε`` exceeds a winner's price whenever the two
        are within ε, and a winner whose value is below it can never re-bid, so the seller's
        data goes unsold (docs/psp.md, "Efficiency").
    spread
        A reply may ask a larger consistent pool than Lemma 3.2's fewest sellers, for the same
        total, when that is worth more than ε more to the buyer (:func:`.buyer.widen`).
    spread_limit
        ``k > 0``: ``spread`` tries pools of at most ``k`` sellers more than Lemma 3.2's, so a
        reply costs ``O(k)`` eq. (21) evaluations instead of up to ``M``; ``0``: every larger
        consistent pool (no named policy bounds it yet; docs/psp.md, "Scale").
    spread_fill
        With ``spread``: a larger pool may be one whose sellers have unequal data — the same bid
        ``(q, y)`` at each, a small seller giving all it has (the water level ``q`` of
        :func:`.buyer.water_level`) — and it may serve up to the reply's target, not only its
        total. Lemma 3.2's eq. (22) pool ``n · D̄_(n)`` leaves the data of a small seller
        unreached when the fewest-sellers pool cannot cover the target (docs/psp.md, "The
        cycle breaker and policy settling", the two 5 × 2 minima). Policy ``settling``.
    descend
        A seller left with unsold data while some bids lie below its reserve lowers the reserve
        to the highest of them: the sticky reserve remembers a demand that has moved elsewhere.
    rise_limit
        ``k > 0``: one run of a seller raises its reserve by at most ``k · ε`` (eq. (27), the
        patient rule and the price-war rule alike), an ascending clock instead of the jump to
        ``p_{i*} + ε``; ``0``: no limit. Policy ``clock`` (docs/psp.md, "Scale").
    step_down
        With ``descend``: a seller left with unsold data and *no* bid below its reserve lowers
        the reserve by ε per run (not below ε). The bids that a reserve rise priced out have
        left the seller for other pools, so ``descend`` (which needs a bid below the reserve)
        never lowers it again and the data stays unsold above the clearing price (docs/psp.md,
        "Efficiency", loss 4). In a quiet market such a seller is rerun (its rule would still
        move the reserve) until a buyer takes the data or the reserve is ε. Policy
        ``settling``; with ``clock`` at 1,000 × 100 it costs rounds and welfare (docs/psp.md).
    break_cycles
        ``k > 0``: the cycle breaker (docs/psp.md, "The cycle breaker and policy settling").
        When the cycle detector of :mod:`.verdict` sees a repeated state (or the run passes
        ``break_after`` rounds without going quiet), the run does not stop as ``cycling``: it
        *settles* — the market switches to the next stage of :meth:`settled` and goes on, at
        most ``k`` times; a cycle after the ``k``-th switch ends the run. The stages take back,
        in order (after ``spread_fill``, which the first detected cycle switches off where the
        policy has it), the rules that let a reserve fall (``descend``, ``step_down``), that leave
        Lemma 3.2's pools and eq. (27)'s rise (``spread``, ``winner_cap``), then make the
        price-war rule strike sooner (``second_strike`` halved down to 1): each step moves the
        market towards the rules of the "Convergence" argument (reserves never fall, every rise
        at least ε). The status is still ``converged`` only if :func:`.verdict.check` confirms
        the ε-equilibrium (seed 002 §4.1, eq. (46)), for the buyers exactly as without the
        breaker and for the sellers under the rule in force at the end; the verdict lists every
        switch (``Verdict.breaks``). ``0``: off.
    break_after
        ``n > 0`` (with ``break_cycles``): the breaker also switches when ``n`` rounds have
        passed since the start or the last switch without the market going quiet (a slow cycle
        the detector does not see). ``settling`` uses 2,000: at 1,000 the switch froze reserves
        still on their way down in slow runs that would have converged (docs/psp.md).
    """

    name: str
    price_hold: bool = True
    quantity_hold: bool = True
    lot_filter: bool = True
    deafness: bool = True
    deaf_reset: int = DEAF_RESET
    strict_improvement: bool = False
    second_strike: int = 0
    final_sweep: bool = False
    foresight: bool = False
    winner_cap: bool = False
    spread: bool = False
    spread_limit: int = 0
    spread_fill: bool = False
    descend: bool = False
    rise_limit: int = 0
    step_down: bool = False
    break_cycles: int = 0
    break_after: int = 0

    def settled(self, stage: int, fill: bool = True) -> Policy:
        """The rules in force after the cycle breaker has taken ``stage`` steps (``break_cycles``).

        Stage 1: ``descend`` and ``step_down`` off (from then on no reserve falls: the sticky
        reserve of eq. (27) and the patient rule). Stage 2: also ``spread`` and ``winner_cap``
        off (Lemma 3.2's fewest sellers, eq. (27)'s ``p_{i*} + ε``): ``converging``'s rules
        with ``rise_limit``. Stage ``2 + h``: also ``second_strike`` halved ``h`` times, not
        below 1 (a price war ends in a reserve rise sooner). Stage 0 is the policy itself.
        ``fill = False``: also ``spread_fill`` off (pools of equal shares again), the step a
        detected cycle takes first where the policy has it (:meth:`.simulation._Run.breaker`).
        """
        pol = self if fill or not self.spread_fill else replace(self, spread_fill=False)
        if stage <= 0:
            return pol
        pol = replace(pol, descend=False, step_down=False)
        if stage >= 2:
            pol = replace(pol, spread=False, winner_cap=False)
        if stage >= 3 and pol.second_strike > 0:
            pol = replace(pol, second_strike=max(1, pol.second_strike >> (stage - 2)))
        return pol

    @property
    def reserve_rule(self) -> bool:
        """Whether the reserve rule differs from eq. (27) (the verdict then checks the seller's
        own rule, not eq. (27))."""
        return self.winner_cap or self.descend or self.rise_limit > 0 or self.step_down


#: The default (``converging``): the policies below it add reserve or pool rules to it.
_CONVERGING = Policy("converging", strict_improvement=True, second_strike=8, final_sweep=True)

POLICIES: dict[str, Policy] = {
    "seed-only": Policy(
        "seed-only", price_hold=False, quantity_hold=False, lot_filter=False, deafness=False
    ),
    "stabilised": Policy("stabilised"),
    "converging": _CONVERGING,
    "foresight": Policy("foresight", strict_improvement=True, final_sweep=True, foresight=True),
    "ascending": Policy("ascending", strict_improvement=True, second_strike=2, final_sweep=True),
    "capped": replace(_CONVERGING, name="capped", winner_cap=True),
    "spread": replace(_CONVERGING, name="spread", winner_cap=True, spread=True),
    "descending": replace(_CONVERGING, name="descending", descend=True),
    "clock": replace(_CONVERGING, name="clock", descend=True, rise_limit=1),
    "efficient": replace(_CONVERGING, name="efficient", winner_cap=True, spread=True,
                         descend=True),
    "settling": replace(_CONVERGING, name="settling", winner_cap=True, spread=True,
                        spread_fill=True, descend=True, step_down=True, break_cycles=5,
                        break_after=2000),
}
PolicyName = Literal[
    "seed-only",
    "stabilised",
    "converging",
    "foresight",
    "ascending",
    "capped",
    "spread",
    "descending",
    "clock",
    "efficient",
    "settling",
]
