"""Hostile request bodies: undecodable JSON (400 naming ``body``), bodies not declared JSON (415
naming ``Content-Type``), bodies over the limit (413), NaN / Infinity literals (422 naming the
field) — from the FastAPI routes and from the lean report route, with the same answers."""

from __future__ import annotations

import re
import warnings
from typing import Any

from tests.service.conftest import bearer, make_app, op_headers

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette: "use httpx2", not ours to fix
    from fastapi.testclient import TestClient

JSON = {"content-type": "application/json"}

#: (case, body, content type or None, expected status, expected field)
REPORT_CASES: list[tuple[str, bytes, str | None, int, str | None]] = [
    ("truncated", b'{"bid":', "application/json", 400, "body"),
    ("not utf-8", b'{"bid": "\xff\xfe"}', "application/json", 400, "body"),
    ("latin-1 bytes", b"\xe9\xe8", "application/json", 400, "body"),
    ("trailing garbage", b'{"bid": 1} x', "application/json", 400, "body"),
    ("nested too deeply", b"[" * 50_000, "application/json", 400, "body"),
    ("too many digits", b'{"bid": ' + b"9" * 4400 + b"}", "application/json", 400, "body"),
    ("charset parameter", b'{"bid": "x"}', "application/json; charset=utf-8", 422, "bid"),
    ("text/plain", b'{"bid": 1.0}', "text/plain", 415, "Content-Type"),
    ("form", b"bid=1", "application/x-www-form-urlencoded", 415, "Content-Type"),
    ("no content type", b'{"bid": 1.0}', None, 415, "Content-Type"),
    ("nan", b'{"bid": NaN}', "application/json", 422, "bid"),
    ("infinity", b'{"bid": Infinity}', "application/json", 422, "bid"),
    ("minus infinity", b'{"bid": -Infinity}', "application/json", 422, "bid"),
    ("overflow to inf", b'{"bid": 1e999}', "application/json", 422, "bid"),
    ("list", b"[1]", "application/json", 422, "body"),
    ("string", b'"bid"', "application/json", 422, "body"),
    ("too big, declared", b'{"bid": 1.0' + b" " * 120_000 + b"}", "application/json", 413, None),
    ("too big, not json", b"x" * 120_000, "text/plain", 413, None),
]


def _answers(db_url: str, fast: bool) -> list[tuple[str, int, str]]:
    app = make_app(db_url, max_body=100_000, fast_reports=fast)
    with TestClient(app, raise_server_exceptions=False) as c:
        m = c.post("/v1/markets", json={"mechanism": "mcafee"}, headers=op_headers()).json()["id"]
        tok = c.post(f"/v1/markets/{m}/participants", json={"id": "b1", "role": "buyer"},
                     headers=op_headers()).json()["token"]
        assert c.put(f"/v1/markets/{m}/report", json={"bid": 1.0},
                     headers=bearer(tok)).status_code == 200  # token now in the lean cache
        out = []
        for name, body, ctype, status, field in REPORT_CASES:
            headers = {**bearer(tok), **({"content-type": ctype} if ctype else {})}
            r = c.put(f"/v1/markets/{m}/report", content=body, headers=headers)
            assert r.status_code == status, (name, r.status_code, r.text)
            answer = r.json()
            assert set(answer) == {"detail", "field"}, (name, answer)
            assert answer["field"] == field, (name, answer)
            if status == 400:
                assert answer["detail"].startswith("body: not valid JSON ("), answer
            out.append((name, r.status_code, re.sub(r"[0-9a-f]{24}", "M", r.text)))
        # undecodable before the token is looked at, as FastAPI decodes the body first
        r = c.put(f"/v1/markets/{m}/report", content=b'{"bid":', headers=JSON)
        assert (r.status_code, r.json()["field"]) == (400, "body")
        r = c.put(f"/v1/markets/{m}/report", content=b'{"bid": 2.0}',
                  headers={"content-type": "text/plain"})
        assert (r.status_code, r.json()["field"]) == (415, "Content-Type")
        # none of it was stored: the log holds the one good report, the stored report is it
        log = c.get(f"/v1/markets/{m}/log", headers=op_headers()).json()["entries"]
        assert [e["body"]["report"] for e in log if e["action"] == "report"] == [{"bid": 1.0}]
        mine = c.get(f"/v1/markets/{m}/report", headers=bearer(tok)).json()
        assert (mine["version"], mine["report"]) == (1, {"bid": 1.0})
        out.append(("after", 0, str(mine["report"])))
    return out


def test_hostile_report_bodies_lean_route_answers_as_fastapi(db_url: str) -> None:
    lean, reference = _answers(db_url, True), _answers(db_url, False)
    assert lean == reference


def test_undecodable_body_is_one_400_on_every_json_endpoint(client: Any) -> None:
    m = client.post("/v1/markets", json={"mechanism": "mcafee"}, headers=op_headers()).json()["id"]
    for path in ("/v1/markets", f"/v1/markets/{m}/participants"):
        for body in (b'{"mechanism":', b'{"id": "\xff"}', b"{" * 50_000):
            r = client.post(path, content=body, headers={**op_headers(), **JSON})
            assert r.status_code == 400, (path, body[:20], r.text)
            assert r.json()["field"] == "body"
            assert r.json()["detail"].startswith("body: not valid JSON (")
        r = client.post(path, content=b'{"mechanism": "mcafee"}',
                        headers={**op_headers(), "content-type": "text/plain"})
        assert (r.status_code, r.json()["field"]) == (415, "Content-Type")
    r = client.post("/v1/markets", content=b'{"mechanism": "mcafee",',
                    headers={**op_headers(), **JSON})
    assert r.json()["detail"] == "body: not valid JSON (Expecting property name enclosed in " \
        "double quotes at character 23)"
    r = client.post(f"/v1/markets/{m}/participants", content=b'{"id": "b1", "role": NaN}',
                    headers={**op_headers(), **JSON})
    assert (r.status_code, r.json()["field"]) == (422, "role")
    # the market is untouched: no participant was added by any of it
    assert client.get(f"/v1/markets/{m}", headers=op_headers()).json()["participants"] == 0
    # a body-less call needs no content type; unknown routes answer in the error format
    assert client.post(f"/v1/markets/{m}/close", headers=op_headers()).status_code == 422
    r = client.get("/v1/nothing-here", headers=op_headers())
    assert r.status_code == 404 and set(r.json()) == {"detail", "field"}
