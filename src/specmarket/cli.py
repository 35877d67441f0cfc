"""The ``specmarket`` command line: a thin layer over the library (parse, call, print).

Exit status: 0 on success, 2 on bad input (one clear line on stderr), 1 when an audit finds
violations. Commands of individual mechanisms and of the experiments live in
:mod:`specmarket.commands`, listed in its table and imported only when used, so that starting the
command line loads none of numpy's heavy neighbours (scipy, numba, matplotlib, pandas, pyarrow).
"""

from __future__ import annotations

import gc
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, NoReturn

import typer

from specmarket import io
from specmarket.commands import MECHANISMS, LazyGroup
from specmarket.errors import SpecmarketError

if TYPE_CHECKING:
    from rich.console import Console

app = typer.Typer(
    name="specmarket",
    cls=LazyGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
_consoles: dict[str, Console] = {}


def console(name: Literal["out", "err"] = "out") -> Console:
    """The rich console of stdout (``"out"``) or stderr (``"err"``), made on first use so that a
    command printing plain JSON never imports rich."""
    if name not in _consoles:
        from rich.console import Console

        _consoles[name] = Console(stderr=name == "err")
    return _consoles[name]


def __getattr__(name: str) -> Console:
    """``specmarket.cli.out`` and ``specmarket.cli.err``: the consoles of :func:`console`."""
    if name == "out":
        return console("out")
    if name == "err":
        return console("err")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def version() -> str:
    """The installed distribution's version, or the source tree's when it is not installed
    (:func:`specmarket.provenance.version`, the one that results and reports record)."""
    from specmarket.provenance import version as installed_version

    return installed_version()


def _print_version(value: bool) -> None:
    if value:
        print(f"specmarket {version()}")
        raise typer.Exit()


@app.callback()
def _main(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """Truthful auctions for secondary wireless markets.

    Example: specmarket clear vickrey examples/vickrey.json
    """


def print_error(exc: BaseException) -> None:
    """Print ``error: MESSAGE`` as one line on stderr (the message is never read as markup)."""
    from rich.text import Text

    line = Text("error: ", style="bold red") + Text(str(exc))
    console("err").print(line, highlight=False, soft_wrap=True)


def fail(exc: BaseException) -> NoReturn:
    """Print one clear line on stderr and exit with status 2."""
    print_error(exc)
    raise typer.Exit(2)


@app.command("mechanisms", rich_help_panel=MECHANISMS)
def mechanisms_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """List the mechanisms specmarket implements, with the properties each claims.

    Example: specmarket mechanisms --json
    """
    from specmarket.mechanisms import rows

    listing = rows()  # from the registry's table: no mechanism module is imported
    if as_json:
        records = [
            {"name": r.name, "title": r.title, "claims": r.claims.split(), "module": r.module}
            for r in listing
        ]
        print(json.dumps(records, indent=2))
        return
    from rich.table import Table

    table = Table(title="specmarket mechanisms")
    table.add_column("name", style="bold")
    table.add_column("what")
    table.add_column("claims")
    for r in listing:
        table.add_row(r.name, r.title, ", ".join(r.claims.split()))
    console().print(table)


def _print_outcome_table(result: dict[str, Any]) -> None:
    from rich.table import Table
    from rich.text import Text

    out = console()
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


@app.command("clear", rich_help_panel=MECHANISMS)
def clear_cmd(
    mechanism: Annotated[str, typer.Argument(help="Mechanism name (see `specmarket mechanisms`).")],
    file: Annotated[
        Path, typer.Argument(help="JSON instance; Parquet/CSV for mcafee (docs/formats.md).")
    ],
    table: Annotated[bool, typer.Option("--table", help="Print a table instead of JSON.")] = False,
) -> None:
    """Clear one instance and print the outcome as JSON.

    Example: specmarket clear vickrey examples/vickrey.json --table
    """
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


@app.command("audit", rich_help_panel=MECHANISMS)
def audit_cmd(
    mechanism: Annotated[str, typer.Argument(help="Mechanism name.")],
    instances: Annotated[
        int, typer.Option("--instances", "-n", min=1, help="Random instances.")
    ] = 1000,
    seed: Annotated[int, typer.Option("--seed", "-s", min=0, help="Master seed (≥ 0).")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Search random instances for violations of the properties a mechanism claims.

    Example: specmarket audit vickrey -n 200 --seed 1
    """
    from specmarket.audit import audit
    from specmarket.mechanisms import get

    try:
        spec = get(mechanism)
        from rich.progress import Progress

        with Progress(console=console("err"), transient=True) as progress:
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
        console().print(report.render(), highlight=False)
    if not report.ok:
        raise typer.Exit(1)


def main() -> None:
    """Entry point of the ``specmarket`` script.

    When the command is done, the collector's generations are frozen: the interpreter's last
    collection at exit would otherwise walk every object that numpy, pandas, matplotlib and the
    compiled kernels left behind — about 0.4 CPU-s after a reproduction, for memory the process
    is about to give back anyway. Exit handlers and file closing run as usual.
    """
    try:
        app()
    except SpecmarketError as exc:  # a plug-in command that did not catch its own error
        print_error(exc)
        sys.exit(2)
    finally:
        gc.freeze()


if __name__ == "__main__":
    main()
