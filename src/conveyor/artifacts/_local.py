"""The local artifact store: blobs in a folder, written by temp file + fsync + rename.

Layout under the root (directories 0700, blobs 0400)::

    blobs/sha256/<first 2 hex>/<remaining 62 hex>
    tmp/<random>.tmp        in-flight writes; orphans older than an hour are removed
"""

from __future__ import annotations

import errno
import hashlib
import io
import logging
import os
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

from conveyor.core import ArtifactError, ConveyorError, parse_digest, pause_point

from ._base import CHUNK, ArtifactStore, RawReader, Readable
from ._files import (
    FULL_ERRNOS,
    fsync_dir,
    make_private_dir,
    store_full_error,
    write_all,
)
from ._types import BlobInfo, BlobStat

__all__ = ["LocalArtifactStore"]

logger = logging.getLogger(__name__)

_HEX2 = re.compile(r"[0-9a-f]{2}")
_HEX62 = re.compile(r"[0-9a-f]{62}")
BLOB_MODE = 0o400
TEMP_MAX_AGE = 3600.0


class LocalArtifactStore(ArtifactStore):
    """An artifact store in a local (or mounted) folder.

    Every write goes to a short-named temporary file in ``root/tmp`` (same file system),
    is hashed and fsynced, renamed to its final name with ``os.replace`` and the directory
    is fsynced: a blob is either absent or complete. A full disk (ENOSPC, EDQUOT, EFBIG)
    removes the temporary file and raises :class:`~conveyor.core.ArtifactStoreFullError`.

    Args:
        root: The store's folder; created (mode 0700) if missing.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().absolute()
        self.url = str(self.root)
        self._blobs = self.root / "blobs" / "sha256"
        self._tmp = self.root / "tmp"
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            for directory in (self.root / "blobs", self._blobs, self._tmp):
                make_private_dir(directory)
                os.chmod(directory, 0o700)
        except OSError as exc:
            raise ArtifactError(
                f"Cannot open the artifact store at {self.url}: {exc.strerror or exc}; expected "
                "a writable folder.",
                hint="Fix the folder's permissions or point the 'artifacts' setting "
                "(CONVEYOR_ARTIFACTS) elsewhere.",
                url=self.url,
            ) from exc
        self.clean_temp(TEMP_MAX_AGE)

    def blob_path(self, digest: str) -> Path:
        """The path a blob is stored at (for diagnostics; read through ``open_verified``)."""
        hex_digest = parse_digest(digest)
        return self._blobs / hex_digest[:2] / hex_digest[2:]

    # -- primitives ---------------------------------------------------------------------

    def put_bytes(self, data: bytes) -> BlobInfo:
        digest = hashlib.sha256(data).hexdigest()
        if self._dedup(digest, len(data)):
            return BlobInfo(digest=digest, size=len(data))
        return self._put_stream(io.BytesIO(data), len(data))

    def _put_stream(self, stream: Readable, size_hint: int) -> BlobInfo:
        temp = self._tmp / f"{secrets.token_hex(8)}.tmp"
        hasher = hashlib.sha256()
        size = 0
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            try:
                while chunk := stream.read(CHUNK):
                    hasher.update(chunk)
                    write_all(fd, chunk)
                    size += len(chunk)
                os.fsync(fd)
            finally:
                os.close(fd)
            digest = hasher.hexdigest()
            if self._dedup(digest, size):
                temp.unlink()
                return BlobInfo(digest=digest, size=size)
            final = self._blobs / digest[:2] / digest[2:]
            if make_private_dir(final.parent):
                fsync_dir(self._blobs)
            os.chmod(temp, BLOB_MODE)
            pause_point("artifacts.write.before_replace")
            os.replace(temp, final)
            fsync_dir(final.parent)
        except BaseException as exc:
            temp.unlink(missing_ok=True)
            if isinstance(exc, OSError) and not isinstance(exc, ConveyorError):
                if exc.errno in FULL_ERRNOS:
                    raise store_full_error(
                        exc, n_bytes=max(size_hint, size), where=self.url
                    ) from exc
                raise ArtifactError(
                    f"Could not write a blob to artifact store {self.url}: {exc}.",
                    hint="Check the folder is writable, then retry.",
                    url=self.url,
                ) from exc
            raise
        return BlobInfo(digest=digest, size=size)

    def adopt_file(self, path: str | os.PathLike[str], digest: str) -> BlobInfo:
        """Rename a finished file into the store under ``digest`` (its writer's sha256): no
        copy and no second hash, which for a large snapshot is most of storing it. The file
        is fsynced first; from another file system it is copied and checked instead."""
        hex_digest = parse_digest(digest)
        source = Path(path)
        size = source.stat().st_size
        if self._dedup(hex_digest, size):
            source.unlink()
            return BlobInfo(digest=hex_digest, size=size)
        final = self._blobs / hex_digest[:2] / hex_digest[2:]
        try:
            with open(source, "rb") as handle:
                os.fsync(handle.fileno())
            if make_private_dir(final.parent):
                fsync_dir(self._blobs)
            os.chmod(source, BLOB_MODE)
            os.replace(source, final)
        except OSError as exc:
            if exc.errno == errno.EXDEV:  # another file system: copy, then check
                return super().adopt_file(path, digest)
            raise ArtifactError(
                f"Could not move {str(source)!r} into artifact store {self.url}: {exc}.",
                hint="Check the folder is writable, then retry.",
                url=self.url,
            ) from exc
        fsync_dir(final.parent)
        return BlobInfo(digest=hex_digest, size=size)

    def _dedup(self, digest: str, size: int) -> bool:
        """If a complete, correct copy exists, refresh its time (for the GC grace) and say so.

        The copy is re-hashed, not only sized: a same-size corrupt or foreign file must be
        overwritten with the good bytes, never vouched for by a new write.
        """
        final = self._blobs / digest[:2] / digest[2:]
        try:
            if final.stat().st_size != size or not _hashes_to(final, digest):
                return False
            # If GC claimed the blob meanwhile (renamed it away), utime fails and we write
            # a fresh copy; if utime lands first, GC sees the new time and gives it back.
            os.utime(final)
            # But utime finds its file by path before it sets the time: a claim can fall in
            # between, and the new time then lands on the claimed file after GC read it. So
            # look again: a blob still at the path was claimed after the time was set (GC
            # will see it and give it back), or is another writer's fresh copy.
            final.stat()
        except FileNotFoundError:
            return False
        return True

    def _open_raw(self, digest: str) -> RawReader:
        try:
            return open(self.blob_path(digest), "rb")
        except FileNotFoundError:
            raise self._not_found(digest) from None

    def stat(self, digest: str) -> BlobStat:
        hex_digest = parse_digest(digest)
        try:
            st = self.blob_path(hex_digest).stat()
        except FileNotFoundError:
            raise self._not_found(hex_digest) from None
        return BlobStat(digest=hex_digest, size=st.st_size, modified=st.st_mtime)

    def iter_blobs(self) -> Iterator[BlobStat]:
        for shard in sorted(os.scandir(self._blobs), key=lambda e: e.name):
            if not (shard.is_dir(follow_symlinks=False) and _HEX2.fullmatch(shard.name)):
                continue
            for entry in sorted(os.scandir(shard.path), key=lambda e: e.name):
                if not (entry.is_file(follow_symlinks=False) and _HEX62.fullmatch(entry.name)):
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue  # deleted meanwhile
                yield BlobStat(
                    digest=shard.name + entry.name, size=st.st_size, modified=st.st_mtime
                )

    def delete(self, digest: str) -> None:
        path = self.blob_path(digest)
        try:
            path.unlink()
        except FileNotFoundError:
            raise self._not_found(parse_digest(digest)) from None
        fsync_dir(path.parent)

    def delete_if_older(self, digest: str, older_than: float) -> bool:
        """Delete a stale blob with no window for a concurrent put to slip through.

        The blob is first claimed by an atomic rename into ``tmp/``: a put that dedups
        before the rename has already renewed the time (seen on the claimed file, which is
        then put back); one that comes after finds no blob and writes a fresh copy.
        """
        final = self.blob_path(digest)
        claimed = self._tmp / f"{secrets.token_hex(8)}.gc"
        try:
            os.rename(final, claimed)
        except FileNotFoundError:
            return False
        if time.time() - claimed.stat().st_mtime < older_than:
            # Renewed by a put just before the claim: give it back. A put that meanwhile
            # wrote a fresh copy holds the same verified bytes, so either one may stay.
            try:
                os.link(claimed, final)
            except FileExistsError:
                pass
            claimed.unlink()
            return False
        claimed.unlink()
        fsync_dir(final.parent)
        return True

    def clean_temp(self, older_than: float = TEMP_MAX_AGE) -> int:
        """Remove temporary files left by killed writers, if older than ``older_than`` s."""
        now = time.time()
        n_removed = 0
        try:
            entries = list(os.scandir(self._tmp))
        except FileNotFoundError:
            return 0
        for entry in entries:
            try:
                if now - entry.stat(follow_symlinks=False).st_mtime >= older_than:
                    os.unlink(entry.path)
                    n_removed += 1
            except (FileNotFoundError, IsADirectoryError, PermissionError):
                continue
        if n_removed:
            logger.info("removed %d orphan temporary files from %s", n_removed, self._tmp)
        return n_removed


def _hashes_to(path: Path, digest: str) -> bool:
    hasher = hashlib.sha256()
    with open(path, "rb") as blob:
        while chunk := blob.read(CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest() == digest
