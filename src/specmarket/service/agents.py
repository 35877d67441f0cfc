"""Bidding agents for the live data-exchange market: buyers and sellers against a running
service, over HTTP (``httpx.AsyncClient``), so that many run in one asyncio process.

Strategies (seed 002 §3.4), the offline simulation's own code
(:mod:`specmarket.mechanisms.psp.market`):

* **Seller** (Lemma 3.3: offering everything is a best reply): offers its whole ``supply`` at a
  reserve of ``ε``; the service's local auction then raises the reserve by eq. (27).
* **Buyer** (Lemma 3.2 / Algorithm 2): a :class:`~specmarket.mechanisms.psp.market.snapshot.
  LiveBuyer` — the simulation's reply on the books its quote shows (each seller's supply,
  reserve and bid vector), sent only if it gains more than ε (strict improvement, §4.1), with
  the price and quantity holds of the ``converging`` policy, and (in a market with
  ``reserve_update = "run"``) only if the market's own ε-equilibrium test
  (:func:`~specmarket.mechanisms.psp.market.snapshot.check_books` on the same books, for this
  buyer) finds a reply from scratch that gains more than ε — so a book the service's scheduler
  finds converged is one no agent moves away from, and when it closes the market no longer
  depends on timing. The move goes out as one message (``POST …/bids``).

:func:`run_agents` moves a population as the simulation's rounds do: each pass reads the public
offers once (``GET …/offers``) and wakes only the buyers that have a reason to act — a seller of
its pool changed its book, or a seller freed data that can add more than one ε-step to it (the
simulation's lot filter) — and a woken buyer reads its quote only then. When a pass moves nobody,
every buyer replies once more from scratch (the final sweep); when that sends nothing the agents
are at an ε-best reply and stop. The market itself is closed by the service's scheduler once
its ε-equilibrium check holds (or at ``closes_at``), not by the agents.
"""

from __future__ import annotations

import asyncio
import copy
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np

from specmarket.mechanisms.psp.market import DataBuyer, DataMarket, centralised_optimum, valuation
from specmarket.mechanisms.psp.market.snapshot import LiveBuyer, SellerBook, check_books
from specmarket.mechanisms.psp.market.valuation import isp_quantity

__all__ = [
    "Agent", "MarketClosed", "Pass", "live_efficiency", "populate", "run_agents", "wait_closed",
]

_TOL = 1e-9


class MarketClosed(Exception):
    """The market stopped taking bids (409)."""


