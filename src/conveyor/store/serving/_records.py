"""The serving records: typed, immutable, never SQLAlchemy rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._record import Record


@dataclass(frozen=True, slots=True)
class DeploymentRecord(Record):
    id: int
    name: str
    model_id: int
    model: str
    alias: str
    strategy: str
    config: dict[str, Any]
    status: str
    serving_version_id: int | None
    previous_version_id: int | None
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class PredictionSegmentRecord(Record):
    """One Parquet segment of a deployment's prediction log: its blob's digest, how many
    rows and bytes, the range of prediction ids and times it holds, and the model version
    and role (``serve``, ``canary``, ``shadow``) that made its predictions."""

    id: int
    deployment: str
    model: str | None
    version: int | None
    role: str
    digest: str
    n_rows: int
    n_bytes: int
    first_id: str
    last_id: str
    min_ts: int
    max_ts: int
    created_at: int


@dataclass(frozen=True, slots=True)
class FeedbackRecord(Record):
    """The ground-truth label of one prediction (``prediction_ts``: the time in its id)."""

    id: int
    prediction_id: str
    deployment: str | None
    label: Any
    prediction_ts: int
    received_at: int
    updated_at: int
