"""The registry records: typed, immutable, never SQLAlchemy rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._record import Record


@dataclass(frozen=True, slots=True)
class ModelRecord(Record):
    id: int
    name: str
    description: str
    last_version: int
    created_at: int


@dataclass(frozen=True, slots=True)
class ModelVersionRecord(Record):
    id: int
    model_id: int
    version: int
    run_id: int | None
    artifact_id: int | None
    parent_version_id: int | None
    flavor: str
    signature: dict[str, Any]
    metrics: dict[str, Any]
    params: dict[str, Any]
    tags: dict[str, Any]
    status: str
    description: str
    created_at: int


@dataclass(frozen=True, slots=True)
class AliasMoveRecord(Record):
    """One move of an alias: the versions' ids and numbers, why, who, and the evaluation
    that allowed it (if one did)."""

    id: int
    alias: str
    from_version_id: int | None
    to_version_id: int | None
    from_version: int | None
    to_version: int | None
    evaluation_id: int | None
    reason: str
    actor: str
    moved_at: int


@dataclass(frozen=True, slots=True)
class EvaluationRecord(Record):
    """An evaluation of version ``version`` of ``model`` (against ``baseline_version``), with
    the report's digest and the store's signature over both."""

    id: int
    model: str
    version: int
    model_version_id: int
    baseline_version: int | None
    baseline_version_id: int | None
    step_run_id: int | None
    passed: bool
    report: dict[str, Any]
    digest: str
    signature: str
    created_at: int
