"""The ``specmarket`` command line: a thin layer over the library (parse, call, print).

Exit status: 0 on success, 2 on bad input (one clear line on stderr), 1 when an audit finds
violations. Commands of individual mechanisms and of the experiments live in
:mod:`specmarket.commands` and are added here automatically.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from specmarket import io
from specmarket.errors import SpecmarketError

app = typer.Typer(
    name="specmarket",
    help="Truthful auctions for secondary wireless markets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)


def fail(exc: BaseException) -> None:
    """Print one clear line on stderr and exit with status 2."""
    err.print(Text("error: ", style="bold red") + Text(str(exc)), highlight=False, soft_wrap=True)
    raise typer.Exit(2)


@app.command("mechanisms")
def mechanisms_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """List the mechanisms specmarket implements."""
    from specmarket.mechanisms import registry

    reg = registry()
    if as_json:
        print(
            json.dumps(
                [
                    {
                        "name": s.name,
                        "title": s.title,
                        "source": s.source,
                        "claims": sorted(s.claims),
                    }
                    for s in reg.values()
                ],
                indent=2,
            )
        )
        return
    table = Table(title="specmarket mechanisms")
    table.add_column("name", style="bold")
    table.add_column("what")
    table.add_column("claims")
    table.add_column("source")
    for s in reg.values():
        table.add_row(s.name, s.title, ", ".join(sorted(s.claims)), s.source)
    out.print(table)


def _print_outcome_table(result: dict[str, Any]) -> None:
    alloc = result.get("allocation", {})
    pay = result.get("payments", {})
    table = Table(title=f"{result.get('mechanism')} outcome")
    table.add_column("id", style="bold")
    table.add_column("allocation")
    table.add_column("payment (+ pays, − receives)", justify="right")
    for pid in pay:
        table.add_row(Text(str(pid)), Text(json.dumps(alloc.get(pid))), f"{pay[pid]:.6g}")
    out.print(table)
    for key, value in result.items():
        if key not in ("allocation", "payments"):
            out.print(Text(f"{key}: ", style="bold") + Text(json.dumps(value)), highlight=False)


@app.command("clear")
def clear_cmd(
    mechanism: Annotated[str, typer.Argument(help="Mechanism name (see `specmarket mechanisms`).")],
    file: Annotated[
        Path, typer.Argument(help="JSON instance; Parquet/CSV for mcafee (docs/formats.md).")
    ],
    table: Annotated[bool, typer.Option("--table", help="Print a table instead of JSON.")] = False,
) -> None:
    """Clear one instance and print the outcome as JSON."""
    from specmarket.mechanisms import get

    try:
        if io.is_columnar(file):  # .parquet / .csv: one participant per row (docs/formats.md)
            if not table:  # written piece by piece (the same text as print would write)
                io.clear_columnar(mechanism, file, out=sys.stdout.buffer)
                return
            text = io.clear_columnar(mechanism, file)
            result = json.loads(text)
        else:
            spec = get(mechanism)
            result = spec.clear_json(io.read_json(file))
            text = io.dumps(result)
    except SpecmarketError as exc:
        fail(exc)
    if table:
        _print_outcome_table(result)
    else:
        print(text)


@app.command("audit")
def audit_cmd(
    mechanism: Annotated[str, typer.Argument(help="Mechanism name.")],
    instances: Annotated[
        int, typer.Option("--instances", "-n", min=1, help="Random instances.")
    ] = 1000,
    seed: Annotated[int, typer.Option("--seed", "-s", min=0, help="Master seed (≥ 0).")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Search random instances for violations of the properties a mechanism claims."""
    from specmarket.audit import audit
    from specmarket.mechanisms import get

    try:
        spec = get(mechanism)
        from rich.progress import Progress

        with Progress(console=err, transient=True) as progress:
            task = progress.add_task(f"auditing {mechanism}", total=instances)
            report = audit(
                spec,
                instances=instances,
                seed=seed,
                progress=lambda k: progress.update(task, completed=k),
            )
    except SpecmarketError as exc:
        fail(exc)
    if as_json:
        print(io.dumps(report.to_json()))
    else:
        out.print(report.render(), highlight=False)
    if not report.ok:
        raise typer.Exit(1)


def _register_plugins() -> None:
    from specmarket.commands import register_all

    register_all(app)


_register_plugins()


def main() -> None:
    """Entry point of the ``specmarket`` script."""
    try:
        app()
    except SpecmarketError as exc:  # a plug-in command that did not catch its own error
        err.print(
            Text("error: ", style="bold red") + Text(str(exc)), highlight=False, soft_wrap=True
        )
        sys.exit(2)
