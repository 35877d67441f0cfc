"""The live data-exchange market over HTTP (offers, bids, quotes, stream, settlement), on both
databases, checked against the local-auction functions of the data-market mechanism."""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
import pytest
from tests.service.conftest import TestClient, bearer, make_app, op_headers

from specmarket.mechanisms.psp.local_auction import allocate, costs, reserve_after
from specmarket.mechanisms.psp.market import DataBuyer
from specmarket.mechanisms.psp.market.snapshot import LiveBuyer, check_books
from specmarket.service.live import Book


def _open(client: Any, **fields: Any) -> tuple[str, dict[str, str]]:
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
    market, tok = _open(client, isp_price=10.0, epsilon=0.5, reserve_policy="sticky",
                        reserve_update="bid")  # eq. (27) after every bid
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


def _log_count(client: Any, market: str, action: str) -> int:
    log = client.get(f"/v1/markets/{market}/log", headers=op_headers()).json()["entries"]
    return sum(1 for e in log if e["action"] == action)


def test_idempotency_key_on_offers_and_bids(client: Any) -> None:
    """Same key + same body: the first answer, nothing stored again (also after close); same
    key + another body: 422 naming Idempotency-Key."""
    market, tok = _open(client, epsilon=0.1)
    offer = {"supply": 4.0, "reserve": 0.5}
    h = {**bearer(tok["s1"]), "Idempotency-Key": "offer-1"}
    first = client.put(f"/v1/markets/{market}/offer", json=offer, headers=h)
    assert first.status_code == 200, first.text
    again = client.put(f"/v1/markets/{market}/offer", json=offer, headers=h)
    assert again.status_code == 200 and again.json() == first.json()
    assert _log_count(client, market, "offer") == 1
    r = client.put(f"/v1/markets/{market}/offer", json={"supply": 9.0, "reserve": 0.5}, headers=h)
    assert r.status_code == 422 and r.json()["field"] == "Idempotency-Key"

    bid = {"seller": "s1", "quantity": 2.0, "price": 3.0}
    hb = {**bearer(tok["A"]), "Idempotency-Key": "bid-1"}
    first = client.post(f"/v1/markets/{market}/bid", json=bid, headers=hb)
    assert first.status_code == 200, first.text
    assert first.json()["allocation"] == pytest.approx(2.0)
    # another buyer's bid changes the book; the replay still answers the first quote
    client.post(f"/v1/markets/{market}/bid", json={"seller": "s1", "quantity": 3.0, "price": 4.0},
                headers=bearer(tok["B"]))
    again = client.post(f"/v1/markets/{market}/bid", json=bid, headers=hb)
    assert again.status_code == 200 and again.json() == first.json()
    assert _log_count(client, market, "bid") == 2
    r = client.post(f"/v1/markets/{market}/bid", json={**bid, "price": 3.5}, headers=hb)
    assert r.status_code == 422 and r.json()["field"] == "Idempotency-Key"
    # the key is the participant's own: another buyer may use the same string
    r = client.post(f"/v1/markets/{market}/bid", json=bid,
                    headers={**bearer(tok["C"]), "Idempotency-Key": "bid-1"})
    assert r.status_code == 200 and _log_count(client, market, "bid") == 3
    r = client.post(f"/v1/markets/{market}/bid", json=bid,
                    headers={**bearer(tok["C"]), "Idempotency-Key": "x" * 257})
    assert r.status_code == 422 and r.json()["field"] == "Idempotency-Key"
    client.post(f"/v1/markets/{market}/close", headers=op_headers())
    again = client.post(f"/v1/markets/{market}/bid", json=bid, headers=hb)
    assert again.status_code == 200 and again.json() == first.json()
    r = client.post(f"/v1/markets/{market}/bid", json=bid,
                    headers={**bearer(tok["A"]), "Idempotency-Key": "bid-2"})
    assert r.status_code == 409


