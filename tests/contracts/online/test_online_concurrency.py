"""Concurrent writers never lose the newest row, whatever order they commit in; readers
never see half a row, nor a value under another type while the schema changes."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

import pyarrow as pa
import pytest

from conveyor.features import OnlineSchema, OnlineStore, OnlineStoreError
from support import online_workers
from support.online import SCALARS, OnlineBackend, at, scalar_rows
from support.procs import SPAWN, run_processes

pytestmark = pytest.mark.integration

ORIGINS = [f"O{i:03d}" for i in range(200)]


def _threads(target: Callable[[int], None], n: int) -> list[BaseException]:
    """Run ``target(i)`` in ``n`` threads; return what they raised."""
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            target(i)
        except BaseException as exc:  # reported to the test, which fails on any
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck"
    return errors


def _versions(store: OnlineStore) -> list[int | None]:
    rows = store.read(SCALARS, [(o,) for o in ORIGINS])
    return [None if row is None else row.values["n_flights"] for row in rows]


def test_writer_threads_keep_the_newest_row(online: OnlineStore) -> None:
    def write(i: int) -> None:
        order = list(range(i, 40, 4))  # thread i writes versions i, i+4, ...
        random.Random(i).shuffle(order)
        for version in order:
            n = len(ORIGINS)
            rows = scalar_rows(ORIGINS, [at(1, micro=version)] * n, [version] * n)
            online.write(SCALARS, rows, timestamp="ts")

    assert _threads(write, 4) == []
    assert _versions(online) == [39] * len(ORIGINS)


def test_writer_processes_keep_the_newest_row(backend: OnlineBackend) -> None:
    barrier = SPAWN.Barrier(2)
    evens, odds = list(range(0, 30, 2)), list(range(1, 30, 2))
    written = run_processes(
        online_workers.write_versions,
        [(backend, barrier, evens, ORIGINS, 1), (backend, barrier, odds, ORIGINS, 2)],
        barrier=barrier,
        timeout=180,
    )
    with backend.open() as store:
        assert _versions(store) == [29] * len(ORIGINS)
        rows = store.read(SCALARS, [(o,) for o in ORIGINS])
        assert {row.event_time for row in rows if row} == {at(1, micro=29)}
    # Every entity was stored at least once, and at most once per version.
    assert len(ORIGINS) <= sum(written) <= 30 * len(ORIGINS)


def test_readers_never_see_half_a_row(online: OnlineStore, backend: OnlineBackend) -> None:
    stop = threading.Event()
    n_reads = [0, 0]

    def write(_: int) -> None:
        try:
            for version in range(1, 40):
                n = len(ORIGINS)
                rows = scalar_rows(ORIGINS, [at(1, micro=version)] * n, [version] * n)
                online.write(SCALARS, rows, timestamp="ts")
        finally:
            stop.set()

    def read(i: int) -> None:
        with backend.open() as reader:
            seen = [0] * len(ORIGINS)
            while not stop.is_set() or n_reads[i] == 0:
                rows = reader.read(SCALARS, [(o,) for o in ORIGINS])
                n_reads[i] += 1
                for j, row in enumerate(rows):
                    if row is None:
                        continue
                    n = row.values["n_flights"]
                    # One row's values all come from one write ...
                    assert row.values == {"n_flights": n, "delay": n / 4, "carrier": f"c{n}"}
                    assert row.event_time == at(1, micro=n)
                    # ... and an entity never goes back to an older version.
                    assert n >= seen[j]
                    seen[j] = n

    errors = _threads(lambda i: write(i) if i == 2 else read(i), 3)
    assert errors == []
    assert min(n_reads) >= 1
    assert _versions(online) == [39] * len(ORIGINS)


def test_a_reader_gets_no_value_of_another_type_while_the_schema_flips(
    online: OnlineStore, backend: OnlineBackend
) -> None:
    retyped = OnlineSchema("scalars", ("origin",), (("n_flights", "string"),))
    text_rows = pa.table(
        {
            "origin": ORIGINS,
            "ts": pa.array([at(2)] * len(ORIGINS), pa.timestamp("us", tz="UTC")),
            "n_flights": [f"n{i}" for i in range(len(ORIGINS))],
        }
    )
    int_rows = scalar_rows(ORIGINS, [at(1)] * len(ORIGINS), list(range(len(ORIGINS))))
    stop = threading.Event()
    outcomes = {"rows": 0, "none": 0, "refused": 0}

    def flip(_: int) -> None:
        try:
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline:
                online.write(SCALARS, int_rows, timestamp="ts")
                online.write(retyped, text_rows, timestamp="ts")
        finally:
            stop.set()

    def read(_: int) -> None:
        with backend.open() as reader:
            while not stop.is_set():
                try:
                    rows = reader.read(SCALARS, [(o,) for o in ORIGINS], features=["n_flights"])
                except OnlineStoreError:  # a mismatch, or the schema flipped on every retry
                    outcomes["refused"] += 1
                    continue
                for row in rows:
                    if row is None:
                        outcomes["none"] += 1
                    else:
                        assert type(row.values["n_flights"]) is int
                        outcomes["rows"] += 1

    assert _threads(lambda i: flip(i) if i == 0 else read(i), 2) == []
    assert outcomes["rows"] + outcomes["refused"] > 0
