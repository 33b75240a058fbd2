"""Alert deliveries (storage side): claims that make each alert go out once per channel,
the de-duplication keys and rate windows they are decided on, and the dispatchers' cursors.

A claim is one transaction under the channel row's lock (``FOR UPDATE`` on PostgreSQL;
SQLite serialises writers): it reads the channel's rate window and the alert's key, asks
the caller's pure ``decide`` function for the verdict, and writes the delivery, the key and
the window. Idempotency comes from unique constraints, never from a read alone: (channel,
event) makes an event's alert one delivery per channel across processes and restarts;
(channel, key) holds one de-duplication key. The rules (windows, limits) are the notify
package's; the store keeps what it is told.

A delivery being sent is held by a claim with a lease and a fencing token (``claims``):
if its sender dies, another claim takes it over once the lease lapsed, and the first
sender's late finish is refused, so one event per delivery reaches the log.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Connection, Select, select, update

from ...core import (
    ALERT_FAILED,
    ALERT_SENT,
    ALERT_SUPPRESSED,
    InvalidValueError,
    NotFoundError,
    now_ms,
    validate_name,
)
from .._engine import Operation, Replay, Store
from .._sql import insert
from ..events import _tables as et
from ..events import append_event
from . import _tables as t
from ._records import AlertClaim, AlertClaimDecision, AlertClaimState, AlertDeliveryRecord

ch, dl, k, cu = (
    t.alert_channels.c,
    t.alert_deliveries.c,
    t.alert_keys.c,
    t.alert_cursors.c,
)
_DELIVERIES: Select[Any] = select(
    dl.id,
    ch.name.label("channel"),
    dl.event_id,
    dl.kind,
    dl.dedupe_key,
    dl.status,
    dl.reason,
    dl.attempts,
    dl.status_code,
    dl.claims,
    dl.claimed_at,
    dl.created_at,
    dl.finished_at,
).join(t.alert_channels, ch.id == dl.channel_id)
_KEY_LENGTH = 256


def _delivery(conn: Connection, delivery_id: int) -> AlertDeliveryRecord:
    return AlertDeliveryRecord.from_row(conn.execute(_DELIVERIES.where(dl.id == delivery_id)).one())


def _load_claim(conn: Connection, recorded: Any) -> AlertClaim:
    return AlertClaim(outcome=recorded["outcome"], delivery=_delivery(conn, recorded["id"]))


# A retried claim returns what its first execution decided (a "send" must stay one).
_CLAIM: Replay[AlertClaim] = Replay(
    dump=lambda claim: (
        None if claim.outcome == "done" else {"outcome": claim.outcome, "id": claim.delivery.id}
    ),
    load=_load_claim,
)


def _require_event(conn: Connection, store: Store, event_id: int) -> None:
    found = conn.execute(
        select(et.events.c.id).where(
            et.events.c.id == event_id, et.events.c.project_id == store.project_id
        )
    ).first()
    if found is None:
        raise NotFoundError(
            f"No event {event_id} in project {store.project!r}.",
            hint="List events with: conveyor events",
            event_id=event_id,
        )


def _channel_row(conn: Connection, store: Store, channel: str) -> Any:
    """The channel's row, created on first use and locked until the transaction ends."""
    conn.execute(
        insert(conn, t.alert_channels)
        .values(project_id=store.project_id, name=channel, n_in_window=0)
        .on_conflict_do_nothing(index_elements=["project_id", "name"])
    )
    query = select(t.alert_channels).where(ch.project_id == store.project_id, ch.name == channel)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return conn.execute(query).one()