def test_quotes_etag_offers_and_anonymous_bids(client: Any) -> None:
    market, tok = _open(client, epsilon=0.1)
    client.put(f"/v1/markets/{market}/offer", json={"supply": 4.0}, headers=bearer(tok["s1"]))
    client.post(f"/v1/markets/{market}/bid", json={"seller": "s1", "quantity": 1.0, "price": 2.0},
                headers=bearer(tok["B"]))
    r = client.get(f"/v1/markets/{market}/quotes", headers=bearer(tok["A"]))
    tag = r.headers["ETag"]
    (entry,) = r.json()["market"]
    assert entry["bids"] == [[1.0, 2.0]] and entry["version"] == 1
    assert "B" not in json.dumps(r.json()["market"])  # other buyers' bids carry no id
    r = client.get(f"/v1/markets/{market}/quotes", headers={**bearer(tok["A"]),
                                                            "If-None-Match": tag})
    assert r.status_code == 304 and r.headers["ETag"] == tag and not r.content
    offers = client.get(f"/v1/markets/{market}/offers", headers=bearer(tok["C"]))
    assert offers.status_code == 200
    (pub,) = offers.json()["sellers"]
    assert pub == {"seller": "s1", "supply": 4.0, "reserve": 0.0, "allocated": 1.0, "version": 1}
    client.post(f"/v1/markets/{market}/bid", json={"seller": "s1", "quantity": 1.0, "price": 3.0},
                headers=bearer(tok["C"]))
    r = client.get(f"/v1/markets/{market}/quotes", headers={**bearer(tok["A"]),
                                                            "If-None-Match": tag})
    assert r.status_code == 200 and r.headers["ETag"] != tag


def test_participant_and_market_fields_name_the_field(client: Any) -> None:
    r = client.post("/v1/markets", json={"mechanism": "data-market", "fields": {
        "reserve_policy": "falling"}}, headers=op_headers())
    assert r.status_code == 422 and r.json()["field"] == "fields.reserve_policy"
    market, _ = _open(client)
    cases = [("b1", "buyer", {"value": -1, "demand": 3}, "fields.value"),
             ("b2", "buyer", {"value": 2}, "fields.demand"),
             ("b3", "buyer", {"value": 2, "demand": 3, "elasticity": 2}, "fields.elasticity"),
             ("b4", "buyer", {"value": 2, "demand": 3, "budget": 1}, "fields.budget"),
             ("s9", "seller", {"supply": 3}, "fields.supply")]
    for pid, role, fields, field in cases:
        r = client.post(f"/v1/markets/{market}/participants",
                        json={"id": pid, "role": role, "fields": fields}, headers=op_headers())
        assert r.status_code == 422 and r.json()["field"] == field, (fields, r.text)
    r = client.post(f"/v1/markets/{market}/participants",
                    json={"id": "b5", "role": "buyer", "fields": {"value": 2, "demand": 3}},
                    headers=op_headers())
    assert r.status_code == 201 and r.json()["fields"] == {"value": 2.0, "demand": 3.0,
                                                           "elasticity": 0.0}


def _wait_status(client: Any, market: str, seconds: float) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = str(client.get(f"/v1/markets/{market}", headers=op_headers()).json()["status"])
        if status != "open":
            return status
        time.sleep(0.05)
    return "open"


def _agent_bids(client: Any, market: str, token: str, me: LiveBuyer, fresh: bool = False) -> int:
    """One move of ``me`` (the library's buyer) on its quote; returns the bids sent."""
    quote = client.get(f"/v1/markets/{market}/quotes", headers=bearer(token)).json()
    own = {s["seller"]: (s["quantity"], s["price"]) for s in quote["sellers"]}
    books = {}
    for s in quote["market"]:
        bids = {f"\x00{k}": (q, p) for k, (q, p) in enumerate(s["bids"])}
        if s["seller"] in own:
            bids[me.spec.id] = own[s["seller"]]
        books[s["seller"]] = (s["supply"], s["reserve"], bids)
    out = me.move(books, fresh=fresh)
    for b in out:
        body = {"seller": b["seller"], "quantity": b["quantity"], "price": b["price"]}
        r = client.post(f"/v1/markets/{market}/bid", json=body, headers=bearer(token))
        assert r.status_code == 200, r.text
    return len(out)


