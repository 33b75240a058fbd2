"""Alembic environment: always run on a connection conveyor hands over (never from an ini)."""

from __future__ import annotations

from alembic import context

from conveyor.store._schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reached by misuse of the alembic CLI
    raise RuntimeError("Run migrations with `conveyor db upgrade`, not the alembic command.")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
