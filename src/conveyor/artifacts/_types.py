"""The value objects the artifact store returns."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BlobInfo", "BlobStat", "DirEntry", "DirInfo", "GcReport"]


@dataclass(frozen=True)
class BlobInfo:
    """A stored blob.

    Attributes:
        digest: The sha256 of the content, 64 lowercase hex digits.
        size: The content's length in bytes.
    """

    digest: str
    size: int


@dataclass(frozen=True)
class BlobStat:
    """A stored blob as listed by :meth:`ArtifactStore.iter_blobs`.

    Attributes:
        digest: The sha256 of the content, 64 lowercase hex digits.
        size: The content's length in bytes.
        modified: When the blob was last written or re-put, in epoch seconds.
    """

    digest: str
    size: int
    modified: float


@dataclass(frozen=True)
class DirEntry:
    """One regular file of a stored directory.

    Attributes:
        path: The file's path relative to the directory, with ``/`` separators.
        digest: The sha256 of the file's content.
        size: The file's length in bytes.
    """

    path: str
    digest: str
    size: int


@dataclass(frozen=True)
class DirInfo:
    """A stored directory.

    Attributes:
        digest: The sha256 of the directory's manifest blob; pass it to ``get_dir``.
        size: The total size of the files in bytes (the manifest not included).
        files: The files, sorted by path.
    """

    digest: str
    size: int
    files: tuple[DirEntry, ...]


@dataclass(frozen=True)
class GcReport:
    """What :func:`collect_garbage` deleted (or, on a dry run, would delete).

    Attributes:
        n_deleted: Blobs deleted.
        bytes_freed: Their total size in bytes.
        n_kept: Blobs kept, because they are referenced or younger than the grace period.
        deleted: The deleted digests, sorted.
        n_temp_removed: Orphan temporary files removed (local stores only).
    """

    n_deleted: int
    bytes_freed: int
    n_kept: int
    deleted: tuple[str, ...]
    n_temp_removed: int = 0
