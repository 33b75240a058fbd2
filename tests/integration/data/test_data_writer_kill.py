"""A snapshot writer killed (SIGKILL) mid-write leaves its temporary file and nothing else.

The child writes a large snapshot to a temporary path and would then store it in the
artifact store, as the snapshot service does; the test kills it once the first row group
is on disk, and checks that the store holds nothing and that the temporary file is no
valid Parquet a reader could mistake for a snapshot.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conveyor.artifacts import LocalArtifactStore
from conveyor.core._pause import PIPE_ENV, POINT_ENV
from conveyor.data._writer import write_snapshot
from support.pause import PauseBarrier

pytestmark = [pytest.mark.integration, pytest.mark.slow]

N_ROWS = 3 << 20  # three row groups of this two-column schema
BATCH = 1 << 16

CHILD = """
import sys
import numpy as np
import pyarrow as pa
from conveyor.artifacts import LocalArtifactStore
from conveyor.data._writer import write_snapshot

def batches():
    for start in range(0, int(sys.argv[3]), int(sys.argv[4])):
        ids = np.arange(start, start + int(sys.argv[4]), dtype=np.int64)
        yield pa.record_batch({"id": ids, "x": ids * 7 % 1000})

written = write_snapshot(batches(), sys.argv[1])
info = LocalArtifactStore(sys.argv[2]).put_file(sys.argv[1])
assert info.digest == written.digest
print(written.digest)
"""


def expected_digest(tmp_path: Path) -> str:
    import numpy as np

    def batches():  # type: ignore[no-untyped-def]
        for start in range(0, N_ROWS, BATCH):
            ids = np.arange(start, start + BATCH, dtype=np.int64)
            yield pa.record_batch({"id": ids, "x": ids * 7 % 1000})

    return write_snapshot(batches(), tmp_path / "reference.parquet").digest


def run_child(
    tmp_file: Path, store: Path, env: dict[str, str], *, output: int = subprocess.DEVNULL
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_file), str(store), str(N_ROWS), str(BATCH)],
        env=env,
        stdout=output,
        text=True,
    )


def test_a_writer_killed_mid_write_leaves_only_its_temp_file(tmp_path: Path) -> None:
    staging = tmp_path / "staging"
    staging.mkdir()
    tmp_file = staging / "snapshot.parquet.tmp"
    store_root = tmp_path / "store"
    fifo = tmp_path / "pause.fifo"
    os.mkfifo(fifo)
    env = {**os.environ, POINT_ENV: "data.snapshot.row_group_written", PIPE_ENV: str(fifo)}
    child = run_child(tmp_file, store_root, env)
    barrier = PauseBarrier(fifo)
    try:
        barrier.wait_reached(timeout=120)
        written_so_far = tmp_file.stat().st_size
        child.send_signal(signal.SIGKILL)
        assert child.wait(30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(30)
        barrier.release()

    assert written_so_far > 1 << 20  # a row group was on disk: the kill was mid-write
    assert [p.name for p in staging.iterdir()] == ["snapshot.parquet.tmp"]
    with pytest.raises(pa.ArrowInvalid):  # no footer: nothing could read it as a snapshot
        pq.ParquetFile(tmp_file)
    store = LocalArtifactStore(store_root)
    assert list(store.iter_blobs()) == []

    # Run again: the rerun replaces the temporary file and stores the whole snapshot.
    env = {k: v for k, v in os.environ.items() if k not in (POINT_ENV, PIPE_ENV)}
    rerun = run_child(tmp_file, store_root, env, output=subprocess.PIPE)
    out, _ = rerun.communicate(timeout=120)
    assert rerun.returncode == 0
    digest = out.strip()
    assert digest == expected_digest(tmp_path)
    assert [b.digest for b in store.iter_blobs()] == [digest]
    assert pq.ParquetFile(tmp_file).metadata.num_rows == N_ROWS
