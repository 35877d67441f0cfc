"""The HTTP layer: the FastAPI app factory, request/response models, authentication, limits.

Routers stay thin: each parses the request, checks who may call it, and calls one method of
:class:`specmarket.service.domain.MarketService`. Authentication is one dependency
(:func:`principal`): a bearer token is hashed (SHA-256) and compared in constant time with the
operator's hash, else looked up among the participants' hashes; missing or unknown → 401; a known
token on an endpoint it may not use → 403. The same dependency applies the per-token rate limit
(429). A pure ASGI middleware refuses bodies over ``max_body`` bytes (413) and request bodies that
are not declared JSON (415) before they are parsed; a body that does not decode as JSON is one 400
naming ``body`` (:func:`undecodable`), from the FastAPI routes and the lean report route alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from specmarket.errors import InvalidInput
from specmarket.service.dashboard import mount_dashboard
from specmarket.service.db import default_url, is_sqlite, make_engine, migrate
from specmarket.service.domain import SCHEDULER, Identity, MarketService
from specmarket.service.errors import Forbidden, ServiceError, Unauthorized
from specmarket.service.groupcommit import GroupCommit
from specmarket.service.settings import Settings
from specmarket.service.tokens import hash_token, same_hash

log = logging.getLogger("specmarket.service")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


# ---------------------------------------------------------------------------------- models


class ErrorBody(BaseModel):
    """Every error answer: what went wrong and, when one field is to blame, its path."""

    detail: str
    field: str | None = None


class OpenMarket(BaseModel):
    """``POST /v1/markets``: the mechanism, the operator's market fields, an optional close time
    (ISO 8601; a time without zone is UTC)."""

    mechanism: str = Field(max_length=64)
    fields: dict[str, Any] = Field(default_factory=dict)
    closes_at: datetime | None = None


class MarketView(BaseModel):
    """A market as the operator sees it."""

    id: str
    mechanism: str
    status: str
    fields: dict[str, Any]
    closes_at: float | None = None
    closed_at: float | None = None
    participants: int = 0
    reports: int = 0
    opened_at: float | None = None


class WhoAmI(BaseModel):
    """Who a token belongs to: the operator, or one participant (with its market's status and
    its own report's version, 0 before the first) — what the dashboard needs to pick a view."""

    operator: bool
    market: str | None = None
    participant: str | None = None
    role: str | None = None
    mechanism: str | None = None
    status: str | None = None
    closes_at: float | None = None
    closed_at: float | None = None
    version: int | None = None


class Timeline(BaseModel):
    """Reports accepted per time bucket since the market opened (from the log)."""

    opened_at: float
    bucket: float
    starts: list[float]
    counts: list[int]


class NewParticipant(BaseModel):
    """``POST /v1/markets/{id}/participants``: the participant's id, role and operator-set
    fields (e.g. District-D's ``distribution``)."""

    id: str = Field(min_length=1, max_length=256)
    role: str = Field(max_length=32)
    fields: dict[str, Any] = Field(default_factory=dict)


class ParticipantCreated(BaseModel):
    """The new participant, with its token: shown this once, only its hash is stored."""

    market: str
    id: str
    role: str
    fields: dict[str, Any]
    token: str


class ReportView(BaseModel):
    """A participant's own sealed report and how many times it was stored."""

    market: str
    participant: str
    version: int
    report: dict[str, Any]


class ParticipantOutcome(BaseModel):
    """What a participant sees of a cleared market: its own allocation and payment (positive =
    pays), its entries of per-participant details, and the mechanism's public part."""

    market: str
    participant: str
    role: str
    reported: bool
    allocation: Any = None
    payment: float
    public: dict[str, Any]
    own: dict[str, Any]


class LogEntryView(BaseModel):
    """One accepted state-changing request."""

    seq: int
    at: float
    actor: str
    action: str
    body: Any = None
    idempotency_key: str | None = None


class LogView(BaseModel):
    """A page of the log; pass ``next_after`` as ``after`` for the next page."""

    entries: list[LogEntryView]
    next_after: int


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in {
        400: "malformed request body (not decodable)",
        401: "missing or unknown token",
        403: "this token may not do that",
        404: "no such market, participant or report",
        409: "the market's state does not allow it",
        413: "request body too large",
        415: "request body not declared `application/json`",
        422: "invalid input; `field` names it",
        429: "rate limit of this token exceeded",
    }.items()
}


