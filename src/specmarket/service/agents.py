"""Bidding agents for the live data-exchange market: one buyer or seller against a running
service, over HTTP (``httpx.AsyncClient``), so that many run in one asyncio process.

Strategies (seed 002 §3.4, as simplified here — the choices are in ``docs/service.md``):

* **Seller** (Lemma 3.3: offering everything is a best reply): offers its whole ``supply`` at a
  reserve of ``ε``; the service's local auction then raises the reserve by eq. (27).
* **Buyer** (Lemma 3.2 / Algorithm 2, one price for its whole pool): from the quotes — the price
  function ``P^j`` it faces at every seller — it takes the largest quantity ``x`` with
  ``x ≤ C(θ'(x))``, where ``C(y) = Σ_j D̄^j(y)`` is what the sellers would give it at unit price
  ``y`` (eq. (18)), shades it by ``ε/θ'(0)``, and bids the crossing price to the sellers needed,
  cheapest first, withdrawing bids elsewhere. It sends bids only when its reply differs from
  its current bids (quantity by more than its shading step, or price by at least ``ε``): a
  buyer that sends nothing is at its ε-best reply.
"""

from __future__ import annotations

import asyncio
import zlib
from dataclasses import dataclass, field

import httpx

from specmarket.mechanisms.psp.market import DataBuyer, quantity_at_price

_TOL = 1e-9


def _avail(steps: list[list[float]], y: float) -> float:
    """``D̄^j(y)`` from the price-function steps ``(z_k, y_k)`` of a quote."""
    got = 0.0
    for z, price in steps:
        if price <= y + _TOL:
            got = max(got, float(z))
    return got


def buyer_reply(
    spec: DataBuyer, functions: dict[str, list[list[float]]], epsilon: float, isp_price: float,
    salt: str = "",
) -> tuple[float, dict[str, float]]:
    """The buyer's reply: ``(price, seller → quantity)`` (see the module docstring). Sellers
    equally cheap are taken in an order of the buyer's own (a hash of ``salt`` and the seller's
    id), so that buyers moving at the same time do not all pile onto the same seller."""
    y_max = min(spec.value, isp_price)
    prices = sorted({float(p) for st in functions.values() for _, p in st if p <= y_max + _TOL})
    best_x, best_y = 0.0, 0.0
    for y in prices:
        cap = sum(_avail(st, y) for st in functions.values())
        x = min(quantity_at_price(spec, y), cap)
        if x > best_x + _TOL:
            best_x, best_y = x, y
    x = max(0.0, best_x - epsilon / spec.value)
    if x <= _TOL:
        return 0.0, {}
    # cheapest sellers first: by the price at which each gives its first unit
    order = sorted(functions, key=lambda j: (min((p for _, p in functions[j]), default=1e300),
                                             zlib.crc32((salt + j).encode())))
    plan: dict[str, float] = {}
    left = x
    for j in order:
        got = min(left, _avail(functions[j], best_y))
        if got > _TOL:
            plan[j] = got
            left -= got
        if left <= _TOL:
            break
    return best_y, plan


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
    bids: dict[str, tuple[float, float]] = field(default_factory=dict)
    sent: int = 0

    async def step(self, client: httpx.AsyncClient) -> bool:
        """One move; ``True`` if it sent anything (``False``: at its ε-best reply)."""
        head = {"Authorization": f"Bearer {self.token}"}
        base = f"{self.url}/v1/markets/{self.market}"
        if self.role == "seller":
            if self.sent:
                return False
            r = await client.put(f"{base}/offer", headers=head,
                                 json={"supply": self.supply, "reserve": self.epsilon})
            r.raise_for_status()
            self.sent += 1
            return True
        assert self.spec is not None
        r = await client.get(f"{base}/quotes", headers=head)
        r.raise_for_status()
        quote = r.json()
        if quote["status"] != "open":
            return False
        functions = {s["seller"]: s["price_function"] for s in quote["market"]}
        price, plan = buyer_reply(self.spec, functions, self.epsilon, self.isp_price,
                                  salt=self.token[:16])
        step = self.epsilon / self.spec.value
        changed = False
        for j in set(plan) | set(self.bids):
            q = plan.get(j, 0.0)
            old_q, old_p = self.bids.get(j, (0.0, 0.0))
            if q <= _TOL and old_q <= _TOL:
                continue
            same = abs(q - old_q) <= step and (q <= _TOL or abs(price - old_p) < self.epsilon)
            if same:
                continue
            r = await client.post(f"{base}/bid", headers=head,
                                  json={"seller": j, "quantity": q, "price": price})
            if r.status_code == 409:  # closed meanwhile
                return False
            r.raise_for_status()
            self.sent += 1
            changed = True
            if q <= _TOL:
                self.bids.pop(j, None)
            else:
                self.bids[j] = (q, price)
        return changed


async def run_agents(
    agents: list[Agent], quiet_passes: int = 2, max_passes: int = 200, concurrency: int = 32
) -> int:
    """Move every agent (sellers first, then buyers concurrently, ``concurrency`` at a time)
    until ``quiet_passes`` passes in a row send nothing — every buyer at its ε-best reply, the
    ε-equilibrium check — or ``max_passes``; returns the passes made."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    sem = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        for a in agents:
            if a.role == "seller":
                await a.step(client)

        async def one(a: Agent) -> bool:
            async with sem:
                return await a.step(client)

        quiet = 0
        buyers = [a for a in agents if a.role == "buyer"]
        for n in range(1, max_passes + 1):
            moved = await asyncio.gather(*(one(a) for a in buyers))
            quiet = 0 if any(moved) else quiet + 1
            if quiet >= quiet_passes:
                return n
    return max_passes

