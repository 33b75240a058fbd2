"""The artifact store over any fsspec file system: S3, GCS, Azure, memory, ...

Same layout as the local store (``<root>/blobs/sha256/<2 hex>/<62 hex>``) without ``tmp/``:
object stores make a single-object PUT visible only once complete, so the final key is
written directly, and only after the content's hash is known. Every error from fsspec and
its drivers (s3fs, botocore, ...) is wrapped once, here, into an ``ArtifactError``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import re
import tempfile
import time
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from conveyor.core import ArtifactError, ConveyorError, NotFoundError, parse_digest, pause_point

from ._base import CHUNK, ArtifactStore, RawReader, Readable
from ._files import FULL_ERRNOS, store_full_error
from ._types import BlobInfo, BlobStat

__all__ = ["FsspecArtifactStore", "redact_url"]

_HEX2 = re.compile(r"[0-9a-f]{2}")
_HEX62 = re.compile(r"[0-9a-f]{62}")
_READ_BLOCK = 8 << 20
_MTIME_KEYS = ("LastModified", "mtime", "modified", "last_modified", "updated", "created")
_INSTALL = {
    "s3": "pip install 'conveyor[s3]'",
    "s3a": "pip install 'conveyor[s3]'",
    "gs": "pip install gcsfs",
    "gcs": "pip install gcsfs",
    "az": "pip install adlfs",
    "abfs": "pip install adlfs",
    "abfss": "pip install adlfs",
}


def redact_url(url: str) -> str:
    """``url`` without user info, query or fragment: safe for messages and logs."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1] if "@" in parts.netloc else parts.netloc
    return urlunsplit((parts.scheme, netloc, parts.path, "", "")).rstrip("/")


