"""Alembic environment: the URL and connection come from the hub, never from alembic.ini."""

from __future__ import annotations

from alembic import context

from hub.store.schema import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - the hub always passes its own connection
    raise RuntimeError("run migrations through `hub db upgrade`")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
