"""Safe extraction of tar and zip archives (uploads, model bundles).

Nothing from the archive is trusted: member names go through ``check_relative_path`` and
``safe_join``; links and special files are refused outright; sizes are counted as bytes
are written, not read from headers; and everything lands in a private staging directory
that becomes ``dest`` by one rename only if the whole archive passed.
"""

from __future__ import annotations

import gzip
import lzma
import os
import stat
import struct
import tarfile
import zipfile
import zlib
from pathlib import Path
from typing import IO

from conveyor.core import (
    ArtifactError,
    InvalidNameError,
    NotFoundError,
    UnsafeArchiveError,
    check_relative_path,
    safe_join,
)

from ._dirs import make_dirs
from ._files import format_size, prepare_staging, publish_staging, remove_tree

__all__ = ["MAX_ARCHIVE_BYTES", "MAX_ARCHIVE_FILES", "extract_archive"]

MAX_ARCHIVE_FILES = 10_000
MAX_ARCHIVE_BYTES = 1 << 30
_CHUNK = 1 << 20
_TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
_DAMAGED = (tarfile.TarError, zipfile.BadZipFile, zlib.error, EOFError, gzip.BadGzipFile)
_DAMAGED_EXTRA = (lzma.LZMAError, NotImplementedError, RuntimeError)


def extract_archive(
    archive: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    *,
    max_files: int = MAX_ARCHIVE_FILES,
    max_bytes: int = MAX_ARCHIVE_BYTES,
) -> list[Path]:
    """Extract a ``.tar``, ``.tar.gz``/``.tgz`` (also bz2, xz) or ``.zip`` archive safely.

    Args:
        archive: The archive file.
        dest: A new or empty directory to extract into.
        max_files: Most members (files and directories) accepted.
        max_bytes: Most bytes written in total, counted as they are written.

    Returns:
        The extracted regular files, in archive order, under ``dest``.

    Raises:
        UnsafeArchiveError: a member is absolute, has ``..``, is a link or a special file,
            appears twice, or the archive exceeds ``max_files`` or ``max_bytes``. Nothing
            is left in ``dest``.
        ArtifactError: the archive is damaged or neither tar nor zip.
    """
    source = Path(archive)
    if not source.is_file():
        raise NotFoundError(
            f"The archive {str(source)!r} does not exist or is not a file.",
            hint="Check the path.",
            path=str(source),
        )
    is_zip = _is_zip(source)
    budget = _Budget(source, max_files=max_files, max_bytes=max_bytes)
    target, staging = prepare_staging(dest, what="extract an archive")
    try:
        try:
            if is_zip:
                relatives = _extract_zip(source, staging, budget)
            else:
                relatives = _extract_tar(source, staging, budget)
        except (*_DAMAGED, *_DAMAGED_EXTRA, OSError) as exc:
            if isinstance(exc, OSError) and not isinstance(exc, gzip.BadGzipFile):
                if exc.filename is not None or exc.errno is not None:
                    raise  # a real I/O error (disk full, permissions), not a bad archive
            raise ArtifactError(
                f"The archive {str(source)!r} is damaged, encrypted or not a tar or zip "
                f"file: {type(exc).__name__}: {exc}",
                hint="Re-create the archive as .tar, .tar.gz or .zip.",
                path=str(source),
            ) from exc
        publish_staging(staging, target)
    except BaseException:
        remove_tree(staging)
        raise
    return [target / rel for rel in relatives]


class _Budget:
    """Counts members and written bytes against the limits."""

    def __init__(self, archive: Path, *, max_files: int, max_bytes: int) -> None:
        self.archive = archive
        self.max_files = max_files
        self.max_bytes = max_bytes
        self.n_members = 0
        self.n_bytes = 0
        self.made_dirs: set[str] = set()

    def add_member(self, name: str, count: int = 1) -> None:
        self.n_members += count
        if self.n_members > self.max_files:
            raise UnsafeArchiveError(
                f"The archive {str(self.archive)!r} has more than max_files={self.max_files} "
                f"members (stopped at {name[:200]!r}); the limit stops archive bombs.",
                hint="If the archive is trusted, raise max_files; otherwise reject it.",
                path=str(self.archive),
                limit="max_files",
            )

    def add_bytes(self, n_bytes: int) -> None:
        self.n_bytes += n_bytes
        if self.n_bytes > self.max_bytes:
            raise UnsafeArchiveError(
                f"The archive {str(self.archive)!r} expands to more than "
                f"max_bytes={self.max_bytes} ({format_size(self.max_bytes)}); extraction "
                "stopped. The limit stops archive bombs.",
                hint="If the archive is trusted, raise max_bytes; otherwise reject it.",
                path=str(self.archive),
                limit="max_bytes",
            )


def _is_zip(source: Path) -> bool:
    name = source.name.lower()
    if name.endswith(".zip"):
        return True
    if name.endswith(_TAR_SUFFIXES):
        return False
    if zipfile.is_zipfile(source):
        return True
    if tarfile.is_tarfile(source):
        return False
    raise ArtifactError(
        f"The archive {str(source)!r} is neither a tar nor a zip file.",
        hint="Use .tar, .tar.gz, .tgz or .zip.",
        path=str(source),
    )


