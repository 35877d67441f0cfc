"""CLI of the experiments: ``run``, ``summary``, ``report``, ``reproduce`` and ``demo``.

Exit status: 0 on success; 2 on bad input (one line on stderr); 1 when a run or a reproduction
fails (``demo`` still writes its report, with the failures in it, before exiting 1).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from specmarket.errors import SpecmarketError

if TYPE_CHECKING:
    from rich.progress import Progress

    from specmarket.experiments.report import Failure
    from specmarket.reproductions import Reproduction

DEMO_DIR = Path("specmarket-report")


class CliProgress:
    """The callback a :func:`progress_bar` block yields: ``bar(done, total)`` moves the bar
    (the shape of :data:`specmarket.experiments.runner.TaskProgress`; ``done = 0`` starts a new
    part), ``bar.describe(text)`` replaces its text. Does nothing when the bar is off."""

    def __init__(self, label: str, bar: Progress | None = None) -> None:
        self.label = label
        self.bar = bar
        self.task = bar.add_task(label, total=None) if bar is not None else None
        self.parts = 0

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None or self.task is None:
            return
        if done == 0:
            self.parts += 1
            text = self.label if self.parts == 1 else f"{self.label} (part {self.parts})"
            self.bar.update(self.task, description=text)
        self.bar.update(self.task, completed=done, total=total)

    def describe(self, text: str) -> None:
        if self.bar is not None and self.task is not None:
            self.bar.update(self.task, description=text)


@contextlib.contextmanager
def progress_bar(label: str, enabled: bool = True, counts: bool = True) -> Iterator[CliProgress]:
    """A transient rich progress bar on stderr for a command that may run for a while.

    Until the first report it pulses with the elapsed time (a reproduction that sends no runs
    through :func:`~specmarket.experiments.runner.map_tasks` still shows that it works); then it
    shows ``done/total`` runs. It disappears when the block ends and renders nothing when stderr
    is not a terminal, so piped output and ``--json`` stay clean. ``enabled=False``: no bar;
    ``counts=False``: no ``done/total`` column (for work of unknown size, told by its text).
    """
    if not enabled:
        yield CliProgress(label)
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    from specmarket.cli import console

    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn()]
    if counts:
        columns.append(MofNCompleteColumn())
    bar = Progress(*columns, TimeElapsedColumn(), console=console("err"), transient=True)
    with bar:
        yield CliProgress(label, bar)


def _chmod_readable(path: Path) -> None:
    with contextlib.suppress(OSError):  # a file system without modes
        os.chmod(path, 0o644)


def run_cmd(
    scenario: Annotated[Path, typer.Argument(help="Scenario TOML file (docs/experiments.md).")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Results folder (default: ./NAME-results).")
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", "-j", min=1, help="Local worker processes.")
    ] = 1,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray", metavar="ADDRESS", help="Run on an existing Ray cluster (HOST:PORT)."
        ),
    ] = None,
    quick: Annotated[
        bool,
        typer.Option(
            "--quick", help="Apply the quick overrides of the scenario (its quick table)."
        ),
    ] = False,
    seed: Annotated[
        int | None, typer.Option("--seed", "-s", min=0, help="Replace the master seed.")
    ] = None,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Delete stored runs instead of resuming.")
    ] = False,
    csv: Annotated[bool, typer.Option("--csv", help="Also write results.csv.")] = False,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No progress bar.")] = False,
) -> None:
    """Run a scenario sweep (resumable: stored runs are skipped) and write the results table.

    Example: specmarket run src/specmarket/reproductions/baselines.toml -o results --quick
    """
    from specmarket import io
    from specmarket.cli import err, fail
    from specmarket.cli import out as console
    from specmarket.experiments import RunError, load_scenario, run_scenario
    from specmarket.experiments.runner import RayUnreachable

    try:
        data = io.read_toml(scenario)
        if seed is not None:
            data["seed"] = seed
        sc = load_scenario(data, quick=quick)
        target = out if out is not None else Path(f"{sc.name}-results")
        res = run_scenario(
            sc,
            target,
            workers=workers,
            ray_address=ray,
            progress=not no_progress,
            fresh=fresh,
            csv=csv,
        )
    except KeyboardInterrupt:
        err.print(
            "interrupted: finished runs are stored; rerun the same command to resume.",
            highlight=False,
        )
        raise typer.Exit(130) from None
    except RayUnreachable as exc:
        fail(SpecmarketError(f"--ray {exc.address}: cannot reach a Ray cluster there: {exc.why}"))
    except RunError as exc:
        err.print(f"[bold red]run failed:[/] {exc}", highlight=False, soft_wrap=True)
        err.print("finished runs are stored; rerun the same command to resume.", highlight=False)
        raise typer.Exit(1) from None
    except SpecmarketError as exc:
        fail(exc)
    console.print(
        f"{res.ran} run(s) computed, {res.skipped} already stored, "
        f"{res.seconds:.2f} s; results: [bold]{res.files['parquet']}[/]",
        highlight=False,
    )
    console.print(
        f"next: specmarket summary {target}  ·  specmarket report {target} -o DIR", highlight=False
    )


def summary_cmd(
    results: Annotated[Path, typer.Argument(help="Results folder, .parquet or .csv.")],
    metric: Annotated[
        list[str] | None, typer.Option("--metric", "-m", help="Metric(s) to show (default: all).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary as JSON records.")
    ] = False,
) -> None:
    """Means with 95% confidence intervals per mechanism and sweep point.

    Example: specmarket summary results -m revenue
    """
    from rich.table import Table

    from specmarket.cli import fail
    from specmarket.cli import out as console
    from specmarket.experiments import load_results, summarize

    try:
        res = load_results(results)
        table = summarize(res, metrics=metric or None)
    except SpecmarketError as exc:
        fail(exc)
    if as_json:
        print(json.dumps(json.loads(table.to_json(orient="records")), indent=2))
        return
    sc = res.scenario
    console.print(
        f"[bold]{sc.title or sc.name}[/]: {res.table['run'].nunique() if len(res.table) else 0}"
        f" of {sc.n_runs} runs; mean [95% CI]",
        highlight=False,
    )
    for m in table["metric"].unique():
        part = table[table["metric"] == m]
        t = Table(title=sc.label(m))
        for a in sc.axes:
            t.add_column(sc.label(a) if a in sc.labels else a, justify="right")
        for mech in sc.mechanisms:
            t.add_column(mech, justify="right")
        t.add_column("n", justify="right")
        keys = part[sc.axes].drop_duplicates().itertuples(index=False) if sc.axes else [()]
        for key in keys:
            sel = part
            for a, v in zip(sc.axes, key, strict=True):
                sel = sel[sel[a] == v]
            cells = []
            for mech in sc.mechanisms:
                row = sel[sel["mechanism"] == mech]
                if row.empty:
                    cells.append("–")
                    continue
                r = row.iloc[0]
                cells.append(
                    f"{r['mean']:.4g}"
                    if r["ci_low"] != r["ci_low"]
                    else f"{r['mean']:.4g} [{r['ci_low']:.4g}, {r['ci_high']:.4g}]"
                )
            t.add_row(*[str(v) for v in key], *cells, str(int(sel["n"].min())) if len(sel) else "0")
        console.print(t)


def report_cmd(
    results: Annotated[Path, typer.Argument(help="Results folder, .parquet or .csv.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Report folder.")] = Path("report"),
) -> None:
    """Write one self-contained HTML page (scenario, tables, figures) for a results table.

    Example: specmarket report results -o report
    """
    from specmarket.cli import fail
    from specmarket.cli import out as console
    from specmarket.experiments import load_results
    from specmarket.experiments.report import sweep_report

    try:
        page = sweep_report(load_results(results), out)
    except SpecmarketError as exc:
        fail(exc)
    _chmod_readable(page)
    console.print(f"report: {page.resolve()}", highlight=False, markup=False, soft_wrap=True)


def reproduce_cmd(
    name: Annotated[
        str, typer.Argument(help="Reproduction name (listed above).", show_default=False)
    ],
    quick: Annotated[bool, typer.Option("--quick", help="Small version (seconds).")] = False,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output folder (default: ./specmarket-NAME).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", "-s", min=0, help="Master seed.")] = 0,
    workers: Annotated[int, typer.Option("--workers", "-j", min=1, help="Worker processes.")] = 1,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No progress bar.")] = False,
) -> None:
    """Run one bundled reproduction of a seed's result and write its tables, figures and report.

    Example: specmarket reproduce baselines --quick -o baselines-report
    """
    from specmarket.cli import err, fail
    from specmarket.cli import out as console
    from specmarket.experiments.runner import reporting, task_pool
    from specmarket.reproductions import ReproContext, get

    try:
        rep = get(name)
    except SpecmarketError as exc:
        fail(exc)
    target = out if out is not None else Path(f"specmarket-{name}")
    ctx = ReproContext(out_dir=target, quick=quick, seed=seed, workers=workers)
    t0 = time.perf_counter()
    try:
        with (
            progress_bar(f"reproduce {name}", not no_progress) as bar,
            reporting(bar),
            task_pool(workers),
        ):
            result = rep.run(ctx)
    except SpecmarketError as exc:
        fail(exc)
    except Exception as exc:
        err.print(
            f"[bold red]reproduction {name} failed:[/] {exc.__class__.__name__}: {exc}",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1) from None
    # imported now, not before the run: the report loads pandas, which the workers never need
    from specmarket.experiments.report import reproductions_report

    page = reproductions_report([result], target, title=f"specmarket: {result.title}")
    _chmod_readable(page)
    console.print(f"{name}: done in {time.perf_counter() - t0:.1f} s", highlight=False)
    if result.summary:
        console.print(result.summary, highlight=False)
    console.print(f"report: {page.resolve()}", highlight=False, markup=False, soft_wrap=True)


def demo_cmd(
    out: Annotated[Path, typer.Option("--out", "-o", help="Report folder.")] = DEMO_DIR,
    seed: Annotated[int, typer.Option("--seed", "-s", min=0, help="Master seed.")] = 0,
    workers: Annotated[int, typer.Option("--workers", "-j", min=1, help="Worker processes.")] = 1,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No progress bar.")] = False,
) -> None:
    """Run the quick version of every bundled reproduction and write one HTML report.

    Example: specmarket demo -o specmarket-report
    """
    from specmarket.cli import err
    from specmarket.cli import out as console

    page, failed = run_demo(
        out, seed=seed, workers=workers, echo=console.print, progress=not no_progress
    )
    _chmod_readable(page)
    console.print(f"report: {page.resolve()}", highlight=False, markup=False, soft_wrap=True)
    if failed:
        err.print(
            f"[bold red]{len(failed)} reproduction(s) failed:[/] {', '.join(failed)} "
            "(details in the report)",
            highlight=False,
        )
        raise typer.Exit(1)


def run_demo(
    out: Path,
    seed: int = 0,
    workers: int = 1,
    echo: Callable[..., object] | None = None,
    progress: bool = False,
) -> tuple[Path, list[str]]:
    """Run every registered reproduction with ``quick=True`` into ``out/NAME`` and write
    ``out/index.html``. A failing reproduction is reported in the page, never fatal.
    ``progress``: a transient bar on stderr while each reproduction runs (:func:`progress_bar`).
    Returns the page and the names that failed."""
    if echo is None:
        from rich.console import Console

        echo = Console(stderr=True).print
    from specmarket.experiments.report import Failure, reproductions_report
    from specmarket.experiments.runner import reporting, task_pool
    from specmarket.reproductions import ReproContext, ReproResult

    items: list[ReproResult | Failure] = []
    failed: list[str] = []
    try:
        from specmarket.reproductions import registry

        reg = registry()
    except Exception:  # a module that fails to import must not hide the others' results
        reg, broken = discover_tolerantly()
        items.extend(broken)
        failed.extend(b.name for b in broken)
        for b in broken:
            echo(f"[red]✗[/] {b.name}: cannot be imported", highlight=False)
    for name, rep in reg.items():
        t0 = time.perf_counter()
        ctx = ReproContext(out_dir=out / name, quick=True, seed=seed, workers=workers)
        try:
            with progress_bar(name, progress) as bar, reporting(bar), task_pool(workers):
                items.append(rep.run(ctx))
            echo(f"[green]✓[/] {name} ({time.perf_counter() - t0:.1f} s)", highlight=False)
        except Exception as exc:
            failed.append(name)
            items.append(Failure(name, rep.title, _trace(exc)))
            echo(f"[red]✗[/] {name}: {exc.__class__.__name__}: {exc}", highlight=False)
    page = reproductions_report(items, out, title="specmarket demo: quick reproductions")
    return page, failed


def discover_tolerantly() -> tuple[dict[str, Reproduction], list[Failure]]:
    """Import each reproduction of the table on its own: the reproductions that load, and a
    :class:`Failure` for each whose module raises on import."""
    from specmarket.experiments.report import Failure
    from specmarket.reproductions import load, rows

    found: dict[str, Reproduction] = {}
    broken: list[Failure] = []
    for row in rows():
        try:
            found[row.name] = load(row)
        except Exception as exc:
            broken.append(Failure(row.name, f"module {row.module}", _trace(exc)))
    return found, broken


def _trace(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc, limit=-8))


def reproduce_help() -> str:
    """The help of ``specmarket reproduce``: its docstring with one line per bundled reproduction
    (from the registry's table, so no reproduction module is imported to show it)."""
    import inspect

    from specmarket.reproductions import rows

    first, *rest = inspect.cleandoc(reproduce_cmd.__doc__ or "").split("\n\n")
    width = max(len(r.name) for r in rows())
    listing = "\n".join(f"  {r.name:<{width}}  {r.line}" for r in rows())
    return "\n\n".join([first, "Reproductions:\n" + listing, *rest])


def register(app: typer.Typer) -> None:
    """Add the experiment commands to the ``specmarket`` app."""
    app.command("run")(run_cmd)
    app.command("summary")(summary_cmd)
    app.command("report")(report_cmd)
    app.command("reproduce", help=reproduce_help())(reproduce_cmd)
    app.command("demo")(demo_cmd)
