"""Fixtures of the service tests: every test runs on SQLite and on PostgreSQL.

PostgreSQL is expected at ``SPECMARKET_TEST_PG`` (default ``postgresql://postgres@127.0.0.1:5432/
test``); each test gets its own schema, dropped afterwards. A PostgreSQL that cannot be reached is
a test *failure*; set ``SPECMARKET_TEST_NO_PG=1`` to skip the PostgreSQL half on a machine
without one (never in CI).
"""

from __future__ import annotations

import os
import secrets
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette: "use httpx2", not ours to fix
    from fastapi.testclient import TestClient

OPERATOR = "operator-test-token-" + "x" * 24
PG_URL = os.environ.get("SPECMARKET_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def pg_schema_url(schema: str) -> str:
    """``PG_URL`` with ``search_path`` set to ``schema``."""
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


def _pg_admin() -> Any:
    import sqlalchemy as sa

    from specmarket.service.db import normalise_url

    return sa.create_engine(normalise_url(PG_URL), poolclass=sa.pool.NullPool)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'service.db'}"
        return
    if os.environ.get("SPECMARKET_TEST_NO_PG") == "1":
        pytest.skip("SPECMARKET_TEST_NO_PG=1: PostgreSQL half skipped on purpose")
    schema = "smtest_" + secrets.token_hex(6)
    admin = _pg_admin()
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    except Exception as exc:
        admin.dispose()
        pytest.fail(
            f"PostgreSQL at {PG_URL} unreachable ({exc.__class__.__name__}); the service tests "
            "need it (set SPECMARKET_TEST_NO_PG=1 to skip on purpose)"
        )
    try:
        yield pg_schema_url(schema)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        admin.dispose()


def make_app(db_url: str, **overrides: Any) -> Any:
    """The app on ``db_url`` with the test operator token and no scheduler unless asked."""
    from specmarket.service.api import create_app
    from specmarket.service.settings import Settings

    options: dict[str, Any] = {"db": db_url, "operator_token": OPERATOR, "scheduler_interval": 0}
    options.update(overrides)
    return create_app(Settings(**options))


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    """A test client of the app on each backend."""
    with TestClient(make_app(db_url)) as c:
        yield c


def op_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {OPERATOR}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
