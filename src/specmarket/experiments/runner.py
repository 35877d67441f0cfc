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

import contextlib
import gc
import importlib.util
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextvars import ContextVar, copy_context
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import numpy as np

from specmarket.errors import SpecmarketError
from specmarket.experiments.scenario import Scenario, run_seed

if TYPE_CHECKING:
    import pandas as pd

    from specmarket.experiments.results import ResultStore

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


# ------------------------------------------------------------- workers die with their parent

#: How often (s) a pool worker's watchdog checks that its parent process is still there.
PARENT_CHECK_SECONDS = 1.0
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _die_with_parent(parent: int) -> None:
    """Worker initializer part: end this worker when the process that started the pool dies.

    A pool worker blocks on its task queue, whose pipe it inherited, so it never sees the end of
    a parent killed with SIGKILL and would stay alive for ever. On Linux the kernel sends the
    worker SIGKILL when its parent exits (``prctl(PR_SET_PDEATHSIG)``); everywhere a daemon thread
    checks ``os.getppid()`` every :data:`PARENT_CHECK_SECONDS` and exits the worker once it has
    been re-parented (the fallback where ``prctl`` is missing, e.g. macOS). ``parent`` is the pid
    of the process that created the pool: a parent that died before this call is caught too.
    """
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    ppid = os.getppid()
    if ppid != parent and not _alive(parent):
        os._exit(1)  # the parent died before the death signal was armed

    def watch() -> None:
        while True:
            time.sleep(PARENT_CHECK_SECONDS)
            if os.getppid() != ppid:
                os._exit(1)

    threading.Thread(target=watch, name="specmarket-parent-watch", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


# --------------------------------------------------------------------------- backends

_WORKER_SCENARIO: Scenario | None = None


def _init_worker(data: dict[str, Any], parent: int) -> None:
    global _WORKER_SCENARIO
    _die_with_parent(parent)
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
            workers, initializer=_init_worker, initargs=(scenario.to_dict(), os.getpid())
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


#: Seconds allowed to connect to a Ray cluster (``ray.init``) before giving up; the environment
#: variable ``SPECMARKET_RAY_TIMEOUT`` replaces it.
RAY_CONNECT_SECONDS = 60.0
#: Seconds allowed for the TCP connection that checks that something listens at the address.
RAY_PROBE_SECONDS = 3.0


class RayUnreachable(SpecmarketError):
    """Nothing answers at a Ray address, or the cluster there did not accept us in time."""

    def __init__(self, address: str, why: str) -> None:
        super().__init__(f"cannot reach the Ray cluster at {address}: {why}")
        self.address = address
        self.why = why


def ray_timeout() -> float:
    """:data:`RAY_CONNECT_SECONDS`, or ``SPECMARKET_RAY_TIMEOUT`` when set to a number > 0."""
    raw = os.environ.get("SPECMARKET_RAY_TIMEOUT")
    if raw is None:
        return RAY_CONNECT_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not (value > 0 and value < float("inf")):
        raise SpecmarketError(
            f"SPECMARKET_RAY_TIMEOUT must be a number of seconds > 0 (got {raw!r})"
        )
    return value


def probe_ray(address: str, timeout: float = RAY_PROBE_SECONDS) -> None:
    """Check within ``timeout`` seconds that a Ray (gRPC) server answers at ``HOST:PORT`` (or
    ``ray://HOST:PORT``), else raise :class:`RayUnreachable`.

    Ray's own connection loop retries for many minutes inside native code that holds the
    interpreter and does not let Ctrl-C through, so the address is checked first: a TCP
    connection (refused at once where nothing listens), then the HTTP/2 client preface, to which
    every gRPC server — Ray's GCS and its client server are — replies with a SETTINGS frame.
    Something that accepts connections but does not speak HTTP/2 is refused too. Addresses that
    are not ``HOST:PORT`` (``auto``) are left to Ray.
    """
    hostport = address.split("://", 1)[1] if "://" in address else address
    host, sep, port_text = hostport.rpartition(":")
    if not sep or not port_text.isdigit():
        return
    host = host.strip("[]") or "127.0.0.1"
    port = int(port_text)
    if not 0 < port < 65536:
        raise RayUnreachable(address, f"port {port} is not between 1 and 65535")
    try:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            conn.sendall(_HTTP2_PREFACE + _HTTP2_EMPTY_SETTINGS)
            head = b""
            while len(head) < 9:  # one frame header: length (3), type (1), flags, stream id
                part = conn.recv(9 - len(head))
                if not part:
                    break
                head += part
    except TimeoutError:
        raise RayUnreachable(
            address, f"no answer as a Ray (gRPC) server within {timeout:g} s"
        ) from None
    except OSError as exc:
        raise RayUnreachable(address, exc.strerror or str(exc)) from None
    if len(head) < 9 or head[3] != _HTTP2_SETTINGS:
        raise RayUnreachable(address, "something listens there but it is not a Ray (gRPC) server")


_HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_HTTP2_SETTINGS = 0x04
_HTTP2_EMPTY_SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def _connect_ray(ray: Any, address: str, timeout: float) -> None:
    """``ray.init(address)`` bounded by ``timeout`` seconds: it runs in a daemon thread while
    this thread waits in short steps. A second line of defence after :func:`probe_ray`: while
    Ray's native code holds the interpreter neither the deadline nor Ctrl-C is seen, so the
    bound is only as fine as Ray's own attempts (about 35 s each)."""
    box: dict[str, BaseException] = {}

    def connect() -> None:
        try:
            ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)
        except BaseException as exc:  # handed to the waiting thread
            box["exc"] = exc

    thread = threading.Thread(target=connect, name="specmarket-ray-connect", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while thread.is_alive() and time.monotonic() < deadline:
        thread.join(0.2)
    if thread.is_alive():
        raise RayUnreachable(address, f"the cluster did not accept a driver within {timeout:g} s")
    exc = box.get("exc")
    if isinstance(exc, (ConnectionError, ValueError, RuntimeError)):
        raise RayUnreachable(address, str(exc)) from None
    if exc is not None:
        raise exc


class _RayBackend(_Backend):
    def __init__(self, scenario: Scenario, address: str) -> None:
        timeout = ray_timeout()
        missing = SpecmarketError("--ray needs the optional extra: pip install 'specmarket[ray]'")
        loaded = sys.modules.get("ray")
        if loaded is None:
            try:
                found = importlib.util.find_spec("ray") is not None
            except ValueError:  # sys.modules["ray"] is None: imports of ray are blocked
                found = False
            if not found:
                raise missing
            probe_ray(address)  # before importing ray (seconds): a dead address fails at once
        elif not loaded.is_initialized():
            probe_ray(address)
        try:
            import ray
        except ImportError:
            raise missing from None
        self.ray = ray
        self.owned = not ray.is_initialized()
        if self.owned:
            _connect_ray(ray, address, timeout)
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

#: A progress callback ``(done, total)``: called with ``done = 0`` when a batch of ``total``
#: independent tasks starts, then after every finished task.
TaskProgress = Callable[[int, int], None]
_PROGRESS: ContextVar[TaskProgress | None] = ContextVar("specmarket_progress", default=None)


@contextlib.contextmanager
def reporting(hook: TaskProgress) -> Iterator[None]:
    """Within this block, :func:`map_tasks` and :func:`run_scenario` report to ``hook`` unless
    they are given their own ``progress``.

    This is how a command shows the progress of code it does not control: the reproductions
    send their independent runs through :func:`map_tasks` (or a sweep through
    :func:`run_scenario`), so ``specmarket reproduce`` wraps ``rep.run(ctx)`` in
    ``with reporting(bar):`` and every reproduction reports without a parameter of its own.
    The hook lives in a :class:`contextvars.ContextVar`, so it is per thread and per task.
    """
    token = _PROGRESS.set(hook)
    try:
        yield
    finally:
        _PROGRESS.reset(token)


def current_progress() -> TaskProgress | None:
    """The hook set by the innermost :func:`reporting` block, or ``None``."""
    return _PROGRESS.get()


def _init_task_worker(parent: int) -> None:
    """Initializer of :func:`map_tasks`' workers: die with the parent, one BLAS thread."""
    _die_with_parent(parent)
    _limit_blas_threads()


def _limit_blas_threads() -> None:
    """One BLAS thread per worker process (the workers already use the cores; a second OpenBLAS
    thread each would only oversubscribe them)."""
    try:
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - a declared dependency
        return
    np.dot(np.ones((2, 2)), np.ones((2, 2)))  # numpy loads its BLAS lazily
    threadpool_limits(limits=1, user_api="blas")


#: Target compute time (s) of one chunk of :func:`map_tasks` tasks sent to a worker at once:
#: long enough that the pool's cost per chunk (pickling, two queue passes, a thread wake-up:
#: about 0.2 ms) is well under 1 %, short enough that the two workers still finish together.
TARGET_CHUNK_SECONDS = 0.1


class TaskPool:
    """Worker processes shared by every :func:`map_tasks` call of a :func:`task_pool` block.

    The processes are forked at the first call that needs them, after this process has computed
    one task itself, so that they inherit its imports and compiled (numba) kernels instead of
    loading them again each; later calls of the block reuse them, warm. On Linux they are forked
    (the ``fork`` context, whatever Python's default) with the collector's generations frozen,
    so that a worker's garbage collection does not copy the pages of the parent's heap.
    """

    def __init__(self, workers: int) -> None:
        if workers < 2:
            raise SpecmarketError(f"a task pool needs ≥ 2 workers (got {workers})")
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._background: list[Future[Any]] = []

    @property
    def started(self) -> bool:
        """Whether the worker processes exist."""
        return self._pool is not None

    def pids(self) -> list[int]:
        """The worker processes' ids, sorted (none before the start or after :meth:`close`)."""
        procs = getattr(self._pool, "_processes", None) or {}
        return sorted(procs)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """``fn(*args)`` in a worker (starting the workers on first use)."""
        if self._pool is not None:
            return self._pool.submit(fn, *args)
        context = multiprocessing.get_context("fork") if sys.platform.startswith("linux") else None
        self._pool = ProcessPoolExecutor(
            self.workers,
            mp_context=context,
            initializer=_init_task_worker,
            initargs=(os.getpid(),),
        )
        gc.freeze()  # the fork context starts every worker in this first submit
        try:
            return self._pool.submit(fn, *args)
        finally:
            gc.unfreeze()

    def start(self) -> None:
        """Fork the workers now, if they do not exist yet (they start idle)."""
        if self._pool is None:
            self.submit(_idle)

    def background(self, fn: Callable[..., Any], *args: Any) -> None:
        """``fn(*args)`` in a worker, for its effect alone (a file it writes): this process goes
        on at once, and :meth:`drain` (called when the :func:`task_pool` block ends) waits for
        it and re-raises its error. The reproductions write their figures this way, so that
        drawing them overlaps the next part's runs instead of keeping the workers idle."""
        self._background.append(self.submit(fn, *args))

    def drain(self) -> None:
        """Wait for every :meth:`background` call; raise the first one's error, if any."""
        pending, self._background = self._background, []
        for fut in pending:
            fut.result()

    def close(self, cancel: bool = True) -> None:
        """End the workers (waiting for them); ``cancel`` drops the tasks not yet started."""
        self._background = []
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=cancel)
            self._pool = None


