"""The data records: typed, immutable, never SQLAlchemy rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._record import Record


@dataclass(frozen=True, slots=True)
class DatasetRecord(Record):
    id: int
    name: str
    description: str
    last_version: int
    created_at: int


@dataclass(frozen=True, slots=True)
class SnapshotRecord(Record):
    id: int
    dataset_id: int
    version: int
    artifact_id: int
    digest: str
    source: str
    schema: dict[str, Any]
    statistics: dict[str, Any]
    n_rows: int | None
    run_id: int | None
    created_at: int


@dataclass(frozen=True, slots=True)
class DatasetSourceRecord(Record):
    dataset: str
    spec: dict[str, Any]
    appending: bool
    state: dict[str, Any] | None
    updated_at: int


@dataclass(frozen=True, slots=True)
class SnapshotUseRecord(Record):
    step_run_id: int
    step: str
    direction: str
    dataset: str
    version: int
    digest: str
    snapshot_id: int
