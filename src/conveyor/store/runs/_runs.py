"""Runs: creation (idempotent by key), guarded state transitions, the run queue, params."""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, bindparam, func, or_, select, update

from ...core import (
    RUN_EVENT_TYPES,
    RUN_STARTED,
    RUN_TRANSITIONS,
    ConflictError,
    InvalidValueError,
    NotFoundError,
    RunStatus,
    StaleAttemptError,
    can_move,
    did_you_mean,
    now_ms,
)
from .._engine import Operation, Store
from .._sql import (
    dialect_insert,
    insert,
    json_text,
    replay_by_id,
    replay_by_ids,
    require_in_project,
    run_in_project,
)
from ..events import append_event
from . import _tables as t
from ._records import RunRecord

FINISHED = ("succeeded", "failed", "cancelled")


_INSERT_PARAMS = t.params.insert()
_RUN = replay_by_id(t.runs, RunRecord.from_row)
_CLAIMED = replay_by_ids(t.runs, RunRecord.from_row)


@functools.cache
def _insert_run(dialect: str, idempotent: bool) -> Any:
    stmt = dialect_insert(dialect, t.runs)
    if idempotent:
        stmt = stmt.on_conflict_do_nothing(index_elements=["project_id", "idempotency_key"])
    return stmt.returning(*t.runs.c)


def create_run(
    store: Store,
    pipeline: str,
    *,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    status: str = "running",
    idempotency_key: str | None = None,
    trigger_claim_id: int | None = None,
    code_version: Mapping[str, Any] | None = None,
    environment: Mapping[str, Any] | None = None,
    trace_id: str | None = None,
) -> RunRecord:
    """Create a run (``running`` now, or ``queued`` for a controller to claim).

    With ``idempotency_key``, creating the same key twice returns the first run, however
    many processes race: the key is a unique constraint. Without one, the call is still
    made once: a retry after a lost COMMIT acknowledgement returns the run it created.
    For the run of a trigger firing use ``start_claim``, which also marks the claim.
    """
    values = run_values(
        store,
        pipeline,
        params=params,
        tags=tags,
        status=status,
        idempotency_key=idempotency_key,
        trigger_claim_id=trigger_claim_id,
        code_version=code_version,
        environment=environment,
        trace_id=trace_id,
    )
    return _insert_once(store, values, what="run creation")


def _insert_once(store: Store, values: Mapping[str, Any], *, what: str) -> RunRecord:
    if values["idempotency_key"] is not None:  # the key makes a repeat find the first run
        return store.transact(lambda conn: insert_run(conn, store, values), what=what)
    return store.transact_once(
        lambda conn, _op: insert_run(conn, store, values), what=what, replay=_RUN
    )


def run_values(
    store: Store,
    pipeline: str,
    *,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    status: str = "running",
    idempotency_key: str | None = None,
    trigger_claim_id: int | None = None,
    code_version: Mapping[str, Any] | None = None,
    environment: Mapping[str, Any] | None = None,
    trace_id: str | None = None,
) -> dict[str, Any]:
    """The row of a new run, checked (shared by ``create_run`` and ``start_claim``)."""
    if status not in ("running", "queued"):
        raise InvalidValueError(
            f"A new run's status must be 'running' or 'queued'. Got {status!r}."
            f"{did_you_mean(str(status), ('running', 'queued'))}",
            hint="Create it 'queued' for a controller to claim, or 'running' to run it now.",
        )
    now = now_ms()
    return dict(
        project_id=store.project_id,
        pipeline=pipeline,
        status=status,
        idempotency_key=idempotency_key,
        trigger_claim_id=trigger_claim_id,
        params=dict(params or {}),
        tags=dict(tags or {}),
        code_version=dict(code_version or {}),
        environment=dict(environment or {}),
        trace_id=trace_id,
        attempt=0,
        created_at=now,
        started_at=now if status == "running" else None,
    )