def test_scheduler_closes_at_the_epsilon_equilibrium_and_stores_the_verdict(db_url: str) -> None:
    """With every buyer's valuation set, the scheduler closes the market once the library's
    ε-equilibrium check holds on the book (and not before), with the verdict in the outcome."""
    with TestClient(make_app(db_url, scheduler_interval=0.05)) as client:
        r = client.post("/v1/markets", json={"mechanism": "data-market", "fields": {
            "isp_price": 10.0, "epsilon": 0.1}}, headers=op_headers())
        market = r.json()["id"]
        specs = [DataBuyer(id="A", value=4.0, demand=3.0),
                 DataBuyer(id="B", value=3.0, demand=4.0, elasticity=0.5)]
        tok = {}
        for pid, role, fields in (("s1", "seller", {}), ("s2", "seller", {}),
                                  *((b.id, "buyer", {"value": b.value, "demand": b.demand,
                                                     "elasticity": b.elasticity})
                                    for b in specs)):
            tok[pid] = client.post(f"/v1/markets/{market}/participants",
                                   json={"id": pid, "role": role, "fields": fields},
                                   headers=op_headers()).json()["token"]
        client.put(f"/v1/markets/{market}/offer", json={"supply": 2.0, "reserve": 0.1},
                   headers=bearer(tok["s1"]))
        assert _wait_status(client, market, 0.5) == "open"  # s2 has not offered yet
        client.put(f"/v1/markets/{market}/offer", json={"supply": 3.0, "reserve": 0.1},
                   headers=bearer(tok["s2"]))
        # buyers that want data and have not bid: not an equilibrium, the market stays open
        assert _wait_status(client, market, 0.5) == "open"
        buyers = [LiveBuyer(b, 0.1, 10.0) for b in specs]
        for _ in range(20):
            moved = sum(_agent_bids(client, market, tok[b.spec.id], b) for b in buyers)
            moved += sum(_agent_bids(client, market, tok[b.spec.id], b, fresh=True)
                         for b in buyers)
            if not moved or _wait_status(client, market, 0.0) != "open":
                break
        assert _wait_status(client, market, 10.0) == "cleared"
        outcome = client.get(f"/v1/markets/{market}/outcome", headers=op_headers()).json()
        verdict = outcome["verdict"]
        assert verdict["status"] == "converged" and verdict["unhappy"] == []
        assert verdict["max_gain"] <= 0.1 and outcome["closed_by"] == "equilibrium"
        log = client.get(f"/v1/markets/{market}/log", headers=op_headers()).json()["entries"]
        assert [e["actor"] for e in log if e["action"] == "close"] == ["scheduler"]
        # the verdict is the library's check on the settled books
        books = {sid: (b["supply"], b["reserve"], {x["buyer"]: (x["quantity"], x["price"])
                                                    for x in b["bids"]})
                 for sid, b in outcome["sellers"].items()}
        again = check_books(specs, books, 0.1, 10.0)
        assert again.status == "converged"
        assert again.max_gain == pytest.approx(verdict["max_gain"])
        assert outcome["allocation"]["A"] > 0 and outcome["allocation"]["B"] > 0
        # the closed market's book, verdict and quiet mark are no longer held in memory
        service = client.app.state.service  # type: ignore[attr-defined]
        assert market not in service._books and market not in service._verdicts
        assert market not in service._quiet


def test_without_valuations_the_verdict_is_unchecked(db_url: str) -> None:
    with TestClient(make_app(db_url, scheduler_interval=0.05)) as client:
        market, tok = _open(client, epsilon=0.1)  # buyers without valuation fields
        for sid in ("s1", "s2"):
            client.put(f"/v1/markets/{market}/offer", json={"supply": 2.0},
                       headers=bearer(tok[sid]))
        assert _wait_status(client, market, 0.5) == "open"
        outcome = client.post(f"/v1/markets/{market}/close", headers=op_headers()).json()
        assert outcome["verdict"]["status"] == "unchecked"
        assert "valuation" in outcome["verdict"]["reason"]
        assert outcome["closed_by"] == "operator"


