"""Time, in one place, so tests and stores agree on units (UTC, timezone-aware)."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def now_ms() -> int:
    """Milliseconds since the epoch, as MLflow stamps metrics."""
    return int(datetime.now(UTC).timestamp() * 1000)