# ---------------------------------------------------------------------------------- limits


class RateLimiter:
    """Token bucket per bearer-token hash: ``rate`` per second, bursts of ``burst``."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        """Take one token from ``key``'s bucket; ``False`` if it is empty."""
        now = time.monotonic()
        with self._lock:
            level, last = self._buckets.get(key, (self.burst, now))
            level = min(self.burst, level + (now - last) * self.rate)
            if level < 1.0:
                self._buckets[key] = (level, now)
                return False
            self._buckets[key] = (level - 1.0, now)
            return True


def is_json_type(value: bytes | None) -> bool:
    """Whether a ``Content-Type`` value declares JSON as FastAPI reads it (``application/json``
    or ``application/*+json``, parameters such as ``charset`` allowed)."""
    if value is None:
        return False
    kind = value.split(b";", 1)[0].strip().lower()
    return kind == b"application/json" or (kind.startswith(b"application/")
                                            and kind.endswith(b"+json"))


def undecodable(exc: BaseException | None) -> str:
    """The one message of a request body that is not JSON, from what ``json.loads`` raised:
    the same words whichever route decoded it."""
    if isinstance(exc, json.JSONDecodeError):
        why = f"{exc.msg} at character {exc.pos}"
    elif isinstance(exc, UnicodeDecodeError):
        why = f"not UTF-8 at byte {exc.start}"
    elif isinstance(exc, RecursionError):
        why = "nested too deeply"
    elif isinstance(exc, ValueError):
        why = str(exc)
    else:
        why = "cannot be decoded"
    return f"body: not valid JSON ({why})"


