"""The market lifecycle, independent of HTTP: open, add participants, sealed reports, close/clear,
outcome views, the exported instance and the log.

Concurrency and atomicity
-------------------------
Every operation is one database transaction. The market row is the guard of a round:

* a report (or a new participant) takes a *shared* lock on the market row (``SELECT … FOR
  SHARE`` on PostgreSQL) and checks ``status = 'open'`` under it;
* closing takes an *exclusive* lock (``SELECT … FOR UPDATE``), reads the reports, clears,
  stores instance and outcome and sets the status, all in the same transaction.

So a close waits for every report transaction already running, and every report transaction that
starts later sees the market closed (409): no acknowledged report is left out of the outcome, no
report gets in after it, and however many closes run concurrently (several workers, the scheduler)
exactly one clears and the others return its stored outcome. On SQLite every transaction starts
with ``BEGIN IMMEDIATE`` (one writer at a time), which gives the same guarantees. If clearing
raises anything unexpected the transaction rolls back and the market stays open: all or nothing.

Participants that never sent a report are not part of the instance; pairs of the operator's
conflict graph (and District-D eligibility entries) that name them are dropped
(:mod:`.fields`).
"""

from __future__ import annotations

import hashlib
import json
import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from specmarket.errors import InvalidInput, SpecmarketError
from specmarket.service import live
from specmarket.service.db import IDEMPOTENCY, LOG, MARKETS, PARTICIPANTS, SETTINGS
from specmarket.service.errors import Conflict, NotFound
from specmarket.service.fields import check_partial, market_schema, mechanism_fields
from specmarket.service.tokens import hash_token, new_token, same_hash

T = TypeVar("T")

OPERATOR = "operator"
SCHEDULER = "scheduler"


def _dumps(obj: Any) -> str:
    return json.dumps(obj, allow_nan=False, separators=(",", ":"))


def _request_hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


class WouldBlock(Exception):
    """Another transaction of this process holds the SQLite writer lock."""


@dataclass(frozen=True)
class Identity:
    """Who a participant token belongs to."""

    market_id: str
    pid: str
    role: str
    mechanism: str = ""
    fields: str = "{}"


@dataclass(eq=False)
class PendingReport:
    """A checked sealed report waiting for its batch to commit (see
    :meth:`MarketService.write_reports`); ``result`` or ``error`` is set by the batch."""

    who: Identity
    checked: dict[str, Any]
    key: str | None
    req_hash: str
    report_text: str
    result: tuple[int, dict[str, Any]] | None = None
    error: Exception | None = None
    version: int = 0
    replay_of: PendingReport | None = None

    @property
    def request_hash(self) -> str:
        """The hash an in-batch repeat of the same ``Idempotency-Key`` is compared with."""
        return self.req_hash

    def outcome(self) -> tuple[int, dict[str, Any]]:
        """The answer once the batch committed; raises the report's own refusal."""
        if self.error is not None:
            raise self.error
        if self.result is None:
            raise RuntimeError("report not written")
        return self.result


# Statements of the report path, built once (building a statement costs more than running it).
_B = sa.bindparam
_MARKET_STATUS = sa.select(MARKETS.c.id, MARKETS.c.status, MARKETS.c.closes_at).where(
    MARKETS.c.id == _B("b_mid")
)
_MARKET_STATUS_SHARED = _MARKET_STATUS.with_for_update(read=True)
_IDEM_FIND = sa.select(IDEMPOTENCY.c.pid, IDEMPOTENCY.c.key, IDEMPOTENCY.c.request_hash,
                       IDEMPOTENCY.c.status_code, IDEMPOTENCY.c.response).where(
    IDEMPOTENCY.c.market_id == _B("b_mid"), IDEMPOTENCY.c.pid.in_(_B("b_pids", expanding=True)),
    IDEMPOTENCY.c.key.in_(_B("b_keys", expanding=True)),
)
_VERSIONS = sa.select(PARTICIPANTS.c.pid, PARTICIPANTS.c.version).where(
    PARTICIPANTS.c.market_id == _B("b_mid"), PARTICIPANTS.c.pid.in_(_B("b_pids", expanding=True))
).order_by(PARTICIPANTS.c.pid)
_VERSIONS_LOCKED = _VERSIONS.with_for_update(key_share=True)
_REPORT_STORE = (
    PARTICIPANTS.update()
    .where(PARTICIPANTS.c.market_id == _B("b_mid"), PARTICIPANTS.c.pid == _B("b_pid"))
    .values(report=_B("b_report"), version=_B("b_version"), reported_at=_B("b_now"))
)
_LOG_ADD = LOG.insert().values(
    market_id=_B("b_mid"), at=_B("b_now"), actor=_B("b_actor"), action=_B("b_action"),
    body=_B("b_body"),
    idempotency_key=_B("b_key"),
)
_IDEM_ADD = IDEMPOTENCY.insert().values(
    market_id=_B("b_mid"), pid=_B("b_pid"), key=_B("b_key"), request_hash=_B("b_hash"),
    status_code=_B("b_code"), response=_B("b_response"),
)
_AUTH = sa.select(
    PARTICIPANTS.c.market_id, PARTICIPANTS.c.pid, PARTICIPANTS.c.role, PARTICIPANTS.c.fields,
    PARTICIPANTS.c.token_hash, MARKETS.c.mechanism,
).join(MARKETS, MARKETS.c.id == PARTICIPANTS.c.market_id).where(
    PARTICIPANTS.c.token_hash == _B("b_h")
)


@dataclass(frozen=True)
class Closed:
    """Result of a close: ``outcome`` (the mechanism's JSON) or ``error`` (why the instance could
    not be cleared: the market is then ``void``); ``cleared_now`` is true for the one call that
    actually cleared."""

    status: str
    outcome: dict[str, Any] | None
    error: dict[str, Any] | None
    cleared_now: bool


