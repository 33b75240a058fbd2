"""The append-only event log, readable by cursor, as CloudEvents."""

from __future__ import annotations

from ._events import append_event as append_event
from ._events import emit_event as emit_event
from ._events import follow_events as follow_events
from ._events import last_event_id as last_event_id
from ._events import read_events as read_events
from ._records import EventRecord as EventRecord

__all__ = [
    "EventRecord",
    "append_event",
    "emit_event",
    "follow_events",
    "last_event_id",
    "read_events",
]
