"""Small SQL helpers shared by the store modules (dialect-aware upserts, row mapping)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, Table, select

from ._engine import Replay

R = TypeVar("R")


def insert(conn: Connection, table: Table) -> Any:
    """A dialect ``INSERT`` that supports ``on_conflict_do_nothing`` / ``..._do_update``."""
    return dialect_insert(conn.dialect.name, table)


def dialect_insert(dialect: str, table: Table) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


EVENT_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext(current_schema()), :project_id)"


def lock_events(conn: Connection, project_id: int) -> None:
    """Serialise a project's event inserts on PostgreSQL so its event ids commit in order.

    Without it, transaction A can take id 10, transaction B id 11, B commits first, a poller
    reads 11 and moves its cursor past 10 before A commits: an event lost to every poller.
    Pollers read one project's events, so only that project's writers queue here: the lock
    is keyed by schema and project, and other projects (and databases) never wait on it.
    SQLite already serialises writers.
    """
    if conn.dialect.name == "postgresql":
        from sqlalchemy import text

        conn.execute(text(EVENT_LOCK_SQL), {"project_id": project_id})


def replay_by_id(table: Table, from_row: Callable[[Any], R]) -> Replay[R]:
    """Record an outcome as the id of the row it created; a retry reads that row back."""

    def load(conn: Connection, row_id: Any) -> R:
        return from_row(conn.execute(select(table).where(table.c.id == row_id)).one())

    return Replay(dump=lambda record: record.id, load=load)  # type: ignore[attr-defined]


def replay_by_ids(table: Table, from_row: Callable[[Any], R]) -> Replay[list[R]]:
    """Record a batch claimed in one call as its row ids, in id order (none: nothing)."""

    def load(conn: Connection, row_ids: Any) -> list[R]:
        query = select(table).where(table.c.id.in_(row_ids)).order_by(table.c.id)
        return [from_row(row) for row in conn.execute(query)]

    def dump(records: list[R]) -> list[int] | None:
        return [r.id for r in records] or None  # type: ignore[attr-defined]

    return Replay(dump=dump, load=load)
