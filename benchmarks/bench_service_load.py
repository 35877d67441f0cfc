"""Benchmark: the market service under load, on loopback only, bounded in count and time.

Four goals, measured on SQLite (1 worker) and PostgreSQL (``--pg-workers``, default 2):

1. **Reports.** ``--clients`` (64) concurrent clients, each a participant with its own token and
   one keep-alive connection, send ``PUT /v1/markets/{id}/report`` (each with a fresh
   ``Idempotency-Key``) back to back until ``--reports`` (20,000) are acknowledged or
   ``--seconds`` pass, on a fresh market. Goals: ≥ 1,000 reports/s with p99 ≤ 100 ms on
   SQLite; ≥ 1,500 reports/s on PostgreSQL with 2 workers. The fast path is the lean ASGI report
   route; its reference is the same server with ``SPECMARKET_FAST_REPORTS=0`` (every report
   through the FastAPI route), run in the same repeat, interleaved (``--no-reference`` skips it).
2. **Dashboard.** In every repeat the fast path's load also runs with ``--viewers`` (4)
   dashboards watching (order alternating between repeats): each does what the page ``/`` does
   on an open market, only more: it polls the market and its report timeline every second and
   reloads the page and all its assets (script, style, the 200 kB Chart.js; no cache) every
   second poll. Goal: they add ≤ 5 ms to the reports' p99 latency (median over the repeats of
   the paired difference). Then, with no report load, one viewer polls back to back for 5 s:
   the server's CPU per dashboard request, which bounds the delay one such request can put in
   front of a report (on a shared machine the paired p99 difference is mostly noise; this
   number is not).
3. **Close.** A McAfee round of ``--mcafee`` (100,000) participants, half buyers, half sellers,
   loaded straight into the database (only the close is timed), closed with
   ``POST /v1/markets/{id}/close``; wall time from request to answer. Goal: ≤ 5 s. No reference.

Every repeat prints its numbers; the summary prints min / median / max of the rates, latencies,
wall time per repeat and the server's CPU-seconds (user + system of all its processes; the
PostgreSQL backends' own CPU is not counted), the ratio lean / reference, and ``goal met`` /
``MISSED`` from the median, each goal ending in a ``GOAL |`` line (``benchmarks/README.md``).
Repeats are interleaved: per repeat, per database: lean, lean with viewers (or the other way
round), reference. The load generator speaks HTTP/1.1 on raw asyncio streams (no HTTP
library), so that the client side costs little CPU next to the server on a 2-core machine; its
own CPU is printed too.

Run: ``python benchmarks/bench_service_load.py [--db sqlite|postgresql|both] [--repeats 5]
[--quick]`` (PostgreSQL from ``SPECMARKET_BENCH_PG``, default
``postgresql://postgres@127.0.0.1:5432/test``; a private schema is created and dropped). The
default takes about ten minutes on an idle 2-core machine. Not part of the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.service.server import Server  # noqa: E402

PG = os.environ.get("SPECMARKET_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
TOKEN = "bench-operator-" + secrets.token_hex(16)

#: (reports/s at least, p99 ms at most or None) per database.
GOALS: dict[str, tuple[float, float | None]] = {"sqlite": (1000.0, 100.0),
                                                "postgresql": (1500.0, None)}
DASHBOARD_MS = 5.0
CLOSE_S = 5.0


def _group_cpu(pgid: int) -> float:
    """CPU-seconds (user + system) of every live process in process group ``pgid``."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields[2] is pgrp (field 5 of stat)
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


# ------------------------------------------------------------------------- load generator


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    request: bytes) -> int:
    """Send one HTTP/1.1 request on a keep-alive connection, read the whole answer (its body is
    dropped) and return the status code: the one request loop of reporters and viewers."""
    writer.write(request)
    await writer.drain()
    status_line = await reader.readline()
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return int(status_line.split()[1])


