"""The prediction log writer: rows round-trip through Parquet segments in the artifact store,
in order; overload drops (counted), never blocks; close flushes; a failing store or disk is
counted, never raised; DuckDB reads the segments as written."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from conveyor import store as st
from conveyor.core import InvalidValueError
from conveyor.serve.runtime import (
    LOG_COLUMNS,
    SEGMENT_FORMAT,
    LogChunk,
    PredictionLog,
    prediction_log_table,
    read_segment,
)
from conveyor.store._engine import create_store_engine
from conveyor.workspace import Workspace
from support.prediction_log import chunk
from support.waits import wait_for

pytestmark = pytest.mark.integration


def test_rows_round_trip_in_order(ws: Workspace) -> None:
    log = PredictionLog(ws, "api", segment_rows=250, flush_seconds=30)
    log.start()
    chunks = [chunk(100, start=100 * i) for i in range(10)]
    assert all(log.submit(c) for c in chunks)
    log.close()
    assert (log.written_rows, log.dropped_rows, log.queued_rows) == (1000, 0, 0)
    segments = st.list_prediction_segments(ws.store, "api")
    assert log.segments_written == len(segments) >= 4  # at most 250 rows each
    assert all(
        s.n_rows <= 250 and (s.model, s.version, s.role) == ("churn", 1, "serve") for s in segments
    )
    table = prediction_log_table(ws, "api")
    assert table.column_names == [*LOG_COLUMNS, "inputs", "outputs", "features"]
    ids = [i for c in chunks for i in c.ids]
    assert table.column("prediction_id").to_pylist() == ids
    rows = table.to_pylist()
    assert [r["inputs"]["seq"] for r in rows] == list(range(1000))
    first = rows[7]
    assert first["inputs"] == {"seq": 7, "age": 7.0, "plan": "pro"}
    assert first["outputs"] == {"prediction": 1, "score": 0.07}
    assert first["features"] == {"tenure_days": 21}
    assert (first["deployment"], first["model"], first["model_version"], first["role"]) == (
        "api",
        "churn",
        1,
        "serve",
    )
    assert (first["request_id"], first["latency_seconds"]) == ("req-7", 0.002)
    assert table.schema.field("ts").type == pa.timestamp("ms", tz="UTC")
    # Each segment's index matches its rows.
    for segment in segments:
        part = read_segment(ws, segment.digest)
        assert part.schema.metadata[b"conveyor.format"] == SEGMENT_FORMAT.encode()
        assert part.num_rows == segment.n_rows
        assert part.column("prediction_id")[0].as_py() == segment.first_id
        assert part.column("prediction_id")[-1].as_py() == segment.last_id


def test_versions_and_roles_go_to_separate_segments(ws: Workspace) -> None:
    log = PredictionLog(ws, "api", flush_seconds=30)
    log.submit(chunk(5, version=1))
    log.submit(chunk(3, version=2, role="canary", features=False))
    log.submit(chunk(4, version=2, role="shadow"))
    log.flush()
    segments = st.list_prediction_segments(ws.store, "api")
    assert sorted((s.version, s.role, s.n_rows) for s in segments) == [
        (1, "serve", 5),
        (2, "canary", 3),
        (2, "shadow", 4),
    ]
    table = prediction_log_table(ws, "api")
    assert table.num_rows == 12
    no_features = [r for r in table.to_pylist() if r["role"] == "canary"]
    assert all(r["features"] is None for r in no_features)
    log.close()


def test_duckdb_reads_a_segment_and_the_table(ws: Workspace, tmp_path: Path) -> None:
    log = PredictionLog(ws, "api")
    log.submit(chunk(50))
    log.close()
    (segment,) = st.list_prediction_segments(ws.store, "api")
    path = tmp_path / "segment.parquet"
    path.write_bytes(ws.artifacts.get_bytes(segment.digest))
    found = duckdb.sql(
        f"SELECT count(*), max(inputs.seq), sum(outputs.prediction), "
        f"min(features.tenure_days), any_value(deployment) FROM read_parquet('{path}')"
    ).fetchall()
    assert found == [(50, 49, 25, 0, "api")]
    log_table = prediction_log_table(ws, "api")  # noqa: F841 (DuckDB finds it by name)
    pro = duckdb.sql("SELECT count(*) FROM log_table WHERE inputs.plan = 'pro'").fetchall()
    assert pro == [(25,)]


def test_time_filters(ws: Workspace) -> None:
    log = PredictionLog(ws, "api")
    for t in (1_000, 2_000, 3_000):
        c = chunk(10)
        log.submit(LogChunk(**{**{f: getattr(c, f) for f in c.__slots__}, "ts_ms": np.full(10, t)}))
        log.flush()
    log.close()
    assert prediction_log_table(ws, "api").num_rows == 30
    assert prediction_log_table(ws, "api", since_ms=2_000).num_rows == 20
    assert prediction_log_table(ws, "api", until_ms=1_999).num_rows == 10
    assert prediction_log_table(ws, "api", since_ms=1_500, until_ms=2_500).num_rows == 10
    assert prediction_log_table(ws, "api", since_ms=9_000).num_rows == 0


def test_a_full_queue_drops_chunks_and_counts_them(ws: Workspace) -> None:
    log = PredictionLog(ws, "api", segment_rows=1_000, flush_seconds=30, max_queue_rows=25)
    # No writer thread yet: nothing leaves the queue.
    results = [log.submit(chunk(10, start=10 * i)) for i in range(5)]
    assert results == [True, True, False, False, False]
    assert (log.queued_rows, log.dropped_rows) == (20, 30)
    log.start()
    log.flush()
    assert (log.queued_rows, log.written_rows) == (0, 20)
    assert log.submit(chunk(10))  # room again
    log.close()
    assert (log.written_rows, log.dropped_rows) == (30, 30)
    assert not log.submit(chunk(1))  # closed: dropped and counted
    assert log.dropped_rows == 31
    log.close()  # idempotent


def test_submit_never_blocks_on_a_slow_writer(ws: Workspace) -> None:
    """While the writer is stuck inside a segment write, submit still returns at once."""
    entered, release = threading.Event(), threading.Event()
    original = ws.artifacts.put_bytes

    def slow_put(data: bytes) -> object:
        entered.set()
        release.wait(30)
        return original(data)

    ws.artifacts.put_bytes = slow_put  # type: ignore[method-assign]
    log = PredictionLog(ws, "api", segment_rows=10, max_queue_rows=100)
    log.start()
    log.submit(chunk(10))
    assert entered.wait(10)
    accepted = [log.submit(chunk(10)) for _ in range(20)]
    assert accepted.count(True) == 9 and accepted.count(False) == 11  # 100 rows held
    release.set()
    log.close()
    assert (log.written_rows, log.dropped_rows, log.queued_rows) == (100, 110, 0)


def test_the_timer_writes_without_a_flush(ws: Workspace) -> None:
    log = PredictionLog(ws, "api", flush_seconds=0.05)
    log.start()
    log.submit(chunk(3))
    wait_for(lambda: log.written_rows == 3, what="the timed write")
    log.close()


def test_a_store_outage_is_counted_not_raised(
    ws: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    log = PredictionLog(ws, "api", flush_seconds=30)
    log.start()
    log.submit(chunk(10))
    log.flush()
    # A metadata store that refuses connections (nothing listens on port 1).
    engine, retries = ws.store.engine, ws.store.retries
    ws.store.engine = create_store_engine(
        "postgresql://conveyor@127.0.0.1:1/none", busy_timeout=1.0, pool_size=1
    )
    ws.store.retries = 0
    try:
        with caplog.at_level(logging.WARNING):
            assert log.submit(chunk(7))
            log.flush()
            assert log.submit(chunk(5))
            log.flush()
    finally:
        ws.store.engine.dispose()
        ws.store.engine, ws.store.retries = engine, retries
    assert (log.written_rows, log.dropped_rows, log.queued_rows) == (10, 12, 0)
    assert log.last_error is not None and "StoreUnavailableError" in log.last_error
    warnings = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert len(warnings) == 1  # once a minute, not once a segment
    assert "metadata store is reachable" in warnings[0].getMessage()
    # Back up: the writer carries on.
    log.submit(chunk(3))
    log.close()
    assert (log.written_rows, log.dropped_rows) == (13, 12)
    assert sum(s.n_rows for s in st.list_prediction_segments(ws.store, "api")) == 13


def test_bad_chunks_are_dropped_alone(ws: Workspace) -> None:
    log = PredictionLog(ws, "api", flush_seconds=30)
    good, bad = chunk(4), chunk(3)
    broken = LogChunk(**{**{f: getattr(bad, f) for f in bad.__slots__}, "latency_s": np.zeros(2)})
    assert log.submit(good) and log.submit(broken)
    log.close()
    assert (log.written_rows, log.dropped_rows) == (4, 3)
    assert "'latency_seconds' has 2 values for 3 rows" in (log.last_error or "")


def test_settings_are_checked(ws: Workspace) -> None:
    with pytest.raises(InvalidValueError, match="segment_rows must be at least 1"):
        PredictionLog(ws, "api", segment_rows=0)
    with pytest.raises(InvalidValueError, match="flush_seconds must be above 0"):
        PredictionLog(ws, "api", flush_seconds=0)


def test_submit_from_many_threads(ws: Workspace) -> None:
    log = PredictionLog(ws, "api", segment_rows=500, flush_seconds=0.05)
    log.start()

    def work(k: int) -> None:
        for i in range(50):
            log.submit(chunk(4, start=(k * 50 + i) * 4))
            time.sleep(0.0005)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.close()
    assert (log.written_rows, log.dropped_rows) == (800, 0)
    table = prediction_log_table(ws, "api")
    seqs = sorted(r["seq"] for r in table.column("inputs").to_pylist())
    assert seqs == list(range(800))
    ids = table.column("prediction_id").to_pylist()
    assert len(set(ids)) == 800
