"""Service settings, read from ``SPECMARKET_*`` environment variables (pydantic-settings)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the service is configured with.

    Attributes
    ----------
    db
        SQLAlchemy URL (``SPECMARKET_DB``); empty: ``specmarket.db`` (SQLite, WAL) in the working
        directory. ``postgresql://…`` uses psycopg 3.
    operator_token
        The operator's bearer token (``SPECMARKET_OPERATOR_TOKEN``). Unset: one is generated at the
        first start, printed once, and only its hash is kept in the database.
    max_body
        Largest request body in bytes; larger ones get 413.
    rate_limit, rate_burst
        Per-token token bucket: ``rate_limit`` requests per second sustained, bursts up to
        ``rate_burst``; beyond it 429. Counted per worker process.
    scheduler_interval
        Seconds between two looks for markets whose ``closes_at`` has passed (0 disables).
    migrate
        Run the Alembic migrations when the app starts (``specmarket serve`` runs them once before
        it starts the workers and turns this off for them).
    pool_size
        Database connections per worker.
    threads
        Threads per worker running the endpoints (0: the default of 40). SQLite serialises
        writers, so a few threads avoid a convoy on the write lock.
    sqlite_synchronous
        SQLite only: ``NORMAL`` (commits survive a killed server) or ``FULL`` (they also survive
        an operating-system crash or power loss, at one fsync per commit); see
        :mod:`specmarket.service.db`.
    fast_reports
        Answer ``PUT …/report`` with the lean handler :class:`specmarket.service.api.ReportRoute`
        (same contract, a fraction of FastAPI's CPU per request); off: FastAPI's route answers
        every report (the reference the contract tests compare it with).
    """

    model_config = SettingsConfigDict(env_prefix="SPECMARKET_", extra="ignore")

    db: str = ""
    operator_token: SecretStr | None = None
    max_body: int = Field(default=1 << 20, ge=1)
    rate_limit: float = Field(default=200.0, gt=0)
    rate_burst: int = Field(default=400, ge=1)
    scheduler_interval: float = Field(default=1.0, ge=0)
    migrate: bool = True
    pool_size: int = Field(default=20, ge=1)
    threads: int = Field(default=0, ge=0)
    sqlite_synchronous: Literal["NORMAL", "FULL"] = "NORMAL"
    fast_reports: bool = True
