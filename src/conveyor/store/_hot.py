"""Hot statements: the few a runner executes for every step, run on the driver's cursor.

A 1,000-step chain executes seven statements per step. SQLAlchemy's execution path (an
execution context, parameter construction, result set-up, events) costs more per call than
SQLite takes to run these small indexed updates, so they are compiled once per dialect and
executed on the DBAPI cursor of the caller's connection, inside its transaction: same SQL,
same transaction, same retries.

Only statements whose values need no type processing (integers, strings, None) may be hot:
the first compile refuses any other, so a column type change cannot silently skip a
conversion. Driver errors are wrapped exactly as SQLAlchemy wraps them (``DBAPIError``),
with the connection invalidated on a disconnect, so the store's retry and error boundary
treat a hot statement like any other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement


class HotRow:
    """A returned row: attribute access by column name, and ``_mapping`` as records need."""

    __slots__ = ("_mapping",)

    def __init__(self, mapping: dict[str, Any]) -> None:
        self._mapping = mapping

    def __getattr__(self, name: str) -> Any:
        try:
            return self._mapping[name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass(frozen=True)
class _Plan:
    sql: str
    constants: dict[str, Any]
    # qmark drivers (sqlite3) take a sequence in this order; pyformat ones (psycopg) a dict.
    order: tuple[str, ...] | None


class HotStatement:
    """``statement`` compiled once per dialect and executed on the raw driver cursor."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._plans: dict[str, _Plan] = {}

    def _plan(self, dialect: Dialect) -> _Plan:
        plan = self._plans.get(dialect.name)
        if plan is None:
            plan = self._plans[dialect.name] = self._compile(dialect)
        return plan

    def _compile(self, dialect: Dialect) -> _Plan:
        compiled: Any = self.statement.compile(dialect=dialect)
        if "POSTCOMPILE" in compiled.string:
            raise TypeError("a hot statement may not expand parameters (IN lists): use OR")
        constants = {}
        for name, bind in compiled.binds.items():
            if bind.type.bind_processor(dialect) is not None:
                raise TypeError(f"hot statement parameter {name!r} needs type processing")
            if not bind.required and not name.startswith("%("):  # a literal in the SQL
                constants[name] = bind.effective_value
        for column in getattr(self.statement, "_returning", ()):
            if column.type.result_processor(dialect, None) is not None:
                raise TypeError(f"hot statement column {column.name!r} needs type processing")
        order = tuple(compiled.positiontup) if dialect.paramstyle == "qmark" else None
        return _Plan(compiled.string, constants, order)

    def _args(self, plan: _Plan, params: Mapping[str, Any]) -> Any:
        values = {**plan.constants, **params}
        return [values[k] for k in plan.order] if plan.order is not None else values

    def execute(self, conn: Connection, params: Mapping[str, Any]) -> HotResult:
        """Run with ``params`` in ``conn``'s transaction."""
        plan = self._plan(conn.dialect)
        return self._run(conn, plan, lambda cur: cur.execute(plan.sql, self._args(plan, params)))

    def execute_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> HotResult:
        """Run once per row of ``rows`` (no RETURNING) in ``conn``'s transaction."""
        plan = self._plan(conn.dialect)
        args = [self._args(plan, row) for row in rows]
        return self._run(conn, plan, lambda cur: cur.executemany(plan.sql, args))

    def _run(self, conn: Connection, plan: _Plan, call: Any) -> HotResult:
        dbapi_conn = conn.connection.dbapi_connection
        assert dbapi_conn is not None
        cursor = dbapi_conn.cursor()
        try:
            call(cursor)
            rows: list[HotRow] | None = None
            if cursor.description is not None:
                names = [d[0] for d in cursor.description]
                rows = [HotRow(dict(zip(names, r, strict=True))) for r in cursor.fetchall()]
            return HotResult(cursor.rowcount, rows)
        except conn.dialect.loaded_dbapi.Error as exc:
            invalidated = conn.dialect.is_disconnect(exc, dbapi_conn, cursor)
            if invalidated:
                conn.invalidate(exc)
            raise DBAPIError.instance(
                plan.sql,
                None,
                exc,
                conn.dialect.loaded_dbapi.Error,
                connection_invalidated=invalidated,
                dialect=conn.dialect,
            ) from exc
        finally:
            cursor.close()


@dataclass(frozen=True)
class HotResult:
    rowcount: int
    rows: list[HotRow] | None

    def first(self) -> HotRow | None:
        return self.rows[0] if self.rows else None
