"""R13: a tampered or corrupted artifact is never loaded.

A "loader" thread reads through ``open_verified`` while the test, stopped at a named pause
point, tampers with the stored blob: mid-copy, and after verification. The loader must get
the original bytes or a ``ChecksumMismatchError`` before its body runs, never other bytes.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from artifacts_helpers import PauseBarrier

from conveyor.artifacts import ArtifactStore, FsspecArtifactStore, LocalArtifactStore
from conveyor.core import ChecksumMismatchError

MiB = 1024 * 1024


class Loader:
    """Runs ``open_verified`` in a thread, like a model server loading a version."""

    def __init__(self, store: ArtifactStore, digest: str, tmp_dir: Path) -> None:
        self.loaded: list[bytes] = []
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, args=(store, digest, tmp_dir))

    def _run(self, store: ArtifactStore, digest: str, tmp_dir: Path) -> None:
        try:
            with store.open_verified(digest, tmp_dir=tmp_dir) as f:
                self.loaded.append(f.read())
        except BaseException as exc:
            self.errors.append(exc)

    def start(self) -> Loader:
        self.thread.start()
        return self

    def join(self) -> None:
        self.thread.join(30)
        assert not self.thread.is_alive()


def flip_local(store: LocalArtifactStore, digest: str, offset: int) -> None:
    path = store.blob_path(digest)
    os.chmod(path, 0o600)
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0xFF]))


def test_tamper_during_copy_is_detected(
    local_store: LocalArtifactStore, tmp_path: Path, pause: Callable[[str], PauseBarrier]
) -> None:
    data = os.urandom(3 * MiB)
    digest = local_store.put_bytes(data).digest
    private_root = tmp_path / "private"
    private_root.mkdir()
    barrier = pause("artifacts.verify.copying")  # after the first 1 MiB chunk
    loader = Loader(local_store, digest, private_root).start()
    barrier.wait_reached()
    flip_local(local_store, digest, offset=2 * MiB + 123)  # in the part not yet copied
    barrier.resume()
    loader.join()
    assert loader.loaded == []  # the loader's body never ran
    assert len(loader.errors) == 1 and isinstance(loader.errors[0], ChecksumMismatchError)
    assert digest in str(loader.errors[0])
    assert list(private_root.iterdir()) == []  # the private copy is gone


def test_tamper_after_verification_cannot_reach_the_loader(
    local_store: LocalArtifactStore, tmp_path: Path, pause: Callable[[str], PauseBarrier]
) -> None:
    data = os.urandom(3 * MiB)
    digest = local_store.put_bytes(data).digest
    private_root = tmp_path / "private"
    private_root.mkdir()
    barrier = pause("artifacts.verify.verified")
    loader = Loader(local_store, digest, private_root).start()
    barrier.wait_reached()
    # Verified, not yet read. The attacker rewrites the shared blob and looks for the copy.
    flip_local(local_store, digest, offset=10)
    (private,) = private_root.iterdir()
    assert stat.S_IMODE(private.stat().st_mode) == 0o700
    assert list(private.iterdir()) == []  # the verified copy has no name to open or replace
    barrier.resume()
    loader.join()
    assert loader.errors == []
    assert loader.loaded == [data]  # the verified bytes, not the tampered ones
    assert list(private_root.iterdir()) == []
    with pytest.raises(ChecksumMismatchError):  # and the next load refuses the tampered blob
        local_store.get_bytes(digest)


def test_replaced_blob_during_copy_on_memory_store(
    memory_store: FsspecArtifactStore, tmp_path: Path, pause: Callable[[str], PauseBarrier]
) -> None:
    """On an object store a tamperer replaces the object; the loader gets old bytes or none."""
    import fsspec

    data = os.urandom(20 * MiB)  # several 8 MiB ranged reads
    digest = memory_store.put_bytes(data).digest
    key = (
        "/"
        + memory_store.url.removeprefix("memory://")
        + f"/blobs/sha256/{digest[:2]}/{digest[2:]}"
    )
    barrier = pause("artifacts.verify.copying")
    loader = Loader(memory_store, digest, tmp_path).start()
    barrier.wait_reached()
    evil = bytearray(data)
    evil[15 * MiB] ^= 0xFF
    fsspec.filesystem("memory").pipe_file(key, bytes(evil))
    barrier.resume()
    loader.join()
    assert loader.loaded == []
    assert len(loader.errors) == 1 and isinstance(loader.errors[0], ChecksumMismatchError)


def test_every_loaded_byte_was_verified(local_store: LocalArtifactStore, tmp_path: Path) -> None:
    """Whatever ``open_verified`` yields hashes to the digest asked for (10 blobs)."""
    for i in range(10):
        data = os.urandom(1000 * (i + 1))
        digest = local_store.put_bytes(data).digest
        with local_store.open_verified(digest, tmp_dir=tmp_path) as f:
            assert hashlib.sha256(f.read()).hexdigest() == digest
