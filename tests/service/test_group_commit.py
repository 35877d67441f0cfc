"""Group commit and the lean report handler: a batch of reports in one transaction answers each
exactly as one transaction per report would, and ``ReportRoute`` answers every request as the
FastAPI route does — on SQLite and on PostgreSQL."""

from __future__ import annotations

import re
import warnings
from typing import Any

import pytest

from specmarket.errors import InvalidInput
from specmarket.service.db import make_engine, migrate
from specmarket.service.domain import MarketService
from specmarket.service.errors import Conflict
from specmarket.service.tokens import hash_token

from .conftest import OPERATOR, bearer, make_app, op_headers

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


def _service(db_url: str) -> tuple[MarketService, str, dict[str, Any]]:
    engine = make_engine(db_url)
    migrate(engine)
    service = MarketService(engine)
    market = service.open_market("mcafee", {})["id"]
    who = {}
    for pid, role in (("b1", "buyer"), ("b2", "buyer"), ("s1", "seller")):
        _, token = service.add_participant(market, pid, role, {})
        who[pid] = service.authenticate(hash_token(token))
    return service, market, who


def test_one_batch_answers_each_report_as_alone(db_url: str) -> None:
    service, market, who = _service(db_url)
    try:
        batch = [
            service.prepare_report(who["b1"], {"bid": 1.0}, "k1"),
            service.prepare_report(who["b1"], {"bid": 2.0}),
            service.prepare_report(who["b1"], {"bid": 1.0}, "k1"),  # repeat within the batch
            service.prepare_report(who["b1"], {"bid": 9.0}, "k1"),  # same key, other report
            service.prepare_report(who["b2"], {"bid": 3.0}, "k1"),  # keys are per participant
            service.prepare_report(who["s1"], {"ask": 4.0}),
        ]
        service.write_reports(batch)
        assert batch[0].outcome() == (200, {"market": market, "participant": "b1", "version": 1,
                                            "report": {"bid": 1.0}})
        assert batch[1].outcome()[1]["version"] == 2
        assert batch[2].outcome() == batch[0].outcome()
        with pytest.raises(InvalidInput) as err:
            batch[3].outcome()
        assert err.value.field == "Idempotency-Key"
        assert batch[4].outcome()[1]["version"] == 1
        assert batch[5].outcome()[1]["report"] == {"ask": 4.0}
        assert service.get_report(who["b1"])["version"] == 2
        assert service.get_report(who["b1"])["report"] == {"bid": 2.0}
        reports = [e for e in service.log(market) if e["action"] == "report"]
        assert [(e["body"]["participant"], e["body"]["version"]) for e in reports] == [
            ("b1", 1), ("b1", 2), ("b2", 1), ("s1", 1)
        ]
        # a later batch replays the stored key, and a closed market refuses new reports only
        service.close(market)
        later = [service.prepare_report(who["b1"], {"bid": 1.0}, "k1"),
                 service.prepare_report(who["b2"], {"bid": 5.0})]
        service.write_reports(later)
        assert later[0].outcome() == batch[0].outcome()
        with pytest.raises(Conflict):
            later[1].outcome()
        assert len([e for e in service.log(market) if e["action"] == "report"]) == 4
    finally:
        service.engine.dispose()


