"""Alembic migrations of the service's schema (run programmatically by :func:`..db.migrate`)."""
