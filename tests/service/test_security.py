"""Nobody gets in where they do not belong: tokens, 401/403, sealed reports, 413, 429 — on
SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
import sqlalchemy as sa

from specmarket.service.db import make_engine
from specmarket.service.tokens import TOKEN_BYTES, hash_token, new_token

from .conftest import OPERATOR, TestClient, bearer, make_app, op_headers


def _market(client: Any, mechanism: str = "mcafee") -> str:
    r = client.post("/v1/markets", json={"mechanism": mechanism}, headers=op_headers())
    assert r.status_code == 201
    return str(r.json()["id"])


def _participant(client: Any, market: str, pid: str, role: str) -> str:
    r = client.post(f"/v1/markets/{market}/participants", json={"id": pid, "role": role},
                    headers=op_headers())
    assert r.status_code == 201
    return str(r.json()["token"])


def test_tokens_are_random_and_stored_only_as_hashes(client: Any, db_url: str) -> None:
    m = _market(client)
    tokens = [_participant(client, m, f"b{k}", "buyer") for k in range(5)]
    assert len(set(tokens)) == 5
    for tok in tokens:
        raw = base64.urlsafe_b64decode(tok + "=" * (-len(tok) % 4))
        assert len(raw) == TOKEN_BYTES >= 16  # at least 128 random bits
    engine = make_engine(db_url)
    with engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT token_hash FROM participants").scalars().all()
        dump = " ".join(
            str(v) for table in ("participants", "log", "markets", "service_settings")
            for row in conn.exec_driver_sql(f"SELECT * FROM {table}").all() for v in row
        )
    engine.dispose()
    assert sorted(stored) == sorted(hashlib.sha256(t.encode()).hexdigest() for t in tokens)
    for tok in [*tokens, OPERATOR]:
        assert tok not in dump


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer "},
                                     {"Authorization": "Bearer wrong"},
                                     {"Authorization": "Basic b3A6b3A="},
                                     {"Authorization": f"Bearer {OPERATOR}x"}])
def test_missing_or_wrong_token_is_401(client: Any, headers: dict[str, str]) -> None:
    m = _market(client)
    for method, path in [("POST", "/v1/markets"), ("GET", f"/v1/markets/{m}/outcome"),
                         ("PUT", f"/v1/markets/{m}/report"), ("POST", f"/v1/markets/{m}/close"),
                         ("GET", f"/v1/markets/{m}/log")]:
        r = client.request(method, path, json={"mechanism": "mcafee"}, headers=headers)
        assert r.status_code == 401, (method, path, r.text)
        assert r.headers["www-authenticate"] == "Bearer"


def test_participants_cannot_reach_operator_endpoints_or_other_markets(client: Any) -> None:
    m, other = _market(client), _market(client)
    b1 = _participant(client, m, "b1", "buyer")
    b2 = _participant(client, m, "b2", "buyer")
    x = _participant(client, other, "b1", "buyer")
    for method, path in [("POST", "/v1/markets"), ("GET", f"/v1/markets/{m}"),
                         ("POST", f"/v1/markets/{m}/participants"),
                         ("POST", f"/v1/markets/{m}/close"), ("GET", f"/v1/markets/{m}/instance"),
                         ("GET", f"/v1/markets/{m}/log")]:
        r = client.request(method, path, json={"mechanism": "mcafee", "id": "z", "role": "buyer"},
                           headers=bearer(b1))
        assert r.status_code == 403, (method, path, r.text)
    # a token of another market, even for the same participant id, is refused
    assert client.put(f"/v1/markets/{m}/report", json={"bid": 1.0},
                      headers=bearer(x)).status_code == 403
    assert client.get(f"/v1/markets/{m}/report", headers=bearer(x)).status_code == 403
    # the operator does not report
    assert client.put(f"/v1/markets/{m}/report", json={"bid": 1.0},
                      headers=op_headers()).status_code == 403
    # sealed: each participant reads its own report only
    client.put(f"/v1/markets/{m}/report", json={"bid": 5.0}, headers=bearer(b1))
    client.put(f"/v1/markets/{m}/report", json={"bid": 7.0}, headers=bearer(b2))
    assert client.get(f"/v1/markets/{m}/report", headers=bearer(b1)).json()["report"] == {
        "bid": 5.0
    }
    assert client.get(f"/v1/markets/{m}/report", headers=bearer(b2)).json()["report"] == {
        "bid": 7.0
    }
    assert client.get(f"/v1/markets/{m}/outcome", headers=bearer(b1)).status_code == 409


def test_participant_outcome_hides_other_participants(client: Any) -> None:
    m = _market(client)
    toks = {p: _participant(client, m, p, "buyer" if p[0] == "b" else "seller")
            for p in ("b1", "b2", "b3", "s1", "s2", "s3")}
    for p, v in zip(toks, (9.0, 7.0, 6.0, 2.0, 4.0, 5.0), strict=True):
        client.put(f"/v1/markets/{m}/report", json={"bid" if p[0] == "b" else "ask": v},
                   headers=bearer(toks[p]))
    full = client.post(f"/v1/markets/{m}/close", headers=op_headers()).json()
    mine = client.get(f"/v1/markets/{m}/outcome", headers=bearer(toks["b3"])).json()
    assert mine["allocation"] == full["allocation"]["b3"] and mine["payment"] == 0.0
    text = str(mine)
    for other in ("b1", "b2", "s3"):  # not winners, so no public field names them
        if other not in full["winners"]:
            assert other not in text
    assert "welfare" not in text and "payments" not in text and "9.0" not in text


def test_body_over_limit_is_413(db_url: str) -> None:
    with TestClient(make_app(db_url, max_body=2000)) as c:
        m = _market(c)
        big = {"mechanism": "mcafee", "fields": {"pad": "x" * 5000}}
        assert c.post("/v1/markets", json=big, headers=op_headers()).status_code == 413

        def chunks() -> Any:  # no Content-Length: counted while streaming
            for _ in range(10):
                yield b" " * 500

        r = c.put(f"/v1/markets/{m}/report", content=chunks(), headers=op_headers())
        assert r.status_code == 413
        assert c.post("/v1/markets", json={"mechanism": "mcafee"},
                      headers=op_headers()).status_code == 201


def test_rate_limit_is_429_per_token(db_url: str) -> None:
    with TestClient(make_app(db_url, rate_limit=0.001, rate_burst=3)) as c:
        m = _market(c)  # operator: 1 of 3
        b1 = _participant(c, m, "b1", "buyer")  # operator: 2 of 3
        b2 = _participant(c, m, "b2", "buyer")  # operator: 3 of 3
        r = c.get(f"/v1/markets/{m}", headers=op_headers())
        assert r.status_code == 429 and r.headers["retry-after"] == "1"
        codes = [c.put(f"/v1/markets/{m}/report", json={"bid": 1.0}, headers=bearer(b1))
                 .status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        # another token has its own bucket
        assert c.put(f"/v1/markets/{m}/report", json={"bid": 1.0},
                     headers=bearer(b2)).status_code == 200


def test_generated_operator_token_is_printed_once(db_url: str, capsys: Any) -> None:
    first = make_app(db_url, operator_token=None)
    err = capsys.readouterr().err
    assert "operator token (shown once)" in err
    token = err.strip().rsplit(" ", 1)[-1]
    second = make_app(db_url, operator_token=None)
    assert "operator token" not in capsys.readouterr().err
    for app in (first, second):
        with TestClient(app) as c:
            assert c.post("/v1/markets", json={"mechanism": "vickrey"},
                          headers=bearer(token)).status_code == 201
            assert c.post("/v1/markets", json={"mechanism": "vickrey"},
                          headers=bearer(new_token())).status_code == 401
    engine = make_engine(db_url)
    with engine.connect() as conn:
        value = conn.execute(sa.text("SELECT value FROM service_settings")).scalar_one()
    engine.dispose()
    assert value == hash_token(token)