def _idle() -> None:
    """A task that does nothing (:meth:`TaskPool.start`)."""


_TASK_POOL: ContextVar[TaskPool | None] = ContextVar("specmarket_task_pool", default=None)


@contextlib.contextmanager
def task_pool(workers: int) -> Iterator[TaskPool | None]:
    """Inside this block every :func:`map_tasks` call with ``workers`` workers shares one pool
    of worker processes (see :class:`TaskPool`), ended when the block ends; ``workers=1``: no
    pool. ``specmarket reproduce`` and ``specmarket demo`` wrap each reproduction in it, so a
    reproduction's several parts (main runs, sensitivity, local markets, ...) pay for starting
    workers once. Outside such a block each :func:`map_tasks` call starts and ends its own pool.
    When the block ends normally it first waits for the pool's :meth:`TaskPool.background`
    work (and raises its error).
    """
    if workers < 2:
        yield None
        return
    pool = TaskPool(workers)
    token = _TASK_POOL.set(pool)
    try:
        yield pool
        pool.drain()
    finally:
        _TASK_POOL.reset(token)
        pool.close()


def current_task_pool() -> TaskPool | None:
    """The pool of the innermost :func:`task_pool` block, or ``None`` (outside one, or with one
    worker)."""
    return _TASK_POOL.get()


