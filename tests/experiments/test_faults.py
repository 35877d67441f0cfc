"""Fault injection: a killed sweep leaves no worker behind, an unreachable Ray address fails fast,
oversized simulations are refused, and long commands report progress.

Every test is bounded in time, uses only the loopback interface and stops what it starts (its own
process group only).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import small

SRC = Path(__file__).resolve().parents[2] / "src"


def _env() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{path}" if path else str(SRC)}


def _group(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group ``pgid``, read from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # exited meanwhile
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        state, pgrp = fields[0], int(fields[2])
        if pgrp == pgid and state not in ("Z", "X"):
            found.append(int(entry.name))
    return found


@contextlib.contextmanager
def _session(cmd: list[str], cwd: Path) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: we clean up exactly that
    )
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_pool_workers_die_with_a_killed_sweep(tmp_path: Path) -> None:
    sc = small()
    (tmp_path / "long.toml").write_text(
        f'name = "long"\nmechanisms = {sc["mechanisms"]}\ngenerator = "{sc["generator"]}"\n'
        f"repetitions = 50000\nseed = 7\n[sweep]\nbuyers = {sc['sweep']['buyers']}\n"
    )
    out = tmp_path / "res"
    cmd = [sys.executable, "-m", "specmarket", "run", "long.toml", "-o", str(out), "-j", "2"]
    cmd.append("--no-progress")
    with _session(cmd, tmp_path) as proc:
        deadline = time.monotonic() + 120
        # wait until both workers compute (chunks arrive) while the sweep is still running
        while not (len(_group(proc.pid)) >= 3 and list((out / "runs").glob("chunk-*.json"))):
            assert proc.poll() is None, "the sweep ended before it could be killed"
            assert time.monotonic() < deadline, "the sweep never started its workers"
            time.sleep(0.1)
        children = [p for p in _group(proc.pid) if p != proc.pid]
        assert len(children) >= 2
        os.kill(proc.pid, signal.SIGKILL)  # the parent only, as the OOM killer or `kill -9` do
        proc.wait(timeout=30)
        deadline = time.monotonic() + 10
        while _group(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = _group(proc.pid)
        assert left == [], f"processes of the killed sweep still alive: {left}"


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_map_tasks_workers_die_with_a_killed_reproduction(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "specmarket", "reproduce", "lazar-semret", "-j", "2", "-o", "ls"]
    with _session([*cmd, "--no-progress"], tmp_path) as proc:
        deadline = time.monotonic() + 120
        while len(_group(proc.pid)) < 3:  # the parent and its two pool workers
            assert proc.poll() is None, "the reproduction ended before it could be killed"
            assert time.monotonic() < deadline, "the reproduction never started its workers"
            time.sleep(0.1)
        time.sleep(0.5)  # the workers are initialised and computing
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 10
        while _group(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = _group(proc.pid)
        assert left == [], f"processes of the killed reproduction still alive: {left}"


_WATCHDOG_ONLY = """
import multiprocessing, os, sys, time
from specmarket.experiments import runner

def child(parent):
    sys.platform = "darwin"  # no prctl: only the portable getppid watchdog
    runner.PARENT_CHECK_SECONDS = 0.2
    runner._die_with_parent(parent)
    time.sleep(120)

if __name__ == "__main__":
    p = multiprocessing.get_context("fork").Process(target=child, args=(os.getpid(),))
    p.start()
    print(p.pid, flush=True)
    time.sleep(120)
