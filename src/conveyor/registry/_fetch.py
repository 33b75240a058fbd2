"""Model bytes for loading: verified, in memory, through a private cache for remote stores.

Loaders get bytes, never a path: a blob is read whole, hashed, and only the hashed bytes
are deserialised, so nothing can change between the check and the load. From a local
artifact store blobs are read directly. From a remote one (S3, GCS, ...) they are kept in
a cache under the project's state folder (``.conveyor/cache/models``): directories 0700,
files 0600, written by temporary file and rename, and hashed again on every read; a copy
changed after download is refused (and removed, so the next load downloads it afresh).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from ..artifacts import LocalArtifactStore
from ..core import ChecksumMismatchError, parse_digest

if TYPE_CHECKING:
    from ..workspace import Workspace

CACHE_DIR = Path("cache") / "models"
DIR_MODE = 0o700
FILE_MODE = 0o600


def cache_root(ws: Workspace) -> Path:
    """Where downloaded model files are kept for ``ws``'s project."""
    return ws.config.state_dir / CACHE_DIR


def verified_bytes(ws: Workspace, digest: str) -> bytes:
    """The content of blob ``digest``, hashed after it was read (from the cache, if the
    artifact store is remote and the blob was downloaded before).

    Raises:
        ChecksumMismatchError: the stored blob, or the cached copy, does not hash to
            ``digest``.
        NotFoundError: no such blob.
    """
    hex_digest = parse_digest(digest)
    if isinstance(ws.artifacts, LocalArtifactStore):
        return ws.artifacts.get_bytes(hex_digest)
    root = cache_root(ws)
    path = root / hex_digest[:2] / hex_digest[2:]
    cached = _read_cached(path)
    if cached is not None:
        actual = hashlib.sha256(cached).hexdigest()
        if actual != hex_digest:
            path.unlink(missing_ok=True)
            raise ChecksumMismatchError(
                f"The cached copy {path} of blob sha256:{hex_digest} hashes to "
                f"sha256:{actual}: it was changed after it was downloaded, and was not used.",
                hint="Load again to download a fresh copy (the changed one was removed); "
                f"check who can write to {root}.",
                digest=hex_digest,
                actual=actual,
                path=str(path),
            )
        return cached
    data = ws.artifacts.get_bytes(hex_digest)  # verified while read
    _write_cached(root, path, data)
    return data


def _read_cached(path: Path) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as file:
        return file.read()


def _private_dir(path: Path) -> None:
    """``path`` as a directory of mode 0700 (created, or its mode tightened)."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    if stat.S_IMODE(path.stat().st_mode) != DIR_MODE:
        os.chmod(path, DIR_MODE)


def _write_cached(root: Path, path: Path, data: bytes) -> None:
    _private_dir(root.parent)
    _private_dir(root)
    _private_dir(path.parent)
    temp = path.parent / f".{secrets.token_hex(8)}.part"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
