"""The monitoring records: typed, immutable, never SQLAlchemy rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._record import Record


@dataclass(frozen=True, slots=True)
class MonitorWindowRecord(Record):
    """One computed window of a monitor: its key, the span of prediction times it covers,
    how many predictions it holds, the model version that made most of them, its verdict
    (``status``) and the figures behind it."""

    id: int
    deployment: str
    monitor: str
    window_key: str
    start_ms: int
    end_ms: int
    n_rows: int
    model: str | None
    version: int | None
    status: str
    figures: dict[str, Any]
    computed_at: int


@dataclass(frozen=True, slots=True)
class MonitorStateRecord(Record):
    """What a monitor carries between runs, and the revision a write must name."""

    deployment: str
    monitor: str
    state: dict[str, Any]
    revision: int
    updated_at: int
