"""``specmarket simulate psp``: the classic PSP best-reply dynamics (seed 002 §1.1.1).

Defines the ``simulate`` sub-app (:data:`simulate_app`); other market simulations (the data-exchange
market) add their commands to it by importing :data:`simulate_app` from here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from pydantic import model_validator

from specmarket.core import Count, Model, NonNegative, Positive, PositiveCount
from specmarket.errors import InvalidInput, SpecmarketError

__all__ = ["PspScenario", "register", "simulate_app"]

simulate_app = typer.Typer(
    help="Run market simulations.\n\nExample: specmarket simulate psp -n 20 --seed 1",
    no_args_is_help=True,
)


class PspScenario(Model):
    """A classic-PSP scenario (all keys optional in a TOML file; defaults = Lazar–Semret's)."""

    players: PositiveCount = 20
    quantity: Positive = 100.0
    reserve: NonNegative = 0.1
    epsilon: Positive = 5.0
    budget: Positive = 100.0
    tie_rule: Literal["lazar-semret", "split"] = "lazar-semret"
    order: Literal["asynchronous", "synchronous"] = "asynchronous"
    theta0_low: Positive = 10.0
    theta0_high: Positive = 20.0
    qbar_low: Positive = 50.0
    qbar_high: Positive = 100.0
    seed: Count = 0
    max_rounds: PositiveCount = 10_000

    @model_validator(mode="after")
    def _check(self) -> PspScenario:
        from specmarket.mechanisms.psp.dynamics import MAX_PLAYERS, MAX_ROUNDS

        if self.players > MAX_PLAYERS:
            raise InvalidInput(
                "players",
                self.players,
                f"at most {MAX_PLAYERS:,} buyers (a round costs O(players²): 10⁵ buyers take "
                "minutes per round, more would take hours)",
            )
        if self.max_rounds > MAX_ROUNDS:
            raise InvalidInput("max_rounds", self.max_rounds, f"at most {MAX_ROUNDS:,} rounds")
        if self.theta0_high < self.theta0_low:
            raise InvalidInput("theta0_high", self.theta0_high, "must be ≥ theta0_low")
        if self.qbar_high < self.qbar_low:
            raise InvalidInput("qbar_high", self.qbar_high, "must be ≥ qbar_low")
        return self


def run_scenario(
    sc: PspScenario,
    trace_path: Path | None = None,
    on_bid: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Draw the population of ``sc`` and run the dynamics; the summary dict (and the trace file).
    ``on_bid`` receives every submitted bid as it happens (the progress display)."""
    import numpy as np

    from specmarket import io
    from specmarket.mechanisms.psp.dynamics import random_population, run_dynamics

    rng = np.random.default_rng(sc.seed)
    vals = random_population(
        rng, sc.players, (sc.theta0_low, sc.theta0_high), (sc.qbar_low, sc.qbar_high)
    )
    res = run_dynamics(
        vals,
        total=sc.quantity,
        reserve=sc.reserve,
        epsilon=sc.epsilon,
        budgets=sc.budget,
        tie_rule=sc.tie_rule,
        seed=sc.seed,
        max_rounds=sc.max_rounds,
        order=sc.order,
        record_trace=trace_path is not None,
        on_bid=on_bid,
    )
    out = res.summary()
    out["scenario"] = sc.model_dump()
    if trace_path is not None:
        lines = "".join(json.dumps(e) + "\n" for e in res.trace)
        io.write_atomic(trace_path, lines)
        out["trace"] = str(trace_path)
    return out


@simulate_app.command("psp")
def simulate_psp(
    scenario: Annotated[
        Path | None, typer.Option("--scenario", help="TOML file with scenario keys.")
    ] = None,
    players: Annotated[int | None, typer.Option("--players", "-n", help="Buyers.")] = None,
    quantity: Annotated[float | None, typer.Option("--quantity", help="Resource Q.")] = None,
    reserve: Annotated[float | None, typer.Option("--reserve", help="Seller reserve p0.")] = None,
    epsilon: Annotated[float | None, typer.Option("--epsilon", help="Bid fee ε.")] = None,
    budget: Annotated[float | None, typer.Option("--budget", help="Budget per buyer.")] = None,
    tie_rule: Annotated[
        str | None, typer.Option("--tie-rule", help="lazar-semret or split.")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", "-s", min=0, help="Seed (≥ 0).")] = None,
    order: Annotated[
        str | None,
        typer.Option("--order", help="asynchronous (one at a time, default) or synchronous."),
    ] = None,
    trace: Annotated[
        Path | None, typer.Option("--trace", help="Write every bid as JSON lines here.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full result as JSON.")] = False,
    no_progress: Annotated[
        bool, typer.Option("--no-progress", help="No progress display on stderr.")
    ] = False,
) -> None:
    """Truthful ε-best-reply dynamics of classic PSP to an ε-Nash equilibrium.

    At most 100,000 players (a round costs O(players²)); a transient progress display on stderr
    shows the round and the bids so far (never with --json).

    Example: specmarket simulate psp -n 20 --epsilon 5 --seed 1
    """
    from specmarket import io
    from specmarket.cli import fail, out
    from specmarket.commands.experiments import progress_bar

    try:
        data: dict[str, Any] = io.read_toml(scenario) if scenario is not None else {}
        given = {
            "players": players,
            "quantity": quantity,
            "reserve": reserve,
            "epsilon": epsilon,
            "budget": budget,
            "tie_rule": tie_rule,
            "seed": seed,
            "order": order,
        }
        data.update({k: v for k, v in given.items() if v is not None})
        for key in ("quantity", "reserve", "epsilon", "budget"):
            if isinstance(data.get(key), int) and not isinstance(data.get(key), bool):
                data[key] = float(data[key])
        sc = PspScenario.parse(data)
        label = f"PSP dynamics, {sc.players:,} buyers"
        with progress_bar(label, not (as_json or no_progress), counts=False) as bar:
            bids = [0]

            def show(event: dict[str, Any]) -> None:
                bids[0] += 1
                bar.describe(f"{label}: round {event['round']}, {bids[0]:,} bids")

            result = run_scenario(sc, trace, on_bid=None if bar.bar is None else show)
    except SpecmarketError as exc:
        fail(exc)
        return
    if as_json:
        print(io.dumps(result))
        return
    gap = result["optimum"] - result["welfare"]
    out.print(
        f"[bold]PSP dynamics[/]: {sc.players} buyers, Q={sc.quantity:g}, ε={sc.epsilon:g}, "
        f"reserve={sc.reserve:g}, tie rule {sc.tie_rule}, {sc.order} moves, seed {sc.seed}",
        highlight=False,
    )
    out.print(
        f"rounds {result['rounds']} ({'converged' if result['converged'] else 'NOT converged'}), "
        f"bids {result['total_bids']} ({result['bids_per_player']:.2f} per buyer)",
        highlight=False,
    )
    out.print(
        f"welfare {result['welfare']:.4f} / optimum {result['optimum']:.4f} = efficiency "
        f"{result['efficiency']:.4f}; loss {gap:.4f} ≤ bound 4Q√(εκ) = {result['loss_bound']:.4f}: "
        f"{gap <= result['loss_bound'] + 1e-9 or math.isclose(gap, 0)}",
        highlight=False,
    )
    if trace is not None:
        out.print(f"trace: {trace}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``simulate`` group (with ``simulate psp``) to the ``specmarket`` app."""
    app.add_typer(simulate_app, name="simulate")
