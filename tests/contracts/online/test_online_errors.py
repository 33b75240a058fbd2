"""Errors: one conveyor error naming what was wrong, the value and the fix; driver errors
wrapped once with the URL's password masked; bad keys, rows and schemas refused before
anything is written."""

from __future__ import annotations

import datetime as dt
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from conveyor.core import ConfigError, ConveyorError, InvalidNameError, InvalidValueError
from conveyor.features import (
    OnlineSchema,
    OnlineStore,
    OnlineStoreError,
    OnlineStoreUnavailableError,
    open_online_store,
)
from conveyor.features._online_sqlite import SQLiteOnlineStore
from support.online import SCALARS, OnlineBackend, at, scalar_rows, table, values_of

pytestmark = pytest.mark.integration


# -- opening --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["postgresql://user:secret@db:5432/x", "s3://bucket/online", "sqlit:///x.db"]
)
def test_an_unknown_scheme_names_what_is_supported_without_the_password(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        open_online_store(url)
    message = str(caught.value)
    assert "sqlite:///" in message and "redis://" in message
    assert "secret" not in message
    if url.startswith("sqlit:"):
        assert "Did you mean 'sqlite'?" in message


@pytest.mark.parametrize("url", ["", "online.db", "sqlite://", "sqlite:///", "sqlite:///:memory:"])
def test_a_url_naming_no_file_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="expected"):
        open_online_store(url)


def test_sqlite_paths_are_relative_to_the_root_or_absolute(tmp_path: Path) -> None:
    with open_online_store("sqlite:///a/b/online.db", root=tmp_path) as store:
        store.write(SCALARS, scalar_rows(["JFK"], [at(1)], [1]), timestamp="ts")
    assert (tmp_path / "a" / "b" / "online.db").is_file()
    with open_online_store(f"sqlite:///{tmp_path}/abs.db") as store:
        assert store.read(SCALARS, [("JFK",)]) == [None]
    assert (tmp_path / "abs.db").is_file()


def test_a_sqlite_path_that_cannot_be_created_is_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    url = "sqlite:///a-file/online.db"
    with pytest.raises(OnlineStoreUnavailableError) as caught:
        open_online_store(url, root=tmp_path)
    message = str(caught.value)
    assert str(blocker / "online.db") in message and url in message
    assert "writable" in message
    assert caught.value.url == url


def test_a_sqlite_file_that_is_not_a_database_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "junk.db").write_bytes(b"this is not SQLite" * 100)
    with pytest.raises(OnlineStoreUnavailableError, match="junk.db") as caught:
        open_online_store("sqlite:///junk.db", root=tmp_path)
    assert isinstance(caught.value.__cause__, sqlite3.DatabaseError)


def test_a_sqlite_writer_blocked_past_its_timeout_gets_one_store_error(tmp_path: Path) -> None:
    store = SQLiteOnlineStore(tmp_path / "online.db", url="sqlite:///online.db", busy_timeout=0.2)
    holder = sqlite3.connect(tmp_path / "online.db", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        with pytest.raises(OnlineStoreError) as caught:
            store.write(SCALARS, scalar_rows(["JFK"], [at(1)], [1]), timestamp="ts")
        assert time.monotonic() - started < 10
        assert "another writer" in str(caught.value) and "0.2 s" in str(caught.value)
        assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
        holder.execute("ROLLBACK")
        assert store.write(SCALARS, scalar_rows(["JFK"], [at(1)], [1]), timestamp="ts") == 1
    finally:
        holder.close()
        store.close()


def test_a_closed_store_says_so(backend: OnlineBackend) -> None:
    store = backend.open()
    store.write(SCALARS, scalar_rows(["JFK"], [at(1)], [1]), timestamp="ts")
    store.close()
    store.close()  # twice is fine
    for call in (
        lambda: store.read(SCALARS, [("JFK",)]),
        lambda: store.write(SCALARS, scalar_rows(["JFK"], [at(2)], [2]), timestamp="ts"),
        lambda: store.delete_view("scalars"),
    ):
        with pytest.raises(OnlineStoreError, match="is closed") as caught:
            call()
        assert "open_online_store()" in str(caught.value)
    with backend.open() as again:  # nothing was written or deleted after close
        assert values_of(again, SCALARS, [("JFK",)])[0]["n_flights"] == 1


def test_unreachable_redis_is_one_error_with_the_password_masked() -> None:
    url = "redis://user:s3cret@127.0.0.1:1/0"  # nothing listens on port 1
    started = time.monotonic()
    with pytest.raises(OnlineStoreUnavailableError) as caught:
        open_online_store(url)
    assert time.monotonic() - started < 10  # bounded retries, not redis-py's ten
    message = str(caught.value)
    assert "s3cret" not in message and "redis://user:***@127.0.0.1:1/0" in message
    assert "Start Redis" in message
    assert caught.value.url == "redis://user:***@127.0.0.1:1/0"
    assert not isinstance(caught.value.__cause__, ConveyorError)


def test_without_the_redis_package_the_error_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)  # what `import redis` meets uninstalled
    with pytest.raises(ConfigError) as caught:
        open_online_store("redis://127.0.0.1:6379/0")
    assert "pip install 'conveyor[redis]'" in str(caught.value)


def test_a_redis_failure_after_open_is_wrapped_once(redis_backend: OnlineBackend) -> None:
    import redis

    backend = redis_backend

    client = redis.Redis.from_url(backend.url)
    try:
        client.set(f"{backend.prefix}:scalars:schema", "not a hash")
    finally:
        client.close()
    with backend.open() as online, pytest.raises(OnlineStoreError) as caught:
        online.read(SCALARS, [("JFK",)])
    assert "WRONGTYPE" in str(caught.value) and backend.url.split("@")[-1] in str(caught.value)
    assert isinstance(caught.value.__cause__, redis.ResponseError)


