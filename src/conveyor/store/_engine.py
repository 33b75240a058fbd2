"""Opening a metadata store: engines, transactions, bounded retry, and the error boundary.

SQLite (RELIABILITY rule 8): WAL, ``synchronous=NORMAL``, ``foreign_keys=ON``, a busy timeout,
and ``BEGIN IMMEDIATE`` for every write transaction so writers queue on the lock up front
instead of failing to upgrade a read lock ("database is locked"). Reads use deferred
transactions and never block writers. Network file systems are refused.

PostgreSQL: psycopg 3, a lock time-out, and an ``application_name`` so operators
(and the fault tests) can find our sessions.

Driver errors are wrapped here, once: transient ones (lost connection, deadlock,
serialization failure, lock time-out, SQLite busy) are retried a bounded number of times
with jittered backoff; after that :class:`StoreUnavailableError` says what failed.

A retry never changes an outcome (R19). A connection can die after COMMIT reached the
server but before its acknowledgement came back; the retry then runs against the state its
own first execution wrote. :meth:`Store.transact_once` gives each logical call one
:class:`Operation` whose key all its retries share: writes that are not idempotent by
construction record their outcome under that key in the same transaction, and a retry that
finds the key returns that outcome instead of writing again. Writes fenced by an attempt
number recognise their own result instead (see ``_steps.commit_step``).
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine, create_engine, delete, event, make_url, select
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, OperationalError, StatementError

from ..core import (
    STORE_RETRY_BACKOFF,
    STORE_RETRY_MAX_DELAY,
    ConveyorError,
    InvalidValueError,
    StoreError,
    StoreUnavailableError,
)
from ..core import now_ms as _now_ms
from ._schema import operations

log = logging.getLogger(__name__)
T = TypeVar("T")

_WRITE = "conveyor_write"
# PostgreSQL SQLSTATEs worth retrying: serialization failure, deadlock, lock not available,
# admin shutdown / crash shutdown / cannot connect now (pg_terminate_backend, restarts).
_PG_TRANSIENT = {"40001", "40P01", "55P03", "57P01", "57P02", "57P03", "08000", "08003", "08006"}
IDLE_IN_TRANSACTION_MIN_MS = 60_000
# Operation rows only matter while their call retries (seconds); keep them an hour. One
# recorded operation in _PRUNE_EVERY, chosen at random so that short-lived processes
# (CLI commands) share the work too, deletes the older ones inside its own write.
OPERATION_RETENTION_MS = 3_600_000
_PRUNE_EVERY = 512

# Fault injection for tests (R19 on SQLite): when set, called with ``what`` right after a
# write transaction COMMITTED; it may raise a transient driver error, which sends the call
# down the retry path exactly as a lost COMMIT acknowledgement would. Never set in
# production code.
after_commit: Callable[[str], None] | None = None

_NETWORK_FS = {
    "nfs",
    "nfs4",
    "cifs",
    "smbfs",
    "smb3",
    "9p",
    "fuse.sshfs",
    "afs",
    "ceph",
    "glusterfs",
}


@dataclass(slots=True)
class Operation:
    """One logical write call. :attr:`key` is the same for every execution of the call."""

    # How many executions failed before this one. After a failed one the COMMIT may still
    # have landed, so a repeat must first look for its own earlier outcome.
    retry: int = 0
    _key: str | None = None

    @property
    def key(self) -> str:
        # Made on first use: most transactions (step commits) never need one.
        if self._key is None:
            self._key = uuid.uuid4().hex
        return self._key

    @property
    def is_retry(self) -> bool:
        return self.retry > 0


@dataclass(frozen=True, slots=True)
class Replay(Generic[T]):
    """How :meth:`Store.transact_once` records an outcome under an operation key.

    ``dump`` turns the outcome into JSON (ids, not whole records; ``None`` when the call
    wrote nothing, so there is nothing to record); ``load`` rebuilds the outcome from it
    inside the retry's transaction.
    """

    dump: Callable[[T], Any]
    load: Callable[[Connection, Any], T]


# For outcomes that are plain JSON already (a count, an event id).
AS_JSON: Replay[Any] = Replay(dump=lambda value: value, load=lambda _conn, value: value)


@dataclass
class Store:
    """An open metadata store, scoped to one project.

    Use :func:`open_store`. Pass it to the functions of :mod:`conveyor.store`.
    """

    url: str
    engine: Engine
    project_id: int
    project: str
    retries: int = 5
    backoff: float = STORE_RETRY_BACKOFF
    _closed: bool = field(default=False, repr=False)
    # The project's signing key once read (see _signing): it never changes.
    _signing_key: bytes | None = field(default=None, repr=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def display_url(self) -> str:
        """The URL with any password hidden, safe to print."""
        return make_url(self.url).render_as_string(hide_password=True)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (deferred on SQLite: never blocks writers)."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` on SQLite), committed on exit.

        No retry: prefer :meth:`transact`, which retries transient failures.
        """
        with self.engine.connect().execution_options(**{_WRITE: True}) as conn, conn.begin():
            yield conn

    def transact(self, fn: Callable[[Connection], T], *, what: str = "write") -> T:
        """Run ``fn(conn)`` in one write transaction, retrying transient failures.

        ``fn`` may run more than once, so it must only touch the database, and running it
        again after its own commit must not change the outcome: use :meth:`transact_once`
        unless ``fn`` is idempotent by construction (an upsert, a guarded update that a
        repeat cannot match again).
        """
        return self.transact_once(lambda conn, _op: fn(conn), what=what)

    def transact_once(
        self,
        fn: Callable[[Connection, Operation], T],
        *,
        what: str = "write",
        replay: Replay[T] | None = None,
    ) -> T:
        """Run ``fn(conn, op)`` as one logical call: retried on transient failures, and
        with the same outcome whether or not an earlier execution's COMMIT landed.

        Every execution gets the same :class:`Operation`. With ``replay``, the outcome is
        recorded under ``op.key`` in the call's own transaction and a retry returns the
        recorded outcome; without it, ``fn`` recognises its own earlier result itself
        (``op.is_retry``), as fenced writes do by re-reading the row they fence on.
        """
        op = Operation()

        def once() -> T:
            try:
                with self.write() as conn:
                    if replay is not None and op.is_retry:
                        recorded = _recorded(conn, op.key)
                        if recorded is not _MISSING:
                            return replay.load(conn, recorded)
                    result = fn(conn, op)
                    if replay is not None:
                        outcome = replay.dump(result)
                        if outcome is None and op.is_retry:
                            # This execution wrote nothing (say, it lost a claim): on
                            # PostgreSQL it may have waited on the rows of an earlier
                            # execution that committed meanwhile, and that one's outcome
                            # wins. Each statement sees what committed before it began.
                            recorded = _recorded(conn, op.key)
                            if recorded is not _MISSING:
                                return replay.load(conn, recorded)
                        _record(conn, op.key, outcome)
            except Exception:
                if replay is None or not op.is_retry:
                    raise
                # On PostgreSQL the earlier execution may commit only now, after this one
                # began: its row then surfaces as a unique violation on the key, or as a
                # state this call did not expect. Its outcome, if recorded, wins.
                with self.read() as conn:
                    recorded = _recorded(conn, op.key)
                    if recorded is _MISSING:
                        raise
                    return replay.load(conn, recorded)
            finally:
                op.retry += 1
            if after_commit is not None:
                after_commit(what)
            return result

        return self._retrying(once, what=what)

    def query(self, fn: Callable[[Connection], T], *, what: str = "read") -> T:
        """Run ``fn(conn)`` in a read transaction, retrying transient failures."""

        def once() -> T:
            with self.read() as conn:
                return fn(conn)

        return self._retrying(once, what=what)

    def _retrying(self, once: Callable[[], T], *, what: str) -> T:
        delay = self.backoff
        for attempt in range(self.retries + 1):
            try:
                return once()
            except DBAPIError as exc:
                if not is_transient(exc) or attempt == self.retries:
                    raise wrap_error(exc, self, what) from exc
                log.info("store %s: transient error, retry %d: %s", what, attempt + 1, _first(exc))
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, STORE_RETRY_MAX_DELAY)
            except StatementError as exc:  # a value could not be bound (never reached the driver)
                if isinstance(exc.orig, ConveyorError):
                    raise exc.orig from exc.orig.__cause__
                raise StoreError(
                    f"The metadata store failed during {what}: {_first(exc)}."
                ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        if not self._closed:
            self.engine.dispose()
            self._closed = True

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_MISSING: Any = object()


def _record(conn: Connection, key: str, outcome: Any) -> None:
    """Record ``outcome`` under operation ``key`` in ``conn``'s transaction."""
    if outcome is None:
        return
    now = _now_ms()
    conn.execute(operations.insert(), {"key": key, "outcome": outcome, "created_at": now})
    if random.randrange(_PRUNE_EVERY) == 0:
        cutoff = now - OPERATION_RETENTION_MS
        conn.execute(delete(operations).where(operations.c.created_at < cutoff))


def _recorded(conn: Connection, key: str) -> Any:
    """The outcome recorded under operation ``key``, or ``_MISSING``."""
    row = conn.execute(select(operations.c.outcome).where(operations.c.key == key)).first()
    return _MISSING if row is None else row[0]


def _first(exc: BaseException) -> str:
    return (
        str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc) else type(exc).__name__
    )


