"""R02/R12: a process killed (SIGKILL) mid-write or mid-read leaves no partial artifact.

A child process stops at a named pause point; the test kills it there with SIGKILL and
checks what a reader can see: never a partial blob, a partial destination file, or a
named private copy.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from artifacts_helpers import PauseBarrier

from conveyor.artifacts import LocalArtifactStore, collect_garbage
from conveyor.core import sha256_bytes
from conveyor.core._pause import PIPE_ENV, POINT_ENV

pytestmark = pytest.mark.integration

CHILD = """
import sys
from conveyor.artifacts import LocalArtifactStore
store = LocalArtifactStore(sys.argv[1])
if sys.argv[2] == "put":
    store.put_file(sys.argv[3])
elif sys.argv[2] == "get":
    store.get_file(sys.argv[3], sys.argv[4])
else:
    with store.open_verified(sys.argv[3], tmp_dir=sys.argv[4]) as f:
        f.read()
"""


def kill_at(point: str, tmp_path: Path, *args: str) -> None:
    fifo = tmp_path / "pause.fifo"
    os.mkfifo(fifo)
    env = {**os.environ, POINT_ENV: point, PIPE_ENV: str(fifo)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, *args], env=env)
    barrier = PauseBarrier(fifo)
    try:
        barrier.wait_reached(timeout=60)
        child.send_signal(signal.SIGKILL)
        assert child.wait(30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(30)
        barrier.release()


def test_killed_before_rename_leaves_no_blob(tmp_path: Path) -> None:
    root = tmp_path / "store"
    data = os.urandom(3 * 1024 * 1024)
    source = tmp_path / "model.bin"
    source.write_bytes(data)
    kill_at("artifacts.write.before_replace", tmp_path, str(root), "put", str(source))
    store = LocalArtifactStore(root)  # reopening keeps a young orphan: it may be in flight
    digest = sha256_bytes(data)
    assert not store.exists(digest)
    assert list(store.iter_blobs()) == []
    (orphan,) = (root / "tmp").iterdir()
    then = time.time() - 7200
    os.utime(orphan, (then, then))
    assert collect_garbage(store, []).n_temp_removed == 1
    assert list((root / "tmp").iterdir()) == []
    assert store.put_file(source).digest == digest  # the rerun succeeds
    assert store.get_bytes(digest) == data


def test_killed_mid_download_leaves_no_dest(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "store")
    data = os.urandom(3 * 1024 * 1024)
    digest = store.put_bytes(data).digest
    dest = tmp_path / "out" / "model.bin"
    kill_at("artifacts.get_file.copying", tmp_path, str(store.root), "get", digest, str(dest))
    assert not dest.exists()  # only a hidden .part file, never a partial model.bin
    assert all(p.name.startswith(".conveyor-") for p in dest.parent.iterdir())
    assert store.get_file(digest, dest).read_bytes() == data


def test_killed_loader_leaves_no_named_copy(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "store")
    digest = store.put_bytes(os.urandom(2 * 1024 * 1024)).digest
    private_root = tmp_path / "private"
    private_root.mkdir()
    kill_at(
        "artifacts.verify.verified", tmp_path, str(store.root), "load", digest, str(private_root)
    )
    (private,) = private_root.iterdir()  # the 0700 directory survives the kill, empty
    assert list(private.iterdir()) == []