def _run_chunk(fn: Callable[[Any], Any], chunk: list[Any]) -> tuple[list[Any], float]:
    """Worker side of :func:`map_tasks`: ``fn`` on a chunk of tasks, and its compute seconds."""
    t0 = time.perf_counter()
    results = [fn(t) for t in chunk]
    return results, time.perf_counter() - t0


def map_tasks(
    fn: Callable[[T], R],
    tasks: Sequence[T],
    workers: int = 1,
    cost: Callable[[T], float] | None = None,
    progress: TaskProgress | None = None,
) -> list[R]:
    """``[fn(t) for t in tasks]``, computed in this process (``workers=1``) or by a local process
    pool; the results are in task order and identical whatever ``workers`` is, as long as each
    task carries its own seed (as the reproductions' tasks do).

    The independent runs of a reproduction that is not a :class:`Scenario` sweep (one market, one
    grid point, one population) go through here. ``fn`` must be a module-level function and the
    tasks and results picklable. ``cost`` (optional) estimates a task's work: the pool starts the
    costliest first, so that two workers finish together instead of one waiting for the last big
    task. Each worker process uses one BLAS thread and ends when this process dies. The pool is
    the one of the enclosing :func:`task_pool` block if it has ``workers`` workers, else one of
    this call only. Before the pool's workers exist this process computes the cheapest task
    itself (they inherit what it imported and compiled); then tasks go out in chunks of about
    :data:`TARGET_CHUNK_SECONDS` of compute (one task each until their time is known, smaller
    near the end). ``progress`` (default: the hook of the enclosing :func:`reporting` block, if
    any) is called with ``(0, len(tasks))`` first and ``(done, len(tasks))`` after each finished
    task or chunk.
    """
    if workers < 1:
        raise SpecmarketError(f"workers must be ≥ 1 (got {workers})")
    items = list(tasks)
    report = progress if progress is not None else current_progress()
    if report is None:
        report = _no_progress
    total = len(items)
    report(0, total)
    if workers == 1 or total < 2:
        results = []
        for k, t in enumerate(items, 1):
            results.append(fn(t))
            report(k, total)
        return results
    shared = _TASK_POOL.get()
    if shared is not None and shared.workers == workers:
        return _pooled(shared, fn, items, _weights(items, cost), report)
    own = TaskPool(min(workers, total))
    try:
        return _pooled(own, fn, items, _weights(items, cost), report)
    finally:
        own.close()


