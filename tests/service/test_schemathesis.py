"""Schemathesis against ``/openapi.json`` on both databases: no 5xx, every status code and body
as documented (a bounded number of examples per operation, well under a minute)."""

from __future__ import annotations

import os
import warnings
import zlib
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import schemathesis
    from schemathesis.checks import (
        content_type_conformance,
        not_a_server_error,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

from .conftest import OPERATOR, make_app

pytestmark = pytest.mark.slow

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@pytest.fixture
def live(db_url: str) -> dict[str, Any]:
    """The app, with one open McAfee market and one buyer in it, so that half of the generated
    requests reach a real market instead of a 404."""
    from .conftest import TestClient

    app = make_app(db_url)
    with TestClient(app) as c:
        auth = {"Authorization": f"Bearer {OPERATOR}"}
        market = c.post("/v1/markets", json={"mechanism": "mcafee"}, headers=auth).json()["id"]
        token = c.post(f"/v1/markets/{market}/participants", json={"id": "b1", "role": "buyer"},
                       headers=auth).json()["token"]
    return {"app": app, "market": market, "token": token}


@pytest.fixture
def api_schema(live: dict[str, Any]) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", live["app"])


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_openapi_contract(case: Any, live: dict[str, Any]) -> None:
    params = case.path_parameters or {}
    coin = zlib.crc32(repr((params, case.query, case.body)).encode()) % 2
    if "market_id" in params and coin == 0:
        params["market_id"] = live["market"]
    token = live["token"] if case.path.endswith("/report") else OPERATOR
    response = case.call_and_validate(
        headers={"Authorization": f"Bearer {token}"}, checks=CHECKS
    )
    if os.environ.get("SPECMARKET_TEST_SHOW_STATUS"):
        print("SCHEMATHESIS", case.method, case.path, response.status_code)
