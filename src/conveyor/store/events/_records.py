"""The events records: typed, immutable, never SQLAlchemy rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._record import Record, ms_to_datetime


@dataclass(frozen=True, slots=True)
class EventRecord(Record):
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
