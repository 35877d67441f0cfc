"""Nothing acknowledged is lost: ``kill -9`` of the server under load, then a restart, finds every
report that was answered 2xx exactly once; a close killed half-way is all or nothing."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from specmarket.client import ServiceClient, ServiceRequestError
from specmarket.mechanisms import get
from specmarket.service.db import make_engine, migrate
from specmarket.service.domain import MarketService

from .conftest import OPERATOR
from .server import Server

pytestmark = pytest.mark.slow


def _all_log(op: ServiceClient, market: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    after = 0
    while True:
        page = op.log(market, after=after, limit=10_000)
        if not page["entries"]:
            return out
        out += page["entries"]
        after = page["next_after"]


def test_kill_9_under_load_loses_no_acknowledged_report(db_url: str, tmp_path: Path) -> None:
    server = Server(db_url, OPERATOR, cwd=tmp_path)
    server.start()
    try:
        op = ServiceClient(server.url, OPERATOR)
        market = str(op.open_market("mcafee")["id"])
        people = [(f"b{k}", "buyer") if k % 2 == 0 else (f"s{k}", "seller") for k in range(32)]
        tokens = {pid: op.add_participant(market, pid, role)["token"] for pid, role in people}
        acked: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = []
        lock = threading.Lock()
        stop = threading.Event()

        def worker(k: int) -> None:
            mine = people[k::8]
            with httpx.Client(timeout=10) as http:
                n = 0
                while not stop.is_set():
                    for pid, role in mine:
                        n += 1
                        key = f"{pid}-{n}"
                        body = {"bid" if role == "buyer" else "ask": float(n)}
                        try:
                            r = http.put(f"{server.url}/v1/markets/{market}/report", json=body,
                                         headers={"Authorization": f"Bearer {tokens[pid]}",
                                                  "Idempotency-Key": key})
                        except httpx.HTTPError:
                            return  # the server is gone: this one is not acknowledged
                        if 200 <= r.status_code < 300:
                            with lock:
                                acked.append((pid, key, body, r.json()))

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 300
        while len(acked) < 150 and time.monotonic() < deadline:
            time.sleep(0.02)
        server.kill()  # mid-way: requests are in flight
        stop.set()
        for t in threads:
            t.join()
        assert len(acked) >= 150
        server.start()
        op = ServiceClient(server.url, OPERATOR)
        log = [e for e in _all_log(op, market) if e["action"] == "report"]
        keys = Counter(e["idempotency_key"] for e in log)
        assert max(keys.values()) == 1  # nothing stored twice
        for _pid, key, _body, _answer in acked:
            assert keys[key] == 1, f"acknowledged report {key} lost"
        for pid, key, body, answer in acked[::10] + acked[-3:]:
            # a retry after the restart replays the acknowledged answer, stores nothing new
            assert op.with_token(tokens[pid]).put_report(market, body, key) == answer
        assert len([e for e in _all_log(op, market) if e["action"] == "report"]) == len(log)
        # each participant's stored report is its last logged one; versions count its entries
        for pid, _role in people:
            mine = [e for e in log if e["body"]["participant"] == pid]
            if not mine:
                continue
            current = op.with_token(tokens[pid]).get_report(market)
            assert current["version"] == len(mine) == max(e["body"]["version"] for e in mine)
            last = max(mine, key=lambda e: e["body"]["version"])
            assert current["report"] == last["body"]["report"]
        outcome = op.close(market)
        assert outcome == get("mcafee").clear_json(op.instance(market))
    finally:
        server.stop()


def test_kill_9_during_close_is_all_or_nothing(db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    service = MarketService(engine)
    market = service.open_market("mcafee", {})["id"]
    n = 30_000
    service.add_participants_bulk(
        market,
        [(f"b{k}", "buyer", {}, {"bid": float(k % 997)}) for k in range(n)]
        + [(f"s{k}", "seller", {}, {"ask": float(k % 991)}) for k in range(n)],
    )
    engine.dispose()
    server = Server(db_url, OPERATOR, cwd=tmp_path)
    server.start()
    try:
        def close_until_killed() -> None:
            with contextlib.suppress(ServiceRequestError):  # the kill cuts the answer off
                ServiceClient(server.url, OPERATOR).close(market)

        closer = threading.Thread(target=close_until_killed)
        closer.start()
        time.sleep(0.3)
        server.kill()
        closer.join()
        server.start()
        op = ServiceClient(server.url, OPERATOR, timeout=300)
        view = op.market(market)
        closes = [e for e in _all_log(op, market) if e["action"] == "close"]
        if view["status"] == "open":  # killed before commit: nothing of the close stored
            assert closes == []
        else:  # committed just before the kill: all of it stored
            assert view["status"] == "cleared" and len(closes) == 1
        outcome = op.close(market)
        assert op.market(market)["status"] == "cleared"
        instance = op.instance(market)
        assert len(instance["buyers"]) == len(instance["sellers"]) == n
        assert outcome == json.loads(json.dumps(get("mcafee").clear_json(instance)))
        assert len([e for e in _all_log(op, market) if e["action"] == "close"]) == 1
    finally:
        server.stop()


def test_two_workers_one_clearing_no_lost_report(db_url: str, tmp_path: Path) -> None:
    """``serve --workers 2``: reports and four concurrent closes spread over both worker
    processes; one clearing, and every acknowledged report is in the cleared instance with its
    last acknowledged value."""
    server = Server(db_url, OPERATOR, workers=2, cwd=tmp_path)
    server.start()
    try:
        op = ServiceClient(server.url, OPERATOR)
        market = str(op.open_market("mcafee")["id"])
        people = [(f"b{k}", "buyer") if k % 2 == 0 else (f"s{k}", "seller") for k in range(16)]
        tokens = {pid: op.add_participant(market, pid, role)["token"] for pid, role in people}
        last_acked: dict[str, float] = {}
        lock = threading.Lock()
        outcomes: list[dict[str, Any]] = []
        go = threading.Barrier(12)

        def reporter(k: int) -> None:
            pid, role = people[k]
            go.wait()
            for n in range(1, 200):
                with httpx.Client(timeout=60) as http:  # new connection: either worker
                    r = http.put(f"{server.url}/v1/markets/{market}/report",
                                 json={"bid" if role == "buyer" else "ask": float(n)},
                                 headers={"Authorization": f"Bearer {tokens[pid]}"})
                if r.status_code == 409:
                    return
                assert r.status_code == 200, r.text
                with lock:
                    last_acked[pid] = float(n)

        def closer() -> None:
            go.wait()
            time.sleep(1.0)
            outcome = ServiceClient(server.url, OPERATOR, timeout=60).close(market)
            with lock:
                outcomes.append(outcome)

        threads = [threading.Thread(target=reporter, args=(k,)) for k in range(8)]
        threads += [threading.Thread(target=closer) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(outcomes) == 4 and all(o == outcomes[0] for o in outcomes)
        assert len([e for e in _all_log(op, market) if e["action"] == "close"]) == 1
        instance = op.instance(market)
        stored = {e["id"]: e.get("bid", e.get("ask")) for e in
                  instance["buyers"] + instance["sellers"]}
        assert stored == last_acked
        assert outcomes[0] == get("mcafee").clear_json(instance)
    finally:
        server.stop()
