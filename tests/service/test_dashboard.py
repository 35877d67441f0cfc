"""The dashboard's page and the read endpoints it uses (no browser; see
``test_dashboard_browser.py`` for the page itself), on both databases."""

from __future__ import annotations

import re
from typing import Any

from tests.service.conftest import bearer, op_headers


def _market(client: Any) -> tuple[str, dict[str, str]]:
    market = client.post("/v1/markets", json={"mechanism": "mcafee"}, headers=op_headers()).json()
    tokens = {}
    for pid, role in (("b1", "buyer"), ("s1", "seller")):
        r = client.post(f"/v1/markets/{market['id']}/participants",
                        json={"id": pid, "role": role}, headers=op_headers())
        tokens[pid] = r.json()["token"]
    return market["id"], tokens


def test_page_and_assets_are_cached(client: Any) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-cache"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    again = client.get("/", headers={"If-None-Match": page.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assets = re.findall(r'(?:src|href)="(/static/[^"?]+)\?v=([0-9a-f]{20})"', page.text)
    assert {a for a, _ in assets} == {
        "/static/app.js", "/static/style.css", "/static/vendor/chart.umd.min.js"
    }
    for path, version in assets:
        r = client.get(f"{path}?v={version}")
        assert r.status_code == 200
        assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert r.headers["etag"] == f'"{version}"'  # the page names each asset by its content
    assert client.get("/static/nothing.js").status_code == 404
    assert client.get("/static/../api.py").status_code == 404
    # the page is not part of the API's contract
    assert "/" not in client.get("/openapi.json").json()["paths"]


def test_vendored_chart_js_has_its_licence(client: Any) -> None:
    r = client.get("/static/vendor/chart.js-LICENSE.md")
    assert r.status_code == 200 and "MIT License" in r.text


def test_markets_list_is_operator_only(client: Any) -> None:
    market, tokens = _market(client)
    client.put(f"/v1/markets/{market}/report", json={"bid": 3.0}, headers=bearer(tokens["b1"]))
    listing = client.get("/v1/markets", headers=op_headers())
    assert listing.status_code == 200
    (row,) = [m for m in listing.json() if m["id"] == market]
    assert (row["status"], row["participants"], row["reports"]) == ("open", 2, 1)
    assert row["opened_at"] > 0
    assert client.get("/v1/markets", headers=bearer(tokens["b1"])).status_code == 403
    assert client.get("/v1/markets").status_code == 401


def test_me_tells_who_the_token_is(client: Any) -> None:
    market, tokens = _market(client)
    assert client.get("/v1/me", headers=op_headers()).json()["operator"] is True
    me = client.get("/v1/me", headers=bearer(tokens["s1"])).json()
    assert me["operator"] is False
    assert (me["market"], me["participant"], me["role"], me["status"], me["version"]) == (
        market, "s1", "seller", "open", 0,
    )
    client.put(f"/v1/markets/{market}/report", json={"ask": 1.0}, headers=bearer(tokens["s1"]))
    assert client.get("/v1/me", headers=bearer(tokens["s1"])).json()["version"] == 1
    assert client.get("/v1/me", headers=bearer("wrong")).status_code == 401


def test_timeline_counts_reports_from_the_log(client: Any) -> None:
    market, tokens = _market(client)
    for bid in (1.0, 2.0, 3.0):  # replacements count: each is an accepted request
        client.put(f"/v1/markets/{market}/report", json={"bid": bid}, headers=bearer(tokens["b1"]))
    client.put(f"/v1/markets/{market}/report", json={"ask": 1.0}, headers=bearer(tokens["s1"]))
    t = client.get(f"/v1/markets/{market}/timeline?bucket=3600", headers=op_headers()).json()
    assert t["bucket"] == 3600 and t["starts"] == [0.0] and t["counts"] == [4]
    fine = client.get(f"/v1/markets/{market}/timeline?bucket=0.001", headers=op_headers()).json()
    assert sum(fine["counts"]) == 4 and len(fine["starts"]) == len(fine["counts"])
    assert fine["starts"] == [k * fine["bucket"] for k in range(len(fine["starts"]))]
    assert client.get(f"/v1/markets/{market}/timeline", headers=bearer(tokens["b1"])
                      ).status_code == 403
    bad = client.get(f"/v1/markets/{market}/timeline?bucket=0", headers=op_headers())
    assert bad.status_code == 422 and bad.json()["field"] == "bucket"
    assert client.get("/v1/markets/nope/timeline", headers=op_headers()).status_code == 404
