"""``specmarket simulate data-market``: the distributed data-exchange market of seed 002 §3.

A scenario is either the seed's worked example (``--example``), a random market (``--buyers``,
``--sellers``, ``--seed`` ...), or a TOML/JSON file: a full :class:`DataMarket` (``buyers`` and
``sellers`` tables) or a table of random-market keys (``n_buyers``, ``n_sellers``, ...).
"""

from __future__ import annotations

import io as _io
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

import typer

from specmarket.core import Count, Model, Positive, PositiveCount
from specmarket.errors import SpecmarketError

if TYPE_CHECKING:
    from specmarket.mechanisms.psp.market.policy import PolicyName

__all__ = ["RandomScenario", "load_scenario", "register"]


class RandomScenario(Model):
    """Keys of a random data market (:func:`specmarket.mechanisms.psp.market.random_market`)."""

    n_buyers: PositiveCount = 100
    n_sellers: PositiveCount = 20
    seed: Count = 0
    isp_price: Positive = 5.0
    epsilon: Positive = 0.05
    order: Literal["synchronous", "asynchronous"] = "asynchronous"
    reserve_policy: Literal["sticky", "current", "decay", "patient"] = "patient"
    policy: str = "converging"  # checked against the named policies by DataMarket
    elastic: bool = True
    max_rounds: PositiveCount = 1000


def load_scenario(data: dict[str, Any]) -> Any:
    """A :class:`DataMarket` from decoded TOML/JSON (explicit market or random-market keys)."""
    from specmarket.mechanisms.psp.market import DataMarket, random_market

    if "buyers" in data or "sellers" in data:
        return DataMarket.parse(data)
    sc = RandomScenario.parse(data)
    return random_market(
        sc.n_buyers,
        sc.n_sellers,
        sc.seed,
        isp_price=sc.isp_price,
        epsilon=sc.epsilon,
        order=sc.order,
        reserve_policy=sc.reserve_policy,
        elastic=sc.elastic,
        max_rounds=sc.max_rounds,
        policy=cast("PolicyName", sc.policy),
    )