def insert_run(conn: Connection, store: Store, values: Mapping[str, Any]) -> RunRecord:
    """Insert a run from :func:`run_values` with its params and event, in ``conn``'s
    transaction. With an idempotency key that exists, return that run instead.

    Raises:
        NotFoundError: ``trigger_claim_id`` is not a firing of the store's project.
    """
    require_in_project(conn, store, [("trigger claim", values["trigger_claim_id"])])
    idempotency_key = values["idempotency_key"]
    stmt = _insert_run(conn.dialect.name, idempotency_key is not None)
    row = conn.execute(stmt, values).first()
    if row is None:  # the key exists: this call is a repeat
        existing = conn.execute(
            select(t.runs).where(
                t.runs.c.project_id == store.project_id,
                t.runs.c.idempotency_key == idempotency_key,
            )
        ).one()
        return RunRecord.from_row(existing)
    run = RunRecord.from_row(row)
    if run.params:  # also as rows, so get_params and log_params see one set of params
        conn.execute(
            _INSERT_PARAMS,
            [{"run_id": run.id, "key": k, "value": v} for k, v in run.params.items()],
        )
    append_event(
        conn,
        store,
        RUN_EVENT_TYPES[run.status],
        subject=f"runs/{run.id}",
        data={"run_id": run.id, "pipeline": run.pipeline}
        | ({"attempt": run.attempt} if run.attempt else {}),
    )
    return run


def run_of_claim(conn: Connection, claim_id: int) -> RunRecord:
    """The one run started for trigger claim ``claim_id`` (``runs.trigger_claim_id`` is
    unique), read in ``conn``'s transaction."""
    row = conn.execute(select(t.runs).where(t.runs.c.trigger_claim_id == claim_id)).one()
    return RunRecord.from_row(row)


def get_run(store: Store, run_id: int) -> RunRecord:
    query = select(t.runs).where(t.runs.c.id == run_id, t.runs.c.project_id == store.project_id)
    row = store.query(lambda c: c.execute(query).first())
    if row is None:
        raise NotFoundError(
            f"No run {run_id} in project {store.project!r}.",
            hint="List runs with: conveyor runs list",
            run_id=run_id,
        )
    return RunRecord.from_row(row)


def list_runs(
    store: Store,
    *,
    pipeline: str | None = None,
    statuses: Collection[str] = (),
    limit: int = 50,
    before_id: int | None = None,
) -> list[RunRecord]:
    """Newest first."""
    c = t.runs.c
    query = select(t.runs).where(c.project_id == store.project_id)
    if pipeline:
        query = query.where(c.pipeline == pipeline)
    if statuses:
        query = query.where(c.status.in_(list(statuses)))
    if before_id is not None:
        query = query.where(c.id < before_id)
    query = query.order_by(c.id.desc()).limit(limit)
    return store.query(lambda conn: [RunRecord.from_row(r) for r in conn.execute(query)])


_RUN_MOVES = list(RUN_TRANSITIONS.items())


