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
