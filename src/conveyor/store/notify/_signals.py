"""Alerts received from outside (storage side): one event per idempotency key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, select, update

from ...core import SIGNAL_RECEIVED, InvalidValueError, now_ms
from .._engine import AS_JSON, Operation, Store
from .._sql import insert
from ..events import append_event
from . import _tables as t

s = t.signals.c


def record_signal(
    store: Store,
    key: str,
    *,
    subject: str = "",
    data: Mapping[str, Any] | None = None,
    source: str | None = None,
) -> tuple[int, bool]:
    """Record an alert received from outside as an ``io.conveyor.signal.received`` event,
    once per ``key`` (the caller's idempotency key, e.g. a hash of source, fingerprint,
    start and status).

    Returns:
        The event's id and whether this call recorded it (False: the key was known).

    Raises:
        InvalidValueError: ``key`` is empty or longer than 64 characters.
    """
    if not key or len(key) > 64:
        raise InvalidValueError(
            f"A signal's key must be 1 to 64 characters. Got {len(key)} characters.",
            hint="Pass a digest such as a sha256 hex string.",
        )

    def tx(conn: Connection, _op: Operation) -> list[Any]:
        row_id = conn.execute(
            insert(conn, t.signals)
            .values(project_id=store.project_id, key=key, received_at=now_ms())
            .on_conflict_do_nothing(index_elements=["project_id", "key"])
            .returning(s.id)
        ).scalar()
        if row_id is None:
            known = conn.execute(
                select(s.event_id).where(s.project_id == store.project_id, s.key == key)
            ).scalar_one()
            return [int(known), False]
        event_id = append_event(
            conn, store, SIGNAL_RECEIVED, subject=subject, data=data, source=source
        )
        conn.execute(update(t.signals).where(s.id == row_id).values(event_id=event_id))
        return [event_id, True]

    # A retry after a lost acknowledgement must still say "recorded by this call".
    event_id, new = store.transact_once(tx, what="signal record", replay=AS_JSON)
    return int(event_id), bool(new)
