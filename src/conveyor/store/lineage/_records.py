"""The lineage records: typed, immutable, never SQLAlchemy rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .._record import Record


@dataclass(frozen=True, slots=True)
class ArtifactRecord(Record):
    id: int
    digest: str
    size: int
    kind: str
    name: str | None
    type_name: str | None
    media_type: str | None
    meta: dict[str, Any]
    producer_step_run_id: int | None
    created_at: int


@dataclass(frozen=True, slots=True)
class NewArtifact:
    """Bytes already in the artifact store, to be recorded with a step's commit."""

    digest: str
    size: int
    kind: str = "file"
    name: str | None = None
    type_name: str | None = None
    media_type: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    files: tuple[tuple[str, str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class LineageEdgeRecord(Record):
    step_run_id: int
    artifact_id: int
    direction: str
    name: str
