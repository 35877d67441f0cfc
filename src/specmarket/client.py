"""A Python client of the market service (``specmarket serve``), over httpx.

Example
-------
>>> op = ServiceClient("http://127.0.0.1:8000", token=operator_token)   # doctest: +SKIP
>>> m = op.open_market("vickrey")                                       # doctest: +SKIP
>>> alice = op.add_participant(m["id"], "alice", "bidder")              # doctest: +SKIP
>>> ServiceClient(op.base_url, alice["token"]).put_report(m["id"], {"bid": 7.5})  # doctest: +SKIP
>>> op.close(m["id"])                                                    # doctest: +SKIP

Every refused request raises :class:`ServiceRequestError` with the HTTP status, the server's
message and the field it names, so that the CLI can print one line.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from specmarket.errors import SpecmarketError

DEFAULT_URL = "http://127.0.0.1:8000"


class ServiceRequestError(SpecmarketError):
    """The service refused a request (status ≥ 400) or could not be reached (status 0)."""

    def __init__(self, status: int, detail: str, field: str | None = None) -> None:
        self.status = status
        self.detail = detail
        self.field = field
        super().__init__(f"HTTP {status}: {detail}" if status else detail)


class ServiceClient:
    """Calls of the HTTP contract (``docs/service.md``) with one bearer token.

    Parameters
    ----------
    base_url
        Where the service listens.
    token
        The operator's or a participant's token.
    http
        An existing :class:`httpx.Client` to send through (tests pass the app's test client).
    timeout
        Seconds per request.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        token: str | None = None,
        http: httpx.Client | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self._own = http is None
        self.http = http if http is not None else httpx.Client(timeout=timeout)

    def close_connection(self) -> None:
        """Close the underlying connection pool (if this client made it)."""
        if self._own:
            self.http.close()

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close_connection()

    def with_token(self, token: str) -> ServiceClient:
        """The same server and connection pool with another token."""
        other = ServiceClient(self.base_url, token, self.http)
        other._own = False
        return other

    def _call(
        self,
        method: str,
        path: str,
        json: Any = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        hdrs = dict(headers or {})
        if self.token is not None:
            hdrs["Authorization"] = f"Bearer {self.token}"
        try:
            response = self.http.request(
                method, self.base_url + path, json=json, headers=hdrs, params=params
            )
        except httpx.HTTPError as exc:
            raise ServiceRequestError(0, f"cannot reach {self.base_url}: {exc}") from None
        if response.status_code >= 400:
            try:
                body = response.json()
                detail, field = str(body.get("detail")), body.get("field")
            except ValueError:
                detail, field = response.text[:200], None
            raise ServiceRequestError(response.status_code, detail, field)
        return response.json()

    # operator
    def open_market(
        self,
        mechanism: str,
        fields: dict[str, Any] | None = None,
        closes_at: datetime | str | None = None,
    ) -> dict[str, Any]:
        """Open a market; returns its view (``id``, ``status``, ...)."""
        body: dict[str, Any] = {"mechanism": mechanism, "fields": fields or {}}
        if closes_at is not None:
            when = closes_at.isoformat() if isinstance(closes_at, datetime) else closes_at
            body["closes_at"] = when
        result: dict[str, Any] = self._call("POST", "/v1/markets", json=body)
        return result

    def market(self, market_id: str) -> dict[str, Any]:
        """A market's status and counts."""
        result: dict[str, Any] = self._call("GET", f"/v1/markets/{market_id}")
        return result

    def add_participant(
        self, market_id: str, pid: str, role: str, fields: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Add a participant; the answer holds its ``token`` (shown once)."""
        body = {"id": pid, "role": role, "fields": fields or {}}
        result: dict[str, Any] = self._call(
            "POST", f"/v1/markets/{market_id}/participants", json=body
        )
        return result

    def close(self, market_id: str) -> dict[str, Any]:
        """Close and clear; the full outcome (the same on every call)."""
        result: dict[str, Any] = self._call("POST", f"/v1/markets/{market_id}/close")
        return result

    def instance(self, market_id: str) -> dict[str, Any]:
        """The instance JSON ``specmarket clear`` accepts."""
        result: dict[str, Any] = self._call("GET", f"/v1/markets/{market_id}/instance")
        return result

    def log(self, market_id: str, after: int = 0, limit: int = 1000) -> dict[str, Any]:
        """A page of the market's log."""
        result: dict[str, Any] = self._call(
            "GET", f"/v1/markets/{market_id}/log", params={"after": after, "limit": limit}
        )
        return result

    # participant
    def put_report(
        self, market_id: str, report: dict[str, Any], idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """Submit (or replace) this participant's sealed report."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        result: dict[str, Any] = self._call(
            "PUT", f"/v1/markets/{market_id}/report", json=report, headers=headers
        )
        return result

    def get_report(self, market_id: str) -> dict[str, Any]:
        """This participant's own report."""
        result: dict[str, Any] = self._call("GET", f"/v1/markets/{market_id}/report")
        return result

    # both
    def outcome(self, market_id: str) -> dict[str, Any]:
        """Operator: the full outcome; participant: its own part and the public part."""
        result: dict[str, Any] = self._call("GET", f"/v1/markets/{market_id}/outcome")
        return result

    def upload(
        self, mechanism: str, instance: dict[str, Any], closes_at: datetime | str | None = None
    ) -> tuple[str, dict[str, str]]:
        """Replay an instance file through the service (operator token): open a market with its
        market fields, add every participant and submit its report with its own token. Returns
        the market id and each participant's token."""
        from specmarket.service.fields import split_instance

        market, people = split_instance(mechanism, instance)
        market_id = str(self.open_market(mechanism, market, closes_at)["id"])
        tokens: dict[str, str] = {}
        for pid, role, fields, report in people:
            tokens[pid] = str(self.add_participant(market_id, pid, role, fields)["token"])
            self.with_token(tokens[pid]).put_report(market_id, report)
        return market_id, tokens
