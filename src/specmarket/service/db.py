"""The service's tables (SQLAlchemy 2), engines for SQLite and PostgreSQL, and migrations.

Tables
------
``markets``
    One row per market (one sealed-bid round): mechanism, operator's market fields, status
    (``open`` → ``cleared`` or ``void``), ``closes_at``, and once closed the exported instance and
    the outcome (or the reason the instance could not be cleared), stored as JSON text.
``participants``
    One row per participant of a market: id, role, operator-set fields, the SHA-256 hash of its
    token (never the token), its current sealed report and a version counter.
``idempotency``
    One row per ``Idempotency-Key`` a participant used: a hash of the request and the response
    that was sent, replayed for a repeat.
``log``
    Append-only: one row per accepted request that changed state.
``service_settings``
    Key → value; holds the hash of a generated operator token.

Choices
-------
* Timestamps are stored as Unix seconds (double precision), identical on both databases.
* JSON is stored as text produced by :func:`json.dumps`, so an outcome is returned byte for byte
  as it was computed (PostgreSQL ``jsonb`` would reorder keys).
* SQLite runs in WAL mode and every transaction starts with ``BEGIN IMMEDIATE`` so that two
  writers serialise at the start instead of failing at commit; ``busy_timeout`` makes them wait.
  ``synchronous=NORMAL`` (the default) writes each commit to the WAL file before the answer is
  sent, so a committed report survives ``kill -9`` of the server; only an operating-system crash
  or power loss can lose the commits since the last checkpoint. ``synchronous=FULL`` also
  survives those, at one fsync per commit (about 6.5 ms on the test machine's disk, so at most
  ~150 reports/s on SQLite).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: 64-bit log ids (SQLite's rowid is 64-bit already; only ``INTEGER PRIMARY KEY`` is its rowid).
LOG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base of the service's tables."""


class Market(Base):
    """One market: a single sealed-bid round of one mechanism."""

    __tablename__ = "markets"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    mechanism: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(16), default="open")
    fields: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[float] = mapped_column(sa.Double)
    closes_at: Mapped[float | None] = mapped_column(sa.Double, nullable=True)
    closed_at: Mapped[float | None] = mapped_column(sa.Double, nullable=True)
    next_seq: Mapped[int] = mapped_column(sa.Integer, default=0)
    instance: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    outcome: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    error: Mapped[str | None] = mapped_column(sa.Text, nullable=True)

    __table_args__ = (sa.Index("ix_markets_due", "status", "closes_at"),)


class Participant(Base):
    """One participant of a market, with its current sealed report."""

    __tablename__ = "participants"

    market_id: Mapped[str] = mapped_column(
        sa.String(64), sa.ForeignKey("markets.id"), primary_key=True
    )
    pid: Mapped[str] = mapped_column(sa.String(256), primary_key=True)
    seq: Mapped[int] = mapped_column(sa.Integer)
    role: Mapped[str] = mapped_column(sa.String(32))
    fields: Mapped[str] = mapped_column(sa.Text)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    report: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    version: Mapped[int] = mapped_column(sa.Integer, default=0)
    reported_at: Mapped[float | None] = mapped_column(sa.Double, nullable=True)


class Idempotency(Base):
    """A participant's ``Idempotency-Key`` and the response it got."""

    __tablename__ = "idempotency"

    market_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    pid: Mapped[str] = mapped_column(sa.String(256), primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(256), primary_key=True)
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    status_code: Mapped[int] = mapped_column(sa.Integer)
    response: Mapped[str] = mapped_column(sa.Text)


class LogEntry(Base):
    """One accepted state-changing request (append-only)."""

    __tablename__ = "log"

    id: Mapped[int] = mapped_column(LOG_ID, primary_key=True, autoincrement=True)
    market_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    at: Mapped[float] = mapped_column(sa.Double)
    actor: Mapped[str] = mapped_column(sa.String(300))
    action: Mapped[str] = mapped_column(sa.String(32))
    body: Mapped[str] = mapped_column(sa.Text)
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(256), nullable=True)


class Setting(Base):
    """A service-wide setting (the hash of a generated operator token)."""

    __tablename__ = "service_settings"

    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    value: Mapped[str] = mapped_column(sa.Text)


MARKETS = cast(sa.Table, Market.__table__)
PARTICIPANTS = cast(sa.Table, Participant.__table__)
IDEMPOTENCY = cast(sa.Table, Idempotency.__table__)
LOG = cast(sa.Table, LogEntry.__table__)
SETTINGS = cast(sa.Table, Setting.__table__)


def default_url() -> str:
    """The embedded default: ``specmarket.db`` (SQLite) in the working directory."""
    return f"sqlite:///{Path.cwd() / 'specmarket.db'}"


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use psycopg 3 for them."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def is_sqlite(engine: Engine) -> bool:
    """Whether ``engine`` talks to SQLite (locking differs, see :mod:`.domain`)."""
    return engine.dialect.name == "sqlite"


def make_engine(url: str, pool_size: int = 20, sqlite_synchronous: str = "NORMAL") -> Engine:
    """An engine for ``url`` with the settings of the module docstring."""
    if sqlite_synchronous not in ("NORMAL", "FULL"):
        raise ValueError(f"sqlite_synchronous must be NORMAL or FULL, not {sqlite_synchronous!r}")
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = sa.create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            poolclass=sa.pool.QueuePool,
            pool_size=pool_size,
            max_overflow=pool_size,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
            # autocommit at the driver level; SQLAlchemy's "begin" below issues BEGIN IMMEDIATE
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={sqlite_synchronous}")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            read = conn.get_execution_options().get("specmarket_read", False)
            conn.exec_driver_sql("BEGIN" if read else "BEGIN IMMEDIATE")

        return engine
    return sa.create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=3600)


def migrate(engine: Engine) -> None:
    """Bring the database to the newest schema with the Alembic migrations shipped in
    :mod:`specmarket.service.migrations` (safe to call from several processes: on PostgreSQL an
    advisory lock serialises them, on SQLite ``BEGIN IMMEDIATE`` does)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7466162)")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