def map_tasks_soon(
    fn: Callable[[T], R],
    tasks: Sequence[T],
    workers: int = 1,
    cost: Callable[[T], float] | None = None,
) -> Callable[[], list[R]]:
    """:func:`map_tasks` started now and collected later: returns a function that gives its
    results (same order, same numbers). Inside a :func:`task_pool` block whose pool has
    ``workers`` workers, the tasks go to the workers at once (a thread of this process feeds
    them), so that this process can meanwhile do its own serial work — imports, tables,
    figures — instead of leaving the workers idle between two parts of a reproduction. If the
    workers do not exist yet, this process first computes the cheapest task and then starts
    them, as :func:`map_tasks` does. Anywhere else the tasks are computed when the results are
    asked for. An error of a task is raised by the returned function."""
    shared = _TASK_POOL.get()
    items = list(tasks)
    if workers < 2 or shared is None or shared.workers != workers or len(items) < 2:
        return lambda: map_tasks(fn, items, workers, cost)
    report = current_progress() or _no_progress
    report(0, len(items))
    weight = _weights(items, cost)
    warm = None if shared.started else _warm_up(shared, fn, items, weight, report)
    box: list[list[R]] = []
    failure: list[BaseException] = []
    context = copy_context()  # the pool and the progress hook are context variables

    def feed() -> None:
        try:
            box.append(context.run(_pooled, shared, fn, items, weight, report, warm))
        except BaseException as exc:  # re-raised in the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=feed, name="specmarket-map-tasks", daemon=True)
    thread.start()

    def collect() -> list[R]:
        thread.join()
        if failure:
            raise failure[0]
        return box[0]

    return collect