def register(app: typer.Typer) -> None:
    """Add ``simulate data-market`` to the ``simulate`` group defined in :mod:`.psp`."""
    from specmarket.commands.psp import simulate_app

    @simulate_app.command("data-market")
    def simulate_data_market(
        scenario: Annotated[
            Path | None, typer.Option("--scenario", help="TOML or JSON scenario file.")
        ] = None,
        example: Annotated[
            bool, typer.Option("--example", help="The seed's worked example (§3.4.4).")
        ] = False,
        buyers: Annotated[int | None, typer.Option("--buyers", help="Random buyers.")] = None,
        sellers: Annotated[int | None, typer.Option("--sellers", help="Random sellers.")] = None,
        seed: Annotated[
            int | None, typer.Option("--seed", "-s", min=0, help="Seed (≥ 0).")
        ] = None,
        epsilon: Annotated[float | None, typer.Option("--epsilon", help="Bid fee ε.")] = None,
        isp_price: Annotated[
            float | None, typer.Option("--isp-price", help="ISP overage price p^κ.")
        ] = None,
        order: Annotated[
            str | None, typer.Option("--order", help="synchronous or asynchronous.")
        ] = None,
        reserve_policy: Annotated[
            str | None, typer.Option("--reserve-policy", help="sticky, current, decay or patient.")
        ] = None,
        policy: Annotated[
            str | None,
            typer.Option(
                "--policy",
                help=(
                    "Stabilisers (docs/psp.md, Policies): seed-only, stabilised, converging "
                    "(default), foresight, ascending, capped, spread, descending, clock, "
                    "efficient or settling."
                ),
            ),
        ] = None,
        max_rounds: Annotated[int | None, typer.Option("--max-rounds", help="Round limit.")] = None,
        trace: Annotated[
            Path | None, typer.Option("--trace", help="Write one JSON line per round here.")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
        no_progress: Annotated[
            bool, typer.Option("--no-progress", help="No progress line on stderr.")
        ] = False,
    ) -> None:
        """Simulate the distributed PSP data-exchange market until its verdict.

        Prints the status: converged (an ε-equilibrium, checked independently of the dynamics),
        cycling (a repeated state: cycle length and the buyers moving in it), stalled or
        round-limit. Exits 3 when the run did not converge.

        Example: specmarket simulate data-market --buyers 50 --sellers 10 --seed 1
        """
        from specmarket import io
        from specmarket.cli import fail, out
        from specmarket.mechanisms.psp.market import simulate, worked_example

        try:
            if example:
                market = worked_example()
                upd: dict[str, Any] = {}
                if epsilon is not None:
                    upd["epsilon"] = float(epsilon)
                if isp_price is not None:
                    upd["isp_price"] = float(isp_price)
                if order is not None:
                    upd["order"] = order
                if seed is not None:
                    upd["seed"] = seed
                if policy is not None:
                    upd["policy"] = policy
                if max_rounds is not None:
                    upd["max_rounds"] = max_rounds
                if upd:
                    market = type(market).parse({**market.model_dump(), **upd})
            else:
                data: dict[str, Any] = {}
                if scenario is not None:
                    data = (
                        io.read_json(scenario)
                        if scenario.suffix == ".json"
                        else io.read_toml(scenario)
                    )
                given = {
                    "n_buyers": buyers,
                    "n_sellers": sellers,
                    "seed": seed,
                    "epsilon": None if epsilon is None else float(epsilon),
                    "isp_price": None if isp_price is None else float(isp_price),
                    "order": order,
                    "reserve_policy": reserve_policy,
                    "policy": policy,
                    "max_rounds": max_rounds,
                }
                data.update({k: v for k, v in given.items() if v is not None})
                market = load_scenario(data)
            sink = _io.StringIO() if trace is not None else None
            from specmarket.commands.experiments import progress_bar

            limit = market.max_rounds
            with progress_bar("data market", not (as_json or no_progress)) as bar:
                res = simulate(market, trace=sink, on_round=lambda t: bar(t + 1, limit))
            if trace is not None and sink is not None:
                io.write_atomic(trace, sink.getvalue())
        except SpecmarketError as exc:
            fail(exc)
            return
        if as_json:
            print(io.dumps(res.outcome.to_json()))
            if res.status != "converged":
                raise typer.Exit(3)
            return
        n_b, n_s = len(market.buyers), len(market.sellers)
        out.print(
            f"[bold]data-exchange market[/]: {n_b} buyers, {n_s} sellers, ε={market.epsilon:g}, "
            f"p^κ={market.isp_price:g}, {market.order}, reserve {market.reserve_policy}, "
            f"policy {market.policy}",
            highlight=False,
        )
        v = res.verdict
        detail = f"largest gain of a reply {v.max_gain:.3g} (ε = {v.epsilon:g}, {v.engine} check)"
        if v.cycle is not None:
            detail = (
                f"cycle of {v.cycle.length} rounds from round {v.cycle.start}, buyers "
                f"{', '.join(v.cycle.members)}; " + detail
            )
        elif v.unhappy or v.seller_moves:
            detail += f"; buyers gaining more than ε: {', '.join(v.unhappy) or 'none'}"
            detail += f"; sellers moving their reserve: {', '.join(v.seller_moves) or 'none'}"
        out.print(f"status: [bold]{res.status}[/] — {detail}", highlight=False)
        out.print(f"rounds {res.rounds}, messages {res.messages}", highlight=False)
        out.print(
            f"welfare {res.welfare:.4f} / optimum {res.optimum.welfare:.4f} = efficiency "
            f"{res.efficiency:.4f}; bought from the ISP {res.outcome.allocation['isp']:.4f}",
            highlight=False,
        )
        if n_b <= 20:
            for b in market.buyers:
                a = res.outcome.allocation[b.id]
                sellers_txt = ", ".join(f"{j}: {q:.4g}" for j, q in a["sellers"].items())
                out.print(
                    f"  {b.id}: {a['total']:.4g} ({sellers_txt}; isp {a['isp']:.4g}) pays "
                    f"{res.outcome.payments[b.id]:.4g}",
                    highlight=False,
                )
        if trace is not None:
            out.print(f"trace: {trace}", highlight=False)
        if res.status != "converged":
            raise typer.Exit(3)