class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes gets 413 before any parsing; with
    ``reports`` set, ``PUT /v1/markets/{id}/report`` goes to that :class:`ReportRoute` first."""

    def __init__(self, app: ASGIApp, limit: int, reports: ReportRoute | None = None) -> None:
        self.app = app
        self.limit = limit
        self.reports = reports

    @staticmethod
    async def too_large(send: Send, limit: int) -> None:
        """Answer 413."""
        body = ErrorBody(detail=f"request body over {limit} bytes").model_dump_json()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body.encode()})

    @staticmethod
    async def not_json(send: Send, ctype: bytes | None) -> None:
        """Answer 415: a request body the service will not read as JSON."""
        got = "none" if ctype is None else ctype.decode("latin-1")[:100]
        body = ErrorBody(detail=f"Content-Type: must be application/json (got {got})",
                         field="Content-Type").model_dump_json()
        await send({"type": "http.response.start", "status": 415,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body.encode()})

    @staticmethod
    def content_type(scope: Scope) -> bytes | None:
        """The first ``Content-Type`` header (the one Starlette's ``request.headers`` gives)."""
        for name, value in scope.get("headers", ()):
            if name == b"content-type":
                return bytes(value)
        return None

    @staticmethod
    async def read_body(receive: Receive, limit: int) -> bytes | None:
        """The whole request body, or ``None`` once it exceeds ``limit`` bytes."""
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    @staticmethod
    def replay(body: bytes, receive: Receive) -> Receive:
        """A ``receive`` that delivers ``body`` once, then defers to the original."""
        delivered = False

        async def again() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return again

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.reports is not None and scope["method"] == "PUT":
            match = _REPORT_PATH.fullmatch(scope["path"])
            if match is not None:
                await self.reports.handle(scope, receive, send, match.group(1), self.app,
                                          self.limit)
                return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.limit:
                    await self.too_large(send, self.limit)
                    return
        body = await self.read_body(receive, self.limit)
        if body is None:
            await self.too_large(send, self.limit)
            return
        if body and scope["path"].startswith("/v1/"):
            ctype = self.content_type(scope)
            if not is_json_type(ctype):
                await self.not_json(send, ctype)
                return
        await self.app(scope, self.replay(body, receive), send)


_REPORT_PATH = re.compile(r"/v1/markets/([^/]+)/report")
_JSON_HEADERS = [(b"content-type", b"application/json")]


def _dumps(obj: Any) -> bytes:
    """JSON as Starlette's ``JSONResponse`` renders it."""
    return json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


class ReportRoute:
    """``PUT /v1/markets/{id}/report`` without FastAPI's per-request machinery.

    The report is the one request the service must answer at load (thousands per second), and
    FastAPI's dependency resolution, routing and response-model validation cost about as much
    CPU as storing the report. This pure ASGI handler runs in front of the app for the requests
    it can answer exactly as the FastAPI route would: ``Content-Type: application/json``, one
    ``Authorization: Bearer`` header whose token is a participant of this market already in the
    token cache, at most one ``Idempotency-Key`` of 1 to 256 characters, and a body that decodes
    to a JSON object. Everything else (a missing or unknown token, the operator's token, another
    market's token, a body that is not one object, …) is handed to the FastAPI route unchanged,
    with the body it has already read, and gets that route's answer; the route
    (``build_router``) stays the documented contract in ``/openapi.json``. Checks come in the
    route's order: body size (413), content type (415), body decoding (400, answered here in the
    route's words, :func:`undecodable`), token (401), rate limit (429), then the report itself
    (403, 404, 409, 422). Reports go through the same group commit (:mod:`.groupcommit`) as the
    route's.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def _send(self, send: Send, status: int, body: bytes,
                    extra: list[tuple[bytes, bytes]] | None = None) -> None:
        headers = [*_JSON_HEADERS, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status,
                    "headers": headers + (extra or [])})
        await send({"type": "http.response.body", "body": body})

    async def _error(self, send: Send, exc: Exception) -> None:
        extra: list[tuple[bytes, bytes]] = []
        if isinstance(exc, ServiceError):
            status, detail, field = exc.status, exc.message, exc.field
            if status == 401:
                extra.append((b"www-authenticate", b"Bearer"))
            if status == 429:
                extra.append((b"retry-after", b"1"))
        elif isinstance(exc, InvalidInput):
            status, detail, field = 422, str(exc), exc.field
        else:
            raise exc
        await self._send(send, status, _dumps({"detail": detail, "field": field}), extra)

    async def handle(self, scope: Scope, receive: Receive, send: Send, market_id: str,
                     fallback: ASGIApp, limit: int) -> None:
        """Answer the report in ``scope`` or hand it (body included) to ``fallback``."""
        auth: bytes | None = None
        key: bytes | None = None
        ctype: bytes | None = None
        simple = True
        for name, value in scope["headers"]:
            if name == b"authorization":
                simple = simple and auth is None
                auth = value
            elif name == b"idempotency-key":
                simple = simple and key is None
                key = value
            elif name == b"content-type":
                simple = simple and ctype is None
                ctype = value
            elif name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit:
                    await BodyLimit.too_large(send, limit)
                    return
        body = await BodyLimit.read_body(receive, limit)
        if body is None:
            await BodyLimit.too_large(send, limit)
            return
        first_ctype = ctype if simple else BodyLimit.content_type(scope)
        if body and not is_json_type(first_ctype):
            await BodyLimit.not_json(send, first_ctype)
            return
        try:
            report = self._decode(body, simple)
        except (ValueError, RecursionError) as exc:
            await self._send(send, 400, _dumps({"detail": undecodable(exc), "field": "body"}))
            return
        state = self.app.state
        token = _bearer_token(auth)
        ident = None
        if report is not None and token is not None and (key is None or 0 < len(key) <= 256):
            token_hash = hash_token(token)
            ident = state.service.cached_identity(token_hash)
            if ident is not None and ident.market_id != market_id:
                ident = None
            if ident is not None and same_hash(token_hash, state.operator_hash):
                ident = None
        if ident is None:
            await fallback(scope, BodyLimit.replay(body, receive), send)
            return
        try:
            if not state.limiter.allow(token_hash):
                raise _RateLimited("rate limit exceeded for this token")
            pending = state.service.prepare_report(
                ident, report, None if key is None else key.decode("latin-1")
            )
            _, answer = await state.reports.submit(pending)
        except (ServiceError, InvalidInput) as exc:
            await self._error(send, exc)
            return
        await self._send(send, 200, _dumps(answer))

    @staticmethod
    def _decode(body: bytes, simple: bool) -> dict[str, Any] | None:
        """The report object, ``None`` for the FastAPI route to answer (not one object, or
        repeated headers); raises what ``json.loads`` raises for an undecodable body (as
        Starlette's ``request.json()``, which decodes with the same call)."""
        if not simple or not body:
            return None
        report = json.loads(body)
        return report if isinstance(report, dict) else None


def _bearer_token(value: bytes | None) -> str | None:
    """The token of ``Authorization: Bearer <token>`` as FastAPI's ``HTTPBearer`` reads it."""
    if not value:
        return None
    scheme, _, token = value.decode("latin-1").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


# ---------------------------------------------------------------------------------- auth


@dataclass(frozen=True)
class Principal:
    """Who is calling: the operator, or one participant of one market."""

    operator: bool
    identity: Identity | None = None

    def require_operator(self) -> None:
        """403 unless the operator is calling."""
        if not self.operator:
            raise Forbidden("operator only")

    def require_participant(self, market_id: str) -> Identity:
        """The caller's identity if it is a participant of ``market_id``, else 403."""
        if self.identity is None:
            raise Forbidden("participants only (the operator does not report)")
        if self.identity.market_id != market_id:
            raise Forbidden("this token belongs to another market")
        return self.identity


_bearer = HTTPBearer(auto_error=False, description="operator or participant token")


async def principal(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The one authentication dependency (see the module docstring). Runs on the event loop;
    only a token not yet in the cache costs a database lookup (in a worker thread)."""
    state = request.app.state
    if creds is None or not creds.credentials:
        raise Unauthorized("missing bearer token")
    token_hash = hash_token(creds.credentials)
    if same_hash(token_hash, state.operator_hash):
        who = Principal(operator=True)
    else:
        service: MarketService = state.service
        ident = service.cached_identity(token_hash)
        if ident is None:
            ident = await run_in_threadpool(service.authenticate, token_hash)
        if ident is None:
            raise Unauthorized("unknown token")
        who = Principal(operator=False, identity=ident)
    if not state.limiter.allow(token_hash):
        raise _RateLimited("rate limit exceeded for this token")
    return who


class _RateLimited(ServiceError):
    status = 429


Who = Annotated[Principal, Depends(principal)]


# ---------------------------------------------------------------------------------- routes


def _service(request: Request) -> MarketService:
    service: MarketService = request.app.state.service
    return service


def _timestamp(value: datetime | None) -> float | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return value.timestamp()
    except (OverflowError, OSError, ValueError):
        raise InvalidInput("closes_at", str(value), "out of range") from None


def build_router() -> APIRouter:
    """All ``/v1`` routes."""
    router = APIRouter(prefix="/v1", responses=ERRORS)

    @router.post("/markets", status_code=201, response_model=MarketView)
    def open_market(body: OpenMarket, who: Who, request: Request) -> MarketView:
        """Open a market (operator)."""
        who.require_operator()
        service = _service(request)
        view = service.open_market(body.mechanism, body.fields, _timestamp(body.closes_at))
        return MarketView(**service.market(view["id"]))

    @router.get("/markets", response_model=list[MarketView])
    def list_markets(
        who: Who, request: Request, limit: Annotated[int, Query(ge=1, le=1000)] = 200
    ) -> list[MarketView]:
        """The newest markets with status and counts, newest first (operator)."""
        who.require_operator()
        return [MarketView(**m) for m in _service(request).markets(limit)]

    @router.get("/me", response_model=WhoAmI)
    def whoami(who: Who, request: Request) -> WhoAmI:
        """Who the token belongs to (any token); a participant also sees its market's status."""
        if who.operator:
            return WhoAmI(operator=True)
        assert who.identity is not None
        return WhoAmI(operator=False, **_service(request).whoami(who.identity))

    @router.get("/markets/{market_id}/timeline", response_model=Timeline)
    def timeline(
        market_id: str,
        who: Who,
        request: Request,
        bucket: Annotated[float, Query(gt=0, le=86_400)] = 1.0,
    ) -> Timeline:
        """Reports accepted per ``bucket`` seconds since opening, from the log (operator)."""
        who.require_operator()
        return Timeline(**_service(request).report_timeline(market_id, bucket))

    @router.put("/markets/{market_id}/offer", response_model=dict[str, Any])
    def put_offer(
        market_id: str, body: dict[str, Any], who: Who, request: Request,
        idempotency_key: Annotated[
            str | None, Header(alias="Idempotency-Key", max_length=256)
        ] = None,
    ) -> dict[str, Any]:
        """A seller's offer ``{"supply", "reserve"}`` in a live data market (replaces an earlier
        one); answers the seller's book. ``Idempotency-Key`` honoured as for reports."""
        ident = who.require_participant(market_id)
        return _service(request).live_post(ident, "offer", body, idempotency_key)

    @router.post("/markets/{market_id}/bid", response_model=dict[str, Any])
    def post_bid(
        market_id: str, body: dict[str, Any], who: Who, request: Request,
        idempotency_key: Annotated[
            str | None, Header(alias="Idempotency-Key", max_length=256)
        ] = None,
    ) -> dict[str, Any]:
        """A buyer's bid ``{"seller", "quantity", "price"}`` in a live data market (replaces its
        earlier bid to that seller; quantity 0 withdraws it); answers the buyer's quote.
        ``Idempotency-Key`` honoured as for reports."""
        ident = who.require_participant(market_id)
        return _service(request).live_post(ident, "bid", body, idempotency_key)

    @router.post("/markets/{market_id}/bids", response_model=dict[str, Any])
    def post_bids(
        market_id: str, body: dict[str, Any], who: Who, request: Request,
        idempotency_key: Annotated[
            str | None, Header(alias="Idempotency-Key", max_length=256)
        ] = None,
        prefer: Annotated[str | None, Header(alias="Prefer", max_length=256)] = None,
    ) -> Any:
        """A buyer's whole move ``{"bids": [{"seller", "quantity", "price"}, …]}`` (at most one
        bid per seller), accepted together: one transaction, one log entry, so no reader sees
        the book half-way through it; each bid as for ``POST …/bid``. Answers the buyer's
        quote after the move; with ``Prefer: return=minimal`` (RFC 7240) only
        ``{"buyer", "seq", "bids"}`` (its log position and the number of bids accepted), for
        an agent that reads its quote when it next moves. ``Idempotency-Key`` honoured as for
        reports (a replay answers what the first request was answered)."""
        ident = who.require_participant(market_id)
        minimal = prefer is not None and "return=minimal" in prefer.replace(" ", "").lower()
        answer = _service(request).live_post(ident, "bids", body, idempotency_key,
                                             minimal=minimal)
        if minimal:
            return JSONResponse(answer, headers={"Preference-Applied": "return=minimal"})
        return answer

    @router.post("/markets/{market_id}/run", response_model=dict[str, Any])
    def post_run(
        market_id: str, who: Who, request: Request,
        body: dict[str, Any] | None = None,
        idempotency_key: Annotated[
            str | None, Header(alias="Idempotency-Key", max_length=256)
        ] = None,
    ) -> dict[str, Any]:
        """A seller runs its auction (Algorithm 1's step): its reserve rule on its current bids,
        in a market with ``reserve_update = "run"``; answers its book (``pending``: would
        another run move the reserve)."""
        ident = who.require_participant(market_id)
        return _service(request).live_post(ident, "run", body or {}, idempotency_key)

    def _live_answer(
        request: Request, market_id: str, ident: Identity | None, known: str | None,
        public: bool,
    ) -> Any:
        tag, text = _service(request).live_view_text(market_id, ident, known, public)
        if text is None:
            return Response(status_code=304, headers={"ETag": tag})
        return Response(text.encode(), media_type="application/json", headers={"ETag": tag})

    @router.get("/markets/{market_id}/quotes", response_model=dict[str, Any],
                responses={304: {"description": "unchanged since the `If-None-Match` ETag"}})
    def get_quotes(
        market_id: str, who: Who, request: Request,
        if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
    ) -> Any:
        """Live data market: a buyer's allocation, costs and price functions per seller (and
        every seller's book without the other buyers' ids); a seller's own book; the
        operator's view of every book. ``ETag`` names the market's state; with
        ``If-None-Match`` an unchanged market answers 304 without a body."""
        ident = None if who.operator else who.require_participant(market_id)
        return _live_answer(request, market_id, ident, if_none_match, False)

    @router.get("/markets/{market_id}/offers", response_model=dict[str, Any],
                responses={304: {"description": "unchanged since the `If-None-Match` ETag"}})
    def get_offers(
        market_id: str, who: Who, request: Request,
        if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
    ) -> Any:
        """Live data market, any of its participants or the operator: the public offers —
        per seller its supply, reserve, units allocated and book version — and the market's
        status; ``ETag`` / ``If-None-Match`` as for quotes."""
        ident = None if who.operator else who.require_participant(market_id)
        return _live_answer(request, market_id, ident, if_none_match, True)

    @router.get(
        "/markets/{market_id}/stream",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}},
                         "description": "server-sent events: the quotes view on every change"}},
    )
    async def stream(market_id: str, who: Who, request: Request) -> StreamingResponse:
        """Server-sent events of ``GET …/quotes``: one ``data:`` event now and one after every
        change (checked every 0.25 s), until the market closes or the client leaves."""
        ident = None if who.operator else who.require_participant(market_id)
        service = _service(request)
        first = await run_in_threadpool(service.live_view, market_id, ident)

        async def events() -> AsyncIterator[bytes]:
            tag, view = first
            while True:
                if view is not None:
                    yield b"data: " + json.dumps(view, allow_nan=False).encode() + b"\n\n"
                    if view["status"] != "open":
                        return
                if await request.is_disconnected():
                    return
                await asyncio.sleep(0.25)
                tag, view = await run_in_threadpool(service.live_view, market_id, ident, tag)

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})

    @router.get("/markets/{market_id}", response_model=MarketView)
    def get_market(market_id: str, who: Who, request: Request) -> MarketView:
        """A market's status and counts (operator)."""
        who.require_operator()
        return MarketView(**_service(request).market(market_id))

    @router.post(
        "/markets/{market_id}/participants", status_code=201, response_model=ParticipantCreated
    )
    def add_participant(
        market_id: str, body: NewParticipant, who: Who, request: Request
    ) -> ParticipantCreated:
        """Add a participant (operator); its token is in this answer only."""
        who.require_operator()
        view, token = _service(request).add_participant(market_id, body.id, body.role, body.fields)
        return ParticipantCreated(
            market=market_id, id=view["id"], role=view["role"], fields=view["fields"], token=token
        )

    @router.put("/markets/{market_id}/report", response_model=ReportView)
    async def put_report(
        market_id: str,
        body: dict[str, Any],
        who: Who,
        request: Request,
        idempotency_key: Annotated[
            str | None, Header(alias="Idempotency-Key", max_length=256)
        ] = None,
    ) -> ReportView:
        """Store the caller's sealed report (participant), replacing an earlier one."""
        ident = who.require_participant(market_id)
        pending = _service(request).prepare_report(ident, body, idempotency_key)
        _, answer = await request.app.state.reports.submit(pending)
        return ReportView(**answer)

    @router.get("/markets/{market_id}/report", response_model=ReportView)
    def get_report(market_id: str, who: Who, request: Request) -> ReportView:
        """The caller's own report (participant)."""
        ident = who.require_participant(market_id)
        return ReportView(**_service(request).get_report(ident))

    @router.post("/markets/{market_id}/close", response_model=dict[str, Any])
    def close_market(market_id: str, who: Who, request: Request) -> dict[str, Any]:
        """Close and clear (operator); again: the same outcome. A market whose instance the
        mechanism rejects becomes void (422 naming the field, every time)."""
        who.require_operator()
        done = _service(request).close(market_id)
        if done.outcome is None:
            err = done.error or {}
            raise InvalidInput(str(err.get("field")), None, str(err.get("detail")))
        return done.outcome

    @router.get(
        "/markets/{market_id}/outcome",
        response_model=dict[str, Any] | ParticipantOutcome,
        description="Operator: the full outcome (exactly `specmarket clear` on the instance). "
        "Participant: a `ParticipantOutcome`.",
    )
    def get_outcome(
        market_id: str, who: Who, request: Request
    ) -> dict[str, Any] | ParticipantOutcome:
        """The outcome of a cleared market (operator: full; participant: its own part)."""
        service = _service(request)
        if who.operator:
            return service.outcome(market_id)
        ident = who.require_participant(market_id)
        return ParticipantOutcome(**service.participant_outcome(ident))

    @router.get("/markets/{market_id}/instance", response_model=dict[str, Any])
    def get_instance(market_id: str, who: Who, request: Request) -> dict[str, Any]:
        """The instance JSON `specmarket clear` accepts (operator)."""
        who.require_operator()
        return _service(request).instance(market_id)

    @router.get("/markets/{market_id}/log", response_model=LogView)
    def get_log(
        market_id: str,
        who: Who,
        request: Request,
        after: Annotated[int, Query(ge=0, le=2**62)] = 0,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    ) -> LogView:
        """The append-only log of accepted requests (operator), oldest first."""
        who.require_operator()
        entries = _service(request).log(market_id, after, limit)
        return LogView(
            entries=[LogEntryView(**e) for e in entries],
            next_after=entries[-1]["seq"] if entries else after,
        )

    return router


