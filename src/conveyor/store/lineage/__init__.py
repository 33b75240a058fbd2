"""Artifacts and lineage: which step run read or wrote which artifact."""

from __future__ import annotations

from ._artifacts import artifact_files as artifact_files
from ._artifacts import artifact_lineage as artifact_lineage
from ._artifacts import checked as checked
from ._artifacts import get_artifact as get_artifact
from ._artifacts import insert_artifact as insert_artifact
from ._artifacts import insert_edges as insert_edges
from ._artifacts import list_artifacts as list_artifacts
from ._artifacts import read_edges as read_edges
from ._artifacts import record_artifact as record_artifact
from ._artifacts import referenced_digests as referenced_digests
from ._records import ArtifactRecord as ArtifactRecord
from ._records import LineageEdgeRecord as LineageEdgeRecord
from ._records import NewArtifact as NewArtifact

__all__ = [
    "ArtifactRecord",
    "LineageEdgeRecord",
    "NewArtifact",
    "artifact_files",
    "artifact_lineage",
    "checked",
    "get_artifact",
    "insert_artifact",
    "insert_edges",
    "list_artifacts",
    "read_edges",
    "record_artifact",
    "referenced_digests",
]
