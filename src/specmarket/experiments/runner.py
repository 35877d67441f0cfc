"""Run a scenario: every (grid point, repetition) with every mechanism, in parallel, resumable.

One *run* is a grid point and a repetition: it draws one market from
``default_rng(run_seed(master, point, rep))`` and clears it with each mechanism of the scenario,
giving one results row per mechanism. Runs are independent, so they are computed in batches by

* the calling process (``workers=1``),
* a local process pool (``workers=N``), or
* an existing Ray cluster (``ray_address="HOST:PORT"``; the optional ``ray`` extra),

and give identical numbers whatever the backend, the number of workers or the order of completion.
Each finished batch is stored at once as one small file written atomically (see
:class:`~specmarket.experiments.results.ResultStore`), and a rerun skips every stored run.
Batch sizes adapt so that a batch takes about a quarter of a second, which keeps the overhead per
run far below a millisecond while a killed sweep loses at most a few seconds of work.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, as_completed, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np
import pandas as pd

from specmarket.errors import SpecmarketError
from specmarket.experiments.results import ResultStore, tidy_table, write_table
from specmarket.experiments.scenario import Scenario, run_seed

#: Target wall time of one batch (s): large enough to amortise IPC, small enough to lose little.
TARGET_BATCH_SECONDS = 0.25
MAX_BATCH = 512
#: What one batch returns: its results rows and its compute time in seconds.
BatchResult = tuple[list[dict[str, Any]], float]


class RunError(SpecmarketError):
    """A mechanism or generator failed inside a run (names the run, its seed and the mechanism)."""


# --------------------------------------------------------------------------- one run


def execute_run(scenario: Scenario, run: int) -> list[dict[str, Any]]:
    """Compute run number ``run`` of ``scenario``: one row per mechanism."""
    from specmarket.mechanisms import get

    point, rep = divmod(run, scenario.repetitions)
    seed = run_seed(scenario.seed, point, rep)
    params = scenario.point_params[point]
    gen = scenario.gen
    rng = np.random.default_rng(seed)
    mech = "<generator>"
    try:
        market = gen.draw(params, rng)
        base = {"run": run, "point": point, "rep": rep, "seed": seed}
        base.update(params.model_dump())
        rows = []
        for mech in scenario.mechanisms:
            # random-instance: each mechanism draws from its own stream (name-keyed), so adding
            # or removing a mechanism does not change the others' instances
            mrng = (
                np.random.default_rng([seed, zlib.crc32(mech.encode())])
                if gen.any_mechanism
                else rng
            )
            metrics = gen.run(get(mech), params, market, mrng)
            rows.append({**base, "mechanism": mech, **{k: float(v) for k, v in metrics.items()}})
        return rows
    except Exception as exc:
        raise RunError(
            f"run {run} (point {scenario.points[point]}, repetition {rep}, seed {seed}), "
            f"{mech}: {exc.__class__.__name__}: {exc}"
        ) from exc


def run_batch(scenario: Scenario, runs: list[int]) -> tuple[list[dict[str, Any]], float]:
    """Compute several runs; returns the rows and the compute time in seconds."""
    t0 = time.perf_counter()
    rows: list[dict[str, Any]] = []
    for r in runs:
        rows.extend(execute_run(scenario, r))
    return rows, time.perf_counter() - t0


# --------------------------------------------------------------------------- backends

_WORKER_SCENARIO: Scenario | None = None


def _init_worker(data: dict[str, Any]) -> None:
    global _WORKER_SCENARIO
    _WORKER_SCENARIO = Scenario.parse(data)


def _pool_batch(runs: list[int]) -> tuple[list[dict[str, Any]], float]:
    assert _WORKER_SCENARIO is not None
    return run_batch(_WORKER_SCENARIO, runs)


def _ray_batch(data: dict[str, Any], runs: list[int]) -> tuple[list[dict[str, Any]], float]:
    return run_batch(Scenario.parse(data), runs)


class _Backend:
    """Submit batches, wait for any to finish, fetch results."""

    slots: int = 1

    def submit(self, runs: list[int]) -> Any:
        raise NotImplementedError

    def wait_any(self, handles: list[Any]) -> list[Any]:
        raise NotImplementedError

    def result(self, handle: Any) -> tuple[list[dict[str, Any]], float]:
        raise NotImplementedError

    def close(self, cancel: bool) -> None:
        return None


class _Done:
    """A finished batch of the inline backend (hashable, unlike its result)."""

    def __init__(self, value: tuple[list[dict[str, Any]], float]) -> None:
        self.value = value


class _InlineBackend(_Backend):
    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.slots = 1

    def submit(self, runs: list[int]) -> Any:
        return _Done(run_batch(self.scenario, runs))

    def wait_any(self, handles: list[Any]) -> list[Any]:
        return handles

    def result(self, handle: Any) -> tuple[list[dict[str, Any]], float]:
        return cast(BatchResult, handle.value)


class _PoolBackend(_Backend):
    def __init__(self, scenario: Scenario, workers: int) -> None:
        self.pool = ProcessPoolExecutor(
            workers, initializer=_init_worker, initargs=(scenario.to_dict(),)
        )
        self.slots = workers

    def submit(self, runs: list[int]) -> Future[Any]:
        return self.pool.submit(_pool_batch, runs)

    def wait_any(self, handles: list[Any]) -> list[Any]:
        done, _ = wait(handles, return_when=FIRST_COMPLETED)
        return list(done)

    def result(self, handle: Any) -> tuple[list[dict[str, Any]], float]:
        return cast(BatchResult, handle.result())

    def close(self, cancel: bool) -> None:
        self.pool.shutdown(wait=True, cancel_futures=cancel)


class _RayBackend(_Backend):
    def __init__(self, scenario: Scenario, address: str) -> None:
        try:
            import ray
        except ImportError:
            raise SpecmarketError(
                "--ray needs the optional extra: pip install 'specmarket[ray]'"
            ) from None
        self.ray = ray
        self.owned = not ray.is_initialized()
        if self.owned:
            try:
                ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)
            except (ConnectionError, ValueError, RuntimeError) as exc:
                raise SpecmarketError(
                    f"cannot connect to the Ray cluster at {address!r}: {exc}"
                ) from None
        # ray is untyped: cluster_resources() -> dict[str, float]
        resources: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
        self.slots = max(1, int(resources.get("CPU", 1)))
        self.data = ray.put(scenario.to_dict())
        self.fn = ray.remote(num_cpus=1)(_ray_batch)

    def submit(self, runs: list[int]) -> Any:
        return self.fn.remote(self.data, runs)

    def wait_any(self, handles: list[Any]) -> list[Any]:
        done, _ = self.ray.wait(handles, num_returns=1)
        return list(done)

    def result(self, handle: Any) -> tuple[list[dict[str, Any]], float]:
        try:
            return cast(BatchResult, self.ray.get(handle))
        except self.ray.exceptions.RayTaskError as exc:
            cause = exc.as_instanceof_cause()  # type: ignore[no-untyped-call]  # ray: untyped
            raise RunError(str(cause).strip().splitlines()[-1]) from None

    def close(self, cancel: bool) -> None:
        if self.owned:
            self.ray.shutdown()


# --------------------------------------------------------------------------- independent tasks

T = TypeVar("T")
R = TypeVar("R")


def _limit_blas_threads() -> None:
    """Worker initializer: one BLAS thread per worker process (the workers already use the
    cores; a second OpenBLAS thread each would only oversubscribe them)."""
    try:
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - a declared dependency
        return
    np.dot(np.ones((2, 2)), np.ones((2, 2)))  # numpy loads its BLAS lazily
    threadpool_limits(limits=1, user_api="blas")


def map_tasks(
    fn: Callable[[T], R],
    tasks: Sequence[T],
    workers: int = 1,
    cost: Callable[[T], float] | None = None,
) -> list[R]:
    """``[fn(t) for t in tasks]``, computed in this process (``workers=1``) or by a local process
    pool; the results are in task order and identical whatever ``workers`` is, as long as each
    task carries its own seed (as the reproductions' tasks do).

    The independent runs of a reproduction that is not a :class:`Scenario` sweep (one market, one
    grid point, one population) go through here. ``fn`` must be a module-level function and the
    tasks and results picklable. ``cost`` (optional) estimates a task's work: the pool starts the
    costliest first, so that two workers finish together instead of one waiting for the last big
    task. Each worker process uses one BLAS thread.
    """
    if workers < 1:
        raise SpecmarketError(f"workers must be ≥ 1 (got {workers})")
    items = list(tasks)
    if workers == 1 or len(items) < 2:
        return [fn(t) for t in items]
    order = list(range(len(items)))
    if cost is not None:
        order.sort(key=lambda i: -cost(items[i]))
    out: list[Any] = [None] * len(items)
    with ProcessPoolExecutor(min(workers, len(items)), initializer=_limit_blas_threads) as pool:
        futures = {pool.submit(fn, items[i]): i for i in order}
        for fut in as_completed(futures):
            out[futures[fut]] = fut.result()
    return out


# --------------------------------------------------------------------------- the sweep


@dataclass
class SweepResult:
    """What :func:`run_scenario` did."""

    scenario: Scenario
    out_dir: Path
    table: pd.DataFrame
    ran: int
    skipped: int
    seconds: float
    files: dict[str, Path] = field(default_factory=dict)


ProgressFn = Callable[[int, int], None]


def run_scenario(
    scenario: Scenario,
    out_dir: str | Path,
    workers: int = 1,
    ray_address: str | None = None,
    progress: bool | ProgressFn = False,
    fresh: bool = False,
    csv: bool = False,
) -> SweepResult:
    """Run every run of ``scenario`` not yet stored in ``out_dir`` and write the results table.

    Parameters
    ----------
    scenario
        A validated :class:`~specmarket.experiments.scenario.Scenario`.
    out_dir
        Results folder (created); runs already stored there are skipped (resume).
    workers
        Local worker processes (1: in this process).
    ray_address
        Address of an existing Ray cluster; overrides ``workers``.
    progress
        ``True`` for a rich progress bar with ETA on stderr, or a callback ``(done, total)``.
    fresh
        Delete stored runs first instead of resuming.
    csv
        Also write ``results.csv``.
    """
    if workers < 1:
        raise SpecmarketError(f"workers must be ≥ 1 (got {workers})")
    t0 = time.perf_counter()
    store = ResultStore(out_dir)
    done = store.open(scenario, fresh=fresh)
    todo = [r for r in range(scenario.n_runs) if r not in done]
    skipped = scenario.n_runs - len(todo)
    if todo:
        if ray_address is not None:
            backend: _Backend = _RayBackend(scenario, ray_address)
        elif workers > 1 and len(todo) > 1:
            backend = _PoolBackend(scenario, workers)
        else:
            backend = _InlineBackend(scenario)
        _drive(backend, store, todo, scenario.n_runs, skipped, progress, scenario.name)
    table = tidy_table(store.rows(), scenario)
    files = write_table(table, scenario, out_dir, csv=csv)
    return SweepResult(
        scenario, Path(out_dir), table, len(todo), skipped, time.perf_counter() - t0, files
    )


def _drive(
    backend: _Backend,
    store: ResultStore,
    todo: list[int],
    total: int,
    skipped: int,
    progress: bool | ProgressFn,
    name: str,
) -> None:
    pending = deque(todo)
    inflight: dict[Any, list[int]] = {}
    per_run = -1.0  # mean compute seconds per run, unknown at first
    completed = skipped
    bar, report = _progress(progress, total, skipped, name)
    cancel = True
    try:
        while pending or inflight:
            while pending and len(inflight) < 2 * backend.slots:
                size = _batch_size(per_run, len(pending), backend.slots)
                runs = [pending.popleft() for _ in range(size)]
                inflight[backend.submit(runs)] = runs
            for handle in backend.wait_any(list(inflight)):
                runs = inflight.pop(handle)
                rows, secs = backend.result(handle)
                store.write_chunk(runs, rows)
                this = secs / len(runs)
                per_run = this if per_run < 0 else 0.7 * per_run + 0.3 * this
                completed += len(runs)
                report(completed)
        cancel = False
    finally:
        backend.close(cancel)
        if bar is not None:
            bar.stop()


def _batch_size(per_run: float, remaining: int, slots: int) -> int:
    size = 2 if per_run < 0 else int(TARGET_BATCH_SECONDS / max(per_run, 1e-6))
    # leave work for every slot near the end
    size = min(size, max(1, remaining // (2 * slots)) if remaining > slots else 1)
    return max(1, min(size, MAX_BATCH, remaining))


def _progress(
    progress: bool | ProgressFn, total: int, skipped: int, name: str
) -> tuple[Any, Callable[[int], None]]:
    if callable(progress):
        fn = progress
        return None, lambda k: fn(k, total)
    if not progress:
        return None, lambda k: None
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("runs"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    task = bar.add_task(name, total=total, completed=skipped)
    bar.start()
    return bar, lambda k: bar.update(task, completed=k)