def claim_alert_delivery(
    store: Store,
    channel: str,
    *,
    kind: str,
    dedupe_key: str,
    decide: Callable[[AlertClaimState], AlertClaimDecision],
    lease: float,
    event_id: int | None = None,
    subject: str = "",
    data: Mapping[str, Any] | None = None,
) -> AlertClaim:
    """Claim the delivery of one alert on ``channel``.

    With ``event_id``, the (channel, event) pair is claimed once: a second claim gets
    ``done`` with the first delivery, unless that one is still ``sending`` and its lease
    (``lease`` seconds from its claim) lapsed: then it is taken over (``send``, with the
    next ``claims``). Otherwise ``decide`` gets the channel's state and says ``send``,
    ``duplicate`` or ``rate_limited``; a suppressed delivery is recorded with an
    ``io.conveyor.alert.suppressed`` event (``subject``; ``data`` plus the channel,
    delivery id and reason).

    Raises:
        NotFoundError: ``event_id`` is not an event of this project.
        InvalidValueError: the channel name or key is not valid.
    """
    validate_name(channel, what="channel name")
    if not dedupe_key or len(dedupe_key) > _KEY_LENGTH:
        raise InvalidValueError(
            f"A de-duplication key must be 1 to {_KEY_LENGTH} characters. Got "
            f"{len(dedupe_key)} characters.",
            hint="Use a short key such as 'drift.detected:models/churn'.",
        )
    lease_ms = int(lease * 1000)

    def tx(conn: Connection, _op: Operation) -> AlertClaim:
        if event_id is not None:
            _require_event(conn, store, event_id)
        channel_row = _channel_row(conn, store, channel)
        now = now_ms()
        if event_id is not None:
            existing = conn.execute(
                select(dl.id, dl.status, dl.claims, dl.claimed_at).where(
                    dl.channel_id == channel_row.id, dl.event_id == event_id
                )
            ).first()
            if existing is not None:
                if existing.status == "sending" and existing.claimed_at + lease_ms < now:
                    taken = conn.execute(
                        update(t.alert_deliveries)
                        .where(
                            dl.id == existing.id,
                            dl.status == "sending",
                            dl.claims == existing.claims,
                        )
                        .values(claims=existing.claims + 1, claimed_at=now)
                    )
                    if taken.rowcount == 1:
                        return AlertClaim("send", _delivery(conn, existing.id))
                return AlertClaim("done", _delivery(conn, existing.id))
        key_row = conn.execute(
            select(k.last_sent_at).where(k.channel_id == channel_row.id, k.dedupe_key == dedupe_key)
        ).first()
        decision = decide(
            AlertClaimState(
                now=now,
                last_sent_at=None if key_row is None else key_row.last_sent_at,
                window_started_at=channel_row.window_started_at,
                n_in_window=channel_row.n_in_window,
            )
        )
        sending = decision.outcome == "send"
        delivery_id = conn.execute(
            t.alert_deliveries.insert()
            .values(
                channel_id=channel_row.id,
                event_id=event_id,
                kind=kind,
                dedupe_key=dedupe_key,
                status="sending" if sending else "suppressed",
                reason=decision.reason,
                attempts=0,
                claims=1,
                claimed_at=now,
                created_at=now,
                finished_at=None if sending else now,
            )
            .returning(dl.id)
        ).scalar_one()
        conn.execute(
            update(t.alert_channels)
            .where(ch.id == channel_row.id)
            .values(window_started_at=decision.window_started_at, n_in_window=decision.n_in_window)
        )
        stmt = insert(conn, t.alert_keys).values(
            channel_id=channel_row.id,
            dedupe_key=dedupe_key,
            last_sent_at=now if sending else None,
            holder_id=delivery_id if sending else None,
            n_suppressed=0 if sending else 1,
        )
        held = (
            {"last_sent_at": now, "holder_id": delivery_id}
            if sending
            else {"n_suppressed": k.n_suppressed + 1}
        )
        conn.execute(
            stmt.on_conflict_do_update(index_elements=["channel_id", "dedupe_key"], set_=held)
        )
        if not sending:
            append_event(
                conn,
                store,
                ALERT_SUPPRESSED,
                subject=subject,
                data={
                    **dict(data or {}),
                    "channel": channel,
                    "delivery_id": delivery_id,
                    "outcome": decision.outcome,
                    "reason": decision.reason,
                },
            )
        return AlertClaim(decision.outcome, _delivery(conn, delivery_id))

    return store.transact_once(tx, what="alert claim", replay=_CLAIM)


