"""The ``ArtifactStore`` interface and the verified read and directory logic every backend shares.

A backend supplies five primitives: ``_put_stream`` (store a stream under its sha256),
``_open_raw`` (unverified bytes of a blob), ``stat``, ``iter_blobs`` and ``delete``.
Everything a caller reads goes through :meth:`ArtifactStore._copy_verified`, which hashes
while copying and raises :class:`~conveyor.core.ChecksumMismatchError` before the caller
can use a byte of a corrupt blob.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import io
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

from conveyor.core import (
    AlreadyExistsError,
    ArtifactError,
    ChecksumMismatchError,
    ConveyorError,
    NotFoundError,
    parse_digest,
    pause_point,
    safe_join,
)

from ._dirs import make_parents, scan_dir
from ._files import fsync_dir, open_source, prepare_staging, publish_staging, remove_tree
from ._manifest import MANIFEST_PREFIX, decode_manifest, encode_manifest, is_manifest_prefix
from ._types import BlobInfo, BlobStat, DirEntry, DirInfo

__all__ = ["CHUNK", "ArtifactStore", "RawReader", "Readable"]

CHUNK = 1 << 20


class Readable(Protocol):
    """A source of bytes read in chunks (an open file, ``io.BytesIO``)."""

    def read(self, size: int = -1, /) -> bytes: ...


class RawReader(Protocol):
    """What ``_open_raw`` returns: unverified bytes, read in chunks."""

    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


class ArtifactStore(abc.ABC):
    """A content-addressed blob store: bytes in, sha256 digest out, verified on every read.

    Blobs are immutable and named by the sha256 of their content, so writing the same
    bytes twice stores them once. Directories are stored as one blob per file plus a
    manifest blob (see :mod:`conveyor.artifacts._manifest`). Digests are accepted as
    64 hex digits or ``sha256:<hex>`` and returned as bare hex.

    Attributes:
        url: Where the store lives: a local path or an fsspec URL (never credentials).
        dedup_window: Seconds by which a put of content already stored may leave the blob's
            time unrenewed. Garbage collection refuses a grace period shorter than this, or a
            blob just re-put (and not yet recorded) could look old enough to delete.
    """

    url: str
    dedup_window: float = 0.0

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    # -- backend primitives -------------------------------------------------------------

    @abc.abstractmethod
    def _put_stream(self, stream: Readable, size_hint: int) -> BlobInfo:
        """Store ``stream`` (read to its end) under its sha256; never expose a partial blob."""

    @abc.abstractmethod
    def _open_raw(self, digest: str) -> RawReader:
        """Open a blob's stored bytes, unverified; raise ``NotFoundError`` if missing."""

    @abc.abstractmethod
    def stat(self, digest: str) -> BlobStat:
        """Return a blob's size and modification time; raise ``NotFoundError`` if missing."""

    @abc.abstractmethod
    def iter_blobs(self) -> Iterator[BlobStat]:
        """Yield every stored blob (manifests included), in no particular order."""

    @abc.abstractmethod
    def delete(self, digest: str) -> None:
        """Delete a blob; raise ``NotFoundError`` if it does not exist."""

    def delete_if_older(self, digest: str, older_than: float) -> bool:
        """Delete a blob unless it was written or re-put in the last ``older_than`` seconds.

        Returns whether it was deleted. This default re-reads the time just before deleting;
        a put landing between the two is protected by the grace period being longer than
        the time from a write to its record (and than :attr:`dedup_window`). Stores that can
        rename atomically close that gap (see the local store).
        """
        try:
            if time.time() - self.stat(digest).modified < older_than:
                return False
            self.delete(digest)
        except NotFoundError:
            return False
        return True

    def clean_temp(self, older_than: float = 3600.0) -> int:
        """Remove orphan temporary files older than ``older_than`` seconds; return how many."""
        return 0

    def _read_prefix(self, digest: str, size: int) -> bytes:
        """The first ``size`` bytes of a blob, unverified (used to recognise manifests)."""
        reader = self._open_raw(digest)
        try:
            return reader.read(size)
        finally:
            reader.close()

    # -- writing ------------------------------------------------------------------------

    def put_bytes(self, data: bytes) -> BlobInfo:
        """Store ``data``; return its digest and size. Existing content is not rewritten."""
        return self._put_stream(io.BytesIO(data), len(data))

    def put_file(self, path: str | os.PathLike[str]) -> BlobInfo:
        """Store a local regular file, streaming it (a large file is never fully in memory).

        Raises:
            NotFoundError: ``path`` does not exist.
            InvalidNameError: ``path`` is a directory or a special file.
            ArtifactStoreFullError: the store has no room; nothing partial is left.
        """
        with open_source(path) as source:
            return self._put_stream(source, os.fstat(source.fileno()).st_size)

    def adopt_file(self, path: str | os.PathLike[str], digest: str) -> BlobInfo:
        """Take a finished local file whose sha256 the caller computed (as it wrote it);
        the file is gone afterwards (moved in, or removed if the content is stored already).

        This default stores a copy and checks its digest; stores on the local disk rename
        the file in instead (no copy, no second hash). Reads verify every blob either way.

        Raises:
            ChecksumMismatchError: the file does not hash to ``digest`` (copying stores).
        """
        expected = parse_digest(digest)
        info = self.put_file(path)
        if info.digest != expected:
            raise ChecksumMismatchError(
                f"The file {os.fspath(path)!r} hashed to sha256:{info.digest[:12]} while "
                f"stored, not the sha256:{expected[:12]} its writer computed: it changed on "
                "disk in between.",
                hint="Write it again.",
                digest=expected,
            )
        Path(path).unlink(missing_ok=True)
        return info

    def put_dir(self, path: str | os.PathLike[str]) -> DirInfo:
        """Store every regular file under ``path``, then a manifest listing them.

        The whole tree is checked first (see :func:`~conveyor.artifacts._dirs.scan_dir`):
        links out of the directory, links to directories and special files are refused
        before anything is stored.

        Returns:
            The manifest's digest (pass it to :meth:`get_dir`), the total size and the files.
        """
        entries = []
        for rel, real in scan_dir(path):
            with open_source(real, follow_symlinks=False) as source:
                info = self._put_stream(source, os.fstat(source.fileno()).st_size)
            entries.append(DirEntry(path=rel, digest=info.digest, size=info.size))
        manifest = self.put_bytes(encode_manifest(entries))
        return DirInfo(
            digest=manifest.digest, size=sum(e.size for e in entries), files=tuple(entries)
        )

    # -- verified reading ---------------------------------------------------------------

    def exists(self, digest: str) -> bool:
        """Whether a blob with this digest is stored (its content is not verified)."""
        try:
            self.stat(parse_digest(digest))
        except NotFoundError:
            return False
        return True

    def get_bytes(self, digest: str) -> bytes:
        """Return a blob's content after verifying its sha256.

        Raises:
            NotFoundError: no such blob.
            ChecksumMismatchError: the stored bytes do not hash to ``digest``.
        """
        buffer = io.BytesIO()
        self._copy_verified(parse_digest(digest), buffer.write)
        return buffer.getvalue()

    def get_file(self, digest: str, dest: str | os.PathLike[str]) -> Path:
        """Write a blob to ``dest`` atomically: the file appears only once verified.

        The content streams into a temporary file beside ``dest`` while being hashed; only
        if the hash matches is it fsynced and renamed over ``dest``.
        """
        hex_digest = parse_digest(digest)
        target = Path(dest).absolute()
        if target.is_dir():
            raise AlreadyExistsError(
                f"Cannot write blob sha256:{hex_digest[:12]} to {str(target)!r}: it is a "
                "directory; expected a file path.",
                hint="Pass the path of the file to create.",
                path=str(target),
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=".conveyor-", suffix=".part", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                self._copy_verified(hex_digest, out.write, pause="artifacts.get_file.copying")
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        fsync_dir(target.parent)
        return target

    def read_manifest(self, digest: str) -> tuple[DirEntry, ...]:
        """Return the verified, validated file list of a directory stored by ``put_dir``.

        Raises:
            ArtifactError: the blob is not a manifest.
            InvalidNameError: a member path would escape (a crafted manifest).
        """
        hex_digest = parse_digest(digest)
        head = self._read_prefix(hex_digest, len(MANIFEST_PREFIX))
        if not is_manifest_prefix(head):
            # A manifest with a damaged first byte must read as damaged, not as "not a
            # manifest": verify the blob (streamed, not held) before saying what it is.
            self._copy_verified(hex_digest, lambda _chunk: None)
            decode_manifest(head, digest=hex_digest, url=self.url)  # raises "not a manifest"
        return decode_manifest(self.get_bytes(hex_digest), digest=hex_digest, url=self.url)

    def get_dir(self, digest: str, dest: str | os.PathLike[str]) -> Path:
        """Recreate a stored directory at ``dest`` (which must be missing or empty).

        Files are written into a private staging directory beside ``dest``, each through
        :func:`~conveyor.core.safe_join` and verified, then the staging directory is renamed
        to ``dest``: a reader sees all of it or nothing, and on error nothing is left.
        """
        entries = self.read_manifest(digest)
        target, staging = prepare_staging(dest, what="get_dir")
        try:
            for entry in entries:
                out_path = safe_join(staging, entry.path, what="manifest member path")
                make_parents(staging, entry.path)
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                with os.fdopen(os.open(out_path, flags, 0o600), "wb") as out:
                    n_bytes = self._copy_verified(entry.digest, out.write)
                    out.flush()
                    os.fsync(out.fileno())
                if n_bytes != entry.size:
                    raise ChecksumMismatchError(
                        f"Member {entry.path!r} of directory sha256:{parse_digest(digest)} "
                        f"has {n_bytes} bytes in artifact store {self.url}; the manifest "
                        f"says {entry.size}.",
                        hint="The manifest is inconsistent; re-create the directory.",
                        digest=entry.digest,
                        url=self.url,
                    )
            for directory in {safe_join(staging, e.path).parent for e in entries}:
                fsync_dir(directory)
            publish_staging(staging, target)
        except BaseException:
            remove_tree(staging)
            raise
        return target

    @contextlib.contextmanager
    def open_verified(
        self, digest: str, *, tmp_dir: str | os.PathLike[str] | None = None
    ) -> Iterator[BinaryIO]:
        """Yield a private, verified copy of a blob, opened for reading; the load path.

        The blob is copied into an unnamed temporary file (``O_TMPFILE`` where available)
        inside a fresh directory of mode 0700, hashed on the way; the file is yielded only
        if the hash matches. Nobody can reach the copy by name, so bytes that were verified
        are the bytes the loader reads, whatever happens to the store or any cache
        meanwhile. The copy is removed on exit.

        Args:
            digest: The blob to open.
            tmp_dir: Where to create the private directory (default: the system temp dir).

        Raises:
            NotFoundError: no such blob.
            ChecksumMismatchError: the stored bytes do not hash to ``digest``.
        """
        hex_digest = parse_digest(digest)
        private = Path(tempfile.mkdtemp(prefix="conveyor-verified-", dir=tmp_dir))
        try:
            with tempfile.TemporaryFile(dir=private) as copy:
                self._copy_verified(hex_digest, copy.write, pause="artifacts.verify.copying")
                copy.flush()
                pause_point("artifacts.verify.verified")
                # A read-only handle on the same unnamed file.
                with os.fdopen(os.dup(copy.fileno()), "rb") as reader:
                    reader.seek(0)
                    yield reader
        finally:
            shutil.rmtree(private, ignore_errors=True)

    # -- shared machinery ---------------------------------------------------------------

    def _copy_verified(
        self, digest: str, sink: Callable[[bytes], object], *, pause: str | None = None
    ) -> int:
        """Stream a blob into ``sink`` while hashing; raise if the hash is not ``digest``.

        Returns the number of bytes copied. ``sink`` sees unverified bytes, so callers only
        ever pass private destinations and publish them after this returns.
        """
        hasher = hashlib.sha256()
        n_bytes = 0
        reader = self._open_raw(digest)
        try:
            while chunk := self._read_chunk(reader, digest):
                hasher.update(chunk)
                sink(chunk)
                n_bytes += len(chunk)
                if pause:
                    pause_point(pause)
                    pause = None
        finally:
            reader.close()
        actual = hasher.hexdigest()
        if actual != digest:
            raise ChecksumMismatchError(
                f"The blob sha256:{digest} in artifact store {self.url} failed verification: "
                f"its content hashes to sha256:{actual}, not to the digest it is stored under. "
                "It was corrupted or tampered with, and was not used.",
                hint=f"Do not load it. Delete it (store.delete('{digest}')) and re-run the "
                "step that produced it, or restore the blob from a backup.",
                digest=digest,
                actual=actual,
                url=self.url,
            )
        return n_bytes

    def _read_chunk(self, reader: RawReader, digest: str) -> bytes:
        try:
            return reader.read(CHUNK)
        except ConveyorError:
            raise
        except OSError as exc:
            raise ArtifactError(
                f"Could not read blob sha256:{digest} from artifact store {self.url}: {exc}.",
                hint="Check the store is reachable and readable, then retry.",
                digest=digest,
                url=self.url,
            ) from exc

    def _not_found(self, digest: str) -> NotFoundError:
        return NotFoundError(
            f"No blob sha256:{digest} in artifact store {self.url}.",
            hint="Check the digest, or that the artifact store setting (CONVEYOR_ARTIFACTS) "
            "points at the store that holds it.",
            digest=digest,
            url=self.url,
        )
