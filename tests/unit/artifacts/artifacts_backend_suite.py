"""One behavioural suite every ``ArtifactStore`` backend must pass (dagster-style).

The store under test must live outside ``tmp_path``: tests assert what ``tmp_path`` holds.

A backend's test class subclasses :class:`ArtifactStoreSuite`, provides an
``artifact_store`` fixture and the attacker's hooks ``raw_read``/``raw_write`` (bytes of a
stored blob, bypassing the store) and, where the backend allows it, ``backdate``. The local
and ``memory://`` stores run it in ``tests/unit``; the S3 store (moto) in
``tests/integration``.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from artifacts_helpers import PauseBarrier

from conveyor.artifacts import (
    MANIFEST_PREFIX,
    ArtifactStore,
    DirEntry,
    collect_garbage,
    expand_references,
)
from conveyor.core import (
    AlreadyExistsError,
    ArtifactError,
    ChecksumMismatchError,
    InvalidNameError,
    NotFoundError,
    canonical_json,
)
from conveyor.core._pause import PIPE_ENV, POINT_ENV

MISSING = "0" * 64


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_tree(root: Path) -> dict[str, bytes]:
    """A small directory: nested files, an empty file, binary content, a link inside."""
    files = {
        "README.md": b"# model\n",
        "weights/layer0.bin": os.urandom(70_000),
        "weights/layer1.bin": b"\x00" * 1000,
        "deep/a/b/c/empty.txt": b"",
        "config.json": canonical_json({"lr": 0.1}),
    }
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    (root / "alias.json").symlink_to("config.json")  # a link to a file inside: stored as a file
    return {**files, "alias.json": files["config.json"]}


def read_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


class ArtifactStoreSuite:
    """The shared behaviour. Subclasses supply the fixture and the hooks below."""

    def raw_read(self, store: ArtifactStore, digest: str) -> bytes:
        raise NotImplementedError

    def raw_write(self, store: ArtifactStore, digest: str, data: bytes) -> None:
        raise NotImplementedError

    def backdate(self, store: ArtifactStore, digest: str, seconds: float) -> None:
        pytest.skip(f"{type(store).__name__} on this backend cannot backdate a blob")

    def flip_byte(self, store: ArtifactStore, digest: str, offset: int = 0) -> None:
        data = bytearray(self.raw_read(store, digest))
        data[offset] ^= 0x01
        self.raw_write(store, digest, bytes(data))

    # -- put / get ----------------------------------------------------------------------

    @pytest.mark.parametrize(
        "data",
        [b"", b"x", bytes(range(256)), b"\x00" * 4096, os.urandom(300_000)],
        ids=["empty", "one", "all-bytes", "zeros", "random"],
    )
    def test_bytes_round_trip(self, artifact_store: ArtifactStore, data: bytes) -> None:
        info = artifact_store.put_bytes(data)
        assert (info.digest, info.size) == (sha(data), len(data))
        assert artifact_store.get_bytes(info.digest) == data
        assert artifact_store.get_bytes("sha256:" + info.digest) == data
        assert artifact_store.exists(info.digest)
        assert artifact_store.stat(info.digest).size == len(data)

    def test_put_twice_stores_once(self, artifact_store: ArtifactStore, tmp_path: Path) -> None:
        first = artifact_store.put_bytes(b"same bytes")
        source = tmp_path / "same.bin"
        source.write_bytes(b"same bytes")
        assert artifact_store.put_bytes(b"same bytes") == first
        assert artifact_store.put_file(source) == first
        assert [b.digest for b in artifact_store.iter_blobs()] == [first.digest]

    def test_file_round_trip(self, artifact_store: ArtifactStore, tmp_path: Path) -> None:
        data = os.urandom(12 * 1024 * 1024 + 17)  # several chunks; multipart on S3
        source = tmp_path / "model.bin"
        source.write_bytes(data)
        info = artifact_store.put_file(source)
        assert (info.digest, info.size) == (sha(data), len(data))
        dest = artifact_store.get_file(info.digest, tmp_path / "out" / "model.bin")
        assert dest.read_bytes() == data
        assert stat.S_IMODE(dest.stat().st_mode) == 0o600
        assert sorted(p.name for p in dest.parent.iterdir()) == ["model.bin"]  # no temp left

    def test_get_file_replaces_existing_dest(
        self, artifact_store: ArtifactStore, tmp_path: Path
    ) -> None:
        dest = tmp_path / "model.bin"
        dest.write_bytes(b"old")
        info = artifact_store.put_bytes(b"new")
        artifact_store.get_file(info.digest, dest)
        assert dest.read_bytes() == b"new"

    def test_put_file_refuses_non_files(
        self, artifact_store: ArtifactStore, tmp_path: Path
    ) -> None:
        with pytest.raises(NotFoundError, match="does not exist"):
            artifact_store.put_file(tmp_path / "missing.bin")
        with pytest.raises(InvalidNameError, match="is a directory"):
            artifact_store.put_file(tmp_path)
        os.mkfifo(tmp_path / "fifo")
        with pytest.raises(InvalidNameError, match="special file"):
            artifact_store.put_file(tmp_path / "fifo")  # must not block on the FIFO
        assert list(artifact_store.iter_blobs()) == []

    def test_missing_blob_is_not_found(self, artifact_store: ArtifactStore, tmp_path: Path) -> None:
        """Every read of a missing digest raises NotFoundError and leaves no file behind."""
        assert not artifact_store.exists(MISSING)
        calls: list[Callable[[], object]] = [
            lambda: artifact_store.get_bytes(MISSING),
            lambda: artifact_store.get_file(MISSING, tmp_path / "x"),
            lambda: artifact_store.get_dir(MISSING, tmp_path / "d"),
            lambda: artifact_store.read_manifest(MISSING),
            lambda: artifact_store.stat(MISSING),
            lambda: artifact_store.delete(MISSING),
        ]
        for call in calls:
            with pytest.raises(NotFoundError) as info:
                call()
            assert MISSING in str(info.value) and artifact_store.url in str(info.value)
            assert isinstance(info.value, LookupError)
        with pytest.raises(NotFoundError), artifact_store.open_verified(MISSING):
            pass
        assert sorted(os.listdir(tmp_path)) == []

    # -- verification (R13) -------------------------------------------------------------

    def test_flipped_byte_fails_every_read(
        self, artifact_store: ArtifactStore, tmp_path: Path
    ) -> None:
        data = os.urandom(3 * 1024 * 1024)
        digest = artifact_store.put_bytes(data).digest
        self.flip_byte(artifact_store, digest, offset=len(data) // 2)
        dest = tmp_path / "out" / "model.bin"
        dest.parent.mkdir()
        loaded: list[bytes] = []

        def load() -> None:
            with artifact_store.open_verified(digest, tmp_dir=tmp_path / "out") as f:
                loaded.append(f.read())

        for call in (
            lambda: artifact_store.get_bytes(digest),
            lambda: artifact_store.get_file(digest, dest),
            load,
        ):
            with pytest.raises(ChecksumMismatchError) as info:
                call()
            message = str(info.value)
            assert digest in message and artifact_store.url in message
            assert info.value.hint and "Do not load it" in info.value.hint
            assert info.value.digest == digest
        assert loaded == []  # the loader never ran
        assert os.listdir(tmp_path / "out") == []  # no dest, no temp, no private copy

    def test_truncated_blob_fails(self, artifact_store: ArtifactStore) -> None:
        digest = artifact_store.put_bytes(b"complete content").digest
        self.raw_write(artifact_store, digest, b"complete")
        with pytest.raises(ChecksumMismatchError):
            artifact_store.get_bytes(digest)

    def test_failed_get_file_keeps_old_dest(
        self, artifact_store: ArtifactStore, tmp_path: Path
    ) -> None:
        dest = tmp_path / "model.bin"
        dest.write_bytes(b"previous good model")
        digest = artifact_store.put_bytes(b"new model bytes").digest
        self.flip_byte(artifact_store, digest)
        with pytest.raises(ChecksumMismatchError):
            artifact_store.get_file(digest, dest)
        assert dest.read_bytes() == b"previous good model"
        assert os.listdir(tmp_path) == ["model.bin"]

    def test_open_verified_yields_private_unnamed_copy(
        self, artifact_store: ArtifactStore, tmp_path: Path
    ) -> None:
        data = os.urandom(2 * 1024 * 1024 + 5)
        digest = artifact_store.put_bytes(data).digest
        private_root = tmp_path / "private"
        private_root.mkdir()
        with artifact_store.open_verified(digest, tmp_dir=private_root) as f:
            st = os.fstat(f.fileno())
            assert stat.S_IMODE(st.st_mode) == 0o600
            assert st.st_nlink == 0  # unnamed: no path can reach the verified copy
            (private,) = private_root.iterdir()
            assert stat.S_IMODE(private.stat().st_mode) == 0o700
            assert list(private.iterdir()) == []
            assert f.read() == data
            with pytest.raises(io.UnsupportedOperation):
                f.write(b"x")
        assert list(private_root.iterdir()) == []

    # -- directories --------------------------------------------------------------------

    def test_dir_round_trip(self, artifact_store: ArtifactStore, tmp_path: Path) -> None:
        expected = make_tree(tmp_path / "src")
        info = artifact_store.put_dir(tmp_path / "src")
        assert info.size == sum(len(v) for v in expected.values())
        assert [e.path for e in info.files] == sorted(expected)
        assert artifact_store.read_manifest(info.digest) == info.files
        assert artifact_store.get_bytes(info.digest).startswith(MANIFEST_PREFIX)
        out = artifact_store.get_dir(info.digest, tmp_path / "out")
        assert read_tree(out) == expected
        for path in [out, *out.rglob("*")]:
            mode = stat.S_IMODE(path.stat().st_mode)
            assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))
        assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "src"]  # no staging left

    def test_same_tree_same_digest(self, artifact_store: ArtifactStore, tmp_path: Path) -> None:
        make_tree(tmp_path / "one")
        (tmp_path / "two").mkdir()
        for rel, data in read_tree(tmp_path / "one").items():
            (tmp_path / "two" / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / "two" / rel).write_bytes(data)
        assert artifact_store.put_dir(tmp_path / "one") == artifact_store.put_dir(tmp_path / "two")

    def test_empty_dir(self, artifact_store: ArtifactStore, tmp_path: Path) -> None:
        (tmp_path / "empty").mkdir()
        info = artifact_store.put_dir(tmp_path / "empty")
        assert (info.size, info.files) == (0, ())
        out = artifact_store.get_dir(info.digest, tmp_path / "out")
        assert list(out.iterdir()) == []

    def test_get_dir_dest_must_be_new_or_empty(
        self, artifact_store: ArtifactStore, tmp_path: Path
    ) -> None:
        make_tree(tmp_path / "src")
        digest = artifact_store.put_dir(tmp_path / "src").digest
        (tmp_path / "empty").mkdir()
        assert read_tree(artifact_store.get_dir(digest, tmp_path / "empty"))
        (tmp_path / "full").mkdir()
        (tmp_path / "full" / "keep.txt").write_bytes(b"mine")
        with pytest.raises(AlreadyExistsError, match="not empty"):
            artifact_store.get_dir(digest, tmp_path / "full")
        assert read_tree(tmp_path / "full") == {"keep.txt": b"mine"}
        (tmp_path / "file").write_bytes(b"x")
        with pytest.raises(AlreadyExistsError, match="not a directory"):
            artifact_store.get_dir(digest, tmp_path / "file")

    def test_corrupt_member_leaves_nothing(
        self, artifact_store: ArtifactStore, tmp_path: Path
    ) -> None:
        make_tree(tmp_path / "src")
        info = artifact_store.put_dir(tmp_path / "src")
        victim = next(e for e in info.files if e.path == "weights/layer1.bin")
        self.flip_byte(artifact_store, victim.digest, offset=500)
        with pytest.raises(ChecksumMismatchError, match=victim.digest):
            artifact_store.get_dir(info.digest, tmp_path / "out")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]

    def test_corrupt_manifest_is_detected(
        self, artifact_store: ArtifactStore, tmp_path: Path
    ) -> None:
        make_tree(tmp_path / "src")
        info = artifact_store.put_dir(tmp_path / "src")
        self.flip_byte(artifact_store, info.digest, offset=len(MANIFEST_PREFIX) + 10)
        with pytest.raises(ChecksumMismatchError):
            artifact_store.read_manifest(info.digest)
        # A flip in the prefix reads as damage too, not as "not a manifest".
        make_tree(tmp_path / "other")  # new random content: another manifest
        other = artifact_store.put_dir(tmp_path / "other")
        self.flip_byte(artifact_store, other.digest, offset=3)
        with pytest.raises(ChecksumMismatchError):
            artifact_store.read_manifest(other.digest)
        with pytest.raises(ChecksumMismatchError):
            artifact_store.get_dir(info.digest, tmp_path / "out")
        assert not (tmp_path / "out").exists()

    def test_plain_blob_is_not_a_manifest(
        self, artifact_store: ArtifactStore, tmp_path: Path
    ) -> None:
        for data in (b"plain", MANIFEST_PREFIX + b"oops", b'{"files":[]}'):
            digest = artifact_store.put_bytes(data).digest
            with pytest.raises(ArtifactError, match="not a directory manifest|malformed"):
                artifact_store.get_dir(digest, tmp_path / "out")
        assert not (tmp_path / "out").exists()

    # -- listing, deleting, gc ----------------------------------------------------------

    def test_iter_and_delete(self, artifact_store: ArtifactStore) -> None:
        digests = {artifact_store.put_bytes(bytes([i]) * (i + 1)).digest for i in range(5)}
        listed = {b.digest: b for b in artifact_store.iter_blobs()}
        assert set(listed) == digests
        assert all(b.size >= 1 and b.modified > 0 for b in listed.values())
        victim = sorted(digests)[0]
        artifact_store.delete(victim)
        assert not artifact_store.exists(victim)
        assert {b.digest for b in artifact_store.iter_blobs()} == digests - {victim}
        with pytest.raises(NotFoundError):
            artifact_store.delete(victim)

    def test_gc_grace_and_dry_run(self, artifact_store: ArtifactStore, tmp_path: Path) -> None:
        make_tree(tmp_path / "src")
        kept_dir = artifact_store.put_dir(tmp_path / "src")
        kept = artifact_store.put_bytes(b"referenced")
        junk = {artifact_store.put_bytes(f"junk {i}".encode()).digest for i in range(3)}
        n_total = len(list(artifact_store.iter_blobs()))

        young = collect_garbage(artifact_store, [kept.digest, kept_dir.digest])
        assert (young.n_deleted, young.n_kept) == (0, n_total)  # all inside the 1 h grace

        dry = collect_garbage(
            artifact_store, [kept.digest, kept_dir.digest], older_than=0, dry_run=True
        )
        assert set(dry.deleted) == junk and dry.n_deleted == 3
        assert len(list(artifact_store.iter_blobs())) == n_total  # nothing deleted

        report = collect_garbage(
            artifact_store, ["sha256:" + kept.digest, kept_dir.digest], older_than=0
        )
        assert set(report.deleted) == junk
        assert report.bytes_freed == sum(len(f"junk {i}") for i in range(3))
        assert report.n_kept == n_total - 3
        assert artifact_store.get_bytes(kept.digest) == b"referenced"
        assert read_tree(artifact_store.get_dir(kept_dir.digest, tmp_path / "out")) == read_tree(
            tmp_path / "src"
        )

    def test_gc_mixed_ages(self, artifact_store: ArtifactStore) -> None:
        old = artifact_store.put_bytes(b"old junk").digest
        young = artifact_store.put_bytes(b"young junk").digest
        self.backdate(artifact_store, old, 7200)
        report = collect_garbage(artifact_store, [], older_than=3600)
        assert report.deleted == (old,)
        assert artifact_store.exists(young)

    def test_re_put_renews_grace(self, artifact_store: ArtifactStore) -> None:
        digest = artifact_store.put_bytes(b"written long ago, re-put by a new run").digest
        self.backdate(artifact_store, digest, 7200)
        artifact_store.put_bytes(b"written long ago, re-put by a new run")  # not yet recorded
        assert collect_garbage(artifact_store, [], older_than=3600).n_deleted == 0
        assert artifact_store.exists(digest)

    def test_expand_references(self, artifact_store: ArtifactStore, tmp_path: Path) -> None:
        make_tree(tmp_path / "src")
        info = artifact_store.put_dir(tmp_path / "src")
        plain = artifact_store.put_bytes(b"plain").digest
        lookalike = artifact_store.put_bytes(MANIFEST_PREFIX + b"]}x").digest
        expanded = expand_references(artifact_store, [info.digest, plain, lookalike, MISSING])
        assert expanded == {info.digest, plain, lookalike, MISSING} | {e.digest for e in info.files}
        with pytest.raises(InvalidNameError):
            expand_references(artifact_store, ["../etc"])

    def test_gc_refuses_when_a_kept_manifest_is_corrupt(
        self, artifact_store: ArtifactStore, tmp_path: Path
    ) -> None:
        make_tree(tmp_path / "src")
        info = artifact_store.put_dir(tmp_path / "src")
        self.flip_byte(artifact_store, info.digest, offset=len(MANIFEST_PREFIX) + 3)
        n_before = len(list(artifact_store.iter_blobs()))
        with pytest.raises(ChecksumMismatchError):
            collect_garbage(artifact_store, [info.digest], older_than=0)
        assert len(list(artifact_store.iter_blobs())) == n_before

    # -- concurrency and bad input ------------------------------------------------------

    def test_concurrent_puts_of_the_same_content(self, artifact_store: ArtifactStore) -> None:
        data = os.urandom(1024 * 1024)
        results: list[str] = []
        errors: list[BaseException] = []

        def put() -> None:
            try:
                results.append(artifact_store.put_bytes(data).digest)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=put) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == [] and results == [sha(data)] * 4
        assert artifact_store.get_bytes(sha(data)) == data
        assert len(list(artifact_store.iter_blobs())) == 1

    @pytest.mark.parametrize(
        "bad", ["", "abc", "sha256:", "A" * 64, "g" * 64, "0" * 63, "0" * 65, "md5:" + "0" * 32]
    )
    def test_bad_digest_is_invalid_name(self, artifact_store: ArtifactStore, bad: str) -> None:
        with pytest.raises(InvalidNameError, match="not a sha256 digest"):
            artifact_store.get_bytes(bad)
        with pytest.raises(InvalidNameError):
            artifact_store.exists(bad)

    def test_manifest_entries_are_dir_entries(
        self, artifact_store: ArtifactStore, tmp_path: Path
    ) -> None:
        (tmp_path / "src").mkdir()
        (tmp_path / "src" / "a.txt").write_bytes(b"a")
        info = artifact_store.put_dir(tmp_path / "src")
        assert info.files == (DirEntry(path="a.txt", digest=sha(b"a"), size=1),)
        manifest = canonical_json(
            {"conveyor_manifest": 1, "files": [{"digest": sha(b"a"), "path": "a.txt", "size": 1}]}
        )
        assert info.digest == sha(manifest)


class UploadSuite:
    """For stores that hash first, then upload (fsspec): a source changed in between."""

    def test_source_changed_between_hash_and_upload(
        self, artifact_store: ArtifactStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        data = os.urandom(12 * 1024 * 1024)  # S3 "streaming": parts uploaded, then aborted
        source = tmp_path / "model.bin"
        source.write_bytes(data)
        fifo = tmp_path / "pause.fifo"
        os.mkfifo(fifo)
        monkeypatch.setenv(POINT_ENV, "artifacts.upload.hashed")
        monkeypatch.setenv(PIPE_ENV, str(fifo))
        barrier = PauseBarrier(fifo)
        errors: list[BaseException] = []

        def put() -> None:
            try:
                artifact_store.put_file(source)
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=put)
        thread.start()
        try:
            barrier.wait_reached()
            with open(source, "r+b") as f:  # same size, one byte changed, same inode
                f.seek(11 * 1024 * 1024)
                f.write(bytes([data[11 * 1024 * 1024] ^ 1]))
            barrier.resume()
            thread.join(60)
        finally:
            barrier.release()
        assert len(errors) == 1 and isinstance(errors[0], ArtifactError), errors
        assert "changed while it was read" in str(errors[0])
        assert list(artifact_store.iter_blobs()) == []  # nothing stored under either digest
        assert not artifact_store.exists(sha(data))