def finish_alert_delivery(
    store: Store,
    delivery_id: int,
    *,
    claims: int,
    sent: bool,
    attempts: int,
    status_code: int | None = None,
    reason: str = "",
    subject: str = "",
    data: Mapping[str, Any] | None = None,
) -> bool:
    """Record how delivery ``delivery_id`` ended, with its ``io.conveyor.alert.sent`` or
    ``.failed`` event (``data`` plus the channel, delivery id, attempts, status code and
    reason), if the caller still holds it (``claims`` is its fencing token). A failed
    delivery releases its de-duplication key, so the next alert with that key may try.

    Returns:
        False if another process took the delivery over meanwhile (nothing written).

    Raises:
        NotFoundError: no such delivery in this project.
    """
    status = "sent" if sent else "failed"

    def tx(conn: Connection, op: Operation) -> bool:
        row = conn.execute(
            select(dl.id, dl.status, dl.claims, dl.dedupe_key, dl.channel_id, ch.name)
            .join(t.alert_channels, ch.id == dl.channel_id)
            .where(dl.id == delivery_id, ch.project_id == store.project_id)
        ).first()
        if row is None:
            raise NotFoundError(
                f"No alert delivery {delivery_id} in project {store.project!r}.",
                hint="List recent alerts with: conveyor alerts list",
                delivery_id=delivery_id,
            )
        now = now_ms()
        done = conn.execute(
            update(t.alert_deliveries)
            .where(dl.id == delivery_id, dl.status == "sending", dl.claims == claims)
            .values(
                status=status,
                attempts=attempts,
                status_code=status_code,
                reason=reason,
                finished_at=now,
            )
        )
        if done.rowcount != 1:
            # A retry whose first execution committed finds its own result.
            return bool(op.is_retry and row.status == status and row.claims == claims)
        if not sent:
            conn.execute(
                update(t.alert_keys)
                .where(
                    k.channel_id == row.channel_id,
                    k.dedupe_key == row.dedupe_key,
                    k.holder_id == delivery_id,
                )
                .values(last_sent_at=None, holder_id=None)
            )
        append_event(
            conn,
            store,
            ALERT_SENT if sent else ALERT_FAILED,
            subject=subject,
            data={
                **dict(data or {}),
                "channel": row.name,
                "delivery_id": delivery_id,
                "attempts": attempts,
                "status_code": status_code,
                "reason": reason,
            },
        )
        return True

    return store.transact_once(tx, what="alert delivery finish")


def list_alert_deliveries(
    store: Store,
    *,
    channel: str | None = None,
    event_id: int | None = None,
    limit: int = 100,
) -> list[AlertDeliveryRecord]:
    """This project's alert deliveries, newest first: of one channel and/or of the alert
    of one event."""
    query = _DELIVERIES.where(ch.project_id == store.project_id)
    if channel is not None:
        query = query.where(ch.name == channel)
    if event_id is not None:
        query = query.where(dl.event_id == event_id)
    query = query.order_by(dl.id.desc()).limit(limit)
    return store.query(lambda conn: [AlertDeliveryRecord.from_row(r) for r in conn.execute(query)])


def get_alert_cursor(store: Store, name: str = "default") -> int:
    """The id of the last event dispatcher ``name`` handled (0: none yet)."""
    query = select(cu.last_event_id).where(cu.project_id == store.project_id, cu.name == name)
    return int(store.query(lambda conn: conn.execute(query).scalar() or 0))


def advance_alert_cursor(store: Store, name: str, event_id: int) -> int:
    """Move dispatcher ``name``'s cursor forward to ``event_id`` (never back); return
    where it stands.

    Raises:
        NotFoundError: ``event_id`` is not an event of this project.
    """
    validate_name(name, what="dispatcher name")

    def tx(conn: Connection) -> int:
        _require_event(conn, store, event_id)
        stmt = insert(conn, t.alert_cursors).values(
            project_id=store.project_id, name=name, last_event_id=event_id, updated_at=now_ms()
        )
        new = stmt.excluded
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["project_id", "name"],
                set_={"last_event_id": new.last_event_id, "updated_at": new.updated_at},
                where=cu.last_event_id < new.last_event_id,
            )
        )
        return int(
            conn.execute(
                select(cu.last_event_id).where(cu.project_id == store.project_id, cu.name == name)
            ).scalar_one()
        )

    # Only ever moves forward: running it again after its own commit changes nothing.
    return store.transact(tx, what="alert cursor")
