"""Start ``specmarket serve`` as a subprocess on a free loopback port (for the durability test
and the benchmark)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

SRC = str(Path(__file__).resolve().parents[2] / "src")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``specmarket serve --db URL`` on 127.0.0.1; ``start``, ``kill`` (SIGKILL), ``stop``."""

    def __init__(self, db_url: str, token: str, workers: int = 1, cwd: Path | None = None,
                 extra_env: dict[str, str] | None = None) -> None:
        self.db_url = db_url
        self.token = token
        self.workers = workers
        self.cwd = cwd
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> None:
        self.port = free_port()
        env = dict(os.environ)
        env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
        env["SPECMARKET_OPERATOR_TOKEN"] = self.token
        env.setdefault("SPECMARKET_RATE_LIMIT", "100000")
        env.setdefault("SPECMARKET_RATE_BURST", "100000")
        env.update(self.extra_env)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "specmarket", "serve", "--db", self.db_url,
             "--port", str(self.port), "--workers", str(self.workers)],
            env=env, cwd=self.cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"server exited with {self.proc.returncode}: {err[-2000:]}")
            try:
                if httpx.get(self.url + "/openapi.json", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("server did not start in time")

    def kill(self) -> None:
        """SIGKILL the server and its workers (its whole process group): no clean shutdown."""
        assert self.proc is not None
        os.killpg(self.proc.pid, 9)
        self.proc.wait()

    def stop(self) -> None:
        """Terminate it if it still runs."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()
