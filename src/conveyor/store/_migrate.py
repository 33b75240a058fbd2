"""Bringing a store's schema to head, safely when several processes start at once.

Every process that opens a store checks the schema revision with one query. Only when it
is behind does it take the migration lock (``BEGIN IMMEDIATE`` on SQLite, a transaction-level
advisory lock on PostgreSQL), re-check inside the lock, and run Alembic on that same
connection, so the upgrade and the default project commit together or not at all
(RELIABILITY R09).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, inspect, select, text

from ..core import StoreVersionError, now_ms
from . import _schema as t
from ._engine import Store
from ._sql import insert as sql_insert

# The newest revision in migrations/versions; a unit test keeps this equal to Alembic's head.
HEAD = "0007"
_MIGRATION_LOCK = 0x636F6E76  # "conv"


def current_revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _alembic_config(conn: Connection) -> Any:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", "conveyor.store:migrations")
    cfg.attributes["connection"] = conn
    return cfg


def known_revisions() -> list[str]:
    from alembic.script import ScriptDirectory

    cfg = _alembic_config(None)  # type: ignore[arg-type]
    return [s.revision for s in ScriptDirectory.from_config(cfg).walk_revisions()]


def upgrade(conn: Connection) -> bool:
    """Upgrade to head on ``conn`` (inside its transaction). Return True if anything ran."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
    revision = current_revision(conn)
    if revision == HEAD:
        return False
    if revision is not None and revision not in known_revisions():
        raise _newer_error(revision)
    from alembic import command

    command.upgrade(_alembic_config(conn), "head")
    return True


def _newer_error(revision: str) -> StoreVersionError:
    return StoreVersionError(
        f"The store's schema is at revision {revision!r}, newer than this conveyor knows "
        f"(head {HEAD!r}).",
        hint="Upgrade conveyor: pip install -U conveyor",
    )


def ensure_project(conn: Connection, name: str) -> int:
    """Return the id of project ``name``, creating it if needed (race-free)."""
    found = conn.execute(select(t.projects.c.id).where(t.projects.c.name == name)).scalar()
    if found is not None:
        return int(found)
    insert = sql_insert(conn, t.projects).values(name=name, created_at=now_ms())
    conn.execute(insert.on_conflict_do_nothing(index_elements=["name"]))
    return int(conn.execute(select(t.projects.c.id).where(t.projects.c.name == name)).scalar_one())


def check_or_upgrade(store: Store, *, migrate: bool) -> bool:
    """Fast path: one read of the revision. Slow path: upgrade under the lock."""
    revision = store.query(current_revision, what="schema check")
    if revision == HEAD:
        return False
    if revision is not None and revision not in known_revisions():
        raise _newer_error(revision)
    if not migrate:
        raise StoreVersionError(
            f"The store at {store.display_url} is at schema revision {revision or 'none'}, "
            f"expected {HEAD}.",
            hint="Upgrade it with: conveyor db upgrade",
        )
    return store.transact(upgrade, what="schema upgrade")
