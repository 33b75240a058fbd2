"""The append-only event log: what happened, in commit order, readable by cursor."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, select

from ...core import InvalidValueError, now_ms
from .._engine import AS_JSON, Store
from .._sql import lock_events
from . import _tables as t
from ._records import EventRecord

_INSERT_EVENT = t.events.insert()
_TYPE = re.compile(r"io\.conveyor\.[a-z_]+(\.[a-z_]+)+")


def append_event(
    conn: Connection,
    store: Store,
    type: str,
    *,
    subject: str = "",
    data: Mapping[str, Any] | None = None,
    source: str | None = None,
) -> int:
    """Append an event inside the caller's write transaction; return its id (the cursor).

    Call it last in a transaction: on PostgreSQL it holds the event lock until commit.

    Args:
        type: CloudEvents type ``io.conveyor.<noun>.<past-tense verb>``, e.g.
            ``io.conveyor.run.finished``.
        subject: What it is about, e.g. ``runs/42`` or ``models/churn/versions/3``.
        data: JSON-able details.
        source: Defaults to ``/projects/<project>``.
    """
    if not _TYPE.fullmatch(type):
        raise InvalidValueError(
            f"An event type must look like 'io.conveyor.<noun>.<past-tense verb>' in lower "
            f"case and underscores. Got {type!r}.",
            hint="Use a type such as 'io.conveyor.run.finished'.",
            type=type,
        )
    lock_events(conn, store.project_id)
    result = conn.execute(
        _INSERT_EVENT,
        {
            "project_id": store.project_id,
            "type": type,
            "source": source or f"/projects/{store.project}",
            "subject": subject,
            "time": now_ms(),
            "data": dict(data or {}),
        },
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def emit_event(
    store: Store,
    type: str,
    *,
    subject: str = "",
    data: Mapping[str, Any] | None = None,
    source: str | None = None,
) -> int:
    """Append one event in its own transaction (once, however often the write is retried)."""
    return int(
        store.transact_once(
            lambda c, _op: append_event(c, store, type, subject=subject, data=data, source=source),
            what="event append",
            replay=AS_JSON,
        )
    )


def read_events(
    store: Store,
    *,
    after: int = 0,
    types: Sequence[str] = (),
    limit: int = 1000,
) -> list[EventRecord]:
    """Events with id > ``after`` in id order. Pass the last id back as ``after`` to poll.

    ``types`` filters by exact type or by prefix ending in ``*`` (``io.conveyor.run.*``).
    """
    c = t.events.c
    query = select(t.events).where(c.project_id == store.project_id, c.id > after)
    exact = [x for x in types if not x.endswith("*")]
    prefixes = [x[:-1] for x in types if x.endswith("*")]
    if types:
        from sqlalchemy import or_

        query = query.where(
            or_(c.type.in_(exact), *(c.type.startswith(p, autoescape=True) for p in prefixes))
        )
    query = query.order_by(c.id).limit(limit)
    return store.query(lambda conn: [EventRecord.from_row(r) for r in conn.execute(query)])


def last_event_id(store: Store) -> int:
    from sqlalchemy import func

    query = select(func.max(t.events.c.id)).where(t.events.c.project_id == store.project_id)
    return int(store.query(lambda conn: conn.execute(query).scalar() or 0))


def follow_events(
    store: Store,
    *,
    after: int = 0,
    types: Sequence[str] = (),
    poll_interval: float = 0.5,
    stop_after: float | None = None,
) -> Iterator[EventRecord]:
    """Yield events as they are committed, forever (or for ``stop_after`` seconds)."""
    deadline = None if stop_after is None else time.monotonic() + stop_after
    cursor = after
    while deadline is None or time.monotonic() < deadline:
        batch = read_events(store, after=cursor, types=types)
        yield from batch
        if batch:
            cursor = batch[-1].id
        else:
            time.sleep(poll_interval)
