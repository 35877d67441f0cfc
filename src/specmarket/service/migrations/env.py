"""Alembic environment: runs on the connection :func:`specmarket.service.db.migrate` passes."""

from __future__ import annotations

from alembic import context

from specmarket.service.db import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata)
with context.begin_transaction():
    context.run_migrations()
