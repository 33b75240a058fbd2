"""The events tables (see ``conveyor.store._schema`` for the conventions)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table

from .._schema import BigId, Json, fk, metadata

# Append-only. ``id`` is the cursor pollers resume from; on PostgreSQL inserts take a
# transaction-level advisory lock so ids commit in order and a cursor never skips an event.
events = Table(
    "events",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("project_id", Integer, fk("projects.id", cascade=True), nullable=False),
    Column("type", String(128), nullable=False),
    Column("source", String(256), nullable=False),
    Column("subject", String(256), nullable=False, default=""),
    Column("time", BigInteger, nullable=False),
    Column("data", Json, nullable=False, default=dict),
    Index(None, "project_id", "id"),
    Index(None, "project_id", "type", "id"),
)
