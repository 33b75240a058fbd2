"""The store's transaction boundary: a failed transaction writes nothing and its error
passes through as it was; transient driver errors are retried a bounded number of times,
others never; and ``upgrade_store`` (what ``conveyor db upgrade`` runs) reports revisions."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy.exc
from sqlalchemy import Connection, create_engine, func, select, text

from conveyor import store as st
from conveyor.core import NotFoundError, StoreError, StoreUnavailableError, StoreVersionError
from conveyor.store import _migrate, _schema


def driver_error(cls: type[sqlalchemy.exc.DBAPIError], message: str) -> Any:
    return cls("UPDATE runs", {}, sqlite3.OperationalError(message))


class Flaky:
    """A transaction function that fails with ``error`` for its first ``n_failures`` calls."""

    def __init__(self, error: Exception, n_failures: int) -> None:
        self.error = error
        self.n_failures = n_failures
        self.n_calls = 0

    def __call__(self, conn: Connection) -> str:
        self.n_calls += 1
        if self.n_calls <= self.n_failures:
            raise self.error
        return "done"


def test_a_failed_transaction_writes_nothing_and_its_error_is_unchanged(
    sqlite_store: st.Store,
) -> None:
    refused = NotFoundError("No model 'churn'.", hint="List them with: conveyor models list")

    def tx(conn: Connection) -> None:
        st.append_event(conn, sqlite_store, "io.conveyor.test.emitted")
        raise refused

    with pytest.raises(NotFoundError) as info:
        sqlite_store.transact(tx)
    assert info.value is refused  # not wrapped, not re-worded
    assert st.read_events(sqlite_store) == []


def test_a_transient_error_is_retried_until_it_passes(
    sqlite_store: st.Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="conveyor.store._engine")
    flaky = Flaky(driver_error(sqlalchemy.exc.OperationalError, "database is locked"), 2)
    assert sqlite_store.transact(flaky, what="metric batch") == "done"
    assert flaky.n_calls == 3
    assert "store metric batch: transient error, retry 2: database is locked" in caplog.text


@pytest.mark.parametrize("retries", [0, 2])
def test_a_store_that_stays_unavailable_gives_up_after_its_retries(
    sqlite_store: st.Store, retries: int
) -> None:
    sqlite_store.retries = retries
    cause = driver_error(sqlalchemy.exc.OperationalError, "database is locked")
    flaky = Flaky(cause, 100)
    with pytest.raises(StoreUnavailableError) as info:
        sqlite_store.transact(flaky, what="step commit")
    assert flaky.n_calls == retries + 1
    message = str(info.value)
    assert message.startswith("The metadata store failed during step commit: database is locked")
    assert sqlite_store.url in message and "after bounded retries" in message
    assert info.value.__cause__ is cause


def test_reads_are_retried_too(sqlite_store: st.Store) -> None:
    flaky = Flaky(driver_error(sqlalchemy.exc.OperationalError, "database is locked"), 1)
    assert sqlite_store.query(flaky, what="run list") == "done"
    assert flaky.n_calls == 2


@pytest.mark.parametrize(
    "error",
    [
        driver_error(sqlalchemy.exc.IntegrityError, "UNIQUE constraint failed: runs.id"),
        driver_error(sqlalchemy.exc.OperationalError, "no such table: runs"),
    ],
)
def test_an_error_a_retry_cannot_fix_is_raised_at_once(
    sqlite_store: st.Store, error: Exception
) -> None:
    flaky = Flaky(error, 100)
    with pytest.raises(StoreError) as info:
        sqlite_store.transact(flaky, what="run creation")
    assert flaky.n_calls == 1
    assert type(info.value) is StoreError  # not "unavailable": waiting will not help
    assert "during run creation" in str(info.value) and "\n" not in str(info.value)


def test_a_value_that_cannot_be_bound_is_a_store_error(sqlite_store: st.Store) -> None:
    bad = sqlalchemy.exc.StatementError("bad value", "INSERT", {}, TypeError("not a number"))
    with pytest.raises(StoreError, match="failed during param logging: .*not a number"):
        sqlite_store.transact(Flaky(bad, 1), what="param logging")


def revision_and_projects(url: str) -> tuple[str | None, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            revision = _migrate.current_revision(conn)
            count = conn.execute(select(func.count()).select_from(_schema.projects)).scalar()
    finally:
        engine.dispose()
    return revision, int(count or 0)


def test_upgrade_store_reports_the_revision_before_and_after(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/conveyor.db"
    assert st.upgrade_store(url) == (None, st.HEAD)
    assert revision_and_projects(url) == (st.HEAD, 0)  # upgraded; no project made for it
    assert st.upgrade_store(url) == (st.HEAD, st.HEAD)


def test_upgrade_store_refuses_a_store_from_a_newer_conveyor(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/conveyor.db"
    st.upgrade_store(url)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    finally:
        engine.dispose()
    with pytest.raises(StoreVersionError, match="'0099', newer than this conveyor knows"):
        st.upgrade_store(url)


def test_an_upgrade_under_the_lock_rechecks_the_revision(sqlite_store: st.Store) -> None:
    """Several processes start at once: the ones that take the lock after the first find the
    schema at head and run nothing; a newer schema is refused there too."""
    assert sqlite_store.transact(_migrate.upgrade) is False

    def from_the_future(conn: Connection) -> bool:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
        return _migrate.upgrade(conn)

    with pytest.raises(StoreVersionError, match="'0099'"):
        sqlite_store.transact(from_the_future)
    assert sqlite_store.query(_migrate.current_revision) == st.HEAD  # rolled back
