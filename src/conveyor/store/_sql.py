"""Small SQL helpers shared by the store modules (dialect-aware upserts, row mapping)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    Table,
    bindparam,
    column,
    exists,
    literal,
    select,
    table,
)
from sqlalchemy.sql.elements import BindParameter

from ..core import NotFoundError
from ._engine import Replay, Store

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


# Project scope (issue 1.8). A store is opened for one project, and every id a caller passes,
# as the main id or as a reference, must be that project's: another project's id is refused
# as if it did not exist. Runs, artifacts and triggers carry ``project_id``; step runs and
# trigger claims reach it through their run and trigger. The guards below are correlated
# ``EXISTS`` on primary keys, put inside the statement that reads or writes (no extra round
# trip). ``ref`` is an outer column (correlated) or a bind parameter; ``project`` a project
# id, or ``PROJECT`` in statements built once (then pass ``{"p_project": store.project_id}``).
# The tables are named here, not imported, so every domain can use the guards.
PROJECT: BindParameter[int] = bindparam("p_project")
_runs = table("runs", column("id"), column("project_id")).alias("scope_runs")
_steps = table("step_runs", column("id"), column("run_id")).alias("scope_steps")
_artifacts = table("artifacts", column("id"), column("project_id")).alias("scope_artifacts")
_triggers = table("triggers", column("id"), column("project_id")).alias("scope_triggers")
_claims = table("trigger_claims", column("id"), column("trigger_id")).alias("scope_claims")


def run_in_project(ref: Any, project: Any) -> ColumnElement[bool]:
    """``ref`` is the id of a run of ``project``."""
    return exists().where(_runs.c.id == ref, _runs.c.project_id == project)


def step_run_in_project(ref: Any, project: Any) -> ColumnElement[bool]:
    """``ref`` is the id of a step run of a run of ``project``."""
    return exists().where(
        _steps.c.id == ref, _runs.c.id == _steps.c.run_id, _runs.c.project_id == project
    )


def artifact_in_project(ref: Any, project: Any) -> ColumnElement[bool]:
    """``ref`` is the id of an artifact of ``project``."""
    return exists().where(_artifacts.c.id == ref, _artifacts.c.project_id == project)


def claim_in_project(ref: Any, project: Any) -> ColumnElement[bool]:
    """``ref`` is the id of a firing (trigger claim) of a trigger of ``project``."""
    return exists().where(
        _claims.c.id == ref,
        _triggers.c.id == _claims.c.trigger_id,
        _triggers.c.project_id == project,
    )


_GUARDS: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "run": run_in_project,
    "step run": step_run_in_project,
    "artifact": artifact_in_project,
    "trigger claim": claim_in_project,
}


def require_in_project(conn: Connection, store: Store, refs: Iterable[tuple[str, Any]]) -> None:
    """Raise :class:`NotFoundError` unless every ``(noun, id)`` in ``refs`` is the store
    project's (``noun``: ``run``, ``step run``, ``artifact``, ``trigger claim``; an id of
    ``None`` is skipped). One statement, in ``conn``'s transaction, for references that a
    write only stores (the hot paths guard inside their own statements instead)."""
    wanted = [(noun, ref) for noun, ref in refs if ref is not None]
    if not wanted:
        return
    checks = [_GUARDS[noun](literal(int(ref)), store.project_id) for noun, ref in wanted]
    found = conn.execute(select(*(check.label(f"c{i}") for i, check in enumerate(checks)))).one()
    for (noun, ref), ok in zip(wanted, found, strict=True):
        if not ok:
            raise not_in_project(store, noun, ref)


def not_in_project(store: Store, noun: str, ref: Any) -> NotFoundError:
    """The error for an id that is not the store project's (or does not exist at all)."""
    field = noun.replace(" ", "_") + "_id"
    return NotFoundError(f"No {noun} {ref} in project {store.project!r}.", **{field: ref})


def json_text(value: Any) -> str:
    """``value`` as canonical JSON text for comparing stored values: keys sorted, and a
    float with an integral value written as the integer. SQLite gives a JSON column
    NUMERIC affinity, so a top-level ``1.0`` is stored and read back as ``1``; JSON itself
    does not tell the two apart."""

    def plain(v: Any) -> Any:
        if isinstance(v, float) and v.is_integer():
            return int(v)
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [plain(x) for x in v]
        return v

    return json.dumps(plain(value), sort_keys=True, default=str)
