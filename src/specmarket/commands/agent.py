"""``specmarket agent``: one bidding agent (buyer or seller) in a live data market of a running
service (see ``docs/service.md``). Heavy packages (httpx, numpy) are imported in the command."""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add ``agent`` to the ``specmarket`` app."""

    @app.command("agent")
    def agent_cmd(
        role: Annotated[str, typer.Argument(help="buyer or seller.")],
        market: Annotated[str, typer.Argument(help="Market id (a data-market market).")],
        token: Annotated[
            str,
            typer.Option("--token", envvar="SPECMARKET_TOKEN",
                         help="This participant's token; env SPECMARKET_TOKEN."),
        ],
        url: Annotated[
            str, typer.Option("--url", envvar="SPECMARKET_URL", help="Where the service listens.")
        ] = "http://127.0.0.1:8000",
        value: Annotated[
            float, typer.Option("--value", help="Buyer: marginal value θ'(0) of the first unit.")
        ] = 0.0,
        demand: Annotated[float, typer.Option("--demand", help="Buyer: units wanted.")] = 0.0,
        elasticity: Annotated[
            float, typer.Option("--elasticity", help="Buyer: 0 (flat) to 1 (linear to zero).")
        ] = 0.0,
        supply: Annotated[float, typer.Option("--supply", help="Seller: units offered.")] = 0.0,
        poll: Annotated[
            float, typer.Option("--poll", min=0.0, help="Seconds between moves.")
        ] = 0.5,
        quiet: Annotated[
            int, typer.Option("--quiet", min=1, help="Stop after this many moves in a row that "
                              "send nothing (the agent is at its ε-best reply).")
        ] = 20,
    ) -> None:
        """Bid for one participant (buyer: Lemma 3.2 reply to its price functions; seller:
        offer all of --supply, Lemma 3.3) until the market closes or it has been quiet.

        Example: specmarket agent buyer "$MARKET" --token "$T" --value 5 --demand 30"""
        import asyncio

        import httpx

        from specmarket.cli import fail
        from specmarket.errors import InvalidInput, SpecmarketError
        from specmarket.mechanisms.psp.market import DataBuyer
        from specmarket.service.agents import Agent

        try:
            if role not in ("buyer", "seller"):
                raise InvalidInput("role", role, "buyer or seller")
            spec = None
            if role == "buyer":
                spec = DataBuyer(id="me", value=value, demand=demand, elasticity=elasticity)
            elif not supply > 0:
                raise InvalidInput("--supply", supply, "a seller offers a positive supply")
        except (SpecmarketError, ValueError) as exc:
            if isinstance(exc, SpecmarketError):
                fail(exc)
            fail(InvalidInput("--value/--demand/--elasticity", None, str(exc).splitlines()[0]))
            return

        async def go() -> int:
            head = {"Authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(timeout=30) as client:
                r = await client.get(f"{url}/v1/markets/{market}/quotes", headers=head)
                r.raise_for_status()
                view = r.json()
                agent = Agent(url, market, token, role, spec=spec, supply=supply,
                              epsilon=float(view["epsilon"]), isp_price=float(view["isp_price"]))
                still = 0
                while still < quiet:
                    moved = await agent.step(client)
                    still = 0 if moved else still + 1
                    r = await client.get(f"{url}/v1/me", headers=head)
                    if r.json().get("status") != "open":
                        break
                    await asyncio.sleep(poll)
                return agent.sent

        try:
            sent = asyncio.run(go())
        except httpx.HTTPStatusError as exc:
            fail(InvalidInput("--token/market", market, f"the service answered "
                              f"{exc.response.status_code}: {exc.response.text[:200]}"))
            return
        except httpx.HTTPError as exc:
            fail(InvalidInput("--url", url, f"cannot reach the service: {exc}"))
            return
        print(f"agent {role}: sent {sent} offers/bids")
