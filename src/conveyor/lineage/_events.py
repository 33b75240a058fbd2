"""The event log: what happened, in commit order, as CloudEvents."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from .. import store as st

if TYPE_CHECKING:
    from ..workspace import Workspace


def read_events(
    ws: Workspace, *, after: int = 0, types: Sequence[str] = (), limit: int = 1000
) -> list[st.EventRecord]:
    """Events with id > ``after`` in order; ``types`` are exact or end in ``*`` (a prefix)."""
    return st.read_events(ws.store, after=after, types=types, limit=limit)


def last_event_id(ws: Workspace) -> int:
    """The newest event's id (0 when there is none): a cursor to follow from."""
    return st.last_event_id(ws.store)


def follow_events(
    ws: Workspace,
    *,
    after: int = 0,
    types: Sequence[str] = (),
    poll_interval: float = 0.5,
    stop_after: float | None = None,
) -> Iterator[st.EventRecord]:
    """Yield events as they are committed, forever (or for ``stop_after`` seconds)."""
    return st.follow_events(
        ws.store, after=after, types=types, poll_interval=poll_interval, stop_after=stop_after
    )