@dataclass
class Agent:
    """One participant's agent: ``role`` buyer (with ``spec``) or seller (with ``supply``)."""

    url: str
    market: str
    token: str
    role: str
    spec: DataBuyer | None = None
    supply: float = 0.0
    epsilon: float = 0.01
    isp_price: float = 10.0
    pid: str = ""
    sent: int = 0  # offers and bids sent
    reads: int = 0  # quotes read (304 included)
    closed: bool = False
    buyer: LiveBuyer | None = field(default=None, repr=False)
    _seen: dict[str, tuple[int, float, float]] = field(default_factory=dict, repr=False)
    _held: float = 0.0
    _tag: str | None = None
    _idle: bool = False  # its last step sent nothing on the quote of ``_tag``
    _idle_fresh: bool = False
    _ran: int = -1  # seller: its book's version after its last run
    _must_run: bool = True  # seller: its book changed since, or its rule is still pending
    _reserve: float = -1.0  # seller: its reserve after its last run

    def __post_init__(self) -> None:
        if self.role == "buyer":
            assert self.spec is not None
            self.buyer = LiveBuyer(self.spec, self.epsilon, self.isp_price)

    @property
    def head(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def base(self) -> str:
        return f"{self.url}/v1/markets/{self.market}"

    async def _post(self, client: httpx.AsyncClient, method: str, path: str,
                    body: dict[str, Any], minimal: bool = False) -> None:
        """Send one offer or move with a fresh ``Idempotency-Key``; a lost connection is
        retried with the same key (the service then answers the first acknowledgement again).
        ``minimal``: ask for the short answer (``Prefer: return=minimal``), which the agent does
        not read anyway."""
        head = {**self.head, "Idempotency-Key": secrets.token_hex(12)}
        if minimal:
            head["Prefer"] = "return=minimal"
        for attempt in range(3):
            try:
                r = await client.request(method, f"{self.base}/{path}", headers=head, json=body)
                break
            except httpx.TransportError:
                if attempt == 2:
                    raise
                await asyncio.sleep(0.2)
        if r.status_code == 409:
            self.closed = True
            raise MarketClosed
        r.raise_for_status()
        self.sent += 1

    async def run(self, client: httpx.AsyncClient) -> bool:
        """A seller's auction run (Algorithm 1's step, markets with ``reserve_update = "run"``)
        when its book changed since its last run or its rule would still move its reserve;
        ``True`` if the reserve moved."""
        if not self._must_run:  # nothing changed, nothing pending
            return False
        head = {**self.head, "Idempotency-Key": secrets.token_hex(12)}
        r = await client.post(f"{self.base}/run", headers=head, json={})
        if r.status_code == 409:
            self.closed = True
            raise MarketClosed
        r.raise_for_status()
        self.sent += 1
        book = r.json()
        moved = self._reserve != float(book["reserve"])
        self._reserve = float(book["reserve"])
        self._ran = int(book["version"])
        self._must_run = bool(book["pending"])
        return moved

    def needs_run(self, offers: list[dict[str, Any]]) -> None:
        """Mark a seller whose book changed since its last run (from the public offers)."""
        for o in offers:
            if o["seller"] == self.pid and int(o["version"]) != self._ran:
                self._must_run = True

    @property
    def must_run(self) -> bool:
        """A seller's book changed since its last run, or its rule would still move."""
        return self._must_run

    async def offer(self, client: httpx.AsyncClient) -> None:
        """A seller's one move: all of its supply at reserve ε (Lemma 3.3)."""
        if self.sent == 0:
            await self._post(client, "PUT", "offer", {"supply": self.supply,
                                                      "reserve": self.epsilon})

    def woken(self, offers: list[dict[str, Any]]) -> bool:
        """Whether the public offers give this buyer a reason to act (see the module
        docstring): never looked yet, a new seller, a seller of its pool changed, or freed
        data that the simulation's lot filter says can add more than one ε-step to it."""
        assert self.buyer is not None
        if not self._seen:
            return True
        pool = self.buyer.bids
        lots = []
        for o in offers:
            seen = self._seen.get(o["seller"])
            if seen is None:
                return True
            version, free, reserve = seen
            if o["seller"] in pool and o["version"] != version:
                return True
            now_free = float(o["supply"]) - float(o["allocated"])
            if float(o["reserve"]) < reserve - _TOL:
                lots.append((float(o["reserve"]), now_free))
            elif now_free > free + 1e-7:
                lots.append((float(o["reserve"]), now_free - free))
        return self.buyer.woken_by(lots, self._held)

    async def step(self, client: httpx.AsyncClient, fresh: bool = False) -> bool:
        """A buyer's move: read its quote (``If-None-Match``: an unchanged market after a move
        that sent nothing costs no reply), reply, send the bids; ``True`` if it sent any."""
        assert self.buyer is not None and self.spec is not None
        head = dict(self.head)
        if self._tag is not None and self._idle and (self._idle_fresh or not fresh):
            head["If-None-Match"] = self._tag
        r = await client.get(f"{self.base}/quotes", headers=head)
        self.reads += 1
        if r.status_code == 304:
            return False
        r.raise_for_status()
        quote = r.json()
        if quote["status"] != "open":
            self.closed = True
            return False
        self._tag = r.headers.get("ETag")
        own = {s["seller"]: (float(s["quantity"]), float(s["price"])) for s in quote["sellers"]}
        books: dict[str, SellerBook] = {}
        for s in quote["market"]:
            bids = {f"\x00{k}": (float(q), float(p)) for k, (q, p) in enumerate(s["bids"])}
            if s["seller"] in own:
                bids[self.spec.id] = own[s["seller"]]
            books[s["seller"]] = (float(s["supply"]), float(s["reserve"]), bids)
            self._seen[s["seller"]] = (int(s["version"]), float(s["supply"]) -
                                       float(s["allocated"]), float(s["reserve"]))
        self._held = float(quote["allocation"]) + self.buyer.isp
        before = copy.deepcopy(self.buyer)
        bids_out = self.buyer.move(books, fresh=fresh)
        if bids_out and quote.get("reserve_update") == "run" and not check_books(
                [self.spec], books, self.epsilon, self.isp_price, eq27=False).unhappy:
            # at an ε-best reply by the market's own test (§4.1): keep the bids, so that a
            # book the scheduler may close is one no agent moves away from (determinism; with
            # the offline sellers' rules only: under eq. (27) after every bid it costs
            # efficiency, 40 x 6 seed 3 fell from 0.996 to 0.965)
            self.buyer, bids_out = before, []
        self._idle, self._idle_fresh = not bids_out, fresh
        if bids_out:  # the whole move as one message: nobody sees it half-way
            await self._post(client, "POST", "bids", {"bids": [
                {"seller": b["seller"], "quantity": float(b["quantity"]),
                 "price": float(b["price"])} for b in bids_out]}, minimal=True)
        return bool(bids_out)


@dataclass(frozen=True)
class Pass:
    """One pass of :func:`run_agents`: its number, buyers woken, buyers that sent bids, whether
    it was the final sweep, and the messages (offers, bids, quote and offers reads) so far."""

    number: int
    woken: int
    moved: int
    sweep: bool
    messages: int


async def run_agents(
    agents: list[Agent],
    concurrency: int = 1,
    max_passes: int = 500,
    seed: int = 0,
    on_pass: Callable[[Pass], None] | None = None,
) -> tuple[int, int]:
    """Run a population (see the module docstring): sellers offer, then passes of the woken
    buyers, ``concurrency`` of them at a time in a seeded random order (the simulation's
    asynchronous order), until the final sweep sends nothing, the market closes or
    ``max_passes``. Returns ``(passes, messages)``."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    sem = asyncio.Semaphore(concurrency)
    rng = np.random.default_rng(seed)
    buyers = [a for a in agents if a.role == "buyer"]
    sellers = [a for a in agents if a.role == "seller"]
    reads = 0
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:

        def messages() -> int:
            return reads + sum(a.sent + a.reads for a in agents)

        async def guarded(coro: Any) -> bool:
            async with sem:
                try:
                    return bool(await coro)
                except MarketClosed:
                    return False

        await asyncio.gather(*(guarded(a.offer(client)) for a in sellers))
        if not buyers:
            return 0, messages()
        watcher = buyers[0]
        sweep = False
        for n in range(1, max_passes + 1):
            r = await client.get(f"{watcher.base}/offers", headers=watcher.head)
            reads += 1
            r.raise_for_status()
            offers = r.json()
            if offers["status"] != "open":
                return n - 1, messages()
            woken = buyers if sweep else [a for a in buyers if a.woken(offers["sellers"])]
            order = rng.permutation(len(woken))
            moved = await asyncio.gather(*(guarded(woken[k].step(client, sweep)) for k in order))
            if on_pass is not None:
                on_pass(Pass(n, len(woken), sum(moved), sweep, messages()))
            if any(a.closed for a in buyers):
                return n, messages()
            if offers.get("reserve_update") == "run":  # sellers run their auctions
                for a in sellers:
                    a.needs_run(offers["sellers"])
                ran = await asyncio.gather(*(guarded(a.run(client)) for a in sellers))
                moved = [*moved, *ran]
                if any(a.closed for a in sellers):
                    return n, messages()
            if any(moved):
                sweep = False
            elif sweep:
                return n, messages()
            else:
                sweep = True
    return max_passes, messages()


async def populate(
    client: httpx.AsyncClient, url: str, operator: str, m: DataMarket, market: str | None = None,
    reserve_update: str = "run", reserve_policy: str | None = None,
) -> tuple[str, list[Agent]]:
    """Open a live market for ``m`` (or join ``market``), add its sellers and its buyers (with
    their valuations as operator-set fields, so that the scheduler can check the
    ε-equilibrium) and return the market id and one agent per participant. A new market
    takes ``m``'s ``isp_price``, ``epsilon`` and reserve policy (``patient`` or else
    ``sticky``; ``reserve_policy`` overrides it) and ``reserve_update`` (``run``: the sellers'
    agents run their auctions once per pass, as the offline sellers do once per round)."""
    head = {"Authorization": f"Bearer {operator}"}
    if market is None:
        r = await client.post(f"{url}/v1/markets", headers=head, json={
            "mechanism": "data-market",
            "fields": {"isp_price": m.isp_price, "epsilon": m.epsilon,
                       "reserve_policy": reserve_policy or (
                           "patient" if m.reserve_policy == "patient" else "sticky"),
                       "reserve_update": reserve_update}})
        r.raise_for_status()
        market = str(r.json()["id"])
        eps, cap = m.epsilon, m.isp_price
    else:
        r = await client.get(f"{url}/v1/markets/{market}", headers=head)
        r.raise_for_status()
        fields = r.json()["fields"]
        eps, cap = float(fields["epsilon"]), float(fields["isp_price"])
    agents: list[Agent] = []

    async def add(pid: str, role: str, fields: dict[str, float]) -> str:
        r = await client.post(f"{url}/v1/markets/{market}/participants", headers=head,
                              json={"id": pid, "role": role, "fields": fields})
        r.raise_for_status()
        return str(r.json()["token"])

    for s in m.sellers:
        tok = await add(s.id, "seller", {})
        agents.append(Agent(url, market, tok, "seller", supply=s.supply, epsilon=eps,
                            isp_price=cap, pid=s.id))
    for b in m.buyers:
        tok = await add(b.id, "buyer", {"value": b.value, "demand": b.demand,
                                        "elasticity": b.elasticity})
        agents.append(Agent(url, market, tok, "buyer", spec=b, epsilon=eps, isp_price=cap))
    return market, agents


async def wait_closed(client: httpx.AsyncClient, url: str, operator: str, market: str,
                      timeout: float) -> dict[str, Any] | None:
    """Poll the market until it is closed (its outcome) or ``timeout`` seconds (``None``)."""
    head = {"Authorization": f"Bearer {operator}"}
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        r = await client.get(f"{url}/v1/markets/{market}", headers=head)
        r.raise_for_status()
        if r.json()["status"] != "open":
            r = await client.get(f"{url}/v1/markets/{market}/outcome", headers=head)
            r.raise_for_status()
            out: dict[str, Any] = r.json()
            return out
        await asyncio.sleep(0.25)
    return None


def live_efficiency(m: DataMarket, outcome: dict[str, Any]) -> float:
    """Welfare of a settled live market over the centralised optimum, as the offline
    simulation counts it: each buyer's value of what the sellers gave it plus what it still
    buys from the ISP κ at ``p^κ`` (:func:`~specmarket.mechanisms.psp.market.valuation.
    isp_quantity`), less that ISP cost."""
    alloc = outcome["allocation"]
    w = 0.0
    for b in m.buyers:
        got = float(alloc.get(b.id, 0.0))
        isp = isp_quantity(b, m.isp_price, got)
        w += valuation(b, got + isp) - m.isp_price * isp
    opt = centralised_optimum(m.buyers, sum(s.supply for s in m.sellers), m.isp_price)
    return w / opt.welfare if opt.welfare > 0 else 1.0