def test_reserve_update_run_moves_the_reserve_only_when_the_seller_runs(client: Any) -> None:
    """``reserve_update = "run"``: bids leave the reserve alone; the seller's run applies its
    rule (sticky eq. (27) here; patient needs two runs with a bid outside ``I^j``)."""
    for policy, runs_to_rise in (("sticky", 1), ("patient", 2)):
        market2 = client.post("/v1/markets", json={"mechanism": "data-market", "fields": {
            "epsilon": 0.5, "reserve_policy": policy, "reserve_update": "run"}},
            headers=op_headers()).json()["id"]
        t = {pid: client.post(f"/v1/markets/{market2}/participants",
                              json={"id": pid, "role": role}, headers=op_headers()).json()["token"]
             for pid, role in (("s1", "seller"), ("A", "buyer"), ("B", "buyer"))}
        client.put(f"/v1/markets/{market2}/offer", json={"supply": 3.0, "reserve": 1.0},
                   headers=bearer(t["s1"]))
        for buyer, q, p in (("A", 3.0, 6.0), ("B", 2.0, 3.0)):  # B lies outside I^j
            client.post(f"/v1/markets/{market2}/bid", json={"seller": "s1", "quantity": q,
                                                            "price": p}, headers=bearer(t[buyer]))
        book = client.get(f"/v1/markets/{market2}/quotes", headers=bearer(t["s1"])).json()
        assert book["reserve"] == 1.0 and book["pending"] == (runs_to_rise == 1)
        assert client.post(f"/v1/markets/{market2}/run", headers=bearer(t["A"])).status_code \
            == 409
        for k in range(runs_to_rise):
            r = client.post(f"/v1/markets/{market2}/run", json={}, headers=bearer(t["s1"]))
            assert r.status_code == 200, r.text
            assert r.json()["reserve"] == (3.5 if k == runs_to_rise - 1 else 1.0)
        assert r.json()["pending"] is False
        r = client.post(f"/v1/markets/{market2}/run", json={"x": 1}, headers=bearer(t["s1"]))
        assert r.status_code == 422 and r.json()["field"] == "body"


def test_a_move_of_several_bids_is_one_entry_and_folds_as_its_bids(client: Any) -> None:
    """``POST …/bids``: a buyer's bids to several sellers are accepted together (one log
    entry, one transaction) and leave the book as the same bids sent one by one; bad input
    names the bid and field; a replay of its ``Idempotency-Key`` adds nothing."""
    market, tok = _open(client, epsilon=0.1)
    for sid, supply in (("s1", 4.0), ("s2", 2.0)):
        client.put(f"/v1/markets/{market}/offer", json={"supply": supply, "reserve": 0.5},
                   headers=bearer(tok[sid]))
    move = {"bids": [{"seller": "s1", "quantity": 3.0, "price": 2.0},
                     {"seller": "s2", "quantity": 3.0, "price": 2.0}]}
    h = {**bearer(tok["A"]), "Idempotency-Key": "move-1"}
    r = client.post(f"/v1/markets/{market}/bids", json=move, headers=h)
    assert r.status_code == 200, r.text
    assert {s["seller"] for s in r.json()["sellers"]} == {"s1", "s2"}
    assert r.json()["allocation"] == pytest.approx(3.0 + 2.0)
    for b in move["bids"]:  # the same bids one by one, from B
        client.post(f"/v1/markets/{market}/bid", json=b, headers=bearer(tok["B"]))
    books = client.get(f"/v1/markets/{market}/quotes", headers=op_headers()).json()["books"]
    for book in books:
        (a,) = (x for x in book["bids"] if x["buyer"] == "A")
        (b,) = (x for x in book["bids"] if x["buyer"] == "B")
        assert (a["quantity"], a["price"]) == (b["quantity"], b["price"])
    assert _log_count(client, market, "bids") == 1 and _log_count(client, market, "bid") == 2
    again = client.post(f"/v1/markets/{market}/bids", json=move, headers=h)
    assert again.status_code == 200 and again.json() == r.json()
    assert _log_count(client, market, "bids") == 1
    bad = [({"bids": []}, "bids"), ({"bids": [{"seller": "s1", "quantity": 1, "price": 1}],
                                     "x": 1}, "x"),
           ({"bids": [{"seller": "s1", "quantity": 1, "price": 1},
                      {"seller": "s1", "quantity": 2, "price": 1}]}, "bids[1].seller"),
           ({"bids": [{"seller": "s1", "quantity": 1, "price": 1},
                      {"seller": "s9", "quantity": 2, "price": 1}]}, "bids[1].seller"),
           ({"bids": [{"seller": "s1", "quantity": -1, "price": 1}]}, "bids[0].quantity"),
           ({"bids": ["s1"]}, "bids[0]")]
    for body, field in bad:
        r = client.post(f"/v1/markets/{market}/bids", json=body, headers=bearer(tok["C"]))
        assert r.status_code == 422 and r.json()["field"] == field, (body, r.text)
    assert _log_count(client, market, "bids") == 1  # a refused move changes nothing
    r = client.post(f"/v1/markets/{market}/bids", json=move, headers=bearer(tok["s1"]))
    assert r.status_code == 409
    r = client.post(f"/v1/markets/{market}/bids", json=move,
                    headers={**bearer(tok["C"]), "Prefer": "return=minimal"})
    assert r.status_code == 200 and r.headers["Preference-Applied"] == "return=minimal"
    assert r.json()["buyer"] == "C" and r.json()["bids"] == 2
    log = client.get(f"/v1/markets/{market}/log", headers=op_headers()).json()["entries"]
    assert log[-1]["seq"] == r.json()["seq"] and log[-1]["action"] == "bids"
    quote = client.get(f"/v1/markets/{market}/quotes", headers=bearer(tok["C"])).json()
    assert {s["seller"] for s in quote["sellers"]} == {"s1", "s2"}


