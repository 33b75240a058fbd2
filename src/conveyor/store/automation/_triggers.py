"""Triggers and their firings: exactly one run per firing, however many controllers race.

A firing is a ``(trigger, window)`` row in ``trigger_claims``, unique, so one controller
holds it at a time. The holder gets a lease; if it dies before starting the firing's run,
the lease lapses and another controller re-claims the firing with the next ``attempt``
(the fencing token), so a firing is never lost. ``start_claim`` marks the claim
``started`` and creates its run in one transaction, fenced by that attempt, and
``runs.trigger_claim_id`` is unique, so a firing never gets two runs (R05, R22).

Statuses move only along ``core.CLAIM_TRANSITIONS``; every function here is scoped to the
store's project.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

from sqlalchemy import ColumnElement, Connection, select, update

from ...core import (
    CLAIM_TRANSITIONS,
    ClaimStatus,
    ConflictError,
    InvalidValueError,
    NotFoundError,
    StaleAttemptError,
    did_you_mean,
    now_ms,
    pause_point,
    sources,
    validate_name,
)
from .._engine import Operation, Replay, Store
from .._sql import insert, replay_by_ids
from ..runs import RunRecord, insert_run, run_of_claim, run_values
from . import _tables as t
from ._records import ClaimResult, ClaimStart, TriggerClaimRecord, TriggerRecord

tr, cl = t.triggers.c, t.trigger_claims.c


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
    """Create or update trigger ``name``, which starts ``pipeline``.

    ``kind`` is stored as given: which kinds exist is ``conveyor.automate``'s rule.
    """
    validate_name(name, what="trigger name")
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


def _in_project(store: Store) -> ColumnElement[bool]:
    """Claims of this store's project only (a claim row knows its trigger, not its project)."""
    return cl.trigger_id.in_(select(tr.id).where(tr.project_id == store.project_id))


def _claim(conn: Connection, store: Store, claim_id: int) -> TriggerClaimRecord:
    row = conn.execute(
        select(t.trigger_claims).where(cl.id == claim_id, _in_project(store))
    ).first()
    if row is None:
        raise NotFoundError(
            f"No trigger claim {claim_id} in project {store.project!r}.", claim_id=claim_id
        )
    return TriggerClaimRecord.from_row(row)


def _load_won(conn: Connection, claim_id: Any) -> ClaimResult:
    row = conn.execute(select(t.trigger_claims).where(cl.id == claim_id)).one()
    return ClaimResult(won=True, claim=TriggerClaimRecord.from_row(row))


# A retry after a lost acknowledgement finds its own claim held by itself; without the
# record it would read that claim as a rival's and tell the real winner it lost.
_WON: Replay[ClaimResult] = Replay(
    dump=lambda result: result.claim.id if result.won else None, load=_load_won
)
_SWEPT = replay_by_ids(t.trigger_claims, TriggerClaimRecord.from_row)


def claim_trigger(
    store: Store, trigger_id: int, window_key: str, owner: str, *, lease: float = 30.0
) -> ClaimResult:
    """Claim one firing of a trigger for ``owner``, for ``lease`` seconds.

    One caller per ``(trigger, window)`` wins: the first, or, once the holder's lease
    lapsed with the firing still ``claimed`` (the holder died before starting its run),
    the first to re-claim it, with the next ``attempt``. Everyone else gets ``won=False``
    with the holder's claim (not an error). The winner then calls :func:`start_claim`
    with ``claim.attempt``, or :func:`set_claim_status` to coalesce or fail it.

    Raises:
        NotFoundError: no such trigger in this project.
    """
    lease_ms = int(lease * 1000)

    def tx(conn: Connection, _op: Operation) -> ClaimResult:
        found = conn.execute(
            select(tr.id).where(tr.id == trigger_id, tr.project_id == store.project_id)
        ).first()
        if found is None:
            raise NotFoundError(
                f"No trigger {trigger_id} in project {store.project!r}.",
                hint="List triggers with: conveyor triggers list",
                trigger_id=trigger_id,
            )
        now = now_ms()
        row = conn.execute(
            insert(conn, t.trigger_claims)
            .values(
                trigger_id=trigger_id,
                window_key=window_key,
                status="claimed",
                claimed_by=owner,
                attempt=1,
                lease_expires_at=now + lease_ms,
                reason="",
                claimed_at=now,
            )
            .on_conflict_do_nothing(index_elements=["trigger_id", "window_key"])
            .returning(*t.trigger_claims.c)
        ).first()
        if row is None:  # taken: take it over if its holder's lease lapsed before it started
            row = conn.execute(
                update(t.trigger_claims)
                .where(
                    cl.trigger_id == trigger_id,
                    cl.window_key == window_key,
                    cl.status.in_(sources(CLAIM_TRANSITIONS, "claimed")),
                    cl.lease_expires_at < now,
                )
                .values(
                    claimed_by=owner,
                    attempt=cl.attempt + 1,
                    lease_expires_at=now + lease_ms,
                    claimed_at=now,
                )
                .returning(*t.trigger_claims.c)
            ).first()
        if row is not None:
            return ClaimResult(won=True, claim=TriggerClaimRecord.from_row(row))
        existing = conn.execute(
            select(t.trigger_claims).where(cl.trigger_id == trigger_id, cl.window_key == window_key)
        ).one()
        return ClaimResult(won=False, claim=TriggerClaimRecord.from_row(existing))

    result = store.transact_once(tx, what="trigger claim", replay=_WON)
    if result.won:
        # Fault tests stop or kill a controller here: claimed, its run not started yet (R22).
        pause_point("trigger.claimed")
    return result


