"""R12 for the prediction log: a full disk drops log rows (counted), never raises, and the
log resumes once there is room; a SIGKILL mid-writing leaves every indexed segment whole
and loses only what was still queued."""

from __future__ import annotations

import io
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conveyor import store as st
from conveyor.serve.runtime import (
    PredictionLog,
    prediction_log_table,
    read_segment,
    set_deployment,
)
from support.prediction_log import chunk, open_workspace

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WRITER = str(Path(__file__).with_name("predlog_writer.py"))


def every_blob_verifies(ws: object) -> int:
    artifacts = ws.artifacts  # type: ignore[attr-defined]
    n = 0
    for blob in artifacts.iter_blobs():
        artifacts.get_bytes(blob.digest)  # raises on a corrupt blob
        n += 1
    return n


def test_a_full_disk_drops_log_rows_and_the_log_resumes(
    tmp_path: Path, small_disk: Path, sqlite_url: str
) -> None:
    ws = open_workspace(tmp_path / "project", sqlite_url, artifacts=str(small_disk / "store"))
    st.register_model_version(ws.store, "churn")
    set_deployment(ws, "api", model="churn")
    log = PredictionLog(ws, "api", segment_rows=100, flush_seconds=0.05)
    log.start()
    # 2 000 predictions of ~1 KB of incompressible input each: twice the disk.
    accepted = [log.submit(chunk(20, start=20 * i, payload=512)) for i in range(100)]
    assert all(accepted)  # the request path never notices
    log.flush(timeout=60)
    assert log.written_rows + log.dropped_rows == 2_000
    assert log.dropped_rows > 0 and log.written_rows > 0
    assert "full" in (log.last_error or "")
    # Every indexed segment reads back whole, and nothing partial is left in the store.
    segments = st.list_prediction_segments(ws.store, "api")
    assert sum(s.n_rows for s in segments) == log.written_rows
    for segment in segments:
        assert read_segment(ws, segment.digest).num_rows == segment.n_rows
    every_blob_verifies(ws)
    assert list((small_disk / "store" / "tmp").glob("*")) == []
    # Room again: the log resumes by itself.
    subprocess.run(["mount", "-o", "remount,size=8m", str(small_disk)], check=True)
    written = log.written_rows
    log.submit(chunk(20, start=5_000, payload=512))
    log.close()
    assert log.written_rows == written + 20
    assert prediction_log_table(ws, "api").num_rows == written + 20
    ws.close()


def test_sigkill_while_writing_leaves_no_corrupt_segment(tmp_path: Path, sqlite_url: str) -> None:
    root = tmp_path / "project"
    with open_workspace(root, sqlite_url) as ws:
        st.register_model_version(ws.store, "churn")
        set_deployment(ws, "api", model="churn")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    rounds = 4
    for k in range(rounds):
        with subprocess.Popen(
            [sys.executable, WRITER, str(root), sqlite_url, str(k * 1_000_000)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        ) as proc:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
            time.sleep(random.uniform(0.05, 0.5))  # a random moment, likely mid-write
            proc.send_signal(signal.SIGKILL)
            assert proc.wait(10) == -signal.SIGKILL
    with open_workspace(root, sqlite_url) as ws:
        segments = st.list_prediction_segments(ws.store, "api")
        assert segments
        corrupt = 0
        seqs: list[int] = []
        for segment in segments:
            try:
                data = ws.artifacts.get_bytes(segment.digest)
                table = pq.read_table(io.BytesIO(data))
            except Exception:
                corrupt += 1
                continue
            assert table.num_rows == segment.n_rows
            seqs += [r["seq"] for r in table.column("inputs").to_pylist()]
        assert corrupt == 0
        every_blob_verifies(ws)
        # What each process logged is a prefix of what it submitted: nothing lost midway.
        for k in range(rounds):
            mine = sorted(s for s in seqs if k * 1_000_000 <= s < (k + 1) * 1_000_000)
            assert mine, f"round {k} logged nothing"
            assert mine == list(range(k * 1_000_000, k * 1_000_000 + len(mine)))