class FsspecArtifactStore(ArtifactStore):
    """An artifact store at any fsspec URL (``s3://bucket/prefix``, ``memory://name``, ...).

    A blob is hashed first (streaming the source), then uploaded to its final key in one
    PUT; small blobs from memory are re-checked against the digest before the PUT, large
    ones while streaming, and an upload whose bytes changed is abandoned before commit.
    Re-putting existing content is skipped unless the stored copy is older than
    :attr:`dedup_refresh` seconds, in which case it is rewritten to renew its time, so a
    blob a run is still recording is never old enough for garbage collection.

    Args:
        url: The store's fsspec URL.
        storage_options: Passed to the file system (``endpoint_url``, ``key``, ...).
        max_buffered_bytes: Blobs up to this size are read into memory and checked before
            a single PUT; larger ones stream. Default 16 MiB (unlimited for ``memory://``).
        dedup_refresh: Seconds after which re-putting stored content rewrites it (one PUT)
            to renew its time; this is the store's :attr:`dedup_window`, the shortest grace
            garbage collection accepts. Default 600.
    """

    def __init__(
        self,
        url: str,
        storage_options: Mapping[str, Any] | None = None,
        *,
        max_buffered_bytes: int | None = None,
        dedup_refresh: float = 600.0,
    ) -> None:
        self.dedup_refresh = self.dedup_window = dedup_refresh
        self.url = redact_url(url)
        self._fs, root = _filesystem(url, storage_options, shown=self.url)
        self._root = str(root).rstrip("/")
        self._blobs = f"{self._root}/blobs/sha256" if self._root else "blobs/sha256"
        in_memory = "memory" in _protocols(self._fs)
        default = 1 << 62 if in_memory else 16 << 20
        self._max_buffered = default if max_buffered_bytes is None else max_buffered_bytes

    def _key(self, digest: str) -> str:
        return f"{self._blobs}/{digest[:2]}/{digest[2:]}"

    @contextlib.contextmanager
    def _boundary(self, action: str, digest: str | None = None) -> Iterator[None]:
        """Wrap any foreign error raised inside into an ``ArtifactError`` (once)."""
        try:
            yield
        except ConveyorError:
            raise
        except FileNotFoundError as exc:
            if digest is None:
                raise ArtifactError(
                    f"Could not {action} in artifact store {self.url}: not found ({exc}).",
                    hint="Check the URL and that the bucket or folder exists.",
                    url=self.url,
                ) from exc
            raise self._not_found(digest) from exc
        except OSError as exc:
            if exc.errno in FULL_ERRNOS:
                raise store_full_error(exc, n_bytes=0, where=self.url) from exc
            raise self._foreign(action, exc) from exc
        except Exception as exc:
            raise self._foreign(action, exc) from exc

    def _foreign(self, action: str, exc: Exception) -> ArtifactError:
        return ArtifactError(
            f"Could not {action} in artifact store {self.url}: {type(exc).__name__}: {exc}",
            hint="Check the URL, the credentials (storage options or AWS_* variables) and "
            "that the bucket exists, then retry.",
            url=self.url,
        )

    # -- writing ------------------------------------------------------------------------

    def put_bytes(self, data: bytes) -> BlobInfo:
        digest = hashlib.sha256(data).hexdigest()
        if not self._has_fresh_copy(digest, len(data)):
            with self._boundary("write a blob"):
                self._fs.pipe_file(self._key(digest), data)
        return BlobInfo(digest=digest, size=len(data))

    def _put_stream(self, stream: Readable, size_hint: int) -> BlobInfo:
        with contextlib.ExitStack() as stack:
            source = stream
            hasher = hashlib.sha256()
            size = 0
            if isinstance(stream, io.IOBase) and stream.seekable():
                start = stream.tell()
                while chunk := stream.read(CHUNK):
                    hasher.update(chunk)
                    size += len(chunk)
                stream.seek(start)
            else:  # one pass only: keep a private copy to upload from
                spool = stack.enter_context(tempfile.TemporaryFile())
                while chunk := stream.read(CHUNK):
                    hasher.update(chunk)
                    spool.write(chunk)
                    size += len(chunk)
                spool.seek(0)
                source = spool
            digest = hasher.hexdigest()
            if self._has_fresh_copy(digest, size):
                return BlobInfo(digest=digest, size=size)
            pause_point("artifacts.upload.hashed")
            if size <= self._max_buffered:
                data = source.read()
                self._check_unchanged(digest, size, hashlib.sha256(data).hexdigest(), len(data))
                with self._boundary("write a blob"):
                    self._fs.pipe_file(self._key(digest), data)
            else:
                self._upload_stream(source, digest, size)
        return BlobInfo(digest=digest, size=size)

    def _upload_stream(self, source: Readable, digest: str, size: int) -> None:
        key = self._key(digest)
        with self._boundary("check a blob"):
            existed = bool(self._fs.exists(key))
        with self._boundary("write a blob"):
            out = self._fs.open(key, "wb")
        committed = False
        try:
            hasher = hashlib.sha256()
            n_bytes = 0
            while chunk := source.read(CHUNK):
                hasher.update(chunk)
                n_bytes += len(chunk)
                with self._boundary("write a blob"):
                    out.write(chunk)
            self._check_unchanged(digest, size, hasher.hexdigest(), n_bytes)
            with self._boundary("write a blob"):
                out.close()  # the commit: the object becomes visible only now
            committed = True
        finally:
            if not committed:
                self._abandon(out, key, existed=existed)

    def _abandon(self, out: Any, key: str, *, existed: bool) -> None:
        """Throw an unfinished upload away without committing it."""
        with contextlib.suppress(Exception):
            out.discard()  # s3fs: aborts the multipart upload
        with contextlib.suppress(Exception):
            out.closed = True  # so close() or __del__ never commits the partial upload
        if not existed:  # back-ends whose writes are visible early (memory://)
            with contextlib.suppress(Exception):
                self._fs.invalidate_cache(key)
                if self._fs.exists(key):
                    self._fs.rm_file(key)

    def _check_unchanged(self, digest: str, size: int, actual: str, n_bytes: int) -> None:
        if actual != digest or n_bytes != size:
            raise ArtifactError(
                f"The file being stored changed while it was read ({size} bytes hashing to "
                f"sha256:{digest[:12]} at first, then {n_bytes} bytes hashing to "
                f"sha256:{actual[:12]}); nothing was stored in {self.url}.",
                hint="Do not modify a file while storing it; retry once it is complete.",
                url=self.url,
            )

    def _has_fresh_copy(self, digest: str, size: int) -> bool:
        try:
            existing = self.stat(digest)
        except NotFoundError:
            return False
        if existing.size != size:
            return False  # truncated or foreign object: overwrite it with the good bytes
        return time.time() - existing.modified < self.dedup_refresh

    # -- reading and listing ------------------------------------------------------------

    def _open_raw(self, digest: str) -> RawReader:
        return _RangeReader(self, digest, self.stat(digest).size)

    def stat(self, digest: str) -> BlobStat:
        hex_digest = parse_digest(digest)
        key = self._key(hex_digest)
        with self._boundary("stat blob", hex_digest):
            self._fs.invalidate_cache(key)
            info = self._fs.info(key)
        if info.get("type") == "directory":
            raise self._not_found(hex_digest)
        return BlobStat(digest=hex_digest, size=int(info["size"]), modified=_mtime(info))

    def iter_blobs(self) -> Iterator[BlobStat]:
        with self._boundary("list blobs"):
            self._fs.invalidate_cache(self._blobs)
            try:
                found: dict[str, dict[str, Any]] = self._fs.find(self._blobs, detail=True)
            except FileNotFoundError:
                found = {}
        for path, info in sorted(found.items()):
            shard, _, name = path.rstrip("/").rpartition("/")
            shard = shard.rpartition("/")[2]
            if info.get("type", "file") != "file":
                continue
            if _HEX2.fullmatch(shard) and _HEX62.fullmatch(name):
                yield BlobStat(digest=shard + name, size=int(info["size"]), modified=_mtime(info))

    def delete(self, digest: str) -> None:
        hex_digest = self.stat(digest).digest  # NotFoundError if missing
        with self._boundary("delete blob", hex_digest):
            self._fs.rm_file(self._key(hex_digest))