def test_the_quote_text_is_the_quote() -> None:
    """``Book.quote_text`` (the HTTP answer, with seller entries encoded once per state) decodes
    to exactly ``quote`` for every buyer, as bids come in (cached entries must not go stale)."""
    rng = np.random.default_rng(11)
    book = Book(9.0, 0.1, reserve_policy="patient", reserve_update="run")
    for j in range(4):
        book.apply(j + 1, "offer", f"participant:s{j}", {"supply": 5.0, "reserve": 0.5})
    head = {"status": "open", "closes_at": None}
    for k in range(5, 120):
        buyer = f"participant:b{rng.integers(6)}"
        if k % 7 == 0:
            book.apply(k, "run", f"participant:s{rng.integers(4)}", {})
        else:
            book.apply(k, "bids", buyer, {"bids": [
                {"seller": f"s{j}", "quantity": float(rng.integers(0, 4)),
                 "price": round(float(rng.uniform(0, 9)), 2)} for j in rng.permutation(4)[:2]]})
        for b in ("b0", "b3", "b5", "nobody"):
            text = book.quote_text(b, head)
            assert json.loads(text) == json.loads(json.dumps({**head, **book.quote(b)}))


def test_a_reader_that_overlaps_the_close_does_not_cache_the_closed_book(db_url: str) -> None:
    """A request (or the scheduler's look) that read a live market while it was open and folds
    its book after the close committed must not put the book, its verdict or its quiet mark
    back into the service's caches: the close has freed them for good."""
    with TestClient(make_app(db_url)) as client:
        market = client.post("/v1/markets", json={"mechanism": "data-market", "fields": {
            "isp_price": 10.0, "epsilon": 0.1}}, headers=op_headers()).json()["id"]
        tok = client.post(f"/v1/markets/{market}/participants",
                          json={"id": "s1", "role": "seller", "fields": {}},
                          headers=op_headers()).json()["token"]
        client.put(f"/v1/markets/{market}/offer", json={"supply": 2.0, "reserve": 0.1},
                   headers=bearer(tok))
        service = client.app.state.service  # type: ignore[attr-defined]
        with service._read() as conn:
            stale = service._market(conn, market)  # read while the market is open
        assert client.post(f"/v1/markets/{market}/close", headers=op_headers()).status_code == 200
        assert market not in service._books
        with service._read() as conn:  # the late reader goes on with the row it read
            book = service._fold(conn, stale)
            service._live_verdict(conn, stale, book)
        assert book.sellers  # it did fold the offer
        assert market not in service._books and market not in service._verdicts
        assert service.live_settled() == [] and market not in service._quiet