def _report(market: str, token: str, n: int) -> bytes:
    body = b'{"bid": %d.0}' % (n % 1000)
    return (
        f"PUT /v1/markets/{market}/report HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {token}\r\nIdempotency-Key: {secrets.token_hex(8)}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def _get(path: str, token: str | None) -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\n".encode()


async def _reporter(port: int, market: str, token: str, deadline: float, quota: list[int],
                    latencies: list[float]) -> None:
    """One participant sending reports back to back while ``quota[0] > 0`` and time is left."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    n = 0
    try:
        while quota[0] > 0 and time.perf_counter() < deadline:
            quota[0] -= 1
            n += 1
            request = _report(market, token, n)
            t0 = time.perf_counter()
            status = await _exchange(reader, writer, request)
            if status != 200:
                raise RuntimeError(f"report refused: {status}")
            latencies.append(time.perf_counter() - t0)
    finally:
        writer.close()


async def _viewer(port: int, market: str, stop: asyncio.Event, assets: list[str],
                  count: list[int], pause: float = 1.0) -> None:
    """A dashboard watching ``market`` (module docstring, goal 2); adds its requests to
    ``count[0]``; ``pause`` seconds between two polls."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    n = 0
    try:
        while not stop.is_set():
            paths = [(f"/v1/markets/{market}", TOKEN),
                     (f"/v1/markets/{market}/timeline?bucket=1", TOKEN)]
            if n % 2 == 0:
                paths += [("/", None)] + [(a, None) for a in assets]
            for path, token in paths:
                if await _exchange(reader, writer, _get(path, token)) != 200:
                    raise RuntimeError(f"viewer refused: {path}")
            n += 1
            count[0] += len(paths)
            if pause > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), pause)
    finally:
        writer.close()


def _page_assets(url: str) -> list[str]:
    """The assets ``/`` links to (script and style URLs with their version)."""
    import httpx

    return re.findall(r'(?:src|href)="(/static/[^"]+)"', httpx.get(url + "/").text)


def _drive(server: Server, main: Callable[[], Awaitable[None]]) -> tuple[float, float, float]:
    """Run ``main`` on a fresh event loop; (wall s, server CPU s, load generator CPU s)."""
    assert server.proc is not None
    cpu0, own0 = _group_cpu(server.proc.pid), time.process_time()
    t0 = time.perf_counter()
    asyncio.run(main())
    wall = time.perf_counter() - t0
    return wall, _group_cpu(server.proc.pid) - cpu0, time.process_time() - own0


def _market(server: Server, participants: int) -> tuple[str, list[str]]:
    """A fresh McAfee market with ``participants`` buyers; (id, their tokens)."""
    from specmarket.client import ServiceClient

    with ServiceClient(server.url, TOKEN) as op:
        market = str(op.open_market("mcafee")["id"])
        tokens = [str(op.add_participant(market, f"b{k}", "buyer")["token"])
                  for k in range(participants)]
    return market, tokens


