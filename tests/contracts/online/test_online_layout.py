"""What each backend leaves on disk or in Redis is what its module docstring says; Redis
prefixes keep projects apart; one store serves many threads."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from conveyor.features import OnlineStore, open_online_store
from support.online import (
    SCALARS,
    OnlineBackend,
    at,
    delete_redis_prefix,
    redis_keys,
    scalar_rows,
    values_of,
)

pytestmark = pytest.mark.integration


def test_sqlite_layout_one_table_per_view_keyed_by_the_json_key(tmp_path: Path) -> None:
    with open_online_store("sqlite:///online.db", root=tmp_path) as store:
        store.write(SCALARS, scalar_rows(["JFK", "LGA"], [at(1), at(2)], [1, None]), timestamp="ts")
    with sqlite3.connect(tmp_path / "online.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        view, fingerprint, table = conn.execute(
            "SELECT view, fingerprint, table_name FROM conveyor_online_views"
        ).fetchone()
        assert (view, fingerprint) == ("scalars", SCALARS.fingerprint)
        assert table == f"online__scalars__{SCALARS.fingerprint}"
        ddl = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
        assert "WITHOUT ROWID" in ddl and "_key TEXT PRIMARY KEY" in ddl
        rows = conn.execute(f'SELECT * FROM "{table}" ORDER BY _key').fetchall()
    conn.close()
    micros = 1_704_067_200_000_000  # 2024-01-01 UTC
    assert rows == [
        ('["JFK"]', micros, 1, 0.25, "c1"),
        ('["LGA"]', micros + 86_400_000_000, None, None, None),
    ]


def test_redis_layout_a_schema_hash_and_one_string_per_entity(
    redis_backend: OnlineBackend,
) -> None:
    import redis

    with redis_backend.open() as store:
        store.write(SCALARS, scalar_rows(["JFK"], [at(1)], [1]), timestamp="ts")
    prefix, fingerprint = redis_backend.prefix, SCALARS.fingerprint
    assert set(redis_keys(redis_backend.url, prefix)) == {
        f"{prefix}:scalars:schema",
        f'{prefix}:scalars:{fingerprint}:["JFK"]',
    }
    client = redis.Redis.from_url(redis_backend.url)
    try:
        assert client.hgetall(f"{prefix}:scalars:schema") == {
            b"fp": fingerprint.encode(),
            b"schema": SCALARS.to_json().encode(),
        }
        value = client.get(f'{prefix}:scalars:{fingerprint}:["JFK"]')
    finally:
        client.close()
    assert value == str(2**62 + 1_704_067_200_000_000).encode() + b'[1,0.25,"c1"]'


def test_redis_prefixes_keep_projects_apart(redis_backend: OnlineBackend) -> None:
    first = redis_backend
    second = OnlineBackend("redis", first.url, prefix=first.prefix + "-other")
    try:
        with first.open() as a, second.open() as b:
            a.write(SCALARS, scalar_rows(["JFK"], [at(1)], [1]), timestamp="ts")
            b.write(SCALARS, scalar_rows(["JFK"], [at(1)], [2]), timestamp="ts")
            assert values_of(a, SCALARS, [("JFK",)])[0]["n_flights"] == 1
            assert values_of(b, SCALARS, [("JFK",)])[0]["n_flights"] == 2
            a.delete_view("scalars")
            assert a.read(SCALARS, [("JFK",)]) == [None]
            assert values_of(b, SCALARS, [("JFK",)])[0]["n_flights"] == 2
    finally:
        delete_redis_prefix(second.url, second.prefix)


def test_batches_larger_than_a_round_trip_are_written_whole(online: OnlineStore) -> None:
    n = 12_345  # Redis: more than 20 script calls of 500 entities
    origins = [f"E{i}" for i in range(n)]
    assert (
        online.write(SCALARS, scalar_rows(origins, [at(1)] * n, list(range(n))), timestamp="ts")
        == n
    )
    got = online.read(SCALARS, [(o,) for o in origins])
    assert [row.values["n_flights"] if row else None for row in got] == list(range(n))


def test_one_store_serves_many_threads(online: OnlineStore) -> None:
    origins = [f"E{i}" for i in range(100)]
    online.write(SCALARS, scalar_rows(origins, [at(1)] * 100, list(range(100))), timestamp="ts")
    failures: list[BaseException] = []

    def read(offset: int) -> None:
        try:
            for i in range(200):
                j = (i + offset) % 100
                (row,) = online.read(SCALARS, [(f"E{j}",)])
                assert row is not None and row.values["n_flights"] == j
        except BaseException as exc:  # reported to the test, which fails on any
            failures.append(exc)

    threads = [threading.Thread(target=read, args=(k * 7,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []


def test_a_finished_thread_leaves_no_sqlite_connection_open(tmp_path: Path) -> None:
    import gc

    from conveyor.features._online_sqlite import SQLiteOnlineStore

    store = open_online_store("sqlite:///online.db", root=tmp_path)
    assert isinstance(store, SQLiteOnlineStore)
    try:
        store.write(SCALARS, scalar_rows(["JFK"], [at(1)], [1]), timestamp="ts")
        threads = [
            threading.Thread(target=store.read, args=(SCALARS, [("JFK",)])) for _ in range(5)
        ]
        for thread in threads:
            thread.start()
            thread.join(timeout=30)
        del threads, thread
        gc.collect()
        assert len(store._connections) == 1  # this thread's, the others closed with them
    finally:
        store.close()
    assert len(store._connections) == 0