"""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_watchdog_alone_ends_an_orphaned_worker(tmp_path: Path) -> None:
    script = tmp_path / "orphan.py"
    script.write_text(_WATCHDOG_ONLY)
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        env=_env(),
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        child = int(proc.stdout.readline())
        time.sleep(0.5)  # the watchdog is armed
        assert child in _group(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 10
        while _group(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _group(proc.pid) == []
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


# --------------------------------------------------------------------------- --ray ADDRESS


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again on return: nothing listens there


def _scenario_file(tmp_path: Path) -> Path:
    f = tmp_path / "small.toml"
    f.write_text(
        'name = "small"\nmechanisms = ["mcafee", "vcg"]\ngenerator = "double-auction"\n'
        "repetitions = 2\nseed = 7\n[sweep]\nbuyers = [2, 5]\n"
    )
    return f


def _run_cli(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "specmarket", *args],
        cwd=cwd,
        env={**_env(), **env},
        capture_output=True,
        text=True,
        timeout=180,  # a hang detector only: the command fails in seconds
        start_new_session=True,
    )


@pytest.mark.slow  # a subprocess: about 5 s of imports on a loaded machine
def test_ray_address_with_nothing_listening_fails_at_once(tmp_path: Path) -> None:
    address = f"127.0.0.1:{_closed_port()}"
    f = _scenario_file(tmp_path)
    res = _run_cli(["run", str(f), "-o", "res", "--ray", address, "--no-progress"], tmp_path)
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, res.stderr
    assert "--ray" in lines[0] and address in lines[0] and "refused" in lines[0].lower()
    assert not (tmp_path / "res" / "results.parquet").exists()


def test_probe_rejects_a_closed_port_without_ray() -> None:
    from specmarket.experiments.runner import RayUnreachable, probe_ray

    address = f"127.0.0.1:{_closed_port()}"
    t0 = time.monotonic()
    with pytest.raises(RayUnreachable) as info:
        probe_ray(address, timeout=2.0)
    assert info.value.address == address
    assert time.monotonic() - t0 < 60  # bounded by the probe's own timeout, not Ray's retries
    with pytest.raises(RayUnreachable, match="port 70000"):
        probe_ray("127.0.0.1:70000")
    probe_ray("auto")  # not HOST:PORT: left to Ray


def test_ray_timeout_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from specmarket.errors import SpecmarketError
    from specmarket.experiments.runner import RAY_CONNECT_SECONDS, ray_timeout

    monkeypatch.delenv("SPECMARKET_RAY_TIMEOUT", raising=False)
    assert ray_timeout() == RAY_CONNECT_SECONDS
    monkeypatch.setenv("SPECMARKET_RAY_TIMEOUT", "2.5")
    assert ray_timeout() == 2.5
    for bad in ("0", "-1", "soon", "inf", "nan"):
        monkeypatch.setenv("SPECMARKET_RAY_TIMEOUT", bad)
        with pytest.raises(SpecmarketError, match="SPECMARKET_RAY_TIMEOUT"):
            ray_timeout()


@contextlib.contextmanager
def _listener(reply: bytes | None) -> Iterator[str]:
    """A loopback server that accepts connections and answers each with ``reply`` (``None``:
    says nothing); yields its ``HOST:PORT`` and stops on exit."""
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    server.settimeout(0.2)
    stop = threading.Event()
    held: list[socket.socket] = []

    def accept() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):
                conn = server.accept()[0]
                held.append(conn)
                if reply is not None:
                    conn.sendall(reply)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        for c in held:
            c.close()
        server.close()


def test_probe_tells_a_grpc_server_from_other_listeners() -> None:
    from specmarket.experiments.runner import RayUnreachable, probe_ray

    settings = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"  # what every gRPC server sends first
    with _listener(settings) as address:
        probe_ray(address, timeout=5.0)
    http1 = b"HTTP/1.1 400 Bad Request\r\n\r\n"
    with _listener(http1) as address, pytest.raises(RayUnreachable, match="not a Ray"):
        probe_ray(address, timeout=5.0)
    with _listener(None) as address, pytest.raises(RayUnreachable, match=r"within 0\.5 s"):
        probe_ray(address, timeout=0.5)


@pytest.mark.slow
def test_ray_address_that_never_answers_fails_in_seconds(tmp_path: Path) -> None:
    """Something accepts TCP connections but says nothing: ``ray.init`` would retry for minutes
    without letting Ctrl-C through; the probe gives up after its 3 s timeout."""
    pytest.importorskip("ray")
    with _listener(None) as address:
        f = _scenario_file(tmp_path)
        args = ["run", str(f), "-o", "res", "--ray", address, "--no-progress"]
        res = _run_cli(args, tmp_path)
    assert res.returncode == 2, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, res.stderr
    assert "--ray" in lines[0] and address in lines[0] and "Ray (gRPC)" in lines[0]


# --------------------------------------------------------------------------- progress


def _square(x: int) -> int:
    return x * x


@pytest.mark.parametrize("workers", [1, 2])
def test_map_tasks_reports_to_the_enclosing_hook(workers: int) -> None:
    from specmarket.experiments.runner import current_progress, map_tasks, reporting

    calls: list[tuple[int, int]] = []
    assert current_progress() is None
    with reporting(lambda done, total: calls.append((done, total))):
        assert map_tasks(_square, range(6), workers) == [0, 1, 4, 9, 16, 25]
    assert current_progress() is None
    assert calls == [(k, 6) for k in range(7)]
    own: list[tuple[int, int]] = []
    with reporting(lambda done, total: calls.append((done, total))):
        map_tasks(_square, range(3), workers, progress=lambda d, t: own.append((d, t)))
    assert own == [(0, 3), (1, 3), (2, 3), (3, 3)] and len(calls) == 7


def test_a_reproduction_reports_through_map_tasks_without_a_parameter(tmp_path: Path) -> None:
    """``reproduce`` wraps ``rep.run`` in ``reporting``: a reproduction that sends its runs
    through ``map_tasks`` reports its progress though it never mentions progress."""
    from specmarket.experiments.runner import reporting
    from specmarket.reproductions import ReproContext, get

    calls: list[tuple[int, int]] = []
    ctx = ReproContext(out_dir=tmp_path / "ls", quick=True, seed=0, workers=1)
    with reporting(lambda done, total: calls.append((done, total))):
        get("lazar-semret").run(ctx)
    assert calls and calls[0][0] == 0
    assert all(0 <= d <= t for d, t in calls)
    assert calls[-1][0] == calls[-1][1] > 0


def test_a_sweep_reports_to_the_enclosing_hook(tmp_path: Path) -> None:
    from specmarket.experiments import load_scenario, run_scenario
    from specmarket.experiments.runner import reporting

    sc = load_scenario(small())
    calls: list[tuple[int, int]] = []
    with reporting(lambda done, total: calls.append((done, total))):
        run_scenario(sc, tmp_path / "a")
        run_scenario(sc, tmp_path / "b", progress=False)  # explicitly off
    assert calls[0] == (0, sc.n_runs) and calls[-1] == (sc.n_runs, sc.n_runs)
    assert sum(1 for d, _ in calls if d == 0) == 1


def test_progress_bar_draws_on_a_terminal_and_vanishes(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from rich.console import Console

    from specmarket import cli
    from specmarket.commands.experiments import progress_bar

    buf = io.StringIO()
    monkeypatch.setitem(cli._consoles, "err", Console(file=buf, force_terminal=True, width=80))
    with progress_bar("reproduce x") as bar:
        bar(0, 4)
        bar(3, 4)
        bar.describe("reproduce x: nearly")
    text = buf.getvalue()
    assert "reproduce x" in text
    with progress_bar("off", enabled=False) as bar:
        bar(1, 2)  # a no-op
        bar.describe("nothing")


@pytest.mark.slow
def test_reproduce_stderr_stays_clean_when_piped(tmp_path: Path) -> None:
    res = _run_cli(["reproduce", "lazar-semret", "--quick", "-o", "ls"], tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stderr.strip() == ""  # not a terminal: the transient bar draws nothing
    res = _run_cli(["reproduce", "lazar-semret", "--quick", "-o", "ls2", "--no-progress"], tmp_path)
    assert res.returncode == 0, res.stderr