class _RangeReader:
    """Reads a blob by ranged requests: stateless per request, no shared file handle."""

    def __init__(self, store: FsspecArtifactStore, digest: str, size: int) -> None:
        self._store = store
        self._digest = digest
        self._size = size
        self._pos = 0
        self._buffer = b""

    def read(self, size: int = -1, /) -> bytes:
        if not self._buffer and self._pos < self._size:
            want = _READ_BLOCK if size < 0 else max(size, _READ_BLOCK)
            end = min(self._pos + want, self._size)
            with self._store._boundary("read blob", self._digest):
                self._buffer = bytes(
                    self._store._fs.cat_file(
                        self._store._key(self._digest), start=self._pos, end=end
                    )
                )
            self._pos += len(self._buffer)
            if not self._buffer:
                self._pos = self._size  # the object shrank: stop; the hash will not match
        if size < 0:
            chunk, self._buffer = self._buffer, b""
        else:
            chunk, self._buffer = self._buffer[:size], self._buffer[size:]
        return chunk

    def close(self) -> None:
        self._buffer = b""


def _mtime(info: Mapping[str, Any]) -> float:
    """A listing entry's modification time in epoch seconds (now if the back-end has none).

    "Now" errs on the side of keeping: a blob of unknown age is never old enough to collect.
    """
    for key in _MTIME_KEYS:
        value = info.get(key)
        if isinstance(value, dt.datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=dt.UTC)
            return value.timestamp()
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str) and value:
            with contextlib.suppress(ValueError):
                parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
                if parsed.tzinfo is None:
                    parsed = parsed.replace(tzinfo=dt.UTC)
                return parsed.timestamp()
    return time.time()


def _protocols(fs: Any) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def _filesystem(
    url: str, storage_options: Mapping[str, Any] | None, *, shown: str
) -> tuple[Any, str]:
    """Resolve ``url`` to ``(file system, root path)``, mapping fsspec's errors."""
    import fsspec.core  # imported only when an fsspec store is chosen

    protocol = url.split("://", 1)[0].split("::")[-1] if "://" in url else url
    try:
        fs, root = fsspec.core.url_to_fs(url, **dict(storage_options or {}))
        return fs, str(root)
    except ImportError as exc:
        command = _INSTALL.get(protocol, f"pip install the fsspec driver for {protocol!r}")
        raise ArtifactError(
            f"The artifact store URL {shown!r} needs the {protocol!r} file system, which is "
            "not installed.",
            hint=f"Install it with: {command}",
            url=shown,
        ) from exc
    except ValueError as exc:
        if "protocol" not in str(exc).lower():
            raise ArtifactError(
                f"Cannot open the artifact store {shown!r}: {exc}.",
                hint="Fix the 'artifacts' setting (CONVEYOR_ARTIFACTS) or its storage options.",
                url=shown,
            ) from exc
        raise ArtifactError(
            f"The artifact store URL {shown!r} uses the unknown protocol {protocol!r}; "
            "expected a local path, file://, s3://, gs://, az://, memory:// or another "
            "fsspec protocol.",
            hint="Fix the 'artifacts' setting (CONVEYOR_ARTIFACTS).",
            url=shown,
        ) from exc
    except Exception as exc:
        raise ArtifactError(
            f"Cannot open the artifact store {shown!r}: {type(exc).__name__}: {exc}",
            hint="Check the URL and its storage options.",
            url=shown,
        ) from exc