def transition_run(
    store: Store,
    run_id: int,
    to: RunStatus,
    *,
    expected: Collection[RunStatus],
    error: str | None = None,
    attempt: int | None = None,
) -> RunRecord:
    """Move a run from one of ``expected`` to ``to`` (RELIABILITY rule 6), or raise.

    ``attempt`` fences the write to the holder of the run's current claim. A repeat that
    finds the run already moved to ``to`` by this same attempt (or, unfenced, by this same
    call's earlier execution whose acknowledgement was lost) returns the run instead of
    raising: the move is made once, and its maker is told it succeeded.

    Raises:
        InvalidValueError: some ``expected -> to`` is not a legal move of a run.
        ConflictError: the run was not in an expected state (someone else moved it).
        StaleAttemptError: ``attempt`` is no longer the run's current attempt.
    """
    illegal = sorted(s for s in expected if not can_move(RUN_TRANSITIONS, s, to))
    if illegal or not expected:
        raise InvalidValueError(
            f"A run cannot move from {illegal or 'nowhere'} to {to!r}: its legal moves are "
            + "; ".join(
                f"{a} -> {', '.join(sorted(b)) or 'none'}" for a, b in RUN_TRANSITIONS.items()
            )
            + ".",
            run_id=run_id,
        )
    c = t.runs.c
    now = now_ms()
    values: dict[str, Any] = {"status": to}
    if to in FINISHED:
        values |= {"finished_at": now, "lease_owner": None, "lease_expires_at": None}
    if to == "running":
        values |= {"started_at": now, "finished_at": None}
    if error is not None or to == "running":
        values["error"] = error
    where = [c.id == run_id, c.project_id == store.project_id, c.status.in_(list(expected))]
    if attempt is not None:
        where.append(c.attempt == attempt)

    def tx(conn: Connection, op: Operation) -> RunRecord:
        result = conn.execute(update(t.runs).where(*where).values(**values).returning(*t.runs.c))
        row = result.first()
        if row is None:
            current = conn.execute(
                select(t.runs).where(c.id == run_id, c.project_id == store.project_id)
            ).first()
            if current is not None and current.status == to:
                own = current.attempt == attempt if attempt is not None else op.is_retry
                if own:
                    return RunRecord.from_row(current)
            if current is None:
                raise NotFoundError(f"No run {run_id} in project {store.project!r}.", run_id=run_id)
            if attempt is not None and current.attempt != attempt:
                raise StaleAttemptError(
                    f"Run {run_id} was claimed again (attempt {current.attempt}); attempt "
                    f"{attempt} may no longer change it.",
                    run_id=run_id,
                )
            raise ConflictError(
                f"Run {run_id} is {current.status!r}, not one of {sorted(expected)}; "
                f"it cannot become {to!r}.",
                run_id=run_id,
                status=current.status,
            )
        run = RunRecord.from_row(row)
        append_event(
            conn,
            store,
            RUN_EVENT_TYPES[to],
            subject=f"runs/{run_id}",
            data={"run_id": run_id, "pipeline": run.pipeline, "status": to, "error": error},
        )
        return run

    return store.transact_once(tx, what=f"run {run_id} -> {to}")


def claim_runs(
    store: Store, owner: str, *, limit: int = 10, lease: float = 30.0
) -> list[RunRecord]:
    """Claim up to ``limit`` queued runs for ``owner`` with a lease (RELIABILITY rule 7).

    PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so claimers never wait on each other's rows.
    SQLite: the write lock (``BEGIN IMMEDIATE``) makes one claimer at a time. Each claim bumps
    the run's ``attempt``, the fencing token for later writes. A run whose lease expired
    is claimable again. A retry after a lost acknowledgement returns the runs the first
    execution claimed (they are leased to ``owner`` now, so it would not find them again).
    """
    c = t.runs.c

    def tx(conn: Connection, _op: Operation) -> list[RunRecord]:
        now = now_ms()
        pick = (
            select(c.id)
            .where(
                c.project_id == store.project_id,
                c.status == "queued",
                or_(c.lease_expires_at.is_(None), c.lease_expires_at < now),
            )
            .order_by(c.id)
            .limit(limit)
        )
        if conn.dialect.name == "postgresql":
            pick = pick.with_for_update(skip_locked=True)
        ids = [r[0] for r in conn.execute(pick)]
        if not ids:
            return []
        rows = conn.execute(
            update(t.runs)
            .where(c.id.in_(ids))
            .values(
                lease_owner=owner,
                lease_expires_at=now + int(lease * 1000),
                attempt=c.attempt + 1,
            )
            .returning(*t.runs.c)
        )
        return sorted((RunRecord.from_row(r) for r in rows), key=lambda r: r.id)

    return store.transact_once(tx, what="run claim", replay=_CLAIMED)


