"""The live data-exchange market over HTTP (offers, bids, quotes, stream, settlement), on both
databases, checked against the local-auction functions of the data-market mechanism."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from tests.service.conftest import bearer, op_headers

from specmarket.mechanisms.psp.local_auction import allocate, costs, reserve_after
from specmarket.service.live import Book


def _open(client: Any, **fields: float) -> tuple[str, dict[str, str]]:
    r = client.post("/v1/markets", json={"mechanism": "data-market", "fields": fields},
                    headers=op_headers())
    assert r.status_code == 201, r.text
    market = r.json()["id"]
    tokens = {}
    for pid, role in (("s1", "seller"), ("s2", "seller"), ("A", "buyer"), ("B", "buyer"),
                      ("C", "buyer")):
        r = client.post(f"/v1/markets/{market}/participants", json={"id": pid, "role": role},
                        headers=op_headers())
        assert r.status_code == 201, r.text
        tokens[pid] = r.json()["token"]
    return market, tokens


def test_bids_update_the_sellers_auction_and_settle(client: Any) -> None:
    market, tok = _open(client, isp_price=10.0, epsilon=0.5)
    for sid, supply in (("s1", 4.0), ("s2", 2.0)):
        r = client.put(f"/v1/markets/{market}/offer", json={"supply": supply, "reserve": 1.0},
                       headers=bearer(tok[sid]))
        assert r.status_code == 200, r.text
        assert r.json()["supply"] == supply
    bids = [("A", "s1", 3.0, 5.0), ("B", "s1", 2.0, 4.0), ("C", "s1", 2.0, 3.0),
            ("C", "s2", 2.0, 2.0), ("A", "s1", 3.0, 6.0)]  # A raises its bid: replaces it
    for buyer, seller, q, p in bids:
        r = client.post(f"/v1/markets/{market}/bid",
                        json={"seller": seller, "quantity": q, "price": p},
                        headers=bearer(tok[buyer]))
        assert r.status_code == 200, r.text
    # seller s1 sees A (3 @ 6), B (2 @ 4), C (2 @ 3). Reserve, eq. (27): C's bid arrived third,
    # outside the covering set {A, B} of the supply 4, so the reserve became 3 + ε = 3.5 (sticky)
    q1, p1 = np.array([3.0, 2.0, 2.0]), np.array([6.0, 4.0, 3.0])
    reserve = reserve_after(1.0, 3.0, 0.5, 10.0)
    assert reserve == 3.5
    a1, c1 = allocate(q1, p1, 4.0, reserve), costs(q1, p1, 4.0, reserve)

    quote = client.get(f"/v1/markets/{market}/quotes", headers=bearer(tok["A"])).json()
    (at_s1,) = quote["sellers"]
    assert at_s1["seller"] == "s1" and at_s1["price"] == 6.0
    assert at_s1["reserve"] == pytest.approx(reserve)
    assert at_s1["allocation"] == pytest.approx(a1[0])
    assert at_s1["cost"] == pytest.approx(c1[0])
    # A's price function at s1 from B's and C's bids: eq. (18)
    steps = at_s1["price_function"]
    assert steps[-1][0] == pytest.approx(4.0)  # everything, at the top price
    assert all(s[0] <= 4.0 + 1e-9 for s in steps)
    assert [s[1] for s in steps] == sorted(s[1] for s in steps)
    # B cannot read A's quote: it gets its own
    other = client.get(f"/v1/markets/{market}/quotes", headers=bearer(tok["B"])).json()
    assert other["buyer"] == "B" and all(s["seller"] == "s1" for s in other["sellers"])

    # the stream's first event is the same view
    with client.stream("GET", f"/v1/markets/{market}/stream", headers=bearer(tok["C"])) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        line = next(x for x in r.iter_lines() if x.startswith("data: "))
        event = json.loads(line[len("data: "):])
    assert event["buyer"] == "C" and len(event["sellers"]) == 2
    client.post(f"/v1/markets/{market}/close", headers=op_headers())

    outcome = client.get(f"/v1/markets/{market}/outcome", headers=op_headers()).json()
    assert outcome["mechanism"] == "data-market"
    assert sum(outcome["payments"].values()) == pytest.approx(0.0)
    assert outcome["allocation"]["s1"] == pytest.approx(float(a1.sum()))
    assert outcome["payments"]["A"] == pytest.approx(c1[0])
    mine = client.get(f"/v1/markets/{market}/outcome", headers=bearer(tok["A"])).json()
    assert mine["payment"] == pytest.approx(c1[0]) and "sellers" not in mine["public"]
    # every bid and offer is in the log, in order
    log = client.get(f"/v1/markets/{market}/log", headers=op_headers()).json()["entries"]
    assert [e["action"] for e in log if e["action"] in ("offer", "bid")] == \
        ["offer"] * 2 + ["bid"] * 5
    # after close: 409
    r = client.post(f"/v1/markets/{market}/bid", json={"seller": "s1", "quantity": 1, "price": 9},
                    headers=bearer(tok["B"]))
    assert r.status_code == 409


def test_bad_bids_and_offers_name_the_field(client: Any) -> None:
    market, tok = _open(client)
    client.put(f"/v1/markets/{market}/offer", json={"supply": 1.0}, headers=bearer(tok["s1"]))
    cases = [
        (tok["A"], "bid", {"seller": "s2", "quantity": 1, "price": 1}, 422, "seller"),
        (tok["A"], "bid", {"seller": "s1", "quantity": -1, "price": 1}, 422, "quantity"),
        (tok["A"], "bid", {"seller": "s1", "quantity": 1, "price": "x"}, 422, "price"),
        (tok["s1"], "offer", {"supply": 0}, 422, "supply"),
        (tok["A"], "offer", {"supply": 1}, 409, None),
        (tok["s1"], "bid", {"seller": "s1", "quantity": 1, "price": 1}, 409, None),
    ]
    for token, action, body, code, field in cases:
        if action == "bid":
            r = client.post(f"/v1/markets/{market}/bid", json=body, headers=bearer(token))
        else:
            r = client.put(f"/v1/markets/{market}/offer", json=body, headers=bearer(token))
        assert r.status_code == code, (body, r.text)
        if field:
            assert r.json()["field"] == field
    assert client.put(f"/v1/markets/{market}/report", json={"bid": 1},
                      headers=bearer(tok["A"])).status_code == 409
    r = client.post("/v1/markets", json={"mechanism": "data-market", "fields": {"epsilon": 20}},
                    headers=op_headers())
    assert r.status_code == 422 and r.json()["field"] == "fields.epsilon"


def test_book_fold_is_the_same_from_the_log_in_pieces() -> None:
    """A book folded entry by entry equals one folded from any split of the log (what a
    worker with a cached book does)."""
    rng = np.random.default_rng(7)
    entries: list[tuple[int, str, str, dict[str, Any]]] = [
        (1, "offer", "participant:s1", {"supply": 5.0, "reserve": 0.5}),
        (2, "offer", "participant:s2", {"supply": 3.0, "reserve": 0.0}),
    ]
    for k in range(3, 200):
        entries.append((k, "bid", f"participant:b{rng.integers(8)}",
                        {"seller": f"s{rng.integers(1, 3)}", "quantity": float(rng.integers(0, 4)),
                         "price": round(float(rng.uniform(0, 9)), 2)}))
    whole = Book(9.0, 0.1)
    for e in entries:
        whole.apply(*e)
    for cut in (3, 57, 150):
        part = Book(9.0, 0.1)
        for e in entries[:cut]:
            part.apply(*e)
        for e in entries[cut:]:
            part.apply(*e)
        assert part.settle() == whole.settle()
    out = whole.settle()
    for sid in ("s1", "s2"):
        book = out["sellers"][sid]
        assert book["allocated"] <= book["supply"] + 1e-9
        for b in book["bids"]:  # second price: a bid never pays more than it offered
            assert b["cost"] <= b["price"] * b["allocation"] + 1e-9
        assert book["reserve"] <= 9.0
