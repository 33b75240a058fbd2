"""Triggers and their firings: exactly one claim per (trigger, window), however many race."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, select, update

from ..core import ConflictError, NotFoundError, did_you_mean, now_ms, validate_name
from . import _schema as t
from ._engine import Store
from ._records import ClaimResult, TriggerClaimRecord, TriggerRecord
from ._sql import insert

tr, cl = t.triggers.c, t.trigger_claims.c
KINDS = ("schedule", "new_data", "drift", "decay", "manual", "webhook")


def upsert_trigger(
    store: Store,
    name: str,
    *,
    kind: str,
    pipeline: str,
    config: Mapping[str, Any] | None = None,
    timezone: str = "UTC",
    next_fire_at: int | None = None,
    enabled: bool = True,
) -> TriggerRecord:
    """Create or update trigger ``name``, which starts ``pipeline``."""
    validate_name(name, what="trigger name")
    if kind not in KINDS:
        raise ConflictError(
            f"Trigger kind must be one of {list(KINDS)}. Got {kind!r}.{did_you_mean(kind, KINDS)}"
        )
    values = dict(
        kind=kind,
        pipeline=pipeline,
        config=dict(config or {}),
        timezone=timezone,
        next_fire_at=next_fire_at,
        enabled=enabled,
    )

    def tx(conn: Connection) -> TriggerRecord:
        row = conn.execute(
            insert(conn, t.triggers)
            .values(project_id=store.project_id, name=name, created_at=now_ms(), **values)
            .on_conflict_do_update(index_elements=["project_id", "name"], set_=values)
            .returning(*t.triggers.c)
        ).one()
        return TriggerRecord.from_row(row)

    return store.transact(tx, what="trigger update")


def get_trigger(store: Store, name: str) -> TriggerRecord:
    def read(conn: Connection) -> TriggerRecord:
        row = conn.execute(
            select(t.triggers).where(tr.project_id == store.project_id, tr.name == name)
        ).first()
        if row is None:
            names = conn.execute(select(tr.name).where(tr.project_id == store.project_id)).scalars()
            raise NotFoundError(
                f"No trigger {name!r}.{did_you_mean(name, names)}",
                hint="List triggers with: conveyor triggers list",
            )
        return TriggerRecord.from_row(row)

    return store.query(read)


def claim_trigger(store: Store, trigger_id: int, window_key: str, owner: str) -> ClaimResult:
    """Claim one firing of a trigger. Exactly one caller per ``(trigger, window)`` wins.

    The unique constraint decides: the winner's insert lands, everyone else's is a no-op,
    and losers get ``won=False`` with the winner's claim (not an error).
    """

    def tx(conn: Connection) -> ClaimResult:
        row = conn.execute(
            insert(conn, t.trigger_claims)
            .values(
                trigger_id=trigger_id,
                window_key=window_key,
                status="claimed",
                claimed_by=owner,
                reason="",
                claimed_at=now_ms(),
            )
            .on_conflict_do_nothing(index_elements=["trigger_id", "window_key"])
            .returning(*t.trigger_claims.c)
        ).first()
        if row is not None:
            return ClaimResult(won=True, claim=TriggerClaimRecord.from_row(row))
        existing = conn.execute(
            select(t.trigger_claims).where(cl.trigger_id == trigger_id, cl.window_key == window_key)
        ).one()
        return ClaimResult(won=False, claim=TriggerClaimRecord.from_row(existing))

    return store.transact(tx, what="trigger claim")


def set_claim_status(store: Store, claim_id: int, status: str, *, reason: str = "") -> None:
    """Record what became of a claim: ``started`` a run, ``coalesced`` into another, ``failed``."""
    stmt = update(t.trigger_claims).where(cl.id == claim_id).values(status=status, reason=reason)
    if store.transact(lambda conn: conn.execute(stmt).rowcount, what="claim update") != 1:
        raise NotFoundError(f"No trigger claim {claim_id}.")


def list_claims(store: Store, trigger_id: int) -> list[TriggerClaimRecord]:
    query = select(t.trigger_claims).where(cl.trigger_id == trigger_id).order_by(cl.id)
    return store.query(lambda conn: [TriggerClaimRecord.from_row(r) for r in conn.execute(query)])