def start_run(
    store: Store,
    pipeline: str,
    owner: str,
    *,
    lease: float = 60.0,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    idempotency_key: str | None = None,
    code_version: Mapping[str, Any] | None = None,
    environment: Mapping[str, Any] | None = None,
) -> RunRecord:
    """Create a run already ``running`` under ``owner`` (attempt 1), in one transaction.

    So no other runner can slip in between creating a run and acquiring it. Made once like
    :func:`create_run`: a retry after a lost commit acknowledgement returns the run the first
    try created. With ``idempotency_key``, a key that exists returns that run as it is: the
    caller sees from ``lease_owner`` that it is not its own.
    """
    values = run_values(
        store,
        pipeline,
        params=params,
        tags=tags,
        idempotency_key=idempotency_key,
        code_version=code_version,
        environment=environment,
    )
    values |= {
        "lease_owner": owner,
        "lease_expires_at": values["created_at"] + int(lease * 1000),
        "attempt": 1,
    }
    return _insert_once(store, values, what="run start")


def acquire_run(
    store: Store,
    run_id: int,
    owner: str,
    *,
    lease: float = 60.0,
    take_over_from: tuple[str | None, int] | None = None,
) -> RunRecord:
    """Become the runner of a run: from ``queued`` or ``failed``, from ``running`` when its
    lease expired, or, with ``take_over_from=(owner, attempt)``, from that holder only,
    whatever its lease (the caller judged it dead).

    Every path is a compare-and-set on the run's ``attempt`` (RELIABILITY rule 6): of two
    runners taking over the same holder, exactly one wins. The winner's ``attempt`` goes up
    by one (the fencing token) and ``io.conveyor.run.started`` is emitted with it. A retry
    after a lost commit acknowledgement recognises its own acquisition and returns it.

    Raises:
        ConflictError: the run finished, another runner holds it (``lease_owner`` and
            ``attempt`` say who), or the holder is not the one in ``take_over_from``.
    """
    c = t.runs.c
    here = [c.id == run_id, c.project_id == store.project_id]
    # The attempt we mean to replace, fixed on the first try: a retry must not re-read it,
    # or it would take our own acquisition for someone else's and acquire twice.
    expected: list[int] = [] if take_over_from is None else [take_over_from[1]]

    def tx(conn: Connection) -> RunRecord:
        now = now_ms()
        if not expected:
            seen = conn.execute(select(c.attempt).where(*here)).scalar()
            if seen is None:
                raise _no_run(store, run_id)
            expected.append(int(seen))
        if take_over_from is not None:
            holder = take_over_from[0]
            runnable: ColumnElement[bool] = and_(
                c.status == "running",
                c.lease_owner.is_(None) if holder is None else c.lease_owner == holder,
            )
        else:
            runnable = or_(
                c.status.in_(["queued", "failed"]),
                and_(
                    c.status == "running",
                    or_(c.lease_expires_at.is_(None), c.lease_expires_at < now),
                ),
            )
        row = conn.execute(
            update(t.runs)
            .where(*here, c.attempt == expected[0], runnable)
            .values(
                status="running",
                lease_owner=owner,
                lease_expires_at=now + int(lease * 1000),
                attempt=c.attempt + 1,
                started_at=func.coalesce(c.started_at, now),
                finished_at=None,
                error=None,
            )
            .returning(*t.runs.c)
        ).first()
        if row is None:
            current = conn.execute(select(t.runs).where(*here)).first()
            if current is None:
                raise _no_run(store, run_id)
            run = RunRecord.from_row(current)
            if (
                run.status == "running"
                and run.lease_owner == owner
                and run.attempt == expected[0] + 1
            ):
                return run  # ours: the commit went through, its acknowledgement did not
            raise _not_acquired(run, now)
        run = RunRecord.from_row(row)
        append_event(
            conn,
            store,
            RUN_STARTED,
            subject=f"runs/{run_id}",
            data={"run_id": run_id, "pipeline": run.pipeline, "attempt": run.attempt},
        )
        return run

    return store.transact(tx, what="run acquisition")


def _no_run(store: Store, run_id: int) -> NotFoundError:
    return NotFoundError(
        f"No run {run_id} in project {store.project!r}.",
        hint="List runs with: conveyor runs list",
        run_id=run_id,
    )