def _exchange(client: TestClient) -> list[tuple[str, int, Any]]:
    """Edge cases of ``PUT …/report``; (case, status, body with market ids masked)."""
    op = op_headers()
    m = client.post("/v1/markets", json={"mechanism": "mcafee"}, headers=op).json()["id"]
    m2 = client.post("/v1/markets", json={"mechanism": "mcafee"}, headers=op).json()["id"]
    add = f"/v1/markets/{m}/participants"
    b1 = client.post(add, json={"id": "b1", "role": "buyer"}, headers=op).json()["token"]
    other = client.post(f"/v1/markets/{m2}/participants", json={"id": "b1", "role": "buyer"},
                        headers=op).json()["token"]
    path = f"/v1/markets/{m}/report"
    js = {"content-type": "application/json"}
    cases: list[tuple[str, dict[str, Any]]] = [
        ("first", {"json": {"bid": 1.0}, "headers": bearer(b1)}),  # fills the token cache
        ("ok", {"json": {"bid": 1.5}, "headers": bearer(b1)}),
        ("lowercase scheme", {"json": {"bid": 2}, "headers": {"Authorization": f"bearer {b1}"}}),
        ("no auth", {"json": {"bid": 1.0}}),
        ("unknown", {"json": {"bid": 1.0}, "headers": bearer("nope")}),
        ("operator", {"json": {"bid": 1.0}, "headers": {"Authorization": f"Bearer {OPERATOR}"}}),
        ("other market", {"json": {"bid": 1.0}, "headers": bearer(other)}),
        ("bad json", {"content": b"{bid", "headers": {**bearer(b1), **js}}),
        ("list", {"json": [1], "headers": bearer(b1)}),
        ("no content type", {"content": b'{"bid": 1.0}', "headers": bearer(b1)}),
        ("bad value", {"json": {"bid": "x"}, "headers": bearer(b1)}),
        ("nan", {"content": b'{"bid": NaN}', "headers": {**bearer(b1), **js}}),
        ("wrong field", {"json": {"ask": 1}, "headers": bearer(b1)}),
        ("long key", {"json": {"bid": 1.0},
                      "headers": {**bearer(b1), "Idempotency-Key": "k" * 257}}),
        ("empty key", {"json": {"bid": 1.0}, "headers": {**bearer(b1), "Idempotency-Key": ""}}),
        ("key", {"json": {"bid": 4.0}, "headers": {**bearer(b1), "Idempotency-Key": "k1"}}),
        ("key again", {"json": {"bid": 4.0}, "headers": {**bearer(b1), "Idempotency-Key": "k1"}}),
        ("key reused", {"json": {"bid": 5.0}, "headers": {**bearer(b1), "Idempotency-Key": "k1"}}),
        ("too big", {"content": b'{"bid": 1.0' + b" " * 3000 + b"}",
                     "headers": {**bearer(b1), **js}}),
    ]
    out = []
    for name, kw in cases:
        r = client.put(path, **kw)
        out.append((name, r.status_code, re.sub(r"[0-9a-f]{24}", "M", r.text)))
    client.post(f"/v1/markets/{m}/close", headers=op)
    r = client.put(path, json={"bid": 1.0}, headers=bearer(b1))
    out.append(("closed", r.status_code, re.sub(r"[0-9a-f]{24}", "M", r.text)))
    codes = [client.put(f"/v1/markets/{m2}/report", json={"bid": 1.0},
                        headers=bearer(other)).status_code for _ in range(40)]
    out.append(("rate", 0, sorted(set(codes))))
    log = client.get(f"/v1/markets/{m}/log", headers=op).json()["entries"]
    out.append(("log", 0, [(e["action"], e["idempotency_key"], e["body"]) for e in log
                           if e["action"] == "report"]))
    return out


def test_lean_handler_answers_as_the_fastapi_route(db_url: str) -> None:
    answers = []
    for fast in (True, False):
        app = make_app(db_url, max_body=2000, rate_limit=1.0, rate_burst=30, fast_reports=fast)
        with TestClient(app) as client:
            answers.append(_exchange(client))
    assert answers[0] == answers[1]
    statuses = {name: status for name, status, _ in answers[0]}
    assert statuses["ok"] == statuses["key again"] == 200
    assert statuses["no auth"] == statuses["unknown"] == 401
    assert statuses["operator"] == statuses["other market"] == 403
    assert statuses["bad value"] == statuses["key reused"] == 422
    assert statuses["too big"] == 413 and statuses["closed"] == 409
    assert statuses["bad json"] == 400 and statuses["no content type"] == 415
    assert statuses["nan"] == statuses["list"] == 422
    assert answers[0][-2][2] == [200, 429]