def _pooled(
    pool: TaskPool,
    fn: Callable[[T], R],
    items: list[T],
    weight: list[float],
    report: TaskProgress,
    warm: tuple[int, Any] | None = None,
) -> list[R]:
    """The pool part of :func:`map_tasks` (results by task index, so order never matters):
    ``weight`` is each task's estimated work; ``warm`` the index and result of the task
    :func:`_warm_up` computed already."""
    total = len(items)
    order = sorted(range(total), key=lambda i: -weight[i])  # stable: ties keep task order
    out: list[Any] = [None] * total
    done = 0
    if warm is None and not pool.started:
        warm = _warm_up(pool, fn, items, weight, report)
    if warm is not None:
        order.remove(warm[0])
        out[warm[0]] = warm[1]
        done = 1
    pending = deque(order)
    left = sum(weight[i] for i in pending)
    rate = -1.0  # compute seconds per unit of weight, unknown until a chunk is back
    measured = [0.0, 0.0]  # seconds, weight of the finished chunks
    inflight: dict[Future[Any], list[int]] = {}
    try:
        while pending or inflight:
            while pending and len(inflight) < 2 * pool.workers:
                chunk = [pending.popleft()]
                if rate > 0:
                    budget = min(TARGET_CHUNK_SECONDS, rate * left / (2 * pool.workers))
                    size = rate * weight[chunk[0]]
                    while pending and size + rate * weight[pending[0]] <= budget:
                        size += rate * weight[pending[0]]
                        chunk.append(pending.popleft())
                left -= sum(weight[i] for i in chunk)
                inflight[pool.submit(_run_chunk, fn, [items[i] for i in chunk])] = chunk
            finished, _ = wait(list(inflight), return_when=FIRST_COMPLETED)
            for fut in finished:
                chunk = inflight.pop(fut)
                results, secs = fut.result()
                for i, res in zip(chunk, results, strict=True):
                    out[i] = res
                measured[0] += secs
                measured[1] += sum(weight[i] for i in chunk)
                if measured[1] > 0:
                    rate = measured[0] / measured[1]
                done += len(chunk)
                report(done, total)
    except BaseException:
        for fut in inflight:
            fut.cancel()
        raise
    return out


def _weights(items: list[T], cost: Callable[[T], float] | None) -> list[float]:
    """Each task's estimated work (1 each without ``cost``)."""
    return [float(cost(t)) for t in items] if cost is not None else [1.0] * len(items)


def _warm_up(
    pool: TaskPool,
    fn: Callable[[T], R],
    items: list[T],
    weight: list[float],
    report: TaskProgress,
) -> tuple[int, R]:
    """Compute the cheapest task (the last of the costliest-first order) in this process, then
    start ``pool``'s workers, which inherit what the task imported and compiled; the task's
    index and result."""
    first = sorted(range(len(items)), key=lambda i: -weight[i])[-1]
    result = fn(items[first])
    report(1, len(items))
    pool.start()
    return first, result


def _no_progress(done: int, total: int) -> None:
    return None


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
    progress: bool | ProgressFn | None = None,
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
        ``True`` for a rich progress bar with ETA on stderr, a callback ``(done, total)``,
        ``False`` for none, or ``None`` (default): the hook of the enclosing :func:`reporting`
        block if any, else none.
    fresh
        Delete stored runs first instead of resuming.
    csv
        Also write ``results.csv``.
    """
    if workers < 1:
        raise SpecmarketError(f"workers must be ≥ 1 (got {workers})")
    if progress is None:
        progress = current_progress() or False
    from specmarket.experiments.results import ResultStore, tidy_table, write_table

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
    report(completed)
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
