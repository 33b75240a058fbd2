"""The runs records: typed, immutable, never SQLAlchemy rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...core import RUN_FINISHED, RunStatus
from .._record import Record


@dataclass(frozen=True, slots=True)
class RunRecord(Record):
    id: int
    pipeline: str
    status: RunStatus
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
class StepRunRecord(Record):
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
class StepAttemptRecord(Record):
    id: int
    step_run_id: int
    attempt: int
    status: str
    worker: str | None
    error: str | None
    started_at: int
    finished_at: int | None


@dataclass(frozen=True, slots=True)
class MetricRecord(Record):
    key: str
    value: float
    step: int
    timestamp: int
