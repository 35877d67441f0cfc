"""Closing: one clearing per round under concurrent closes from several app instances (as from
several workers), all or nothing when clearing fails, and the ``closes_at`` scheduler."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from specmarket.client import ServiceClient, ServiceRequestError
from specmarket.service.domain import MarketService

from .conftest import OPERATOR, TestClient, make_app


def _round(op: ServiceClient, n: int = 20) -> tuple[str, dict[str, str]]:
    m = str(op.open_market("mcafee")["id"])
    toks = {}
    for k in range(n):
        pid, role = (f"b{k}", "buyer") if k % 2 == 0 else (f"s{k}", "seller")
        toks[pid] = str(op.add_participant(m, pid, role)["token"])
        op.with_token(toks[pid]).put_report(m, {"bid" if role == "buyer" else "ask": float(k)})
    return m, toks


def test_concurrent_closes_clear_once(db_url: str) -> None:
    """Eight threads over two app instances (two connection pools, like two workers) close the
    same round while reports keep arriving: one clearing, one outcome, and every report answered
    2xx is in it."""
    apps = [make_app(db_url), make_app(db_url, migrate=False)]
    with TestClient(apps[0]) as c0, TestClient(apps[1]) as c1:
        clients = [c0, c1]
        op = ServiceClient(str(c0.base_url), OPERATOR, http=c0)
        m, toks = _round(op)
        acked: dict[str, float] = {}
        start = threading.Barrier(12)

        def closer(k: int) -> Any:
            start.wait()
            return ServiceClient("http://testserver", OPERATOR, http=clients[k % 2]).close(m)

        def reporter(k: int) -> None:
            start.wait()
            pid = f"b{2 * k}"
            me = ServiceClient("http://testserver", toks[pid], http=clients[k % 2])
            for j in range(20):
                try:
                    me.put_report(m, {"bid": 100.0 + j})
                    acked[pid] = 100.0 + j
                except ServiceRequestError as exc:
                    assert exc.status == 409
                    return

        with ThreadPoolExecutor(12) as pool:
            reps = [pool.submit(reporter, k) for k in range(4)]
            outs = [f.result() for f in [pool.submit(closer, k) for k in range(8)]]
            for f in reps:
                f.result()
        assert all(o == outs[0] for o in outs)
        closes = [e for e in op.log(m)["entries"] if e["action"] == "close"]
        assert len(closes) == 1
        instance = op.instance(m)
        bids = {b["id"]: b["bid"] for b in instance["buyers"]}
        for pid, bid in acked.items():
            assert bids[pid] == bid  # the last acknowledged report is the one cleared


def test_clearing_failure_rolls_back(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unexpected error while clearing leaves the round open and unlogged (500); the next
    close clears it."""
    from specmarket.mechanisms import get

    op = ServiceClient(str(client.base_url), OPERATOR, http=client)
    m, _ = _round(op, 6)
    spec = get("mcafee")

    def boom(data: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(type(spec), "clear_json", lambda self, data: boom(data))
    with pytest.raises(RuntimeError):
        client.post(f"/v1/markets/{m}/close", headers={"Authorization": f"Bearer {OPERATOR}"})
    monkeypatch.undo()
    assert op.market(m)["status"] == "open"
    assert [e for e in op.log(m)["entries"] if e["action"] == "close"] == []
    assert op.close(m)["mechanism"] == "mcafee"
    assert op.market(m)["status"] == "cleared"


def _move_closes_at(c: Any, market: str, when: float) -> None:
    """Set ``closes_at`` in the database (tests must not race the clock)."""
    from specmarket.service.db import MARKETS

    service: MarketService = c.app.state.service
    with service.engine.begin() as conn:
        conn.execute(MARKETS.update().where(MARKETS.c.id == market).values(closes_at=when))


def test_closes_at_refuses_late_reports_and_scheduler_closes(db_url: str) -> None:
    with TestClient(make_app(db_url, scheduler_interval=0.1)) as c:
        op = ServiceClient(str(c.base_url), OPERATOR, http=c)
        later = datetime.now(UTC) + timedelta(hours=1)
        m = str(op.open_market("vickrey", closes_at=later)["id"])
        assert op.market(m)["closes_at"] == later.timestamp()
        toks = [op.add_participant(m, p, "bidder")["token"] for p in ("a", "b")]
        op.with_token(toks[0]).put_report(m, {"bid": 4.0})
        op.with_token(toks[1]).put_report(m, {"bid": 6.0})
        _move_closes_at(c, m, time.time() - 1)
        deadline = time.monotonic() + 300
        while op.market(m)["status"] == "open" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert op.market(m)["status"] == "cleared"
        assert op.outcome(m)["winner"] == "b"
        with pytest.raises(ServiceRequestError) as exc:
            op.with_token(toks[0]).put_report(m, {"bid": 9.0})
        assert exc.value.status == 409
        assert [e["actor"] for e in op.log(m)["entries"] if e["action"] == "close"] == [
            "scheduler"
        ]


def test_report_after_closes_at_but_before_scheduler_is_409(db_url: str) -> None:
    with TestClient(make_app(db_url)) as c:
        op = ServiceClient(str(c.base_url), OPERATOR, http=c)
        m = str(op.open_market("vickrey", closes_at=datetime.now(UTC) + timedelta(hours=1))["id"])
        tok = op.add_participant(m, "a", "bidder")["token"]
        _move_closes_at(c, m, time.time() - 1)
        for call in (lambda: op.with_token(tok).put_report(m, {"bid": 4.0}),
                     lambda: op.add_participant(m, "b", "bidder")):
            with pytest.raises(ServiceRequestError) as exc:
                call()
            assert exc.value.status == 409
        service: MarketService = c.app.state.service  # type: ignore[attr-defined]
        assert service.due_markets() == [m]