def _not_acquired(run: RunRecord, now: int) -> ConflictError:
    who: dict[str, Any] = {"run_id": run.id, "lease_owner": run.lease_owner, "attempt": run.attempt}
    if run.status == "running":
        wait = max(0, (run.lease_expires_at or 0) - now) / 1000
        return ConflictError(
            f"Run {run.id} is running under {run.lease_owner} (attempt {run.attempt}, lease "
            f"ends in {wait:.0f}s).",
            hint=f"If that process is gone, wait for the lease or resume with: "
            f"conveyor runs resume {run.id} --force",
            status=run.status,
            **who,
        )
    return ConflictError(
        f"Run {run.id} is {run.status}; only queued, failed or interrupted runs can be resumed.",
        status=run.status,
        **who,
    )


_RENEW_STEPS = (
    update(t.step_runs)
    .where(
        t.step_runs.c.run_id == bindparam("p_run"),
        t.step_runs.c.status == "running",
        t.step_runs.c.lease_owner == bindparam("p_owner"),
    )
    .values(lease_expires_at=bindparam("p_expires"))
)


def renew_run_lease(store: Store, run_id: int, owner: str, attempt: int, *, lease: float) -> None:
    """Extend a claim, and the leases of the steps ``owner`` runs in it, in one transaction.

    Raises:
        StaleAttemptError: the run was taken over (its attempt or owner changed).
        NotFoundError: no such run in the store's project.
    """
    c = t.runs.c
    stmt = (
        update(t.runs)
        .where(
            c.id == run_id,
            c.project_id == store.project_id,
            c.lease_owner == owner,
            c.attempt == attempt,
        )
        .values(lease_expires_at=bindparam("p_expires"))
    )

    def tx(conn: Connection) -> int:
        expires = now_ms() + int(lease * 1000)
        renewed = conn.execute(stmt, {"p_expires": expires}).rowcount
        if renewed == 1:  # the run's row is locked by us now: the steps' renewal is fenced
            conn.execute(_RENEW_STEPS, {"p_run": run_id, "p_owner": owner, "p_expires": expires})
        else:  # say why: another project's run (or none), or taken over
            require_in_project(conn, store, [("run", run_id)])
        return int(renewed)

    if store.transact(tx, what="lease renewal") != 1:
        raise StaleAttemptError(
            f"Run {run_id}'s claim (attempt {attempt}) was taken over.",
            run_id=run_id,
            attempt=attempt,
        )


def log_params(store: Store, run_id: int, params: Mapping[str, Any]) -> None:
    """Record a run's parameters. Params are immutable: a different value is a conflict."""
    if not params:
        return
    rows = [{"run_id": run_id, "key": str(k), "value": v} for k, v in params.items()]

    def tx(conn: Connection) -> None:
        require_in_project(conn, store, [("run", run_id)])
        stmt = insert(conn, t.params).values(rows).on_conflict_do_nothing()
        conn.execute(stmt)
        stored = dict(
            conn.execute(
                select(t.params.c.key, t.params.c.value).where(
                    t.params.c.run_id == run_id, t.params.c.key.in_([r["key"] for r in rows])
                )
            ).all()
        )
        # Compare as stored JSON: a tuple comes back as a list, an int key as a string.
        changed = [
            r["key"] for r in rows if json_text(stored.get(r["key"])) != json_text(r["value"])
        ]
        if changed:
            raise ConflictError(
                f"Params {changed} of run {run_id} are already logged with other values; "
                "params cannot change.",
                hint="Log changing values as metrics or tags instead.",
                run_id=run_id,
            )

    store.transact(tx, what="param logging")


def get_params(store: Store, run_id: int) -> dict[str, Any]:
    """A run's parameters (none for a run of another project)."""
    p = t.params.c
    query = select(p.key, p.value).where(
        p.run_id == run_id, run_in_project(p.run_id, store.project_id)
    )
    return store.query(lambda c: {k: v for k, v in c.execute(query).all()})
