"""The feature records: typed, immutable, never SQLAlchemy rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._record import Record


@dataclass(frozen=True, slots=True)
class FeatureViewRecord(Record):
    id: int
    name: str
    digest: str
    definition: dict[str, Any]
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class MaterializationRecord(Record):
    id: int
    view_id: int
    digest: str
    start_us: int | None
    watermark_us: int
    n_rows: int
    source: str
    created_at: int


@dataclass(frozen=True, slots=True)
class FeatureViewUseRecord(Record):
    step_run_id: int
    step: str
    view: str
    digest: str
