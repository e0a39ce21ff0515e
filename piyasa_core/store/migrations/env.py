"""Alembic environment: runs against the connection handed over by piyasa_core.store.migrate."""

from __future__ import annotations

from alembic import context

from piyasa_core.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only the programmatic path is supported
    raise RuntimeError("run migrations through `piyasa-tui init` (piyasa_core.store.migrate)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
