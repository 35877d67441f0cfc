"""The live data market under ``kill -9``: every bid answered 2xx is in the log exactly once
after a restart, the book folded from the log holds each buyer's last acknowledged bid, and a
replay of an acknowledged ``Idempotency-Key`` returns the original answer and adds nothing."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import OPERATOR, bearer, op_headers
from .server import Server

pytestmark = pytest.mark.slow


def _log(url: str, market: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    after = 0
    while True:
        page = httpx.get(f"{url}/v1/markets/{market}/log", params={"after": after},
                         headers=op_headers(), timeout=30).json()
        if not page["entries"]:
            return out
        out += page["entries"]
        after = page["next_after"]


def test_kill_9_loses_no_acknowledged_bid(db_url: str, tmp_path: Path) -> None:
    server = Server(db_url, OPERATOR, cwd=tmp_path)
    server.start()
    try:
        url = server.url
        market = httpx.post(f"{url}/v1/markets", json={"mechanism": "data-market"},
                            headers=op_headers()).json()["id"]

        def add(pid: str, role: str) -> str:
            return str(httpx.post(f"{url}/v1/markets/{market}/participants",
                                  json={"id": pid, "role": role},
                                  headers=op_headers()).json()["token"])

        sellers = {f"s{k}": add(f"s{k}", "seller") for k in range(2)}
        for tok in sellers.values():
            assert httpx.put(f"{url}/v1/markets/{market}/offer", json={"supply": 50.0},
                             headers=bearer(tok)).status_code == 200
        buyers = {f"b{k}": add(f"b{k}", "buyer") for k in range(8)}
        acked: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {}  # key: buyer, bid, answer
        lock = threading.Lock()
        stop = threading.Event()

        def worker(pid: str) -> None:
            with httpx.Client(timeout=10) as http:
                n = 0
                while not stop.is_set():
                    n += 1
                    key = f"{pid}-{n}"
                    bid = {"seller": f"s{n % 2}", "quantity": float(n % 7), "price": 1.0 + n / 100}
                    try:
                        r = http.post(f"{url}/v1/markets/{market}/bid", json=bid,
                                      headers={**bearer(buyers[pid]), "Idempotency-Key": key})
                    except httpx.HTTPError:
                        return
                    if r.status_code == 200:
                        with lock:
                            acked[key] = (pid, bid, r.json())

        threads = [threading.Thread(target=worker, args=(pid,)) for pid in buyers]
        for t in threads:
            t.start()
        while len(acked) < 120:
            threading.Event().wait(0.02)
        server.kill()
        stop.set()
        for t in threads:
            t.join()
        server.start()
        log = _log(server.url, market)
        keys = Counter(e["idempotency_key"] for e in log if e["action"] == "bid")
        assert all(keys[k] == 1 for k in acked), "an acknowledged bid is missing or doubled"
        assert all(n == 1 for n in keys.values())
        # the book after the restart holds, per buyer and seller, the last logged bid
        last: dict[tuple[str, str], tuple[float, float]] = {}
        for e in log:
            if e["action"] == "bid":
                b = e["body"]
                last[(e["actor"].split(":", 1)[1], b["seller"])] = (b["quantity"], b["price"])
        view = httpx.get(f"{server.url}/v1/markets/{market}/quotes",
                         headers=op_headers()).json()
        held = {(x["buyer"], book["seller"]): (x["quantity"], x["price"])
                for book in view["books"] for x in book["bids"]}
        assert held == {k: v for k, v in last.items() if v[0] > 0}
        # replays of acknowledged keys: the original answer, nothing new in the log
        for key, (pid, bid, answer) in list(acked.items())[:20]:
            r = httpx.post(f"{server.url}/v1/markets/{market}/bid", json=bid,
                           headers={**bearer(buyers[pid]), "Idempotency-Key": key})
            assert r.status_code == 200 and r.json() == answer
        assert len(_log(server.url, market)) == len(log)
    finally:
        server.stop()
