"""The shared backend suite on the local and ``memory://`` stores, plus local-only behaviour."""

from __future__ import annotations

import datetime as dt
import errno
import os
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import fsspec
import pytest
from artifacts_backend_suite import ArtifactStoreSuite, UploadSuite
from artifacts_helpers import drop_memory, memory_url

from conveyor.artifacts import (
    ArtifactStore,
    FsspecArtifactStore,
    LocalArtifactStore,
    collect_garbage,
)
from conveyor.artifacts._files import store_full_error
from conveyor.core import ArtifactError, ArtifactStoreFullError, InvalidValueError


class TestLocalBackend(ArtifactStoreSuite):
    @pytest.fixture
    def artifact_store(self, tmp_path_factory: pytest.TempPathFactory) -> LocalArtifactStore:
        return LocalArtifactStore(tmp_path_factory.mktemp("local-store"))

    def _path(self, store: ArtifactStore, digest: str) -> Path:
        assert isinstance(store, LocalArtifactStore)
        return store.root / "blobs" / "sha256" / digest[:2] / digest[2:]

    def raw_read(self, store: ArtifactStore, digest: str) -> bytes:
        return self._path(store, digest).read_bytes()

    def raw_write(self, store: ArtifactStore, digest: str, data: bytes) -> None:
        path = self._path(store, digest)
        os.chmod(path, 0o600)
        with open(path, "r+b") as f:  # in place: same inode, as an attacker or bad disk would
            f.write(data)
            f.truncate()

    def backdate(self, store: ArtifactStore, digest: str, seconds: float) -> None:
        then = time.time() - seconds
        os.utime(self._path(store, digest), (then, then))


class TestMemoryBackend(ArtifactStoreSuite, UploadSuite):
    @pytest.fixture(params=["buffered", "streaming"])
    def artifact_store(self, request: pytest.FixtureRequest) -> Iterator[FsspecArtifactStore]:
        url = memory_url()
        # "streaming" forces the large-blob upload path (hash, then stream, then commit).
        limit = 64 * 1024 if request.param == "streaming" else None
        yield FsspecArtifactStore(url, max_buffered_bytes=limit, dedup_refresh=0)
        drop_memory(url)

    def _key(self, store: ArtifactStore, digest: str) -> str:
        root = "/" + store.url.removeprefix("memory://")
        return f"{root}/blobs/sha256/{digest[:2]}/{digest[2:]}"

    def raw_read(self, store: ArtifactStore, digest: str) -> bytes:
        return bytes(fsspec.filesystem("memory").cat_file(self._key(store, digest)))

    def raw_write(self, store: ArtifactStore, digest: str, data: bytes) -> None:
        fsspec.filesystem("memory").pipe_file(self._key(store, digest), data)

    def backdate(self, store: ArtifactStore, digest: str, seconds: float) -> None:
        entry = fsspec.filesystem("memory").store[self._key(store, digest)]
        entry.created = dt.datetime.now(tz=dt.UTC) - dt.timedelta(seconds=seconds)


# -- local store only ---------------------------------------------------------------------