# ---------------------------------------------------------------------------------- app


def _error(status: int, detail: str, field: str | None = None) -> JSONResponse:
    return JSONResponse(ErrorBody(detail=detail, field=field).model_dump(), status_code=status)


async def _scheduler(service: MarketService, interval: float) -> None:
    """Every ``interval`` seconds, close markets whose ``closes_at`` has passed and live data
    markets whose ε-equilibrium check holds (:meth:`MarketService.live_settled`). Safe with
    several workers: closing is guarded in the database (:mod:`.domain`)."""
    while True:
        await asyncio.sleep(interval)
        try:
            for market_id in await run_in_threadpool(service.due_markets):
                await run_in_threadpool(service.close, market_id, SCHEDULER)
            for market_id, seq in await run_in_threadpool(service.live_settled):
                await run_in_threadpool(service.close, market_id, SCHEDULER, True, seq)
        except Exception:  # keep the loop alive; the next tick retries
            log.exception("scheduler tick failed")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the service: engine, migrations (unless turned off), operator token, routes."""
    settings = Settings() if settings is None else settings
    url = settings.db or default_url()
    engine = make_engine(url, settings.pool_size, settings.sqlite_synchronous)
    if settings.migrate:
        migrate(engine)
    service = MarketService(engine)
    configured = (
        settings.operator_token.get_secret_value() if settings.operator_token is not None else None
    )
    operator_hash, generated = service.ensure_operator_token(configured)
    if generated is not None:
        print(f"specmarket: operator token (shown once): {generated}", file=sys.stderr, flush=True)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.threads:
            import anyio.to_thread

            anyio.to_thread.current_default_thread_limiter().total_tokens = settings.threads
        task = None
        if settings.scheduler_interval > 0:
            task = asyncio.create_task(_scheduler(service, settings.scheduler_interval))
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            engine.dispose()

    app = FastAPI(
        title="specmarket market service",
        version="1",
        description="Sealed-bid rounds of specmarket's one-shot mechanisms over HTTP.",
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.operator_hash = operator_hash
    app.state.limiter = RateLimiter(settings.rate_limit, settings.rate_burst)
    app.state.settings = settings
    app.state.sqlite = is_sqlite(engine)
    app.state.reports = GroupCommit(service)
    app.include_router(build_router())
    mount_dashboard(app)

    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError) -> JSONResponse:
        response = _error(exc.status, exc.message, exc.field)
        if exc.status == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        if exc.status == 429:
            response.headers["Retry-After"] = "1"
        return response

    @app.exception_handler(InvalidInput)
    async def _invalid(request: Request, exc: InvalidInput) -> JSONResponse:
        return _error(422, str(exc), exc.field)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {}
        where = tuple(first.get("loc", ()))
        if first.get("type") == "json_invalid":  # FastAPI's JSONDecodeError, loc ("body", pos)
            pos = where[1] if len(where) > 1 and isinstance(where[1], int) else 0
            why = json.JSONDecodeError(str((first.get("ctx") or {}).get("error", "invalid")),
                                       "", pos)
            return _error(400, undecodable(why), "body")
        if where == ("body",):  # the body as a whole (e.g. a list where an object is due)
            return _error(422, f"body: {first.get('msg', 'invalid')}", "body")
        loc = [str(p) for p in where if p not in ("body", "query", "path", "header")]
        field = ".".join(loc) or None
        return _error(422, f"{field or 'request'}: {first.get('msg', 'invalid')}", field)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # FastAPI answers a body json.loads cannot read (not UTF-8, nested too deeply, …) with
        # HTTPException(400), the decoding error as its cause; 404/405 of unknown routes too
        if exc.status_code == 400:
            return _error(400, undecodable(exc.__cause__), "body")
        response = _error(exc.status_code, str(exc.detail))
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    app.add_middleware(BodyLimit, limit=settings.max_body,
                       reports=ReportRoute(app) if settings.fast_reports else None)
    return app
