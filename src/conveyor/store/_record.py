"""The base of the typed, immutable records store functions return (never SQLAlchemy rows)."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime
from typing import Any, Self


def ms_to_datetime(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value / 1000, UTC)


class Record:
    """A record built from a row by field name; ``to_dict`` is JSON-ready."""

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