def _member_path(archive: Path, name: str) -> str:
    try:
        return check_relative_path(name, what="archive member").as_posix()
    except ValueError as exc:
        raise UnsafeArchiveError(
            f"The archive {str(archive)!r} has an unsafe member name {name[:200]!r}: {exc}",
            hint="Archives must hold plain relative paths; this one may be an attack.",
            path=str(archive),
            member=name,
        ) from None


def _refuse(archive: Path, name: str, what: str) -> UnsafeArchiveError:
    return UnsafeArchiveError(
        f"The archive {str(archive)!r} has a {what} member {name[:200]!r}; only regular "
        "files and directories are extracted.",
        hint="Re-create the archive without links or special files; this one may be an attack.",
        path=str(archive),
        member=name,
    )


def _place(staging: Path, rel: str, budget: _Budget, *, is_dir: bool) -> Path:
    """Resolve a member's path inside ``staging`` and create its directories (0700)."""
    try:
        path = safe_join(staging, rel, what="archive member")
        parent = rel if is_dir else rel.rpartition("/")[0]
        if parent and parent not in budget.made_dirs:  # each directory is made once
            make_dirs(staging, parent)
            parts = parent.split("/")
            budget.made_dirs.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
    except InvalidNameError as exc:
        raise UnsafeArchiveError(
            f"The archive {str(budget.archive)!r} cannot place member {rel!r}: {exc}",
            hint="A member uses another member (a file or link) as a directory; this archive "
            "may be an attack.",
            path=str(budget.archive),
            member=rel,
        ) from None
    return path


def _write_member(staging: Path, rel: str, reader: IO[bytes], budget: _Budget) -> None:
    out_path = _place(staging, rel, budget, is_dir=False)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(out_path, flags, 0o600)
    except (FileExistsError, IsADirectoryError):
        raise UnsafeArchiveError(
            f"The archive {str(budget.archive)!r} has the member {rel!r} twice (or as both a "
            "file and a directory).",
            hint="Re-create the archive; duplicate members can hide content.",
            path=str(budget.archive),
            member=rel,
        ) from None
    with os.fdopen(fd, "wb") as out:
        while chunk := reader.read(_CHUNK):
            budget.add_bytes(len(chunk))  # before writing: never exceed the limit on disk
            out.write(chunk)


def _extract_tar(source: Path, staging: Path, budget: _Budget) -> list[str]:
    relatives: list[str] = []
    with tarfile.open(source, "r:*") as archive:
        # next() streams headers one by one: a bomb stops at the limit, not after a full scan.
        while (member := archive.next()) is not None:
            budget.add_member(member.name)
            if member.issym() or member.islnk():
                raise _refuse(source, member.name, "link")
            if not (member.isreg() or member.isdir()):
                raise _refuse(source, member.name, "special-file (device, FIFO)")
            rel = _member_path(source, member.name)
            if member.isdir():
                _place(staging, rel, budget, is_dir=True)
                continue
            reader = archive.extractfile(member)
            if reader is None:  # pragma: no cover - isreg() members always have data
                raise _refuse(source, member.name, "unreadable")
            with reader:
                _write_member(staging, rel, reader, budget)
            relatives.append(rel)
    return relatives


def _extract_zip(source: Path, staging: Path, budget: _Budget) -> list[str]:
    declared = _zip_entry_count(source)
    if declared is not None and declared > budget.max_files:
        # Refuse before zipfile parses the whole central directory into memory.
        budget.add_member(f"<end record: {declared} entries>", count=declared)
    relatives: list[str] = []
    with zipfile.ZipFile(source) as archive:
        for info in archive.infolist():
            budget.add_member(info.filename)
            kind = stat.S_IFMT(info.external_attr >> 16)
            if kind == stat.S_IFLNK:
                raise _refuse(source, info.filename, "link")
            if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
                raise _refuse(source, info.filename, "special-file (device, FIFO)")
            rel = _member_path(source, info.filename)
            if info.is_dir() or kind == stat.S_IFDIR:
                _place(staging, rel, budget, is_dir=True)
                continue
            with archive.open(info) as reader:
                _write_member(staging, rel, reader, budget)
            relatives.append(rel)
    return relatives


def _zip_entry_count(source: Path) -> int | None:
    """The entry count the zip's end record declares (zip64 aware), or None if unreadable."""
    with open(source, "rb") as f:
        size = f.seek(0, os.SEEK_END)
        tail_size = min(size, (1 << 16) + 22)
        f.seek(size - tail_size)
        tail = f.read(tail_size)
        pos = tail.rfind(b"PK\x05\x06")
        if pos < 0 or len(tail) - pos < 22:
            return None
        total = int(struct.unpack("<4s4H2LH", tail[pos : pos + 22])[4])
        locator = tail[pos - 20 : pos] if pos >= 20 else b""
        if total != 0xFFFF or not locator.startswith(b"PK\x06\x07"):
            return total
        offset = int(struct.unpack("<4sLQL", locator)[2])
        f.seek(offset)
        record = f.read(56)
        if len(record) < 56 or not record.startswith(b"PK\x06\x06"):
            return None
        return int(struct.unpack("<4sQ2H2L4Q", record)[7])
