"""Low-level file helpers: safe opening of sources, full writes, fsync, staging directories."""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import stat
from pathlib import Path
from typing import BinaryIO

from conveyor.core import (
    AlreadyExistsError,
    ArtifactStoreFullError,
    InvalidNameError,
    NotFoundError,
)

__all__ = [
    "FULL_ERRNOS",
    "format_size",
    "fsync_dir",
    "make_private_dir",
    "open_source",
    "prepare_staging",
    "publish_staging",
    "remove_tree",
    "store_full_error",
    "write_all",
]

# Errors that mean "no room": no space, quota exceeded, file size limit (RLIMIT_FSIZE).
FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
PRIVATE_DIR_MODE = 0o700


def format_size(n_bytes: int) -> str:
    """Format a byte count for messages: ``20.0 MB``."""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.1f} {unit}"
    return f"{n_bytes} bytes"


def store_full_error(exc: OSError, *, n_bytes: int, where: str) -> ArtifactStoreFullError:
    """Build the one-line "artifact store full" error for an ENOSPC/EDQUOT/EFBIG."""
    code = errno.errorcode.get(exc.errno or 0, str(exc.errno))
    return ArtifactStoreFullError(
        f"artifact store full: could not write {format_size(n_bytes)} to {where} ({code}).",
        hint="Free space or point the 'artifacts' setting (CONVEYOR_ARTIFACTS) at a larger store.",
        errno=exc.errno,
        path=where,
        n_bytes=n_bytes,
    )


def open_source(path: str | os.PathLike[str], *, follow_symlinks: bool = True) -> BinaryIO:
    """Open a local file to store, refusing anything but a regular file.

    Opens with ``O_NONBLOCK`` so a FIFO cannot block us, and checks the opened descriptor
    (not the name) so a file swapped after a check is still caught. With
    ``follow_symlinks=False`` a symbolic link in the last component is refused.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if not follow_symlinks:
        flags |= os.O_NOFOLLOW
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise NotFoundError(
            f"The file {os.fspath(path)!r} does not exist; expected a file to store.",
            hint="Check the path.",
            path=os.fspath(path),
        ) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InvalidNameError(
                f"The file {os.fspath(path)!r} changed into a symbolic link while being stored.",
                hint="Do not modify a directory while storing it.",
                path=os.fspath(path),
            ) from None
        raise
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise InvalidNameError(
                f"{os.fspath(path)!r} is a directory; expected a regular file.",
                hint="Store directories with put_dir.",
                path=os.fspath(path),
            )
        if not stat.S_ISREG(mode):
            raise InvalidNameError(
                f"{os.fspath(path)!r} is a special file ({_kind(mode)}); only regular files "
                "can be stored.",
                hint="Remove it or copy its content to a regular file.",
                path=os.fspath(path),
            )
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISLNK, "symbolic link"),
    ):
        if test(mode):
            return name
    return "unknown type"


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd``, looping over short writes."""
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """fsync a directory so a rename or create in it survives a crash."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_private_dir(path: Path) -> bool:
    """Create ``path`` with mode 0700 if missing; return whether it was created."""
    try:
        os.mkdir(path, PRIVATE_DIR_MODE)
    except FileExistsError:
        return False
    os.chmod(path, PRIVATE_DIR_MODE)  # mkdir's mode is filtered by the umask
    return True


def remove_tree(path: Path) -> None:
    """Remove a file or directory tree, ignoring what is already gone."""
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.exists():
        shutil.rmtree(path, ignore_errors=True)


def prepare_staging(dest: str | os.PathLike[str], *, what: str) -> tuple[Path, Path]:
    """Check ``dest`` may receive a directory; create a private staging dir beside it.

    ``dest`` must not exist or be an empty directory: the result is then published with one
    rename, so nobody ever sees half of it. Returns ``(dest, staging)``.
    """
    target = Path(dest).absolute()
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise AlreadyExistsError(
            f"Cannot {what} into {str(target)!r}: it exists and is not a directory.",
            hint="Pass a new or empty directory.",
            path=str(target),
        )
    if target.is_dir() and any(target.iterdir()):
        raise AlreadyExistsError(
            f"Cannot {what} into {str(target)!r}: the directory is not empty.",
            hint="Pass a new or empty directory; conveyor never merges into existing files.",
            path=str(target),
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".conveyor-{secrets.token_hex(6)}.part"
    make_private_dir(staging)
    return target, staging


def publish_staging(staging: Path, dest: Path) -> None:
    """Move a complete staging directory to ``dest`` with one rename, then fsync the parent."""
    try:
        os.replace(staging, dest)  # replaces a missing or empty directory atomically
    except OSError as exc:
        if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
            raise
        raise AlreadyExistsError(
            f"Cannot publish into {str(dest)!r}: something was written there meanwhile.",
            hint="Pass a new or empty directory.",
            path=str(dest),
        ) from None
    fsync_dir(dest.parent)
