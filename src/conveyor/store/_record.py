"""The base of the typed, immutable records store functions return (never SQLAlchemy rows)."""

from __future__ import annotations

import functools
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any, Self, cast


def ms_to_datetime(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value / 1000, UTC)


@functools.cache
def _field_names(cls: Any) -> tuple[str, ...]:
    # Read once per record type: ``dataclasses.fields`` costs more than building the record.
    return tuple(f.name for f in fields(cls))


class Record:
    """A record built from a row by field name; ``to_dict`` is JSON-ready."""

    @classmethod
    def from_row(cls, row: Any) -> Self:
        mapping = row._mapping
        names: tuple[str, ...] = _field_names(cast(Any, cls))
        return cls(**{name: mapping[name] for name in names})

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``*_at`` fields become ISO-8601 UTC strings."""
        out: dict[str, Any] = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if f.name.endswith("_at") and isinstance(value, int):
                value = ms_to_datetime(value).isoformat()  # type: ignore[union-attr]
            out[f.name] = value
        return out
