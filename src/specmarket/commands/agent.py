"""``specmarket agent``: bidding agents (one buyer, one seller, or a whole seeded population) in a
live data market of a running service (see ``docs/service.md``). Heavy packages (httpx, numpy,
the mechanism) are imported in the commands."""

from __future__ import annotations

from typing import Annotated

import typer

_URL = typer.Option("--url", envvar="SPECMARKET_URL", help="Where the service listens.")
_MARKET = typer.Argument(help="Market id (a data-market market).")


def _token_option(who: str) -> typer.models.OptionInfo:
    option: typer.models.OptionInfo = typer.Option(
        "--token", envvar="SPECMARKET_TOKEN", help=f"{who}; env SPECMARKET_TOKEN."
    )
    return option


def register(app: typer.Typer) -> None:
    """Add the ``agent`` group (``buyer``, ``seller``, ``population``) to the ``specmarket``
    app."""
    agent = typer.Typer(no_args_is_help=True)

    @agent.callback()
    def agent_group() -> None:
        """Bidding agents for a live data market (seed 002's buyer and seller strategies).

        Example: specmarket agent population --buyers 40 --sellers 6 --seed 3 --token "$OP"
        """

    @agent.command("buyer")
    def buyer_cmd(
        market: Annotated[str, _MARKET],
        token: Annotated[str, _token_option("This buyer's token")],
        value: Annotated[
            float, typer.Option("--value", help="Marginal value θ'(0) of the first unit.")
        ] = 0.0,
        demand: Annotated[float, typer.Option("--demand", help="Units wanted.")] = 0.0,
        elasticity: Annotated[
            float, typer.Option("--elasticity", help="0 (flat) to 1 (linear to zero).")
        ] = 0.0,
        url: Annotated[str, _URL] = "http://127.0.0.1:8000",
        poll: Annotated[
            float, typer.Option("--poll", min=0.0, help="Seconds between moves.")
        ] = 0.5,
        quiet: Annotated[
            int, typer.Option("--quiet", min=1, help="Stop after this many moves in a row that "
                              "send nothing (the agent is at its ε-best reply).")
        ] = 20,
    ) -> None:
        """Bid for one buyer (Lemma 3.2 / Algorithm 2: the offline simulation's reply, sent
        only when it gains more than ε) until the market closes or it has been quiet.

        Example: specmarket agent buyer "$MARKET" --token "$T" --value 5 --demand 30"""
        from specmarket.cli import fail
        from specmarket.errors import InvalidInput
        from specmarket.mechanisms.psp.market import DataBuyer

        try:
            spec = DataBuyer(id="me", value=value, demand=demand, elasticity=elasticity)
        except ValueError as exc:
            fail(InvalidInput("--value/--demand/--elasticity", None, str(exc).splitlines()[0]))
            return
        _run_one("buyer", market, token, url, poll, quiet, spec=spec)

    @agent.command("seller")
    def seller_cmd(
        market: Annotated[str, _MARKET],
        token: Annotated[str, _token_option("This seller's token")],
        supply: Annotated[float, typer.Option("--supply", help="Units offered.")] = 0.0,
        url: Annotated[str, _URL] = "http://127.0.0.1:8000",
        poll: Annotated[
            float, typer.Option("--poll", min=0.0, help="Seconds between looks at its book.")
        ] = 0.5,
        quiet: Annotated[
            int, typer.Option("--quiet", min=1, help="Stop after this many looks in a row "
                              "with nothing to do.")
        ] = 20,
    ) -> None:
        """Offer all of --supply at reserve ε for one seller (Lemma 3.3); the service's local
        auction then moves the reserve (eq. (27)) — after every bid, or, in a market with
        reserve_update "run", when this agent runs its auction (whenever its book changed).

        Example: specmarket agent seller "$MARKET" --token "$T" --supply 50"""
        from specmarket.cli import fail
        from specmarket.errors import InvalidInput

        if not supply > 0:
            fail(InvalidInput("--supply", supply, "a seller offers a positive supply"))
            return
        _run_one("seller", market, token, url, poll, quiet, supply=supply)

    @agent.command("population")
    def population_cmd(
        market: Annotated[
            str | None, typer.Argument(help="Join this data market (default: open a new one).")
        ] = None,
        token: Annotated[str, _token_option("The operator's token")] = "",
        buyers: Annotated[int, typer.Option("--buyers", min=1, help="Random buyers.")] = 40,
        sellers: Annotated[int, typer.Option("--sellers", min=1, help="Random sellers.")] = 6,
        seed: Annotated[int, typer.Option("--seed", "-s", min=0, help="Seed (≥ 0).")] = 3,
        concurrency: Annotated[
            int, typer.Option("--concurrency", min=1, help="Buyers moving at once (1: one "
                              "after another, the offline asynchronous order).")
        ] = 1,
        wait: Annotated[
            float, typer.Option("--wait", min=0.0, help="Seconds to wait, once the agents are "
                                "quiet, for the service to close the market.")
        ] = 60.0,
        url: Annotated[str, _URL] = "http://127.0.0.1:8000",
    ) -> None:
        """Run a seeded random population — the market of `specmarket simulate data-market
        --buyers N --sellers M --seed S` — as agents in one process against the service: adds
        the participants (buyers with their valuations, so that the service checks the
        ε-equilibrium), runs them, waits for the service to close the market and prints the
        live efficiency beside the offline simulation's.

        Example: specmarket agent population --buyers 200 --sellers 20 --seed 3 --token "$OP"
        """
        import asyncio
        import sys
        import time

        import httpx

        from specmarket.cli import fail
        from specmarket.errors import InvalidInput
        from specmarket.mechanisms.psp.market import random_market, simulate
        from specmarket.service.agents import (
            Pass,
            live_efficiency,
            populate,
            run_agents,
            wait_closed,
        )

        if not token:
            fail(InvalidInput("--token", None, "the operator's token is required "
                              "(or SPECMARKET_TOKEN)"))
            return
        m = random_market(buyers, sellers, seed)

        def show(p: Pass) -> None:
            kind = "sweep" if p.sweep else "pass"
            print(f"{kind} {p.number}: {p.woken} buyers woken, {p.moved} moved, "
                  f"{p.messages} messages", file=sys.stderr, flush=True)

        async def go() -> tuple[str, int, int, float, dict[str, object] | None]:
            async with httpx.AsyncClient(timeout=120) as client:
                mid, agents = await populate(client, url, token, m, market)
                print(f"market {mid}: {sellers} sellers, {buyers} buyers", file=sys.stderr,
                      flush=True)
                t0 = time.perf_counter()
                passes, messages = await run_agents(agents, concurrency=concurrency,
                                                    seed=seed, on_pass=show)
                seconds = time.perf_counter() - t0
                outcome = await wait_closed(client, url, token, mid, wait)
                return mid, passes, messages, seconds, outcome

        try:
            mid, passes, messages, seconds, outcome = asyncio.run(go())
        except httpx.HTTPStatusError as exc:
            fail(InvalidInput("--token/market", market, f"the service answered "
                              f"{exc.response.status_code}: {exc.response.text[:200]}"))
            return
        except httpx.HTTPError as exc:
            fail(InvalidInput("--url", url, f"cannot reach the service: {exc}"))
            return
        print(f"market {mid}: agents quiet after {passes} passes, {messages} messages, "
              f"{seconds:.1f} s")
        offline = simulate(m)
        if outcome is None:
            print(f"not closed within {wait:g} s (the ε-equilibrium check did not hold); "
                  f"offline efficiency {offline.efficiency:.4f}")
            raise typer.Exit(3)
        verdict = outcome.get("verdict")
        status = verdict.get("status") if isinstance(verdict, dict) else None
        print(f"closed by {outcome.get('closed_by')}, verdict {status}; efficiency live "
              f"{live_efficiency(m, outcome):.4f}, offline {offline.efficiency:.4f} "
              f"({offline.status}, {offline.rounds} rounds, {offline.messages} messages)")

    app.add_typer(agent, name="agent")


