"""Artifacts: store and record bytes, list and describe them with their lineage, collect."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import store as st
from ..artifacts import GcReport, expand_references
from ..artifacts import collect_garbage as collect_blobs
from ..core import InvalidNameError, NotFoundError, check_relative_path

if TYPE_CHECKING:
    from ..workspace import Workspace


@dataclass(frozen=True)
class ArtifactDetails:
    """An artifact with its files (for directories) and the step runs that made or read it."""

    artifact: st.ArtifactRecord
    files: list[tuple[str, str, int]]
    lineage: list[st.LineageEdgeRecord]

    def to_dict(self) -> dict[str, Any]:
        return self.artifact.to_dict() | {
            "files": [{"path": p, "digest": d, "size": s} for p, d, s in self.files],
            "lineage": [
                {"step_run_id": e.step_run_id, "direction": e.direction, "name": e.name}
                for e in self.lineage
            ],
        }


def list_artifacts(
    ws: Workspace, *, name: str | None = None, limit: int = 100
) -> list[st.ArtifactRecord]:
    """The project's artifacts, newest first (only those named ``name``, if given)."""
    return st.list_artifacts(ws.store, limit=limit, name=name)


def describe_artifact(ws: Workspace, ref: int | str) -> ArtifactDetails:
    """Artifact ``ref`` (an id, or a ``sha256:`` digest) with its files and lineage."""
    record = st.get_artifact(ws.store, ref)
    return ArtifactDetails(
        artifact=record,
        files=st.artifact_files(ws.store, record.id),
        lineage=st.artifact_lineage(ws.store, record.id),
    )


def read_artifact(ws: Workspace, ref: int | str) -> bytes:
    """The bytes of file artifact ``ref``, checksum verified."""
    return ws.artifacts.get_bytes(st.get_artifact(ws.store, ref).digest)


def put_artifact(
    ws: Workspace,
    path: str | os.PathLike[str],
    *,
    name: str | None = None,
    type_name: str | None = None,
    media_type: str | None = None,
    meta: Mapping[str, Any] | None = None,
    producer_step_run_id: int | None = None,
) -> st.ArtifactRecord:
    """Store a file or directory and record it. Bytes first, then the row (rule 9)."""
    source = Path(path)
    if name is not None:
        check_relative_path(name, what="artifact name")
    files: list[tuple[str, str, int]] = []
    if source.is_dir():
        info = ws.artifacts.put_dir(source)
        digest, size, kind = info.digest, info.size, "dir"
        files = [(f.path, f.digest, f.size) for f in info.files]
    elif source.is_file():
        blob = ws.artifacts.put_file(source)
        digest, size, kind = blob.digest, blob.size, "file"
    else:
        raise NotFoundError(
            f"{str(source)!r} is not a file or directory.", hint="Check the path and try again."
        )
    return st.record_artifact(
        ws.store,
        digest,
        size,
        kind=kind,
        name=name or source.name,
        type_name=type_name,
        media_type=media_type,
        meta=meta,
        files=files,
        producer_step_run_id=producer_step_run_id,
    )


def export_artifact(ws: Workspace, ref: int | str, dest: str | os.PathLike[str]) -> Path:
    """Write a verified copy of artifact ``ref`` to ``dest`` (a new file or directory)."""
    record = st.get_artifact(ws.store, ref)
    target = Path(dest)
    if target.exists():
        raise InvalidNameError(
            f"{str(target)!r} already exists; conveyor does not overwrite on export.",
            hint="Choose a new path or remove the old one.",
        )
    if record.kind == "dir":
        return ws.artifacts.get_dir(record.digest, target)
    return ws.artifacts.get_file(record.digest, target)


def collect_garbage(
    ws: Workspace, *, older_than: float = 3600.0, dry_run: bool = False
) -> GcReport:
    """Delete blobs that no artifact of any project in this store references.

    Blobs younger than ``older_than`` seconds are kept, so a write whose metadata row is not
    committed yet is never collected.
    """
    keep = expand_references(ws.artifacts, st.referenced_digests(ws.store))
    return collect_blobs(ws.artifacts, keep, older_than=older_than, dry_run=dry_run)