def claim_lapsed(
    store: Store, owner: str, *, limit: int = 10, lease: float = 30.0
) -> list[TriggerClaimRecord]:
    """Re-claim up to ``limit`` firings of this project whose holder's lease lapsed before
    it started them, for ``owner`` (each with the next ``attempt``).

    A controller calls it on start and now and then, so a firing whose claimer died is
    started by someone even if no controller sees that window fire again. PostgreSQL:
    ``FOR UPDATE SKIP LOCKED``, so sweepers never wait on each other (RELIABILITY rule 7).
    """
    lease_ms = int(lease * 1000)

    def tx(conn: Connection, _op: Operation) -> list[TriggerClaimRecord]:
        now = now_ms()
        pick = (
            select(cl.id)
            .where(
                _in_project(store),
                cl.status.in_(sources(CLAIM_TRANSITIONS, "claimed")),
                cl.lease_expires_at < now,
            )
            .order_by(cl.id)
            .limit(limit)
        )
        if conn.dialect.name == "postgresql":
            pick = pick.with_for_update(skip_locked=True)
        ids = list(conn.execute(pick).scalars())
        if not ids:
            return []
        rows = conn.execute(
            update(t.trigger_claims)
            .where(cl.id.in_(ids))
            .values(
                claimed_by=owner,
                attempt=cl.attempt + 1,
                lease_expires_at=now + lease_ms,
                claimed_at=now,
            )
            .returning(*t.trigger_claims.c)
        )
        return sorted((TriggerClaimRecord.from_row(r) for r in rows), key=lambda r: r.id)

    return store.transact_once(tx, what="lapsed claim sweep", replay=_SWEPT)


def renew_claim(
    store: Store, claim_id: int, attempt: int, *, lease: float = 30.0
) -> TriggerClaimRecord:
    """Extend the lease of a firing still ``claimed`` at ``attempt`` (a slow decision).

    Raises:
        StaleAttemptError: another controller re-claimed it.
        ConflictError: it is no longer ``claimed``.
    """

    def tx(conn: Connection) -> TriggerClaimRecord:
        row = conn.execute(
            update(t.trigger_claims)
            .where(
                cl.id == claim_id,
                _in_project(store),
                cl.attempt == attempt,
                cl.status == "claimed",
            )
            .values(lease_expires_at=now_ms() + int(lease * 1000))
            .returning(*t.trigger_claims.c)
        ).first()
        if row is None:
            _refuse(_claim(conn, store, claim_id), attempt, "claimed")
        return TriggerClaimRecord.from_row(row)

    return store.transact(tx, what="claim renewal")


def _refuse(current: TriggerClaimRecord, attempt: int | None, to: str) -> NoReturn:
    if attempt is not None and current.attempt != attempt:
        raise StaleAttemptError(
            f"Trigger claim {current.id} (window {current.window_key!r}) was re-claimed by "
            f"{current.claimed_by} (attempt {current.attempt}); attempt {attempt} may no "
            "longer change it.",
            claim_id=current.id,
            attempt=attempt,
        )
    raise ConflictError(
        f"Trigger claim {current.id} (window {current.window_key!r}) is {current.status!r}; "
        f"it cannot become {to!r}.",
        claim_id=current.id,
        status=current.status,
    )


