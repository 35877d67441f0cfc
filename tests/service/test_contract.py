"""The HTTP contract end to end, on SQLite and PostgreSQL: every served mechanism's example
through the service gives exactly what ``specmarket clear`` gives on the exported instance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from specmarket.cli import app as cli_app
from specmarket.client import ServiceClient, ServiceRequestError
from specmarket.mechanisms import get
from specmarket.service.fields import MECHANISM_FIELDS, market_schema, split_instance

from .conftest import OPERATOR, bearer, op_headers

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def operator(client: Any) -> ServiceClient:
    return ServiceClient(str(client.base_url), OPERATOR, http=client)


def cli_clear(mechanism: str, instance: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """What ``specmarket clear MECHANISM FILE`` prints for ``instance``."""
    path = tmp_path / f"{mechanism}-exported.json"
    path.write_text(json.dumps(instance))
    result = CliRunner().invoke(cli_app, ["clear", mechanism, str(path)])
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = json.loads(result.stdout)
    return out


@pytest.mark.parametrize("mechanism", sorted(MECHANISM_FIELDS))
def test_example_round_matches_cli(client: Any, mechanism: str, tmp_path: Path) -> None:
    example = json.loads((EXAMPLES / f"{mechanism}.json").read_text())
    op = operator(client)
    market_id, tokens = op.upload(mechanism, example)
    exported = op.instance(market_id)
    assert get(mechanism).parse(exported) == get(mechanism).parse(example)
    outcome = op.close(market_id)
    assert outcome == cli_clear(mechanism, exported, tmp_path)
    assert outcome == get(mechanism).clear_json(example)
    assert op.outcome(market_id) == outcome
    assert op.close(market_id) == outcome  # idempotent
    # a participant sees its own allocation and payment, and the public part only
    pid = next(iter(tokens))
    mine = op.with_token(tokens[pid]).outcome(market_id)
    assert mine["participant"] == pid
    assert mine["allocation"] == outcome["allocation"][pid]
    assert mine["payment"] == outcome["payments"][pid]
    public = set(MECHANISM_FIELDS[mechanism].public) | {"mechanism"}
    assert set(mine["public"]) <= public
    assert "payments" not in mine["public"] and "welfare" not in mine["public"]


def test_mcafee_and_district_rounds_built_by_hand(client: Any, tmp_path: Path) -> None:
    """McAfee and District-D rounds submitted call by call (reports replaced once, one
    participant silent) equal ``specmarket clear`` on the exported instance."""
    op = operator(client)
    m = op.open_market("mcafee")["id"]
    toks = {}
    for pid, role in [("b1", "buyer"), ("b2", "buyer"), ("b3", "buyer"), ("b4", "buyer"),
                      ("s1", "seller"), ("s2", "seller"), ("s3", "seller")]:
        toks[pid] = op.add_participant(m, pid, role)["token"]
    reports = {"b1": {"bid": 9.0}, "b2": {"bid": 7.0}, "b3": {"bid": 6.0},
               "s1": {"ask": 2.0}, "s2": {"ask": 4.0}, "s3": {"ask": 5.0}}
    op.with_token(toks["b1"]).put_report(m, {"bid": 1.0})
    for pid, rep in reports.items():
        op.with_token(toks[pid]).put_report(m, rep)
    exported = op.instance(m)
    assert [b["id"] for b in exported["buyers"]] == ["b1", "b2", "b3"]  # b4 never reported
    outcome = op.close(m)
    assert outcome == cli_clear("mcafee", exported, tmp_path)
    assert outcome["buyer_price"] == 6.0 and outcome["seller_price"] == 5.0

    dist = {"type": "uniform", "low": 0, "high": 10}
    d = op.open_market("district", {"variant": "budget-balanced",
                                    "conflicts": [["b1", "b2"], ["b2", "b3"], ["b3", "b9"]],
                                    "eligible": {"b4": ["s2", "s3"]}})["id"]
    people = [("s1", "seller", {"ask": 2.0}), ("s2", "seller", {"ask": 3.0}),
              ("s3", "seller", {"ask": 6.0}), ("b1", "buyer", {"bid": 9.0}),
              ("b2", "buyer", {"bid": 8.5}), ("b3", "buyer", {"bid": 7.0, "demand": 2}),
              ("b4", "buyer", {"bid": 6.0}), ("b9", "buyer", None)]
    for pid, role, rep in people:
        tok = op.add_participant(d, pid, role, {"distribution": dist})["token"]
        if rep is not None:
            op.with_token(tok).put_report(d, rep)
    exported = op.instance(d)
    assert ["b3", "b9"] not in exported["conflicts"]
    outcome = op.close(d)
    assert outcome == cli_clear("district", exported, tmp_path)
    example = json.loads((EXAMPLES / "district.json").read_text())
    assert outcome == get("district").clear_json(example)


def test_report_validation_names_the_field(client: Any) -> None:
    op = operator(client)
    m = op.open_market("vcg", {"units": 3})["id"]
    tok = op.add_participant(m, "a", "bidder")["token"]
    me = op.with_token(tok)
    for body, field in [({"marginal_values": [1.0, 2.0]}, "marginal_values[1]"),
                        ({"marginal_values": [float("nan")]}, None),
                        ({"marginal_values": ["x"]}, "marginal_values[0]"),
                        ({"marginal_values": [1.0], "bid": 3}, "bid"),
                        ({}, "marginal_values")]:
        if field is None:  # NaN is not JSON: send the literal and expect 422 too
            r = client.put(f"/v1/markets/{m}/report", content=b'{"marginal_values": [NaN]}',
                           headers={**bearer(tok), "content-type": "application/json"})
            assert r.status_code == 422
            continue
        with pytest.raises(ServiceRequestError) as exc:
            me.put_report(m, body)
        assert exc.value.status == 422
        assert exc.value.field == field
    with pytest.raises(ServiceRequestError) as exc:
        me.get_report(m)
    assert exc.value.status == 404
    me.put_report(m, {"marginal_values": [3.0, 2.0]})
    assert me.get_report(m)["report"] == {"marginal_values": [3.0, 2.0]}


def test_market_and_participant_validation(client: Any) -> None:
    op = operator(client)
    for body, field in [({"mechanism": "psp"}, "mechanism"),
                        ({"mechanism": "cat", "fields": {"bands": 0, "increment": 0.1}},
                         "fields.bands"),
                        ({"mechanism": "cat", "fields": {"bands": 3, "increment": 0.1, "x": 1}},
                         "fields.x"),
                        ({"mechanism": "vickrey", "closes_at": "not a time"}, "closes_at")]:
        r = client.post("/v1/markets", json=body, headers=op_headers())
        assert r.status_code == 422, r.text
        assert r.json()["field"] == field
    m = op.open_market("district")["id"]
    r = client.post(f"/v1/markets/{m}/participants", headers=op_headers(),
                    json={"id": "b1", "role": "buyer", "fields": {"distribution": {"type": "?"}}})
    assert r.status_code == 422 and r.json()["field"].startswith("fields.distribution")
    r = client.post(f"/v1/markets/{m}/participants", headers=op_headers(),
                    json={"id": "b1", "role": "king"})
    assert r.status_code == 422 and r.json()["field"] == "role"
    uniform = {"distribution": {"type": "uniform", "low": 0, "high": 1}}
    op.add_participant(m, "b1", "buyer", uniform)
    r = client.post(f"/v1/markets/{m}/participants", headers=op_headers(),
                    json={"id": "b1", "role": "buyer", "fields": uniform})
    assert r.status_code == 409


def test_idempotency_key(client: Any) -> None:
    op = operator(client)
    m = op.open_market("vickrey")["id"]
    me = op.with_token(op.add_participant(m, "a", "bidder")["token"])
    first = me.put_report(m, {"bid": 3.0}, idempotency_key="k-1")
    again = me.put_report(m, {"bid": 3.0}, idempotency_key="k-1")
    assert first == again and first["version"] == 1
    with pytest.raises(ServiceRequestError) as exc:
        me.put_report(m, {"bid": 4.0}, idempotency_key="k-1")
    assert exc.value.status == 422 and exc.value.field == "Idempotency-Key"
    assert me.put_report(m, {"bid": 4.0}, idempotency_key="k-2")["version"] == 2
    reports = [e for e in op.log(m)["entries"] if e["action"] == "report"]
    assert [e["idempotency_key"] for e in reports] == ["k-1", "k-2"]
    op.close(m)
    # a replay after close still gets its acknowledged answer; a new report gets 409
    assert me.put_report(m, {"bid": 3.0}, idempotency_key="k-1") == first
    with pytest.raises(ServiceRequestError) as exc:
        me.put_report(m, {"bid": 5.0}, idempotency_key="k-3")
    assert exc.value.status == 409


def test_closed_market_refuses_changes_and_log_records_everything(client: Any) -> None:
    op = operator(client)
    m = op.open_market("vickrey")["id"]
    toks = [op.add_participant(m, p, "bidder")["token"] for p in ("a", "b")]
    op.with_token(toks[0]).put_report(m, {"bid": 2.0})
    with pytest.raises(ServiceRequestError) as exc:
        op.outcome(m)
    assert exc.value.status == 409  # not cleared yet
    op.with_token(toks[1]).put_report(m, {"bid": 3.0})
    op.close(m)
    for call in (lambda: op.with_token(toks[0]).put_report(m, {"bid": 9.0}),
                 lambda: op.add_participant(m, "c", "bidder")):
        with pytest.raises(ServiceRequestError) as exc:
            call()
        assert exc.value.status == 409
    actions = [e["action"] for e in op.log(m)["entries"]]
    assert actions == ["open", "participant", "participant", "report", "report", "close"]
    page = op.log(m, after=0, limit=2)
    assert len(page["entries"]) == 2
    rest = op.log(m, after=page["next_after"])
    assert [e["action"] for e in rest["entries"]] == actions[2:]
    assert "token" not in json.dumps(op.log(m))


def test_void_round(client: Any) -> None:
    """A round the mechanism cannot clear (no seller reported) becomes void: 422 naming the
    field on every close, 409 on the outcome, reports refused."""
    op = operator(client)
    m = op.open_market("mcafee")["id"]
    me = op.with_token(op.add_participant(m, "b1", "buyer")["token"])
    me.put_report(m, {"bid": 3.0})
    op.add_participant(m, "s1", "seller")
    for _ in range(2):
        with pytest.raises(ServiceRequestError) as exc:
            op.close(m)
        assert exc.value.status == 422 and exc.value.field == "sellers"
    assert op.market(m)["status"] == "void"
    with pytest.raises(ServiceRequestError) as exc:
        op.outcome(m)
    assert exc.value.status == 409


def test_split_instance_round_trips() -> None:
    for mechanism in MECHANISM_FIELDS:
        example = json.loads((EXAMPLES / f"{mechanism}.json").read_text())
        market, people = split_instance(mechanism, example)
        schema = market_schema(mechanism)
        assert set(market) <= set(schema.market)
        for _pid, role, fields, report in people:
            assert set(report) <= set(schema.roles[role].reported)
            assert set(fields) <= set(schema.roles[role].operator)


def test_nul_characters_are_refused_not_crashing(client: Any) -> None:
    m = operator(client).open_market("vickrey")["id"]
    r = client.post(f"/v1/markets/{m}/participants", json={"id": "a\u0000b", "role": "bidder"},
                    headers=op_headers())
    assert r.status_code == 422 and r.json()["field"] == "id"
    assert client.get("/v1/markets/a%00b", headers=op_headers()).status_code == 404