@pytest.mark.parametrize("prefix", ["", "has space", 7])
def test_a_bad_redis_prefix_is_refused(redis_backend: OnlineBackend, prefix: Any) -> None:
    with pytest.raises(InvalidValueError, match="prefix"):
        open_online_store(redis_backend.url, prefix=prefix)


# -- keys and features asked for ------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "match"),
    [
        ("JFK", "sequence of 1"),  # a bare string is not a key tuple
        (b"JFK", "sequence of 1"),
        (("JFK", "AA"), "sequence of 1"),
        ((), "sequence of 1"),
        (7, "sequence of 1"),
        ((1.5,), "string or an integer"),
        ((True,), "string or an integer"),
        ((None,), "string or an integer"),
        ((dt.date(2024, 1, 1),), "string or an integer"),
    ],
)
def test_a_bad_key_is_refused(online: OnlineStore, key: Any, match: str) -> None:
    online.write(SCALARS, scalar_rows(["JFK"], [at(1)], [1]), timestamp="ts")
    with pytest.raises(InvalidValueError, match=match):
        online.read(SCALARS, [("JFK",), key])


def test_an_unknown_feature_is_refused_with_a_suggestion(online: OnlineStore) -> None:
    with pytest.raises(InvalidValueError) as caught:
        online.read(SCALARS, [("JFK",)], features=["n_flight"])
    message = str(caught.value)
    assert "no feature 'n_flight'" in message and "Did you mean 'n_flights'?" in message


# -- rows written ---------------------------------------------------------------------------


def _rows(**changes: Any) -> pa.Table:
    columns: dict[str, Any] = {
        "origin": pa.array(["JFK", "LGA"]),
        "ts": pa.array([at(1), at(2)], pa.timestamp("us", tz="UTC")),
        "n_flights": pa.array([1, 2]),
        "delay": pa.array([0.5, 1.5]),
        "carrier": pa.array(["a", "b"]),
    }
    columns.update(changes)
    return pa.table({name: value for name, value in columns.items() if value is not None})


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        (_rows(carrier=None), "lack the column\\(s\\) 'carrier'"),
        (_rows(origin=None), "lack the column\\(s\\) 'origin'"),
        (_rows(origin=pa.array(["JFK", None])), "join key column 'origin' .* 1 null"),
        (_rows(origin=pa.array([1.5, 2.5])), "join key column 'origin' .* double"),
        (_rows(ts=pa.array([at(1), None], pa.timestamp("us", tz="UTC"))), "1 null value"),
        (_rows(ts=pa.array(["2024-01-01", "2024-01-02"])), "must be a timestamp or a date"),
        (_rows(n_flights=pa.array([1.5, 2.0])), "'n_flights' .* cannot be cast to .* int64"),
        (_rows(delay=pa.array(["slow", "fast"])), "'delay' .* cannot be cast to .* double"),
        (
            _rows(
                ts=pa.array([1, 2], pa.timestamp("ns", tz="UTC")), n_flights=pa.array([2**40, 1])
            ),
            None,
        ),
    ],
)
def test_bad_rows_are_refused_before_anything_is_written(
    online: OnlineStore, rows: pa.Table, match: str | None
) -> None:
    if match is None:  # the control: these rows are fine
        assert online.write(SCALARS, rows, timestamp="ts") == 2
        return
    with pytest.raises(InvalidValueError, match=match) as caught:
        online.write(SCALARS, rows, timestamp="ts")
    assert caught.value.view == "scalars"
    assert online.read(SCALARS, [("JFK",), ("LGA",)]) == [None, None]


def test_the_event_time_column_is_named_by_the_caller(online: OnlineStore) -> None:
    with pytest.raises(InvalidValueError, match="lack the column\\(s\\) 'event_time'.*'ts'"):
        online.write(SCALARS, _rows(), timestamp="event_time")


def test_rows_must_be_an_arrow_table(online: OnlineStore) -> None:
    with pytest.raises(InvalidValueError, match="pyarrow.Table"):
        online.write(SCALARS, {"origin": ["JFK"]}, timestamp="ts")  # type: ignore[arg-type]


def test_a_timestamp_with_nanoseconds_does_not_fit_a_microsecond_feature(
    online: OnlineStore,
) -> None:
    schema = OnlineSchema("precise", ("id",), (("at", "timestamp[us, tz=UTC]"),))
    rows = table(
        {"id": [1], "ts": [at(1)], "at": [1_000_000_001]}, {"at": pa.timestamp("ns", tz="UTC")}
    )
    with pytest.raises(InvalidValueError, match="'at' .* cannot be cast"):
        online.write(schema, rows, timestamp="ts")


# -- schemas --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("view", "keys", "features", "error", "match"),
    [
        ("bad name!", ("id",), (), InvalidNameError, "feature view name"),
        ("v", (), (("x", "int64"),), InvalidValueError, "no join key"),
        ("v", ("id",), (("x", "int64"), ("x", "double")), InvalidValueError, "'x' more than once"),
        ("v", ("id",), (("id", "int64"),), InvalidValueError, "'id' more than once"),
        ("v", ("id",), (("x", "decimal128(10, 2)"),), InvalidValueError, "supports"),
        ("v", ("id",), (("x", "list<item: int64>"),), InvalidValueError, "supports"),
        ("v", ("id",), (("x", "timestamp[us, tz=Mars/Olympus]"),), InvalidValueError, "time zone"),
        ("v", ("id",), (("", "int64"),), InvalidValueError, "non-empty strings"),
    ],
)
def test_a_bad_schema_is_refused(
    view: str, keys: tuple[str, ...], features: Any, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        OnlineSchema(view, keys, features)