def start_claim(
    store: Store,
    claim_id: int,
    attempt: int,
    *,
    pipeline: str | None = None,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    status: str = "running",
    code_version: Mapping[str, Any] | None = None,
    environment: Mapping[str, Any] | None = None,
    trace_id: str | None = None,
) -> RunRecord:
    """Start the run of a claimed firing: mark the claim ``started`` and create its run
    (bound by ``runs.trigger_claim_id``) in one transaction, fenced by ``attempt``.

    Repeating the call for the same claim and attempt returns the same run, so a retry
    after a lost acknowledgement neither fails nor starts a second run.

    Args:
        attempt: The ``claim.attempt`` that :func:`claim_trigger` returned to the winner.
        pipeline: Defaults to the trigger's pipeline.
        status: ``running`` (this controller runs it) or ``queued`` (for a runner to claim).

    Raises:
        StaleAttemptError: another controller re-claimed the firing (this one's lease
            lapsed); it starts the run, not this one.
        ConflictError: the firing was coalesced or failed.
        NotFoundError: no such claim in this project.
    """

    def tx(conn: Connection) -> RunRecord:
        marked = conn.execute(
            update(t.trigger_claims)
            .where(
                cl.id == claim_id,
                _in_project(store),
                cl.attempt == attempt,
                cl.status.in_(sources(CLAIM_TRANSITIONS, "started")),
            )
            .values(status="started", lease_expires_at=None)
            .returning(cl.trigger_id)
        ).first()
        if marked is None:
            # Read after the update, not before: on PostgreSQL the update may have waited
            # for this call's own earlier execution, which is only visible from here on.
            claim = _claim(conn, store, claim_id)
            if claim.status == "started" and claim.attempt == attempt:  # started by this call
                return run_of_claim(conn, claim_id)
            _refuse(claim, attempt, "started")
        if pipeline is None:
            name = conn.execute(select(tr.pipeline).where(tr.id == marked.trigger_id)).scalar_one()
        values = run_values(
            store,
            pipeline or name,
            params=params,
            tags=tags,
            status=status,
            trigger_claim_id=claim_id,
            code_version=code_version,
            environment=environment,
            trace_id=trace_id,
        )
        return insert_run(conn, store, values)

    return store.transact(tx, what="claim start")