class MarketService:
    """The domain over one SQLAlchemy engine (thread-safe: one connection per call)."""

    def __init__(self, engine: Engine, auth_cache_size: int = 200_000) -> None:
        self.engine = engine
        self._pg = engine.dialect.name == "postgresql"
        # SQLite has one writer at a time: queueing this process's writers on a lock is fairer
        # and cheaper than SQLite's busy handler (which sleeps with back-off); other processes
        # still wait in busy_timeout. PostgreSQL writers run concurrently.
        self._sqlite_lock = threading.Lock() if engine.dialect.name == "sqlite" else None
        self._auth: dict[str, Identity] = {}
        self._auth_cache_size = auth_cache_size
        self._books: dict[str, live.Book] = {}
        self._books_lock = threading.Lock()
        self._verdicts: dict[str, tuple[int, dict[str, Any]]] = {}  # market → (book seq, verdict)
        self._quiet: dict[str, int] = {}  # market → book seq at the last scheduler look
        # markets closed by this process: a reader that folded one while it closed must not
        # put its book back into the caches above (ids only)
        self._closed: set[str] = set()

    # ------------------------------------------------------------------ helpers

    def _read(self) -> Connection:
        """A connection for reading only (on SQLite a deferred transaction: no write lock)."""
        return self.engine.connect().execution_options(specmarket_read=True)

    def _tx(self, fn: Callable[[Connection], T], retries: int = 5, wait: bool = True) -> T:
        """Run ``fn`` in one transaction; retry on a lost race on a unique key (or a PostgreSQL
        deadlock / serialisation failure). With
        ``wait=False`` raise :class:`WouldBlock` instead of waiting for this process's SQLite
        writer lock (the caller then waits in a worker thread, not on the event loop)."""
        lock = self._sqlite_lock
        if lock is not None and not lock.acquire(blocking=wait):
            raise WouldBlock
        try:
            for attempt in range(retries):
                try:
                    with self.engine.begin() as conn:
                        return fn(conn)
                except IntegrityError:
                    if attempt == retries - 1:
                        raise
                except DBAPIError as exc:  # PostgreSQL deadlock or serialisation failure
                    code = getattr(exc.orig, "sqlstate", None)
                    if code not in ("40P01", "40001") or attempt == retries - 1:
                        raise
            raise AssertionError("unreachable")
        finally:
            if lock is not None:
                lock.release()

    def _log(
        self, conn: Connection, market_id: str, actor: str, action: str, body: Any,
        key: str | None = None,
    ) -> None:
        conn.execute(
            _LOG_ADD,
            {"b_mid": market_id, "b_now": time.time(), "b_actor": actor, "b_action": action,
             "b_body": _dumps(body), "b_key": key},
        )

    def _market(self, conn: Connection, market_id: str, lock: str | None = None) -> Any:
        if "\x00" in market_id:  # PostgreSQL text cannot hold NUL; no id contains one
            raise NotFound(f"no market {market_id!r}")
        q = sa.select(MARKETS).where(MARKETS.c.id == market_id)
        if lock == "share":
            q = q.with_for_update(read=True)
        elif lock == "update":
            q = q.with_for_update()
        row = conn.execute(q).first()
        if row is None:
            raise NotFound(f"no market {market_id!r}")
        return row

    @staticmethod
    def _require_open(row: Any, now: float) -> None:
        if row.status != "open":
            raise Conflict(f"market {row.id} is closed ({row.status})")
        if row.closes_at is not None and now >= row.closes_at:
            raise Conflict(f"market {row.id} closed at its closes_at")

    # ------------------------------------------------------------------ operator token

    def ensure_operator_token(self, configured: str | None) -> tuple[str, str | None]:
        """The operator token's hash, and the token itself if it was generated just now (to be
        printed once). A configured token wins; otherwise the first start generates one and
        stores only its hash, so every later start and every worker agrees on it."""
        if configured:
            return hash_token(configured), None
        token = new_token()

        def run(conn: Connection) -> tuple[str, str | None]:
            row = conn.execute(
                sa.select(SETTINGS.c.value).where(SETTINGS.c.key == "operator_token_hash")
            ).first()
            if row is not None:
                return str(row.value), None
            conn.execute(
                SETTINGS.insert().values(key="operator_token_hash", value=hash_token(token))
            )
            return hash_token(token), token

        return self._tx(run)

    # ------------------------------------------------------------------ lifecycle

    def open_market(
        self, mechanism: str, fields: Any, closes_at: float | None = None, actor: str = OPERATOR
    ) -> dict[str, Any]:
        """Open a market of ``mechanism`` with the operator's market ``fields``."""
        if mechanism == live.MECHANISM:
            fields = live.check_market_fields(fields)
        else:
            mechanism_fields(mechanism)
            schema = market_schema(mechanism)
            fields = check_partial(schema.market_model, {} if fields is None else fields, "fields")
        if closes_at is not None and not math.isfinite(closes_at):
            raise InvalidInput("closes_at", closes_at, "must be a finite time")
        market_id = secrets.token_hex(12)
        now = time.time()

        def run(conn: Connection) -> dict[str, Any]:
            conn.execute(
                MARKETS.insert().values(
                    id=market_id, mechanism=mechanism, status="open", fields=_dumps(fields),
                    created_at=now, closes_at=closes_at, next_seq=0,
                )
            )
            body = {"mechanism": mechanism, "fields": fields, "closes_at": closes_at}
            self._log(conn, market_id, actor, "open", body)
            return {"id": market_id, **body, "status": "open"}

        return self._tx(run)

    def market(self, market_id: str) -> dict[str, Any]:
        """Status view of a market (operator)."""
        with self._read() as conn:
            row = self._market(conn, market_id)
            counts = conn.execute(
                sa.select(
                    sa.func.count(),
                    sa.func.count(PARTICIPANTS.c.report),
                ).where(PARTICIPANTS.c.market_id == market_id)
            ).one()
        return {
            "id": row.id, "mechanism": row.mechanism, "status": row.status,
            "fields": json.loads(row.fields), "closes_at": row.closes_at,
            "closed_at": row.closed_at, "participants": int(counts[0]), "reports": int(counts[1]),
            "opened_at": row.created_at,
        }

    def markets(self, limit: int = 200) -> list[dict[str, Any]]:
        """Status views of the newest ``limit`` markets, newest first (operator dashboard)."""
        with self._read() as conn:
            rows = conn.execute(
                sa.select(MARKETS.c.id, MARKETS.c.mechanism, MARKETS.c.status, MARKETS.c.fields,
                          MARKETS.c.closes_at, MARKETS.c.closed_at, MARKETS.c.created_at)
                .order_by(MARKETS.c.created_at.desc(), MARKETS.c.id).limit(limit)
            ).all()
            ids = [r.id for r in rows]
            counts: dict[str, tuple[int, int]] = {}
            if ids:
                for c in conn.execute(
                    sa.select(PARTICIPANTS.c.market_id, sa.func.count(),
                              sa.func.count(PARTICIPANTS.c.report))
                    .where(PARTICIPANTS.c.market_id.in_(ids))
                    .group_by(PARTICIPANTS.c.market_id)
                ).all():
                    counts[c[0]] = (int(c[1]), int(c[2]))
        return [
            {"id": r.id, "mechanism": r.mechanism, "status": r.status,
             "fields": json.loads(r.fields), "closes_at": r.closes_at, "closed_at": r.closed_at,
             "participants": counts.get(r.id, (0, 0))[0], "reports": counts.get(r.id, (0, 0))[1],
             "opened_at": r.created_at}
            for r in rows
        ]

    def report_timeline(self, market_id: str, bucket: float) -> dict[str, Any]:
        """Accepted reports per time bucket of ``bucket`` seconds, counted from the log
        (replacements count: each is one accepted request), from the market's opening.

        Returns ``{"opened_at", "bucket", "starts", "counts"}``: ``starts[k]`` is the start of
        bucket ``k`` in seconds since opening, ``counts[k]`` the reports accepted in it. Empty
        buckets between the first and the last are present (zero), so a chart's x axis is
        uniform.
        """
        if not (math.isfinite(bucket) and bucket > 0):
            raise InvalidInput("bucket", bucket, "must be a positive number of seconds")
        with self._read() as conn:
            market = self._market(conn, market_id)
            opened = float(market.created_at)
            # bucket in the database (one row per bucket, not per report): floor on PostgreSQL,
            # CAST truncation on SQLite (the same for the non-negative offsets of a market's log)
            offset = (LOG.c.at - opened) / bucket
            k = (sa.cast(sa.func.floor(offset), sa.BigInteger) if self._pg
                 else sa.cast(offset, sa.Integer))
            rows = conn.execute(
                sa.select(k.label("k"), sa.func.count())
                .where(LOG.c.market_id == market_id, LOG.c.action == "report")
                .group_by(k)
            ).all()
        counts: dict[int, int] = {}
        for key, n in rows:
            kk = max(0, int(key))
            counts[kk] = counts.get(kk, 0) + int(n)
        last = max(counts) if counts else -1
        if last >= 10_000:  # keep the answer small: widen the buckets instead
            return self.report_timeline(market_id, bucket * (last // 10_000 + 1))
        return {
            "opened_at": opened, "bucket": bucket,
            "starts": [k * bucket for k in range(last + 1)],
            "counts": [counts.get(k, 0) for k in range(last + 1)],
        }

    def whoami(self, who: Identity) -> dict[str, Any]:
        """A participant's own view of its market: id, role, status, times, its report's
        version (0 before the first) — nothing about other participants."""
        with self._read() as conn:
            row = self._market(conn, who.market_id)
            version = conn.execute(
                sa.select(PARTICIPANTS.c.version).where(
                    PARTICIPANTS.c.market_id == who.market_id, PARTICIPANTS.c.pid == who.pid
                )
            ).scalar_one()
        return {
            "market": who.market_id, "participant": who.pid, "role": who.role,
            "mechanism": row.mechanism, "status": row.status, "closes_at": row.closes_at,
            "closed_at": row.closed_at, "version": int(version),
        }

    def add_participant(
        self, market_id: str, pid: str, role: str, fields: Any, actor: str = OPERATOR
    ) -> tuple[dict[str, Any], str]:
        """Add participant ``pid`` with ``role`` and its operator-set ``fields``; returns its view
        and its token (the only time the token exists outside the caller)."""
        if not isinstance(pid, str) or not pid:
            raise InvalidInput("id", pid, "must be a non-empty string")
        if len(pid) > 256:
            raise InvalidInput("id", pid, "at most 256 characters")
        if "\x00" in pid:
            raise InvalidInput("id", pid, "must not contain NUL characters")
        token = new_token()
        token_hash = hash_token(token)

        def run(conn: Connection) -> dict[str, Any]:
            now = time.time()
            row = self._market(conn, market_id, "update")
            self._require_open(row, now)
            checked: dict[str, Any]
            if row.mechanism == live.MECHANISM:
                if role not in live.ROLES:
                    raise InvalidInput("role", role, f"one of {', '.join(live.ROLES)}")
                checked = live.check_participant_fields(pid, role, fields)
            else:
                schema = market_schema(row.mechanism)
                if role not in schema.roles:
                    raise InvalidInput("role", role, f"one of {', '.join(schema.roles)}")
                checked = check_partial(
                    schema.roles[role].operator_model, {} if fields is None else fields, "fields"
                )
            exists = conn.execute(
                sa.select(PARTICIPANTS.c.pid).where(
                    PARTICIPANTS.c.market_id == market_id, PARTICIPANTS.c.pid == pid
                )
            ).first()
            if exists is not None:
                raise Conflict(f"participant {pid!r} is already in market {market_id}", "id")
            conn.execute(
                MARKETS.update().where(MARKETS.c.id == market_id).values(next_seq=row.next_seq + 1)
            )
            conn.execute(
                PARTICIPANTS.insert().values(
                    market_id=market_id, pid=pid, seq=row.next_seq, role=role,
                    fields=_dumps(checked), token_hash=token_hash, version=0,
                )
            )
            body = {"id": pid, "role": role, "fields": checked}
            self._log(conn, market_id, actor, "participant", body)
            return {"market": market_id, **body}

        view = self._tx(run)
        return view, token

    def add_participants_bulk(
        self, market_id: str, entries: list[tuple[str, str, dict[str, Any], dict[str, Any] | None]]
    ) -> list[str]:
        """Add many ``(id, role, fields, report or None)`` at once (benchmarks and imports; not
        exposed over HTTP). Fields and reports are checked at close. Returns the tokens."""
        tokens = [new_token() for _ in entries]

        def run(conn: Connection) -> None:
            row = self._market(conn, market_id, "update")
            self._require_open(row, time.time())
            rows = [
                {
                    "market_id": market_id, "pid": pid, "seq": row.next_seq + k, "role": role,
                    "fields": _dumps(fields), "token_hash": hash_token(tok),
                    "report": None if report is None else _dumps(report),
                    "version": 0 if report is None else 1,
                    "reported_at": None if report is None else time.time(),
                }
                for k, ((pid, role, fields, report), tok) in enumerate(
                    zip(entries, tokens, strict=True)
                )
            ]
            conn.execute(
                MARKETS.update().where(MARKETS.c.id == market_id)
                .values(next_seq=row.next_seq + len(rows))
            )
            for start in range(0, len(rows), 5000):
                conn.execute(PARTICIPANTS.insert(), rows[start : start + 5000])
            self._log(conn, market_id, OPERATOR, "participants", {"count": len(rows)})

        self._tx(run, retries=1)
        return tokens

    def cached_identity(self, token_hash: str) -> Identity | None:
        """The participant of a token hash if it was looked up before (no database call)."""
        return self._auth.get(token_hash)

    def authenticate(self, token_hash: str) -> Identity | None:
        """The participant a token hash belongs to, or ``None`` (cached: tokens never change)."""
        hit = self._auth.get(token_hash)
        if hit is not None:
            return hit
        with self._read() as conn:
            row = conn.execute(_AUTH, {"b_h": token_hash}).first()
        # the index finds the row by hash (timing can reveal only the hash of a guess, which is
        # useless); the final equality is still made in constant time
        if row is None or not same_hash(row.token_hash, token_hash):
            return None
        ident = Identity(row.market_id, row.pid, row.role, row.mechanism, row.fields)
        if len(self._auth) >= self._auth_cache_size:
            self._auth.clear()
        self._auth[token_hash] = ident
        return ident

    def prepare_report(
        self, who: Identity, report: Any, idempotency_key: str | None = None
    ) -> PendingReport:
        """Check ``who``'s report without the database (the mechanism and the operator's fields
        never change while a market is open) and return it ready for :meth:`write_reports`.
        Raises :class:`InvalidInput` naming the field, or :class:`Conflict` for a data market."""
        if who.mechanism == live.MECHANISM:
            raise Conflict("a data market takes offers (PUT …/offer) and bids (POST …/bid), "
                           "not sealed reports")
        req_hash = _request_hash(report)
        if idempotency_key is not None and not (0 < len(idempotency_key) <= 256):
            raise InvalidInput("Idempotency-Key", idempotency_key, "1 to 256 characters")
        schema = market_schema(who.mechanism).roles[who.role]
        checked = check_partial(schema.report_model, report)
        schema.entry.parse({"id": who.pid, **json.loads(who.fields), **checked})
        return PendingReport(who, checked, idempotency_key, req_hash, _dumps(checked))

    def write_reports(self, batch: list[PendingReport], wait: bool = True) -> None:
        """Store a batch of checked reports in **one** transaction (group commit) and set each
        one's ``result`` ``(status, body)`` or ``error``; nothing is answered before the commit.

        Per report, in batch order, exactly what a transaction of its own would do: a repeated
        ``Idempotency-Key`` (stored, or earlier in the same batch) replays the first answer or is
        refused if the report differs; a closed market refuses (409); otherwise the version goes
        up by one, the report replaces the stored one and one log entry is appended. The market
        row is share-locked (PostgreSQL) as for a single report, so a close still waits for the
        whole batch; participant rows are locked in ``pid`` order, so batches of several workers
        cannot deadlock. A lost race on a unique key (the same key sent to two workers at once)
        rolls the batch back and it is run again, finding the other worker's answer.
        """
        if batch:
            self._tx(lambda conn: self._write_batch(conn, batch), wait=wait)

    def _write_batch(self, conn: Connection, batch: list[PendingReport]) -> None:
        now = time.time()
        for p in batch:  # a retried batch starts afresh
            p.result, p.error, p.version, p.replay_of = None, None, 0, None
        markets: dict[str, Any] = {}
        stmt = _MARKET_STATUS_SHARED if self._pg else _MARKET_STATUS
        for mid in dict.fromkeys(p.who.market_id for p in batch):
            markets[mid] = conn.execute(stmt, {"b_mid": mid}).first()
        stored: dict[tuple[str, str, str], Any] = {}
        for mid in markets:
            keyed = [p for p in batch if p.key is not None and p.who.market_id == mid]
            if keyed:
                for row in conn.execute(_IDEM_FIND, {
                    "b_mid": mid, "b_pids": sorted({p.who.pid for p in keyed}),
                    "b_keys": sorted({str(p.key) for p in keyed}),
                }):
                    stored[(mid, row.pid, row.key)] = row
        fresh: list[PendingReport] = []
        for p in batch:
            market = markets[p.who.market_id]
            if market is None:
                p.error = NotFound(f"no market {p.who.market_id!r}")
                continue
            if p.key is not None:
                k = (p.who.market_id, p.who.pid, p.key)
                hit = stored.get(k)
                if hit is not None:
                    if hit.request_hash != p.req_hash:
                        p.error = InvalidInput(
                            "Idempotency-Key", p.key, "already used for a different report"
                        )
                    elif isinstance(hit, PendingReport):
                        p.replay_of = hit
                    else:
                        p.result = (int(hit.status_code), json.loads(hit.response))
                    continue
            try:
                self._require_open(market, now)
            except Conflict as exc:
                p.error = exc
                continue
            if p.key is not None:
                stored[(p.who.market_id, p.who.pid, p.key)] = p
            fresh.append(p)
        if fresh:
            versions: dict[tuple[str, str], int] = {}
            for mid in dict.fromkeys(p.who.market_id for p in fresh):
                pids = sorted({p.who.pid for p in fresh if p.who.market_id == mid})
                for vrow in conn.execute(
                    _VERSIONS_LOCKED if self._pg else _VERSIONS, {"b_mid": mid, "b_pids": pids}
                ):
                    versions[(mid, vrow.pid)] = int(vrow.version)
            last: dict[tuple[str, str], PendingReport] = {}
            logs: list[dict[str, Any]] = []
            idems: list[dict[str, Any]] = []
            for p in fresh:
                who = p.who
                k2 = (who.market_id, who.pid)
                versions[k2] += 1
                p.version = versions[k2]
                last[k2] = p
                body = {"market": who.market_id, "participant": who.pid, "version": p.version,
                        "report": p.checked}
                p.result = (200, body)
                logs.append({
                    "b_mid": who.market_id, "b_now": now, "b_actor": f"participant:{who.pid}",
                    "b_action": "report", "b_key": p.key,
                    "b_body": _dumps({"participant": who.pid, "version": p.version,
                                      "report": p.checked}),
                })
                if p.key is not None:
                    idems.append({"b_mid": who.market_id, "b_pid": who.pid, "b_key": p.key,
                                  "b_hash": p.req_hash, "b_code": 200, "b_response": _dumps(body)})
            conn.execute(_REPORT_STORE, [
                {"b_mid": mid, "b_pid": pid, "b_report": p.report_text, "b_version": p.version,
                 "b_now": now}
                for (mid, pid), p in last.items()
            ])
            conn.execute(_LOG_ADD, logs)
            if idems:
                conn.execute(_IDEM_ADD, idems)
        for p in batch:
            if p.replay_of is not None:
                p.result = p.replay_of.result

    def put_report(
        self, who: Identity, report: Any, idempotency_key: str | None = None, wait: bool = True
    ) -> tuple[int, dict[str, Any]]:
        """Store ``who``'s sealed report (replacing an earlier one) and answer ``(status, body)``:
        :meth:`prepare_report` then :meth:`write_reports` of a batch of one.

        A repeated ``idempotency_key`` with the same report returns the first answer without
        storing anything; with a different report it is refused (422 on ``Idempotency-Key``).
        """
        pending = self.prepare_report(who, report, idempotency_key)
        self.write_reports([pending], wait=wait)
        return pending.outcome()

    def get_report(self, who: Identity) -> dict[str, Any]:
        """``who``'s own current report (404 before the first one)."""
        with self._read() as conn:
            row = conn.execute(
                sa.select(PARTICIPANTS.c.report, PARTICIPANTS.c.version).where(
                    PARTICIPANTS.c.market_id == who.market_id, PARTICIPANTS.c.pid == who.pid
                )
            ).one()
        if row.report is None:
            raise NotFound(f"participant {who.pid!r} has not reported yet")
        return {"market": who.market_id, "participant": who.pid, "version": int(row.version),
                "report": json.loads(row.report)}

    # ------------------------------------------------------------------ closing

    def _build_instance(self, conn: Connection, market: Any) -> dict[str, Any]:
        from specmarket.mechanisms import get

        schema = market_schema(market.mechanism)
        rows = conn.execute(
            sa.select(PARTICIPANTS.c.pid, PARTICIPANTS.c.role, PARTICIPANTS.c.fields,
                      PARTICIPANTS.c.report)
            .where(PARTICIPANTS.c.market_id == market.id, PARTICIPANTS.c.report.is_not(None))
            .order_by(PARTICIPANTS.c.seq)
        ).all()
        lists: dict[str, list[dict[str, Any]]] = {r.attribute: [] for r in schema.roles.values()}
        present: dict[str, set[str]] = {role: set() for role in schema.roles}
        # one json.loads per column instead of one per row: the close of a 100,000-participant
        # round spends most of its own time decoding otherwise
        reports = json.loads("[" + ",".join(r.report for r in rows) + "]")
        has_fields = any(r.fields != "{}" for r in rows)
        extras = (
            json.loads("[" + ",".join(r.fields for r in rows) + "]") if has_fields
            else [{}] * len(rows)
        )
        for r, report, extra in zip(rows, reports, extras, strict=True):
            lists[schema.roles[r.role].attribute].append({"id": r.pid, **extra, **report})
            present[r.role].add(r.pid)
        fields = schema.fields.prune(json.loads(market.fields), present)
        instance: dict[str, Any] = {}
        for name in get(market.mechanism).instance_type.model_fields:
            if name in lists:
                instance[name] = lists[name]
            elif name in fields:
                instance[name] = fields[name]
        return instance

    def close(self, market_id: str, actor: str = OPERATOR, at_equilibrium: bool = False,
              at_seq: int | None = None) -> Closed:
        """Close and clear the market once; later calls return the stored result. With
        ``at_equilibrium`` (the scheduler's close of a live data market) only if its
        ε-equilibrium check holds on the book under the lock and, with ``at_seq``, the book is
        still the one the scheduler found quiet (:meth:`live_settled`: a bid that came in since
        is checked when it is quiet in turn), else nothing happens (the answer is
        ``Closed("open", None, None, False)``)."""
        from specmarket.mechanisms import get

        def run(conn: Connection) -> Closed:
            market = self._market(conn, market_id, "update")
            if market.status != "open":
                return Closed(
                    market.status,
                    None if market.outcome is None else json.loads(market.outcome),
                    None if market.error is None else json.loads(market.error),
                    False,
                )
            outcome: dict[str, Any] | None = None
            error: dict[str, Any] | None = None
            if market.mechanism == live.MECHANISM:
                book = self._fold(conn, market)
                if at_equilibrium and at_seq is not None and book.seq != at_seq:
                    return Closed("open", None, None, False)
                verdict = self._live_verdict(conn, market, book)
                if at_equilibrium and verdict["status"] != "converged":
                    return Closed("open", None, None, False)
                instance = self._live_instance(market, book)
                outcome = {**book.settle(), "verdict": verdict,
                           "closed_by": "equilibrium" if at_equilibrium else actor}
            else:
                instance = self._build_instance(conn, market)
                try:
                    outcome = get(market.mechanism).clear_json(instance)
                except SpecmarketError as exc:
                    field = exc.field if isinstance(exc, InvalidInput) else None
                    error = {"field": field, "detail": str(exc)}
            outcome_text: str | None = None
            if outcome is not None:
                try:
                    outcome_text = _dumps(outcome)
                except ValueError:  # a non-finite number in the outcome
                    error = {"field": "outcome", "detail": "a computed number is not finite"}
                    outcome = None
            status = "cleared" if error is None else "void"
            conn.execute(
                MARKETS.update().where(MARKETS.c.id == market_id, MARKETS.c.status == "open")
                .values(status=status, closed_at=time.time(), instance=_dumps(instance),
                        outcome=outcome_text, error=None if error is None else _dumps(error))
            )
            self._log(conn, market_id, actor, "close", {"status": status, "error": error})
            return Closed(status, outcome, error, True)

        closed = self._tx(run)
        if closed.cleared_now:  # the book will not change again: free its per-market caches
            with self._books_lock:
                self._closed.add(market_id)
                self._books.pop(market_id, None)
                self._verdicts.pop(market_id, None)
                self._quiet.pop(market_id, None)
        return closed

    def due_markets(self, now: float | None = None, limit: int = 100) -> list[str]:
        """Open markets whose ``closes_at`` has passed (for the scheduler)."""
        now = time.time() if now is None else now
        with self._read() as conn:
            rows = conn.execute(
                sa.select(MARKETS.c.id)
                .where(MARKETS.c.status == "open", MARKETS.c.closes_at <= now)
                .limit(limit)
            ).all()
        return [r.id for r in rows]

    def _closed_market(self, market_id: str) -> Any:
        with self._read() as conn:
            row = self._market(conn, market_id)
        if row.status == "open":
            raise Conflict(f"market {market_id} is still open")
        if row.status == "void":
            err = json.loads(row.error)
            raise Conflict(f"market {market_id} is void: {err['detail']}", err.get("field"))
        return row

    def outcome(self, market_id: str) -> dict[str, Any]:
        """The full outcome (operator): what ``specmarket clear`` prints for the instance."""
        row = self._closed_market(market_id)
        result: dict[str, Any] = json.loads(row.outcome)
        return result

    def participant_outcome(self, who: Identity) -> dict[str, Any]:
        """``who``'s own allocation and payment, plus the outcome's public part."""
        row = self._closed_market(who.market_id)
        outcome = json.loads(row.outcome)
        if row.mechanism == live.MECHANISM:
            own_book = outcome["sellers"].get(who.pid) if who.role == "seller" else None
            return {
                "market": who.market_id, "participant": who.pid, "role": who.role,
                "reported": who.pid in outcome["payments"],
                "allocation": outcome["allocation"].get(who.pid, 0.0),
                "payment": float(outcome["payments"].get(who.pid, 0.0)),
                "public": {"mechanism": live.MECHANISM, "reserves": outcome["reserves"]},
                "own": {} if own_book is None else {"book": own_book},
            }
        spec = market_schema(row.mechanism).fields
        in_round = who.pid in outcome.get("payments", {})
        own = {
            k: outcome[k].get(who.pid)
            for k in spec.own
            if isinstance(outcome.get(k), dict) and who.pid in outcome[k]
        }
        return {
            "market": who.market_id,
            "participant": who.pid,
            "role": who.role,
            "reported": in_round,
            "allocation": outcome["allocation"].get(who.pid),
            "payment": float(outcome["payments"].get(who.pid, 0.0)),
            "public": {"mechanism": outcome["mechanism"],
                       **{k: outcome[k] for k in spec.public if k in outcome}},
            "own": own,
        }

    def instance(self, market_id: str) -> dict[str, Any]:
        """The instance JSON ``specmarket clear`` accepts: frozen at close, current before."""
        with self._read() as conn:
            row = self._market(conn, market_id)
            if row.instance is not None:
                frozen: dict[str, Any] = json.loads(row.instance)
                return frozen
            if row.mechanism == live.MECHANISM:
                return self._live_instance(row, self._fold(conn, row))
            return self._build_instance(conn, row)

    def log(self, market_id: str, after: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        """Log entries of the market with id > ``after``, oldest first, at most ``limit``."""
        with self._read() as conn:
            self._market(conn, market_id)
            rows = conn.execute(
                sa.select(LOG)
                .where(LOG.c.market_id == market_id, LOG.c.id > after)
                .order_by(LOG.c.id)
                .limit(limit)
            ).all()
        return [
            {"seq": r.id, "at": r.at, "actor": r.actor, "action": r.action,
             "body": json.loads(r.body), "idempotency_key": r.idempotency_key}
            for r in rows
        ]

    # ------------------------------------------------------------------ live data market

    def _fold(self, conn: Connection, market: Any) -> live.Book:
        """The market's book with every logged offer and bid applied (see :mod:`.live`): a
        cached fold plus the log entries after the last one it saw. Offers and bids of one
        market are written under its exclusive row lock, so their log ids commit in order."""
        with self._books_lock:
            book = self._books.get(market.id)
        if book is None:
            fields = json.loads(market.fields)
            book = live.Book(isp_price=float(fields["isp_price"]), epsilon=float(fields["epsilon"]),
                             reserve_policy=str(fields.get("reserve_policy", "sticky")),
                             reserve_update=str(fields.get("reserve_update", "bid")))
        rows = conn.execute(
            sa.select(LOG.c.id, LOG.c.action, LOG.c.actor, LOG.c.body)
            .where(LOG.c.market_id == market.id, LOG.c.id > book.seq,
                   LOG.c.action.in_(live.BOOK_ACTIONS))
            .order_by(LOG.c.id)
        ).all()
        if rows:
            fresh = book.copy()
            for r in rows:
                fresh.apply(int(r.id), r.action, r.actor, json.loads(r.body))
            book = fresh
            with self._books_lock:
                old = self._books.get(market.id)
                if market.id not in self._closed and (old is None or old.seq < book.seq):
                    self._books[market.id] = book
        return book

    @staticmethod
    def _live_instance(market: Any, book: live.Book) -> dict[str, Any]:
        fields = json.loads(market.fields)
        return {
            **fields,
            "offers": [{"id": sid, "supply": s.supply, "reserve": s.reserve}
                       for sid, s in book.sellers.items()],
            "bids": [{"buyer": b, "seller": sid, "quantity": q, "price": p}
                     for sid, s in book.sellers.items() for b, (q, p) in s.bids.items()],
        }

    def live_post(
        self, who: Identity, action: str, body: Any, idempotency_key: str | None = None,
        minimal: bool = False,
    ) -> dict[str, Any]:
        """Accept a seller's ``offer`` or ``run``, or a buyer's ``bid`` or ``bids`` (a whole move,
        :func:`.live.check_bids`) in a live data market, log it (one entry) in the same
        transaction, and answer the caller's new view (its quote or its seller book, as
        the book stands right after this entry).

        With ``minimal`` (a buyer's ``Prefer: return=minimal``) the answer is only
        ``{"buyer", "seq", "bids"}``: no quote is built or stored.

        A repeated ``idempotency_key`` (per participant) with the same body returns the first
        answer and changes nothing, even after the market closed; with a different body it is
        refused (422 on ``Idempotency-Key``), as for sealed reports."""
        if who.mechanism != live.MECHANISM:
            raise Conflict(f"only a {live.MECHANISM} market takes offers and bids")
        if idempotency_key is not None and not (0 < len(idempotency_key) <= 256):
            raise InvalidInput("Idempotency-Key", idempotency_key, "1 to 256 characters")
        if action in ("offer", "run"):
            if who.role != "seller":
                raise Conflict(f"only sellers {'make offers' if action == 'offer' else 'run'}")
            checked: dict[str, Any] = live.check_offer(body) if action == "offer" else {}
            if action == "run" and body not in (None, {}):
                raise InvalidInput("body", body, "a run has no fields")
        else:
            if who.role != "buyer":
                raise Conflict("only buyers bid")
            checked = live.check_bids(body) if action == "bids" else live.check_bid(body)
        req_hash = _request_hash({"action": action, "body": body})
        actor = f"participant:{who.pid}"

        def run(conn: Connection) -> dict[str, Any]:
            market = self._market(conn, who.market_id, "update")
            if idempotency_key is not None:
                hit = conn.execute(_IDEM_FIND, {"b_mid": who.market_id, "b_pids": [who.pid],
                                                "b_keys": [idempotency_key]}).first()
                if hit is not None:
                    if hit.request_hash != req_hash:
                        raise InvalidInput("Idempotency-Key", idempotency_key,
                                           f"already used for a different {action}")
                    stored: dict[str, Any] = json.loads(hit.response)
                    return stored
            self._require_open(market, time.time())
            book = self._fold(conn, market)
            if action == "bid":
                book.check_bid_target(checked["seller"])
            elif action == "bids":
                for k, b in enumerate(checked["bids"]):
                    book.check_bid_target(b["seller"], f"bids[{k}].")
            elif action == "run":
                book.check_bid_target(who.pid)
            key = conn.execute(
                _LOG_ADD, {"b_mid": who.market_id, "b_now": time.time(), "b_actor": actor,
                           "b_action": action, "b_body": _dumps(checked),
                           "b_key": idempotency_key},
            ).inserted_primary_key
            assert key is not None
            seq = key[0]
            after = book.copy()  # not cached: this transaction may still roll back
            after.apply(int(seq), action, actor, checked)
            answer: dict[str, Any]
            if minimal and who.role == "buyer":
                answer = {"buyer": who.pid, "seq": int(seq),
                          "bids": len(checked["bids"]) if action == "bids" else 1}
            elif who.role == "buyer":
                answer = after.quote(who.pid)
            else:
                answer = after.seller_view(who.pid)
            if idempotency_key is not None:
                conn.execute(_IDEM_ADD, {"b_mid": who.market_id, "b_pid": who.pid,
                                         "b_key": idempotency_key, "b_hash": req_hash,
                                         "b_code": 200, "b_response": _dumps(answer)})
            return answer

        return self._tx(run)

    def _live_verdict(self, conn: Connection, market: Any, book: live.Book) -> dict[str, Any]:
        """The ε-equilibrium check of the offline simulation
        (:func:`~specmarket.mechanisms.psp.market.snapshot.check_books`, seed 002 §4.1) on the
        current book, cached per book state. ``unchecked`` (with the ``reason``) when a buyer
        has no valuation fields, a seller has not offered yet, or there is no buyer."""
        with self._books_lock:
            hit = self._verdicts.get(market.id)
        if hit is not None and hit[0] == book.seq:
            return hit[1]
        rows = conn.execute(
            sa.select(PARTICIPANTS.c.pid, PARTICIPANTS.c.role, PARTICIPANTS.c.fields)
            .where(PARTICIPANTS.c.market_id == market.id).order_by(PARTICIPANTS.c.seq)
        ).all()
        buyers = [(r.pid, json.loads(r.fields)) for r in rows if r.role == "buyer"]
        sellers = [r.pid for r in rows if r.role == "seller"]
        reason = None
        if not buyers:
            reason = "no buyer"
        elif any(not f for _, f in buyers):
            reason = "a buyer has no valuation fields (value, demand)"
        elif not sellers or any(pid not in book.sellers for pid in sellers):
            reason = "a seller has not offered yet"
        verdict: dict[str, Any]
        if reason is not None:
            verdict = {"status": "unchecked", "reason": reason}
        else:
            from specmarket.mechanisms.psp.market import DataBuyer
            from specmarket.mechanisms.psp.market.snapshot import check_books

            specs = [DataBuyer(id=pid, value=f["value"], demand=f["demand"],
                               elasticity=f.get("elasticity", 0.0)) for pid, f in buyers]
            runs = book.reserve_update == "run"
            verdict = check_books(specs, book.books(), book.epsilon, book.isp_price,
                                  eq27=not runs and book.reserve_policy == "sticky").to_json()
            if runs:  # would a run of each seller's own reserve rule move its reserve?
                moves = [sid for sid in book.sellers if book.pending(sid)]
                verdict["seller_moves"] = moves
                if moves:
                    verdict["status"] = "stalled"
        verdict["seq"] = book.seq
        with self._books_lock:
            if market.id not in self._closed:
                self._verdicts[market.id] = (book.seq, verdict)
        return verdict

    def live_settled(self) -> list[tuple[str, int]]:
        """Open live data markets whose ε-equilibrium check holds, with the log position of
        the book that was checked (for the scheduler, which closes at that position only). A
        book is checked once it has not changed for one call (one scheduler tick), and each
        book state once: the check replies for every buyer, too costly while bids flow."""
        with self._read() as conn:
            rows = conn.execute(
                sa.select(MARKETS).where(MARKETS.c.status == "open",
                                         MARKETS.c.mechanism == live.MECHANISM)
            ).all()
            due = []
            for market in rows:
                book = self._fold(conn, market)
                with self._books_lock:
                    seen = self._quiet.get(market.id)
                    if market.id not in self._closed:
                        self._quiet[market.id] = book.seq
                if seen != book.seq:
                    continue
                if self._live_verdict(conn, market, book)["status"] == "converged":
                    due.append((market.id, book.seq))
        return due

    def live_view(
        self, market_id: str, who: Identity | None, known: str | None = None,
        public: bool = False,
    ) -> tuple[str, dict[str, Any] | None]:
        """``(tag, view)``: the live view of a data market — a buyer's quote, a seller's own
        book, or for the operator (``who`` None) the public part and every seller's book; with
        ``public`` the public offers only (supply, reserve, units allocated, version per
        seller). ``tag`` names the market's state (log position and status); the view is
        ``None`` when it equals ``known`` (nothing changed: an HTTP 304)."""
        market, book, tag, unchanged = self._live_state(market_id, known)
        if unchanged:
            return tag, None
        return tag, self._view(market, book, who, public)

    def _live_state(self, market_id: str, known: str | None) -> tuple[Any, live.Book, str, bool]:
        """``(market, book, tag, unchanged)`` of a live data market for its views: the market
        row, its folded book, the ETag naming its state, and whether ``known`` (an
        ``If-None-Match`` value) already names that state."""
        with self._read() as conn:
            market = self._market(conn, market_id)
            if market.mechanism != live.MECHANISM:
                raise Conflict(f"market {market_id} is not a {live.MECHANISM} market")
            book = self._fold(conn, market)
        tag = f'"{book.seq}.{market.status}"'
        unchanged = known is not None and tag in {
            k.strip().removeprefix("W/") for k in known.split(",")}
        return market, book, tag, unchanged

    def live_view_text(
        self, market_id: str, who: Identity | None, known: str | None = None,
        public: bool = False,
    ) -> tuple[str, str | None]:
        """:meth:`live_view` as JSON text (what the HTTP answer carries); a buyer's quote is
        encoded by :meth:`.live.Book.quote_text`, which reuses the text of the sellers it did
        not bid to."""
        market, book, tag, unchanged = self._live_state(market_id, known)
        if unchanged:
            return tag, None
        if who is not None and who.role == "buyer" and not public:
            return tag, book.quote_text(who.pid, self._status(market, book))
        return tag, live.dumps(self._view(market, book, who, public))

    @staticmethod
    def _status(market: Any, book: live.Book) -> dict[str, Any]:
        return {"status": market.status, "closes_at": market.closes_at,
                "epsilon": book.epsilon, "isp_price": book.isp_price,
                "reserve_policy": book.reserve_policy, "reserve_update": book.reserve_update}

    @staticmethod
    def _view(market: Any, book: live.Book, who: Identity | None, public: bool) -> dict[str, Any]:
        status = MarketService._status(market, book)
        if public:
            return {**status, **book.public()}
        if who is None:
            return {**status, **book.public(),
                    "books": [book.seller_view(sid) for sid in book.sellers]}
        if who.role == "buyer":
            return {**status, **book.quote(who.pid)}
        if who.pid not in book.sellers:
            return {**status, "seller": who.pid, "seq": book.seq, "offer": None}
        return {**status, "seq": book.seq, **book.seller_view(who.pid)}
