"""The SQLite online store (the default): one file, read in-process.

Layout::

    conveyor_online_views(view TEXT PRIMARY KEY, fingerprint, schema, table_name) WITHOUT ROWID
        one row per materialised view: its schema (JSON) and the table that holds it
    "online__<view>__<fingerprint>"(_key TEXT PRIMARY KEY, _ts INTEGER, f0, f1, ...) WITHOUT ROWID
        one row per entity: _key the JSON key text (see _online_schema), _ts the event time
        in microseconds since the epoch (UTC), f<i> the schema's i-th feature

Feature columns are named by position, so any feature name works (SQLite folds the case
of column names, and ``_key`` could be a feature). Encodings, chosen so a read returns
the stored value as is for most types:

- ints, bools, dates (days since the epoch), timestamps (in their declared unit): INTEGER
- strings: TEXT; binary: BLOB; null: NULL
- floats: a column with no affinity, since REAL affinity turns -0.0 into 0.0; NaN is
  stored as the TEXT ``'NaN'`` because SQLite stores a NaN double as NULL
- uint64: no affinity; values past 2**63 - 1 as decimal TEXT

A write is one ``BEGIN IMMEDIATE`` transaction: it checks the catalogue, replaces the
view's table if the schema changed, and upserts every row with ``executemany``; the
upsert's ``WHERE excluded._ts >= _ts`` keeps the newest row whatever order two writers
commit in. WAL lets readers go on during a write, each reading one committed snapshot.

A reader resolves its (schema, features) against the catalogue once and caches the table
and statement; a table dropped by a schema change fails with "no such table", which sends
the reader back to the catalogue. Each thread has its own connection.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._online import Batch, OnlineStore
from ._online_schema import (
    FeatureType,
    OnlineRow,
    OnlineSchema,
    OnlineStoreError,
    OnlineStoreUnavailableError,
    from_micros,
    int_decoder,
    stored_positions,
)

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["SQLiteOnlineStore"]

logger = logging.getLogger(__name__)

_CATALOGUE = "conveyor_online_views"
_NAN = "NaN"
_INT64_MAX = 2**63 - 1
_READ_CHUNK = 900
_DECLARED = {
    "bool": "INTEGER",
    "int": "INTEGER",
    "timestamp": "INTEGER",
    "date": "INTEGER",
    "string": "TEXT",
    "binary": "BLOB",
    "float": "",
    "uint64": "",
}
_UNAVAILABLE = ("unable to open", "readonly", "read-only", "disk i/o", "not a database")


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _decoder(ftype: FeatureType) -> Callable[[Any], Any] | None:
    if ftype.kind == "bool":
        return bool
    if ftype.kind == "float":
        return float  # a float as is (C, no copy); the text 'NaN' as NaN
    if ftype.kind == "uint64":
        return int
    return int_decoder(ftype)


@dataclass
class _Plan:
    """How one (schema, features) reads the table that holds its view."""

    table: str
    names: tuple[str, ...]
    decoders: tuple[Callable[[Any], Any] | None, ...]  # one per name, None: as stored
    select: str
    by_count: dict[int, str] = field(default_factory=dict)

    def sql(self, n_keys: int) -> str:
        sql = self.by_count.get(n_keys)
        if sql is None:
            marks = "?" if n_keys == 1 else ",".join("?" * n_keys)
            sql = f"{self.select} WHERE _key IN ({marks})"
            self.by_count[n_keys] = sql
        return sql

    def row(self, row: tuple[Any, ...]) -> OnlineRow:
        values = {
            name: value if decode is None or value is None else decode(value)
            for name, decode, value in zip(self.names, self.decoders, row[2:], strict=True)
        }
        return OnlineRow(values, from_micros(row[1]))


class _Connection:
    """One thread's connection. The thread's locals hold it and the store holds it weakly:
    when a thread ends, its connection is closed (by the garbage collector), so a server
    that replaces its worker threads does not pile up open files."""

    __slots__ = ("__weakref__", "conn")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __del__(self) -> None:
        self.conn.close()  # explicitly: Python 3.13 warns of connections left to the GC


class SQLiteOnlineStore(OnlineStore):
    """The online store in one SQLite file (module docstring for the layout).

    Args:
        path: The database file; its folder is created if missing.
        url: The URL it was opened from, for messages.
        busy_timeout: Seconds a writer waits for another writer's transaction.

    Raises:
        OnlineStoreUnavailableError: the file cannot be created, opened or written.
    """

    def __init__(self, path: Path, *, url: str, busy_timeout: float = 30.0) -> None:
        self.url = url
        self.path = path
        self._busy_timeout = busy_timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: weakref.WeakSet[_Connection] = weakref.WeakSet()
        self._plans: dict[tuple[str, str, tuple[str, ...]], _Plan] = {}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._unavailable(exc.strerror or str(exc)) from exc
        with self._errors("open it"):
            conn = self._connection()
            self._enable_wal(conn)
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {_CATALOGUE} (view TEXT PRIMARY KEY NOT NULL, "
                "fingerprint TEXT NOT NULL, schema TEXT NOT NULL, table_name TEXT NOT NULL) "
                "WITHOUT ROWID"
            )

    def _enable_wal(self, conn: sqlite3.Connection) -> None:
        """Switch a new file to WAL. SQLite answers "database is locked" at once, without
        its busy handler, when another process is switching the same new file at that
        moment: retry until the busy timeout (processes first opening a store together)."""
        deadline = time.monotonic() + self._busy_timeout
        delay = 0.001
        while True:
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() + delay > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def _close(self) -> None:
        with self._lock:
            for holder in list(self._connections):
                holder.conn.close()
            self._connections.clear()

    def _delete_view(self, view: str) -> None:
        conn = self._connection()
        with self._errors(f"delete feature view {view!r}"), self._transaction(conn):
            row = conn.execute(
                f"SELECT table_name FROM {_CATALOGUE} WHERE view = ?", (view,)
            ).fetchone()
            if row is not None:
                conn.execute(f"DROP TABLE IF EXISTS {_quote(row[0])}")
                conn.execute(f"DELETE FROM {_CATALOGUE} WHERE view = ?", (view,))
        for key in [key for key in self._plans if key[0] == view]:
            self._plans.pop(key, None)

    # -- writes ---------------------------------------------------------------------------

    def _write(self, schema: OnlineSchema, batch: Batch) -> int:
        values = [
            _column_values(schema.types[name], column)
            for name, column in zip(schema.feature_names, batch.columns, strict=True)
        ]
        rows = zip(batch.keys, batch.event_micros, *values, strict=True)
        conn = self._connection()
        with self._errors(f"write feature view {schema.view!r}"), self._transaction(conn):
            table = self._ensure_table(conn, schema)
            columns = [f"f{i}" for i in range(len(schema.features))]
            sets = "".join(f", {c} = excluded.{c}" for c in columns)
            sql = (
                f"INSERT INTO {_quote(table)} (_key, _ts{''.join(', ' + c for c in columns)}) "
                f"VALUES ({','.join('?' * (2 + len(columns)))}) "
                f"ON CONFLICT (_key) DO UPDATE SET _ts = excluded._ts{sets} "
                f"WHERE excluded._ts >= {_quote(table)}._ts"
            )
            # rowcount counts rows inserted or updated, not those the WHERE kept.
            return conn.executemany(sql, rows).rowcount if batch.keys else 0

    def _ensure_table(self, conn: sqlite3.Connection, schema: OnlineSchema) -> str:
        """The table of ``schema``'s view, replacing an older schema's (in the caller's
        transaction)."""
        row = conn.execute(
            f"SELECT fingerprint, table_name FROM {_CATALOGUE} WHERE view = ?", (schema.view,)
        ).fetchone()
        table = f"online__{schema.view}__{schema.fingerprint}"
        if row is not None and row[0] == schema.fingerprint:
            return str(row[1])
        if row is not None:
            logger.warning(
                "The schema of feature view %r changed; its online rows are dropped and "
                "stored again from this write.",
                schema.view,
            )
            conn.execute(f"DROP TABLE IF EXISTS {_quote(row[1])}")
        columns = "".join(
            f", f{i} {_DECLARED[schema.types[name].kind]}".rstrip()
            for i, name in enumerate(schema.feature_names)
        )
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {_quote(table)} (_key TEXT PRIMARY KEY NOT NULL, "
            f"_ts INTEGER NOT NULL{columns}) WITHOUT ROWID"
        )
        conn.execute(
            f"INSERT INTO {_CATALOGUE} (view, fingerprint, schema, table_name) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (view) DO UPDATE SET "
            "fingerprint = excluded.fingerprint, schema = excluded.schema, "
            "table_name = excluded.table_name",
            (schema.view, schema.fingerprint, schema.to_json(), table),
        )
        return table

    # -- reads ----------------------------------------------------------------------------

    def _read(
        self, schema: OnlineSchema, keys: list[str], names: tuple[str, ...]
    ) -> list[OnlineRow | None]:
        conn = self._connection()
        cache_key = (schema.view, schema.fingerprint, names)
        plan = self._plans.get(cache_key)
        for attempt in (1, 2):
            if plan is None:
                with self._errors(f"read feature view {schema.view!r}"):
                    plan = self._plan(conn, schema, names)
                if plan is None:
                    return [None] * len(keys)  # never materialised (not cached: it may be)
                self._plans[cache_key] = plan
            try:
                rows = _select(conn, plan, keys)
            except sqlite3.OperationalError as exc:
                if attempt == 1 and "no such table" in str(exc):
                    # The schema changed or the view was deleted: back to the catalogue.
                    self._plans.pop(cache_key, None)
                    plan = None
                    continue
                raise self._wrap(exc, f"read feature view {schema.view!r}") from exc
            except sqlite3.Error as exc:
                raise self._wrap(exc, f"read feature view {schema.view!r}") from exc
            if len(keys) == 1:
                return [plan.row(rows[0]) if rows else None]
            found = {row[0]: row for row in rows}
            return [plan.row(found[key]) if key in found else None for key in keys]
        raise AssertionError("unreachable: the second attempt returns or raises")

    def _plan(
        self, conn: sqlite3.Connection, schema: OnlineSchema, names: tuple[str, ...]
    ) -> _Plan | None:
        row = conn.execute(
            f"SELECT schema, table_name FROM {_CATALOGUE} WHERE view = ?", (schema.view,)
        ).fetchone()
        if row is None:
            return None
        stored = OnlineSchema.from_json(schema.view, row[0])
        positions = stored_positions(schema, names, stored)
        decoders = tuple(_decoder(stored.types[name]) for name in names)
        columns = "".join(f", f{position}" for position in positions)
        select = f"SELECT _key, _ts{columns} FROM {_quote(row[1])}"
        return _Plan(str(row[1]), names, decoders, select)

    # -- connections and errors -----------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        holder: _Connection | None = getattr(self._local, "holder", None)
        if holder is not None:
            return holder.conn
        with self._lock:
            self._check_open()  # again under the lock: close() may have run meanwhile
            try:
                conn = sqlite3.connect(
                    self.path,
                    timeout=self._busy_timeout,
                    isolation_level=None,  # transactions are begun and ended here, explicitly
                    check_same_thread=False,  # close() closes every thread's connection
                    cached_statements=256,
                )
                conn.execute("PRAGMA synchronous=NORMAL")  # WAL: durable but the last commits
                conn.execute("PRAGMA mmap_size=268435456")  # reads of a hot file skip read()
            except sqlite3.Error as exc:
                raise self._wrap(exc, "open a connection") from exc
            holder = _Connection(conn)
            self._connections.add(holder)
        self._local.holder = holder
        return conn

    @contextlib.contextmanager
    def _transaction(self, conn: sqlite3.Connection) -> Iterator[None]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextlib.contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise self._wrap(exc, action) from exc

    def _wrap(self, exc: sqlite3.Error, action: str) -> OnlineStoreError:
        text = str(exc)
        if any(marker in text.lower() for marker in _UNAVAILABLE):
            return self._unavailable(text)
        if "locked" in text or "busy" in text:
            return OnlineStoreError(
                f"The SQLite online store {self.path} could not {action}: another writer "
                f"held it for more than {self._busy_timeout:g} s ({text}).",
                hint="Retry when the other materialisation has finished.",
                url=self.url,
            )
        return OnlineStoreError(
            f"The SQLite online store {self.path} could not {action}: {text}.",
            hint="Check the file and the disk it is on, then retry.",
            url=self.url,
        )

    def _unavailable(self, reason: str) -> OnlineStoreUnavailableError:
        return OnlineStoreUnavailableError(
            f"Cannot open the SQLite online store {self.path} (from {self.url!r}): {reason}.",
            hint="Make its folder writable, or point the online store URL at a writable "
            "path, e.g. sqlite:///.conveyor/online.db.",
            url=self.url,
        )


def _select(conn: sqlite3.Connection, plan: _Plan, keys: list[str]) -> list[tuple[Any, ...]]:
    """The rows of ``keys``: one statement, or one per chunk of keys in one read transaction
    (a statement takes at most 999 parameters on older SQLite)."""
    if len(keys) <= _READ_CHUNK:
        return conn.execute(plan.sql(len(keys)), keys).fetchall()
    rows: list[tuple[Any, ...]] = []
    conn.execute("BEGIN")  # one snapshot for every chunk
    try:
        for start in range(0, len(keys), _READ_CHUNK):
            chunk = keys[start : start + _READ_CHUNK]
            rows.extend(conn.execute(plan.sql(len(chunk)), chunk).fetchall())
    finally:
        conn.execute("COMMIT")
    return rows


def _column_values(ftype: FeatureType, column: pa.ChunkedArray) -> list[Any]:
    """A column (of its declared type) as the Python values SQLite stores."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = ftype.kind
    values: list[Any]
    if kind == "timestamp":
        values = column.cast(pa.int64()).to_pylist()
        return values
    if kind == "date":
        values = column.cast(pa.date32(), safe=False).cast(pa.int32()).to_pylist()
        return values
    if kind == "float":
        values = column.cast(pa.float64()).to_pylist()
        if pc.any(pc.is_nan(column)).as_py():
            values = [_NAN if value != value else value for value in values]
        return values
    if kind == "uint64":
        values = column.to_pylist()
        if (pc.max(column).as_py() or 0) > _INT64_MAX:
            values = [str(v) if v is not None and v > _INT64_MAX else v for v in values]
        return values
    values = column.to_pylist()  # ints; bools (bound as 0 and 1); strings; bytes
    return values
