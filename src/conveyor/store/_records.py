"""Typed, immutable records the store functions return (never SQLAlchemy rows)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Self

if TYPE_CHECKING:
    from ..core import ClaimStatus

from ..core import RUN_FINISHED


def ms_to_datetime(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value / 1000, UTC)


class _Record:
    @classmethod
    def from_row(cls, row: Any) -> Self:
        mapping = row._mapping
        return cls(**{f.name: mapping[f.name] for f in fields(cls)})  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``*_at`` fields become ISO-8601 UTC strings."""
        out: dict[str, Any] = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if f.name.endswith("_at") and isinstance(value, int):
                value = ms_to_datetime(value).isoformat()  # type: ignore[union-attr]
            out[f.name] = value
        return out


@dataclass(frozen=True, slots=True)
class RunRecord(_Record):
    id: int
    pipeline: str
    status: str
    idempotency_key: str | None
    trigger_claim_id: int | None
    params: dict[str, Any]
    tags: dict[str, Any]
    code_version: dict[str, Any]
    environment: dict[str, Any]
    error: str | None
    trace_id: str | None
    lease_owner: str | None
    lease_expires_at: int | None
    attempt: int
    created_at: int
    started_at: int | None
    finished_at: int | None

    @property
    def is_finished(self) -> bool:
        return self.status in RUN_FINISHED

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish (or None while unfinished)."""
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at) / 1000


@dataclass(frozen=True, slots=True)
class StepRunRecord(_Record):
    id: int
    run_id: int
    name: str
    status: str
    attempt: int
    cache_key: str | None
    cached_from_id: int | None
    lease_owner: str | None
    lease_expires_at: int | None
    error: str | None
    logs_digest: str | None
    started_at: int | None
    finished_at: int | None


@dataclass(frozen=True, slots=True)
class StepAttemptRecord(_Record):
    id: int
    step_run_id: int
    attempt: int
    status: str
    worker: str | None
    error: str | None
    started_at: int
    finished_at: int | None


@dataclass(frozen=True, slots=True)
class MetricRecord(_Record):
    key: str
    value: float
    step: int
    timestamp: int


@dataclass(frozen=True, slots=True)
class ArtifactRecord(_Record):
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
class LineageEdgeRecord(_Record):
    step_run_id: int
    artifact_id: int
    direction: str
    name: str


@dataclass(frozen=True, slots=True)
class EventRecord(_Record):
    id: int
    type: str
    source: str
    subject: str
    time: int
    data: dict[str, Any]

    def to_cloudevent(self) -> dict[str, Any]:
        """This event as a CloudEvents 1.0 structured-mode JSON object."""
        return {
            "specversion": "1.0",
            "id": str(self.id),
            "type": self.type,
            "source": self.source,
            "subject": self.subject,
            "time": ms_to_datetime(self.time).isoformat(),  # type: ignore[union-attr]
            "datacontenttype": "application/json",
            "data": self.data,
        }


@dataclass(frozen=True, slots=True)
class ModelRecord(_Record):
    id: int
    name: str
    description: str
    last_version: int
    created_at: int


@dataclass(frozen=True, slots=True)
class ModelVersionRecord(_Record):
    id: int
    model_id: int
    version: int
    run_id: int | None
    artifact_id: int | None
    flavor: str
    signature: dict[str, Any]
    metrics: dict[str, Any]
    params: dict[str, Any]
    tags: dict[str, Any]
    status: str
    description: str
    created_at: int


@dataclass(frozen=True, slots=True)
class AliasMoveRecord(_Record):
    id: int
    alias: str
    from_version_id: int | None
    to_version_id: int | None
    reason: str
    actor: str
    moved_at: int


@dataclass(frozen=True, slots=True)
class DatasetRecord(_Record):
    id: int
    name: str
    description: str
    last_version: int
    created_at: int


@dataclass(frozen=True, slots=True)
class SnapshotRecord(_Record):
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
class DeploymentRecord(_Record):
    id: int
    name: str
    model_id: int
    alias: str
    strategy: str
    config: dict[str, Any]
    status: str
    serving_version_id: int | None
    previous_version_id: int | None
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class TriggerRecord(_Record):
    id: int
    name: str
    kind: str
    pipeline: str
    config: dict[str, Any]
    timezone: str
    next_fire_at: int | None
    enabled: bool
    created_at: int


@dataclass(frozen=True, slots=True)
class TriggerClaimRecord(_Record):
    """One firing of a trigger and who holds it.

    ``attempt`` is the fencing token: it grows each time another controller takes the
    firing over after the holder's lease (``lease_expires_at``) lapsed, and the holder
    passes it to ``start_claim`` / ``set_claim_status``.
    """

    id: int
    trigger_id: int
    window_key: str
    status: ClaimStatus
    claimed_by: str
    attempt: int
    lease_expires_at: int | None
    reason: str
    claimed_at: int


@dataclass(frozen=True, slots=True)
class ClaimResult:
    """The outcome of :func:`claim_trigger`: ``won`` for exactly one holder of a firing at
    a time; a loser gets ``won=False`` and the holder's claim, never an error."""

    won: bool
    claim: TriggerClaimRecord
