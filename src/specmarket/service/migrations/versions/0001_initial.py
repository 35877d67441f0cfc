"""Initial schema: markets, participants, idempotency keys, the log, service settings.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the tables of :mod:`specmarket.service.db`."""
    op.create_table(
        "markets",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("mechanism", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("fields", sa.Text, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("closes_at", sa.Double, nullable=True),
        sa.Column("closed_at", sa.Double, nullable=True),
        sa.Column("next_seq", sa.Integer, nullable=False),
        sa.Column("instance", sa.Text, nullable=True),
        sa.Column("outcome", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_index("ix_markets_due", "markets", ["status", "closes_at"])
    op.create_table(
        "participants",
        sa.Column("market_id", sa.String(64), sa.ForeignKey("markets.id"), primary_key=True),
        sa.Column("pid", sa.String(256), primary_key=True),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("fields", sa.Text, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("report", sa.Text, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("reported_at", sa.Double, nullable=True),
    )
    op.create_table(
        "idempotency",
        sa.Column("market_id", sa.String(64), primary_key=True),
        sa.Column("pid", sa.String(256), primary_key=True),
        sa.Column("key", sa.String(256), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("response", sa.Text, nullable=False),
    )
    op.create_table(
        "log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("market_id", sa.String(64), nullable=False),
        sa.Column("at", sa.Double, nullable=False),
        sa.Column("actor", sa.String(300), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("idempotency_key", sa.String(256), nullable=True),
    )
    op.create_index("ix_log_market_id", "log", ["market_id"])
    op.create_table(
        "service_settings",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    """Drop everything :func:`upgrade` created."""
    for table in ("service_settings", "log", "idempotency", "participants", "markets"):
        op.drop_table(table)