def is_transient(exc: DBAPIError) -> bool:
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate in _PG_TRANSIENT:
        return True
    text = str(orig).lower()
    if isinstance(exc, OperationalError) and (
        "database is locked" in text
        or "database table is locked" in text
        or "busy" in text
        or "server closed the connection" in text
        or "terminating connection" in text
        or "connection" in text
        and ("closed" in text or "lost" in text or "reset" in text or "refused" in text)
    ):
        return True
    return False


def wrap_error(exc: DBAPIError, store: Store | None, what: str) -> StoreError:
    url = store.display_url if store else "the store"
    message = f"The metadata store failed during {what}: {_first(exc)} (store: {url})."
    if is_transient(exc):
        return StoreUnavailableError(
            message + " It stayed unavailable after bounded retries.",
            hint="Check that the database is running and reachable, then retry the command.",
        )
    return StoreError(message)


def create_store_engine(url: str, *, busy_timeout: float, pool_size: int) -> Engine:
    """Create an engine for a ``sqlite:///`` or ``postgresql://`` URL with our settings."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, busy_timeout)
    if parsed.get_backend_name() in {"postgresql", "postgres"}:
        return _postgres_engine(parsed, busy_timeout, pool_size)
    raise StoreError(
        f"Unsupported store URL scheme {parsed.drivername!r}.",
        hint="Use sqlite:///path/to/conveyor.db or postgresql://user@host:5432/db.",
    )


def _json_dumps(value: Any) -> str:
    # Strict JSON on both backends (PostgreSQL rejects NaN; SQLite would store it), and a
    # conveyor error instead of a driver's TypeError for values JSON cannot hold.
    try:
        return json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidValueError(
            f"Only JSON values can be stored in params, tags and metadata; got a value that "
            f"is not: {exc}.",
            hint="Convert the value to str, int, float, bool, None, a list or a dict "
            "(NaN and infinity are not JSON).",
        ) from exc


def _sqlite_engine(url: URL, busy_timeout: float) -> Engine:
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        path = Path(database)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"Cannot create the directory of the SQLite store {path}: {exc.strerror or exc}.",
                hint="Check the store URL, or create the directory and make it writable.",
            ) from exc
        _refuse_network_fs(path)
    engine = create_engine(
        url.set(drivername="sqlite+pysqlite"),
        connect_args={"timeout": busy_timeout, "check_same_thread": False, "isolation_level": None},
        pool_pre_ping=False,
        json_serializer=_json_dumps,
    )
    busy_ms = int(busy_timeout * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={busy_ms}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _postgres_engine(url: URL, busy_timeout: float, pool_size: int) -> Engine:
    query = dict(url.query)
    query.setdefault("application_name", os.environ.get("CONVEYOR_APPLICATION_NAME", "conveyor"))
    engine = create_engine(
        url.set(drivername="postgresql+psycopg", query=query),
        # No pre-ping (it costs a round trip per transaction): a pooled connection that died
        # fails its first statement with connection_invalidated, which transact() retries.
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        json_serializer=_json_dumps,
    )
    lock_ms = int(busy_timeout * 1000)
    # Our transactions never wait on anything but the database, so a session idle inside
    # one belongs to a stuck or partitioned process: the server ends it (and frees its row
    # and advisory locks) instead of letting it block every other writer.
    idle_ms = max(IDLE_IN_TRANSACTION_MIN_MS, 4 * lock_ms)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        with dbapi_conn.cursor() as cur:
            cur.execute(f"SET lock_timeout = {lock_ms}")
            cur.execute(f"SET idle_in_transaction_session_timeout = {idle_ms}")
        dbapi_conn.commit()

    return engine


def _refuse_network_fs(path: Path) -> None:
    target = str(path.parent.resolve())
    best, fstype = "", ""
    try:
        with open("/proc/mounts", encoding="utf-8") as mounts:
            for line in mounts:
                parts = line.split()
                if len(parts) < 3:
                    continue
                # /proc/mounts escapes space, tab, newline and backslash as octal (\040).
                point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), parts[1])
                inside = target == point or target.startswith(point.rstrip("/") + "/")
                if inside and len(point) > len(best):
                    best, fstype = point, parts[2]
    except OSError:
        return
    if fstype in _NETWORK_FS:
        raise StoreError(
            f"The SQLite store {path} is on a network file system ({fstype} at {best}); "
            "SQLite's locking is not safe there.",
            hint="Put the database on a local disk, or use a postgresql:// store URL.",
        )