def test_layout_and_modes(local_store: LocalArtifactStore) -> None:
    digest = local_store.put_bytes(b"weights").digest
    root = local_store.root
    blob = root / "blobs" / "sha256" / digest[:2] / digest[2:]
    assert blob.read_bytes() == b"weights"
    for directory in (root, root / "blobs", root / "blobs" / "sha256", blob.parent, root / "tmp"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    assert stat.S_IMODE(blob.stat().st_mode) == 0o400  # owner read-only once written
    assert local_store.blob_path(digest) == blob
    assert os.listdir(root / "tmp") == []


def test_modes_hold_under_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        store = LocalArtifactStore(tmp_path / "store")
        digest = store.put_bytes(b"x").digest
    finally:
        os.umask(old)
    assert stat.S_IMODE(store.blob_path(digest).parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(store.blob_path(digest).stat().st_mode) == 0o400


def test_truncated_blob_is_healed_by_a_re_put(local_store: LocalArtifactStore) -> None:
    digest = local_store.put_bytes(b"full content").digest
    path = local_store.blob_path(digest)
    os.chmod(path, 0o600)
    path.write_bytes(b"full")
    assert local_store.put_bytes(b"full content").digest == digest
    assert local_store.get_bytes(digest) == b"full content"


def test_orphan_temp_files_are_collected(local_store: LocalArtifactStore) -> None:
    tmp = local_store.root / "tmp"
    old, fresh = tmp / "0123456789abcdef.tmp", tmp / "fedcba9876543210.tmp"
    old.write_bytes(b"half a blob from a killed writer")
    fresh.write_bytes(b"an in-flight write")
    then = time.time() - 7200
    os.utime(old, (then, then))
    assert collect_garbage(local_store, [], dry_run=True).n_temp_removed == 0
    report = collect_garbage(local_store, [])
    assert report.n_temp_removed == 1
    assert sorted(os.listdir(tmp)) == [fresh.name]
    os.utime(fresh, (then, then))
    LocalArtifactStore(local_store.root)  # opening also sweeps old orphans
    assert os.listdir(tmp) == []


def test_dedup_compares_content_not_only_size(local_store: LocalArtifactStore) -> None:
    digest = local_store.put_bytes(b"good weights").digest
    path = local_store.blob_path(digest)
    os.chmod(path, 0o600)
    path.write_bytes(b"evil weights")  # same size, other bytes
    assert local_store.put_bytes(b"good weights").digest == digest
    assert path.read_bytes() == b"good weights"  # rewritten, not vouched for
    assert local_store.get_bytes(digest) == b"good weights"


def test_gc_gives_back_a_blob_renewed_before_its_claim(local_store: LocalArtifactStore) -> None:
    digest = local_store.put_bytes(b"re-put just now").digest
    # Listed as old, then renewed by a put before GC claims it: GC must give it back.
    assert local_store.delete_if_older(digest, older_than=3600) is False
    assert local_store.get_bytes(digest) == b"re-put just now"
    assert os.listdir(local_store.root / "tmp") == []
    then = time.time() - 7200
    os.utime(local_store.blob_path(digest), (then, then))
    assert local_store.delete_if_older(digest, older_than=3600) is True
    assert not local_store.exists(digest)
    assert local_store.delete_if_older(digest, older_than=3600) is False  # already gone


def test_gc_never_deletes_a_blob_a_concurrent_put_returned(local_store: LocalArtifactStore) -> None:
    """A put that returns has a blob behind it, however GC interleaves (200 races)."""
    data = b"weights re-put by a new run"
    n_lost = 0
    for _ in range(200):
        digest = local_store.put_bytes(data).digest
        then = time.time() - 7200
        os.utime(local_store.blob_path(digest), (then, then))
        gc = threading.Thread(target=collect_garbage, args=(local_store, []))
        gc.start()
        local_store.put_bytes(data)
        gc.join()
        n_lost += not local_store.exists(digest)
    assert n_lost == 0


def test_gc_refuses_a_grace_shorter_than_the_dedup_window() -> None:
    url = memory_url()
    try:
        store = FsspecArtifactStore(url)  # re-puts within 600 s do not renew a blob's time
        with pytest.raises(InvalidValueError, match="dedup window") as info:
            collect_garbage(store, [], older_than=60)
        assert "at least 600 seconds" in str(info.value)
        assert collect_garbage(store, [], older_than=600).n_deleted == 0
    finally:
        drop_memory(url)


def test_iter_blobs_ignores_foreign_files(local_store: LocalArtifactStore) -> None:
    digest = local_store.put_bytes(b"x").digest
    (local_store.root / "blobs" / "sha256" / "zz").mkdir()
    (local_store.blob_path(digest).parent / "notes.txt").write_text("hi")
    assert [b.digest for b in local_store.iter_blobs()] == [digest]


def test_store_full_error_message() -> None:
    exc = OSError(errno.ENOSPC, "No space left on device")
    error = store_full_error(exc, n_bytes=20_000_000, where="/srv/artifacts")
    assert isinstance(error, ArtifactStoreFullError) and isinstance(error, OSError)
    assert error.errno == errno.ENOSPC
    assert str(error) == (
        "artifact store full: could not write 20.0 MB to /srv/artifacts (ENOSPC). Free space "
        "or point the 'artifacts' setting (CONVEYOR_ARTIFACTS) at a larger store."
    )


def test_unwritable_root_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"not a folder")
    with pytest.raises(ArtifactError, match="Cannot open the artifact store"):
        LocalArtifactStore(tmp_path / "file" / "store")