def _run_one(role: str, market: str, token: str, url: str, poll: float, quiet: int,
             spec: object = None, supply: float = 0.0) -> None:
    """One agent until the market closes or ``quiet`` moves in a row sent nothing."""
    import asyncio

    import httpx

    from specmarket.cli import fail
    from specmarket.errors import InvalidInput
    from specmarket.mechanisms.psp.market import DataBuyer
    from specmarket.service.agents import Agent, MarketClosed

    async def go() -> int:
        head = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(timeout=30) as client:
            r = await client.get(f"{url}/v1/markets/{market}/offers", headers=head)
            r.raise_for_status()
            view = r.json()
            agent = Agent(url, market, token, role,
                          spec=spec if isinstance(spec, DataBuyer) else None, supply=supply,
                          epsilon=float(view["epsilon"]), isp_price=float(view["isp_price"]))
            try:
                still = 0
                if role == "seller":
                    await agent.offer(client)
                    agent.pid = str(
                        (await client.get(f"{url}/v1/me", headers=head)).json()["participant"])
                    while view["reserve_update"] == "run" and still < quiet:
                        r = await client.get(f"{url}/v1/markets/{market}/offers", headers=head)
                        r.raise_for_status()
                        view = r.json()
                        if view["status"] != "open":
                            break
                        agent.needs_run(view["sellers"])
                        busy = agent.must_run
                        await agent.run(client)
                        still = 0 if busy else still + 1
                        await asyncio.sleep(poll)
                    return agent.sent
                while still < quiet and not agent.closed:
                    moved = await agent.step(client, fresh=still > 0)
                    still = 0 if moved else still + 1
                    await asyncio.sleep(poll)
            except MarketClosed:
                pass
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
