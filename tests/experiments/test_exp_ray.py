"""``--ray ADDRESS``: a Ray head started on 127.0.0.1 runs a sweep with identical numbers.

Needs the optional extra (``pip install 'specmarket[ray]'``); skipped cleanly without it.
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

import pandas as pd
import pytest

pytest.importorskip("ray")

from specmarket.experiments import load_scenario, run_scenario

from .conftest import small

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    temp = tmp_path_factory.mktemp("ray")
    ray_bin = Path(sys.executable).parent / "ray"
    cmd = [
        str(ray_bin) if ray_bin.exists() else "ray",
        "start",
        "--head",
        "--node-ip-address=127.0.0.1",
        f"--port={port}",
        "--num-cpus=2",
        "--include-dashboard=false",
        "--disable-usage-stats",
        "--block",
        f"--temp-dir={temp}",
    ]
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=env
    )
    try:
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()  # `ray start --block` stops the processes it started
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=60)
        # anything of that session left behind (our own process group only)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


def test_ray_sweep_matches_local(ray_head: str, tmp_path: Path) -> None:
    import ray

    sc = load_scenario(small())
    local = run_scenario(sc, tmp_path / "local").table
    deadline = time.monotonic() + 120
    while True:  # the head takes a few seconds to accept drivers
        try:
            remote = run_scenario(sc, tmp_path / "ray", ray_address=ray_head)
            break
        except Exception:
            if ray.is_initialized():
                ray.shutdown()
            if time.monotonic() > deadline:
                raise
            time.sleep(2)
    assert remote.ran == sc.n_runs
    pd.testing.assert_frame_equal(local, remote.table)
    assert not ray.is_initialized()  # the runner disconnects what it connected