def start_claim_unless_busy(
    store: Store,
    claim_id: int,
    attempt: int,
    *,
    cooldown: float = 0.0,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    status: str = "queued",
) -> ClaimStart:
    """Start a claimed firing's run, unless its pipeline is busy: then mark the firing
    ``coalesced``, with the run it was coalesced into as the reason.

    Busy: a run of the trigger's pipeline is queued or running, or a firing of this
    trigger started a run less than ``cooldown`` seconds ago. The check and the start are
    one transaction holding the pipeline's triggers' rows (PostgreSQL) or the write lock
    (SQLite), so of several firings racing, one starts and the rest coalesce (R05).
    A retry after a lost acknowledgement returns the first outcome.

    Raises:
        StaleAttemptError: another controller re-claimed the firing.
        ConflictError: the firing was already coalesced or failed by another call.
        NotFoundError: no such claim in this project.
    """
    from ..runs import _tables as rt

    r = rt.runs.c
    cooldown_ms = int(cooldown * 1000)

    def tx(conn: Connection) -> ClaimStart:
        claim = _claim(conn, store, claim_id)
        if claim.attempt == attempt and claim.status == "started":  # this call, retried
            return ClaimStart(run_of_claim(conn, claim_id), claim)
        if claim.attempt == attempt and claim.status == "coalesced" and claim.reason:
            return ClaimStart(None, claim)
        pipeline = conn.execute(select(tr.pipeline).where(tr.id == claim.trigger_id)).scalar_one()
        # Serialise the starts of this pipeline's firings (FOR UPDATE is PostgreSQL's; on
        # SQLite the write transaction already holds the database).
        conn.execute(
            select(tr.id)
            .where(tr.project_id == store.project_id, tr.pipeline == pipeline)
            .order_by(tr.id)
            .with_for_update()
        ).all()
        now = now_ms()
        busy = conn.execute(
            select(r.id, r.status)
            .where(
                r.project_id == store.project_id,
                r.pipeline == pipeline,
                r.status.in_(("queued", "running")),
            )
            .order_by(r.id)
            .limit(1)
        ).first()
        why = None
        if busy is not None:
            why = f"coalesced into run {busy.id} of {pipeline!r} ({busy.status})"
        elif cooldown_ms > 0:
            recent = conn.execute(
                select(r.id, r.created_at)
                .select_from(rt.runs.join(t.trigger_claims, cl.id == r.trigger_claim_id))
                .where(cl.trigger_id == claim.trigger_id, r.created_at >= now - cooldown_ms)
                .order_by(r.created_at.desc())
                .limit(1)
            ).first()
            if recent is not None:
                left = (recent.created_at + cooldown_ms - now) / 1000
                why = f"in cooldown after run {recent.id} ({left:.0f} s left)"
        if why is not None:
            row = conn.execute(
                update(t.trigger_claims)
                .where(cl.id == claim_id, cl.attempt == attempt, cl.status == "claimed")
                .values(status="coalesced", reason=why, lease_expires_at=None)
                .returning(*t.trigger_claims.c)
            ).first()
            if row is None:
                _refuse(_claim(conn, store, claim_id), attempt, "coalesced")
            return ClaimStart(None, TriggerClaimRecord.from_row(row))
        row = conn.execute(
            update(t.trigger_claims)
            .where(cl.id == claim_id, cl.attempt == attempt, cl.status == "claimed")
            .values(status="started", lease_expires_at=None)
            .returning(*t.trigger_claims.c)
        ).first()
        if row is None:
            _refuse(_claim(conn, store, claim_id), attempt, "started")
        values = run_values(
            store, pipeline, params=params, tags=tags, status=status, trigger_claim_id=claim_id
        )
        return ClaimStart(insert_run(conn, store, values), TriggerClaimRecord.from_row(row))

    return store.transact(tx, what="claim start")


def set_claim_status(
    store: Store,
    claim_id: int,
    status: ClaimStatus,
    *,
    reason: str = "",
    attempt: int | None = None,
) -> TriggerClaimRecord:
    """Record that a claimed firing was ``coalesced`` into a run in flight, or ``failed``.

    A firing becomes ``started`` only through :func:`start_claim`, which creates its run.
    With ``attempt``, only that holder of the claim may change it.

    Raises:
        InvalidValueError: ``status`` is not ``coalesced`` or ``failed``.
        ConflictError: the claim is not ``claimed`` any more (the move is not legal).
        StaleAttemptError: ``attempt`` was given and another controller re-claimed it.
    """
    if status not in ("coalesced", "failed"):
        raise InvalidValueError(
            f"A claim's status can be set to 'coalesced' or 'failed' here. Got {status!r}.",
            hint="Start a claimed firing's run with start_claim; claim one with claim_trigger.",
        )
    where = [
        cl.id == claim_id,
        _in_project(store),
        cl.status.in_(sources(CLAIM_TRANSITIONS, status)),
    ]
    if attempt is not None:
        where.append(cl.attempt == attempt)
    stmt = (
        update(t.trigger_claims)
        .where(*where)
        .values(status=status, reason=reason, lease_expires_at=None)
        .returning(*t.trigger_claims.c)
    )

    def tx(conn: Connection, op: Operation) -> TriggerClaimRecord:
        row = conn.execute(stmt).first()
        if row is not None:
            return TriggerClaimRecord.from_row(row)
        current = _claim(conn, store, claim_id)
        if current.status == status and current.reason == reason:
            own = current.attempt == attempt if attempt is not None else op.is_retry
            if own:  # this call's own earlier execution, whose acknowledgement was lost
                return current
        _refuse(current, attempt, status)

    return store.transact_once(tx, what="claim update")


def list_claims(store: Store, trigger_id: int) -> list[TriggerClaimRecord]:
    query = (
        select(t.trigger_claims)
        .where(cl.trigger_id == trigger_id, _in_project(store))
        .order_by(cl.id)
    )
    return store.query(lambda conn: [TriggerClaimRecord.from_row(r) for r in conn.execute(query)])
