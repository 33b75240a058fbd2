"""Content-addressed artifact bytes: local and fsspec blob stores, verified reads, gc.

Also safe archive extraction. Holds bytes only; names and lineage live in the metadata store.
"""

from __future__ import annotations

from ._archive import MAX_ARCHIVE_BYTES as MAX_ARCHIVE_BYTES
from ._archive import MAX_ARCHIVE_FILES as MAX_ARCHIVE_FILES
from ._archive import extract_archive as extract_archive
from ._base import ArtifactStore as ArtifactStore
from ._fsspec import FsspecArtifactStore as FsspecArtifactStore
from ._gc import collect_garbage as collect_garbage
from ._gc import expand_references as expand_references
from ._local import LocalArtifactStore as LocalArtifactStore
from ._manifest import MANIFEST_PREFIX as MANIFEST_PREFIX
from ._open import open_artifact_store as open_artifact_store
from ._types import BlobInfo as BlobInfo
from ._types import BlobStat as BlobStat
from ._types import DirEntry as DirEntry
from ._types import DirInfo as DirInfo
from ._types import GcReport as GcReport
from ._urls import url_filesystem as url_filesystem

__all__ = [
    "MANIFEST_PREFIX",
    "MAX_ARCHIVE_BYTES",
    "MAX_ARCHIVE_FILES",
    "ArtifactStore",
    "BlobInfo",
    "BlobStat",
    "DirEntry",
    "DirInfo",
    "FsspecArtifactStore",
    "GcReport",
    "LocalArtifactStore",
    "collect_garbage",
    "expand_references",
    "extract_archive",
    "open_artifact_store",
    "url_filesystem",
]