def load_round(server: Server, clients: int, reports: int, seconds: float,
               viewers: int = 0) -> dict[str, float]:
    """One repeat of goal 1 on a fresh market, with ``viewers`` dashboards watching."""
    market, tokens = _market(server, clients)
    latencies: list[float] = []
    quota = [reports]
    count = [0]
    assets = _page_assets(server.url) if viewers else []

    async def main() -> None:
        deadline = time.perf_counter() + seconds
        stop = asyncio.Event()
        watching = [asyncio.create_task(_viewer(server.port, market, stop, assets, count))
                    for _ in range(viewers)]
        await asyncio.gather(
            *(_reporter(server.port, market, t, deadline, quota, latencies) for t in tokens))
        stop.set()
        await asyncio.gather(*watching)

    wall, cpu, own = _drive(server, main)
    lat = sorted(latencies)
    return {
        "reports": len(lat), "rate": len(lat) / wall, "wall": wall, "cpu": cpu, "client": own,
        "p50_ms": 1e3 * lat[len(lat) // 2],
        "p99_ms": 1e3 * lat[min(len(lat) - 1, int(0.99 * len(lat)))],
        "cpu_ms": 1e3 * cpu / max(1, len(lat)), "viewer_requests": count[0],
    }


def dashboard_cost(server: Server, seconds: float = 5.0) -> tuple[int, float]:
    """Goal 2, second part: one viewer polling back to back (no pause) with no report load for
    ``seconds``; (requests, server CPU-seconds)."""
    market, _ = _market(server, 0)
    assets = _page_assets(server.url)
    count = [0]

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(_viewer(server.port, market, stop, assets, count, pause=0))
        await asyncio.sleep(seconds)
        stop.set()
        await task

    _, cpu, _ = _drive(server, main)
    return count[0], cpu


def close_round(server: Server, db_url: str, n: int, seed: int) -> tuple[float, float]:
    """Goal 3: load a McAfee round of ``n`` participants directly, time its close over HTTP;
    (wall s, server CPU s)."""
    import numpy as np

    from specmarket.client import ServiceClient
    from specmarket.service.db import make_engine
    from specmarket.service.domain import MarketService

    rng = np.random.default_rng(seed)
    engine = make_engine(db_url, 1)
    service = MarketService(engine)
    market = str(service.open_market("mcafee", {})["id"])
    half = n // 2
    bids = rng.uniform(0, 100, half).round(4)
    asks = rng.uniform(0, 100, n - half).round(4)
    service.add_participants_bulk(
        market,
        [(f"b{k}", "buyer", {}, {"bid": float(v)}) for k, v in enumerate(bids)]
        + [(f"s{k}", "seller", {}, {"ask": float(v)}) for k, v in enumerate(asks)],
    )
    engine.dispose()
    assert server.proc is not None
    with ServiceClient(server.url, TOKEN, timeout=300) as op:
        cpu0 = _group_cpu(server.proc.pid)
        t0 = time.perf_counter()
        outcome = op.close(market)
        wall = time.perf_counter() - t0
        cpu = _group_cpu(server.proc.pid) - cpu0
    assert len(outcome["payments"]) == n
    return wall, cpu


# ------------------------------------------------------------------------- printing


def _three(values: list[float], digits: int) -> str:
    return " / ".join(f"{v:,.{digits}f}" for v in
                      (min(values), statistics.median(values), max(values)))


def _row(name: str, values: list[float], unit: str, digits: int = 1) -> None:
    print(f"  {name:<30} {_three(values, digits)} {unit}")


def _verdict(ok: bool) -> str:
    return "goal met" if ok else "MISSED"


def _report_summary(db: str, workers: int, clients: int, lean: list[dict[str, float]],
                    ref: list[dict[str, float]]) -> None:
    print(f"== {db}, {workers} worker{'s' if workers > 1 else ''}, {clients} clients "
          f"(min / median / max of {len(lean)})")
    for tag, rs in (("lean route", lean), ("reference (FastAPI route)", ref)):
        if not rs:
            continue
        print(f" {tag}: {_three([r['reports'] for r in rs], 0)} reports per repeat")
        _row("reports/s", [r["rate"] for r in rs], "/s", 0)
        _row("p50 latency", [r["p50_ms"] for r in rs], "ms")
        _row("p99 latency", [r["p99_ms"] for r in rs], "ms")
        _row("wall per repeat", [r["wall"] for r in rs], "s", 2)
        _row("server CPU per repeat", [r["cpu"] for r in rs], "s", 2)
        _row("server CPU per report", [r["cpu_ms"] for r in rs], "ms", 3)
        _row("load generator CPU", [r["client"] for r in rs], "s", 2)
    rate = statistics.median(r["rate"] for r in lean)
    p99 = statistics.median(r["p99_ms"] for r in lean)
    cpu_ms = statistics.median(r["cpu_ms"] for r in lean)
    ratio = "-"
    if ref:
        speed = rate / statistics.median(r["rate"] for r in ref)
        cheap = statistics.median(r["cpu_ms"] for r in ref) / cpu_ms
        ratio = f"{speed:.2f}× reports/s, {cheap:.2f}× less server CPU vs FastAPI route"
        print(f"  ratio lean / reference (medians): {ratio}")
    low, p99_max = GOALS[db]
    ok = rate >= low and (p99_max is None or p99 <= p99_max)
    goal = f"≥ {low:,.0f} reports/s" + (f" and p99 ≤ {p99_max:.0f} ms" if p99_max else "")
    print(f"  -> {db} reports: median {rate:,.0f}/s, p99 {p99:.1f} ms; {goal}: {_verdict(ok)}")
    size = statistics.median(r["reports"] for r in lean)
    print(f"GOAL | {db} PUT /report, {clients} clients, {workers} worker"
          f"{'s' if workers > 1 else ''}, {size:,.0f} reports/repeat | {goal} | "
          f"{rate:,.0f}/s wall (p99 {p99:.1f} ms, server {cpu_ms:.3f} cpu-ms/report) | "
          f"{ratio} | {'met' if ok else 'MISSED'}")


def _dashboard_summary(db: str, viewers: int, lean: list[dict[str, float]],
                       watched: list[dict[str, float]], cost: list[float]) -> None:
    print(f" dashboard, {viewers} viewers beside the report load (paired with the lean repeats)")
    _row("p99 without viewers", [r["p99_ms"] for r in lean], "ms")
    _row(f"p99 with {viewers} viewers", [r["p99_ms"] for r in watched], "ms")
    added = [w["p99_ms"] - r["p99_ms"] for w, r in zip(watched, lean, strict=True)]
    _row("p99 added (paired)", added, "ms")
    _row("reports/s with viewers", [r["rate"] for r in watched], "/s", 0)
    _row("viewer requests per repeat", [r["viewer_requests"] for r in watched], "", 0)
    _row("server CPU per repeat", [r["cpu"] for r in watched], "s", 2)
    if cost:
        _row("server CPU per dashboard req.", cost, "ms", 2)
    median = statistics.median(added)
    ratio = statistics.median(r["p99_ms"] for r in watched) / statistics.median(
        r["p99_ms"] for r in lean)
    ok = median <= DASHBOARD_MS
    print(f"  -> {db} dashboard: median p99 added {median:+.1f} ms; ≤ {DASHBOARD_MS:.0f} ms: "
          f"{_verdict(ok)}")
    print(f"GOAL | {db} dashboard, {viewers} viewers beside the report load | "
          f"≤ {DASHBOARD_MS:.0f} ms p99 added | {median:+.1f} ms wall | "
          f"{ratio:.2f}× p99 vs no viewers | {'met' if ok else 'MISSED'}")


def _close_summary(db: str, n: int, walls: list[float], cpus: list[float]) -> None:
    print(f" close of a {n:,}-participant McAfee round (min / median / max of {len(walls)})")
    _row("wall", walls, "s", 2)
    _row("server CPU", cpus, "s", 2)
    median = statistics.median(walls)
    ok = median <= CLOSE_S
    print(f"  -> {db} close: median {median:.2f} s; ≤ {CLOSE_S:.0f} s: {_verdict(ok)}")
    print(f"GOAL | {db} close of a {n:,}-participant McAfee round | ≤ {CLOSE_S:.0f} s | "
          f"{median:.2f} s wall (server {statistics.median(cpus):.2f} cpu-s) | - | "
          f"{'met' if ok else 'MISSED'}")


# ------------------------------------------------------------------------- main


def _pg_schema() -> tuple[str, Any]:
    import sqlalchemy as sa

    from specmarket.service.db import normalise_url

    schema = "smbench_" + secrets.token_hex(4)
    admin = sa.create_engine(normalise_url(PG), poolclass=sa.pool.NullPool)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in PG else "?"
    return f"{PG}{sep}options=-csearch_path%3D{schema}", (admin, schema)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        epilog="Output format (the GOAL lines): benchmarks/README.md.")
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--reports", type=int, default=20_000, help="per repeat (upper bound)")
    parser.add_argument("--seconds", type=float, default=20.0, help="per repeat (upper bound)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--pg-workers", type=int, default=2)
    parser.add_argument("--mcafee", type=int, default=100_000, help="participants of the close")
    parser.add_argument("--close-repeats", type=int, default=5)
    parser.add_argument("--viewers", type=int, default=4,
                        help="dashboard viewers in the paired repeats (0: no dashboard goal)")
    parser.add_argument("--no-reference", action="store_true",
                        help="skip the reference server (FastAPI route for every report)")
    parser.add_argument("--quick", action="store_true",
                        help="short version: 3 repeats of 5,000 reports, no viewers, one close")
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.reports, args.viewers, args.close_repeats = 3, 5000, 0, 1

    dbs = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    kinds = ["lean"] if args.no_reference else ["lean", "reference"]
    tmp = Path(tempfile.mkdtemp(prefix="specmarket-bench-"))
    cleanup: list[Any] = []
    servers: dict[tuple[str, str], Server] = {}
    urls: dict[str, str] = {}
    try:
        for db in dbs:
            for kind in kinds:
                env = {"SPECMARKET_FAST_REPORTS": "0" if kind == "reference" else "1"}
                if db == "sqlite":
                    url, workers = f"sqlite:///{tmp / f'bench-{kind}.db'}", 1
                else:
                    (url, handle), workers = _pg_schema(), args.pg_workers
                    cleanup.append(handle)
                if kind == "lean":
                    urls[db] = url
                servers[db, kind] = Server(url, TOKEN, workers=workers, cwd=tmp, extra_env=env)
                servers[db, kind].start()
        load = os.getloadavg()
        print(f"machine: {os.cpu_count()} cores, load average {load[0]:.2f} / {load[1]:.2f} / "
              f"{load[2]:.2f} at start; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
        for server in servers.values():  # warm-up, not counted: pools, statement caches, imports
            load_round(server, args.clients, min(1000, args.reports), args.seconds)
        runs: dict[tuple[str, str], list[dict[str, float]]] = {k: [] for k in
                                                               [*servers, *((d, "viewers")
                                                                            for d in dbs)]}
        for rep in range(args.repeats):  # interleaved: per repeat, per database, every variant
            for db in dbs:
                order = ["lean", "viewers"] if rep % 2 == 0 else ["viewers", "lean"]
                plan = (order if args.viewers else ["lean"]) + kinds[1:]
                for variant in plan:
                    kind = "lean" if variant == "viewers" else variant
                    k = args.viewers if variant == "viewers" else 0
                    r = load_round(servers[db, kind], args.clients, args.reports,
                                   args.seconds, k)
                    runs[db, variant].append(r)
                    tag = f"lean +{k} viewers" if k else variant
                    print(f"[{db} {tag} {rep + 1}/{args.repeats}] {r['reports']:.0f} reports "
                          f"in {r['wall']:.2f} s: {r['rate']:,.0f}/s p50 {r['p50_ms']:.1f} ms "
                          f"p99 {r['p99_ms']:.1f} ms, server CPU {r['cpu']:.2f} s "
                          f"({r['cpu_ms']:.3f} ms/report), load generator CPU "
                          f"{r['client']:.2f} s", flush=True)
        cost: dict[str, list[float]] = {db: [] for db in dbs}
        if args.viewers:
            for rep in range(args.repeats):
                for db in dbs:
                    n, cpu = dashboard_cost(servers[db, "lean"])
                    cost[db].append(1e3 * cpu / max(1, n))
                    print(f"[{db} dashboard alone {rep + 1}/{args.repeats}] {n} requests in 5 s, "
                          f"server CPU {1e3 * cpu / max(1, n):.2f} ms per request", flush=True)
        closes: dict[str, list[tuple[float, float]]] = {db: [] for db in dbs}
        for rep in range(args.close_repeats):
            for db in dbs:
                wall, cpu = close_round(servers[db, "lean"], urls[db], args.mcafee, rep)
                closes[db].append((wall, cpu))
                print(f"[{db} close {rep + 1}/{args.close_repeats}] {args.mcafee:,} participants "
                      f"{wall:.2f} s wall, server CPU {cpu:.2f} s", flush=True)
        load = os.getloadavg()
        print(f"\nload average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} at the end; "
              f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
        for db in dbs:
            workers = servers[db, "lean"].workers
            lean = runs[db, "lean"]
            _report_summary(db, workers, args.clients, lean, runs.get((db, "reference"), []))
            if args.viewers:
                _dashboard_summary(db, args.viewers, lean, runs[db, "viewers"], cost[db])
            if closes[db]:
                _close_summary(db, args.mcafee, [w for w, _ in closes[db]],
                               [c for _, c in closes[db]])
    finally:
        for server in servers.values():
            server.stop()
        for admin, schema in cleanup:
            with admin.begin() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            admin.dispose()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
