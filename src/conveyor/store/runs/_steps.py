"""Step runs and their attempts, with fencing: only the current attempt may commit.

A step attempt may run more than once (a worker dies, a lease expires, a zombie wakes up),
but its result is committed once: every commit is ``UPDATE ... WHERE attempt = :attempt
AND status = 'running'`` and must touch exactly one row (RELIABILITY rules 6 and 7, R03).

When it touches none, the row is read again: if it already holds this attempt's own result
(a retry after a lost COMMIT acknowledgement, or a worker repeating its commit), that
result is returned; only a newer attempt's state is a :class:`StaleAttemptError` (R19).
Attempt numbers are handed out once, so a result at this attempt can only be this
attempt's own, and the hot path pays nothing for the check.

Every statement on a step run also requires its run to be the store project's: the run
fence carries ``runs.project_id = :p_project``, and unfenced statements a correlated
``EXISTS`` on the run's primary key, so another project's id matches nothing and its
re-read says "not found", at no extra statement.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NoReturn

from sqlalchemy import ColumnElement, Connection, and_, bindparam, or_, select, update

from ...core import (
    STEP_NOT_RUN,
    STEP_TRANSITIONS,
    ConflictError,
    InvalidValueError,
    StaleAttemptError,
    StepStatus,
    can_move,
    did_you_mean,
    now_ms,
    sources,
)
from .._engine import Store
from .._hot import HotStatement
from .._sql import (
    PROJECT,
    insert,
    not_in_project,
    require_in_project,
    run_in_project,
    step_run_in_project,
)
from ..lineage import (
    LineageEdgeRecord,
    NewArtifact,
    checked,
    insert_artifact,
    insert_edges,
    read_edges,
)
from . import _tables as t
from ._records import StepAttemptRecord, StepRunRecord

c = t.step_runs.c
_a = t.step_attempts.c


def _edge(source: StepStatus, target: StepStatus) -> StepStatus:
    """``source``, once checked to be a legal move to ``target`` (at import, so a guard
    written here can never drift from ``core.STEP_TRANSITIONS``)."""
    if not can_move(STEP_TRANSITIONS, source, target):
        raise AssertionError(f"step run {source} -> {target} is not in STEP_TRANSITIONS")
    return source


# Every guard below is read off the one state machine: what may start, be reset for a
# resume, be marked not-run, or be committed by its running attempt.
_STARTABLE = [s for s in sources(STEP_TRANSITIONS, "running") if s != "running"]
_TAKE_OVER = _edge("running", "running")
_RESETTABLE = tuple(sources(STEP_TRANSITIONS, "pending"))
_MARKS = tuple(sorted(STEP_NOT_RUN))
_MARKABLE: dict[str, list[StepStatus]] = {m: sources(STEP_TRANSITIONS, m) for m in _MARKS}
# A running attempt commits its success, or its failure (``pending`` when it will retry).
_COMMITTING = _edge("running", "succeeded")
_edge("running", "failed")
_edge("running", "pending")
_CACHE_HITTABLE = _edge("pending", "succeeded")

# The statements of every step are built once and run on the driver's cursor (see
# ``store._hot``): SQLAlchemy's per-call execution costs more than SQLite takes to run them.
_SUPERSEDE = HotStatement(
    update(t.step_attempts)
    .where(_a.step_run_id == bindparam("p_id"), _a.status == "running")
    .values(status="superseded", finished_at=bindparam("p_now"))
)
_INSERT_ATTEMPT = HotStatement(
    t.step_attempts.insert().values(
        step_run_id=bindparam("p_id"),
        attempt=bindparam("p_attempt"),
        status="running",
        worker=bindparam("p_worker"),
        started_at=bindparam("p_now"),
    )
)
# An attempt's own row says how it ended: only commit_step marks one 'succeeded' and only
# fail_attempt marks one 'failed', each in the transaction of its fenced update.
_ATTEMPT_STATUS = select(_a.status).where(
    _a.step_run_id == bindparam("p_id"),
    _a.attempt == bindparam("p_attempt"),
    step_run_in_project(_a.step_run_id, PROJECT),
)
_FINISH_ATTEMPT = HotStatement(
    update(t.step_attempts)
    .where(_a.step_run_id == bindparam("p_id"), _a.attempt == bindparam("p_attempt"))
    .values(
        status=bindparam("p_status"), error=bindparam("p_error"), finished_at=bindparam("p_now")
    )
)


def _run_is_at_param(run_id: Any = None) -> ColumnElement[bool]:
    """The run fence: the run is the store project's and its claim is still at
    ``:p_run_attempt`` (binds ``:p_project`` too).

    ``FOR UPDATE`` (rendered on PostgreSQL only; SQLite's ``BEGIN IMMEDIATE`` already holds
    the write lock) locks the run's row until commit, so a takeover waits for this write
    and this write waits for a takeover, then re-checks the attempt on the row as the
    takeover left it. A plain subquery would read a snapshot and let both through.
    """
    r = t.runs.c
    run = c.run_id if run_id is None else run_id
    attempt_is = r.attempt == bindparam("p_run_attempt")
    mine = r.project_id == PROJECT
    return select(r.id).where(r.id == run, mine, attempt_is).with_for_update().exists()


def _run_guard(fenced: bool, run_id: Any = None) -> ColumnElement[bool]:
    """The project scope of a step statement, and with ``fenced`` the run fence too: one
    primary-key lookup of the run either way, inside the statement."""
    if fenced:
        return _run_is_at_param(run_id)
    return run_in_project(c.run_id if run_id is None else run_id, PROJECT)


@functools.cache
def _start_statement(take_over: bool, fenced: bool) -> HotStatement:
    startable: list[ColumnElement[bool]] = [c.status == s for s in _STARTABLE]
    if take_over:
        startable.append(c.status == _TAKE_OVER)
    else:
        startable.append(and_(c.status == _TAKE_OVER, c.lease_expires_at < bindparam("p_now")))
    where = [c.id == bindparam("p_id"), or_(*startable), _run_guard(fenced)]
    return HotStatement(
        update(t.step_runs)
        .where(*where)
        .values(
            status="running",
            attempt=c.attempt + 1,
            lease_owner=bindparam("p_owner"),
            lease_expires_at=bindparam("p_expires"),
            started_at=bindparam("p_now"),
            finished_at=None,
            error=None,
        )
        .returning(*t.step_runs.c)
    )


_FENCED_SETS = {
    "succeeded": (
        "status",
        "finished_at",
        "cache_key",
        "logs_digest",
        "lease_owner",
        "lease_expires_at",
    ),
    "failed": ("status", "error", "finished_at", "logs_digest", "lease_owner", "lease_expires_at"),
    "heartbeat": ("lease_expires_at",),
}


@functools.cache
def _fenced_statement(kind: str, fenced: bool) -> HotStatement:
    where: list[ColumnElement[bool]] = [
        c.id == bindparam("p_id"),
        c.attempt == bindparam("p_attempt"),
        c.status == _COMMITTING,
        _run_guard(fenced),
    ]
    values: dict[str, Any] = {col: bindparam(f"v_{col}") for col in _FENCED_SETS[kind]}
    return HotStatement(
        update(t.step_runs).where(*where).values(**values).returning(*t.step_runs.c)
    )


def add_step_runs(store: Store, run_id: int, names: Sequence[str]) -> list[StepRunRecord]:
    """Create ``pending`` step runs for ``names`` (existing ones are kept); return all of them."""

    def tx(conn: Connection) -> list[StepRunRecord]:
        require_in_project(conn, store, [("run", run_id)])
        if names:
            rows = [{"run_id": run_id, "name": n, "status": "pending", "attempt": 0} for n in names]
            conn.execute(insert(conn, t.step_runs).values(rows).on_conflict_do_nothing())
        return _step_runs(conn, store, run_id)

    return store.transact(tx, what="step creation")


def _step_runs(conn: Connection, store: Store, run_id: int) -> list[StepRunRecord]:
    query = (
        select(t.step_runs)
        .where(c.run_id == run_id, run_in_project(c.run_id, store.project_id))
        .order_by(c.id)
    )
    return [StepRunRecord.from_row(r) for r in conn.execute(query)]


def get_step_runs(store: Store, run_id: int) -> list[StepRunRecord]:
    """The step runs of a run, in creation order (none for a run of another project)."""
    return store.query(lambda conn: _step_runs(conn, store, run_id))


def _scoped_step(store: Store) -> Any:
    """``SELECT step_runs`` of the store's project only."""
    return select(t.step_runs).where(run_in_project(c.run_id, store.project_id))


def get_step_run(store: Store, step_run_id: int) -> StepRunRecord:
    query = _scoped_step(store).where(c.id == step_run_id)
    row = store.query(lambda conn: conn.execute(query).first())
    if row is None:
        raise not_in_project(store, "step run", step_run_id)
    return StepRunRecord.from_row(row)


def start_attempt(
    store: Store,
    step_run_id: int,
    worker: str,
    *,
    lease: float = 30.0,
    take_over: bool = False,
    run_attempt: int | None = None,
) -> StepRunRecord:
    """Begin the next attempt of a step; the returned ``attempt`` is the fencing token.

    With ``run_attempt``, the step starts only while the run's claim is still at that
    attempt: a runner that lost its run (a zombie) can start nothing.

    A ``pending`` or ``failed`` step starts at once. A ``running`` step is taken over only
    when its lease has expired, or with ``take_over=True`` (the caller knows the holder is
    dead); the old attempt is marked ``superseded`` and can no longer commit. A runner uses
    neither: it starts only pending steps, and a resume supersedes the steps an earlier
    holder of the run left running in :func:`reset_steps`, fenced by the run's attempt.

    Raises:
        ConflictError: the step is finished, or running under a live lease.
        StaleAttemptError: ``run_attempt`` is no longer the run's attempt.
    """
    (step,) = start_attempts(
        store, [step_run_id], worker, lease=lease, take_over=take_over, run_attempt=run_attempt
    )
    return step


def start_attempts(
    store: Store,
    step_run_ids: Sequence[int],
    worker: str,
    *,
    lease: float = 30.0,
    take_over: bool = False,
    run_attempt: int | None = None,
) -> list[StepRunRecord]:
    """:func:`start_attempt` for many steps in one transaction: all start, or none."""
    if not step_run_ids:
        return []
    return store.transact(
        lambda conn: _start_in(conn, store, step_run_ids, worker, lease, take_over, run_attempt),
        what="step start",
    )


def _start_in(
    conn: Connection,
    store: Store,
    step_run_ids: Sequence[int],
    worker: str,
    lease: float,
    take_over: bool,
    run_attempt: int | None,
) -> list[StepRunRecord]:
    stmt = _start_statement(take_over, run_attempt is not None)
    now = now_ms()
    params = {
        "p_project": store.project_id,
        "p_owner": worker,
        "p_run_attempt": run_attempt,
        "p_now": now,
        "p_expires": now + int(lease * 1000),
    }
    started = []
    for step_run_id in step_run_ids:
        row = stmt.execute(conn, {**params, "p_id": step_run_id}).first()
        if row is None:
            _refuse_start(conn, store, step_run_id, run_attempt)
        step = StepRunRecord.from_row(row)
        if step.attempt > 1:  # a first attempt has no earlier one to supersede
            _SUPERSEDE.execute(conn, {"p_id": step_run_id, "p_now": now})
        _INSERT_ATTEMPT.execute(
            conn,
            {"p_id": step_run_id, "p_attempt": step.attempt, "p_worker": worker, "p_now": now},
        )
        started.append(step)
    return started


def _refuse_start(
    conn: Connection, store: Store, step_run_id: int, run_attempt: int | None
) -> NoReturn:
    current = conn.execute(
        select(c.status, c.name, t.runs.c.attempt.label("run_attempt"))
        .join(t.runs, t.runs.c.id == c.run_id)
        .where(c.id == step_run_id, t.runs.c.project_id == store.project_id)
    ).first()
    if current is None:
        raise not_in_project(store, "step run", step_run_id)
    run_now = current.run_attempt
    if run_attempt is not None and run_now != run_attempt:
        raise StaleAttemptError(
            f"The run of step {current.name!r} was taken over by another runner.",
            step_run_id=step_run_id,
        )
    raise ConflictError(
        f"Step {current.name!r} is {current.status!r} and cannot start a new attempt.",
        step_run_id=step_run_id,
    )


def _fenced(
    conn: Connection,
    store: Store,
    step_run_id: int,
    attempt: int,
    values: dict[str, object],
    run_attempt: int | None = None,
    *,
    kind: str,
) -> StepRunRecord:
    params: dict[str, object] = {"p_id": step_run_id, "p_attempt": attempt}
    params["p_run_attempt"] = run_attempt
    params["p_project"] = store.project_id
    params.update({f"v_{k}": v for k, v in values.items()})
    row = _fenced_statement(kind, run_attempt is not None).execute(conn, params).first()
    if row is None:
        current = conn.execute(
            select(c.name, c.attempt, c.status).where(
                c.id == step_run_id, run_in_project(c.run_id, store.project_id)
            )
        ).first()
        if current is None:
            raise not_in_project(store, "step run", step_run_id)
        raise StaleAttemptError(
            f"Attempt {attempt} of step "
            f"{current.name if current else step_run_id!r} may not commit: the step is now "
            f"at attempt {current.attempt if current else '?'}, "
            f"{current.status if current else 'missing'}"
            f"{'' if run_attempt is None else ', or its run was taken over'}.",
            step_run_id=step_run_id,
            attempt=attempt,
        )
    return StepRunRecord.from_row(row)


def _commit_fenced(
    conn: Connection,
    store: Store,
    step_run_id: int,
    attempt: int,
    values: dict[str, object],
    run_attempt: int | None,
    *,
    kind: str,
) -> StepRunRecord | None:
    """The fenced update of a commit or failure; ``None`` if this attempt's own result is
    already there. Raises :class:`StaleAttemptError` if another attempt's state is."""
    params: dict[str, object] = {"p_id": step_run_id, "p_attempt": attempt}
    params["p_run_attempt"] = run_attempt
    params["p_project"] = store.project_id
    params.update({f"v_{k}": v for k, v in values.items()})
    row = _fenced_statement(kind, run_attempt is not None).execute(conn, params).first()
    if row is not None:
        return StepRunRecord.from_row(row)
    mine = {"p_id": step_run_id, "p_attempt": attempt, "p_project": store.project_id}
    if conn.execute(_ATTEMPT_STATUS, mine).scalar() == (
        "succeeded" if kind == "succeeded" else "failed"
    ):
        return None
    # Not ours: _fenced matches nothing again (same transaction) and raises the stale error
    # (or says the step run is not found, if it is another project's).
    return _fenced(conn, store, step_run_id, attempt, values, run_attempt, kind=kind)


def heartbeat(
    store: Store,
    step_run_id: int,
    attempt: int,
    *,
    lease: float = 30.0,
    run_attempt: int | None = None,
) -> None:
    """Extend the lease of a running attempt.

    A runner renews all its steps with its run's lease (:func:`renew_run_lease`); this is
    for one step alone. With ``run_attempt``, only while the run's claim is at it.

    Raises:
        StaleAttemptError: the attempt was superseded, or the run taken over.
    """
    store.transact(
        lambda conn: _fenced(
            conn,
            store,
            step_run_id,
            attempt,
            {"lease_expires_at": now_ms() + int(lease * 1000)},
            run_attempt,
            kind="heartbeat",
        ),
        what="step heartbeat",
    )


def _finish_attempt(
    conn: Connection, step_run_id: int, attempt: int, status: str, error: str | None
) -> None:
    _FINISH_ATTEMPT.execute(
        conn,
        {
            "p_id": step_run_id,
            "p_attempt": attempt,
            "p_status": status,
            "p_error": error,
            "p_now": now_ms(),
        },
    )


Committed = tuple[StepRunRecord, dict[str, int]]  # a step run and its output artifact ids


@dataclass(frozen=True)
class StepCommit:
    """What :func:`commit_step` records for one successful attempt (see its arguments)."""

    step_run_id: int
    attempt: int
    outputs: Mapping[str, int | NewArtifact]
    inputs: Mapping[str, int] = field(default_factory=dict)
    cache_key: str | None = None
    logs_digest: str | None = None


def commit_step(
    store: Store,
    step_run_id: int,
    attempt: int,
    *,
    outputs: Mapping[str, int | NewArtifact],
    inputs: Mapping[str, int] | None = None,
    cache_key: str | None = None,
    logs_digest: str | None = None,
    run_attempt: int | None = None,
) -> tuple[StepRunRecord, dict[str, int]]:
    """Commit a successful attempt: outputs, lineage edges and status, in one transaction.

    Args:
        outputs: Output name to an existing artifact id, or to a :class:`NewArtifact` whose
            bytes are stored already; new ones are recorded in the same transaction, so a
            rejected commit records nothing.

        run_attempt: Also require the run's claim to be at this attempt.

    Returns:
        The step run and the artifact id of each output.

    Raises:
        StaleAttemptError: ``attempt`` is not the step's current running attempt (a zombie).
    """
    commit = _checked(
        StepCommit(step_run_id, attempt, outputs, inputs or {}, cache_key, logs_digest)
    )
    return store.transact(
        lambda conn: _commit_in(conn, store, commit, run_attempt), what="step commit"
    )


def commit_and_start(
    store: Store,
    commits: Sequence[StepCommit],
    start: Sequence[int],
    worker: str,
    *,
    lease: float = 30.0,
    run_attempt: int | None = None,
) -> tuple[list[Committed], list[StepRunRecord]]:
    """Commit finished attempts and start the steps they made ready, in ONE transaction.

    What a runner does after each step, at the cost of one transaction instead of two:
    all of it lands, or none (a stale commit starts nothing). Each commit is
    :func:`commit_step`, each start :func:`start_attempts`, with the same fencing.

    Returns:
        Each commit's ``(step run, output artifact ids)``, and the started step runs.
    """
    checked_commits = [_checked(commit) for commit in commits]

    def tx(
        conn: Connection,
    ) -> tuple[list[tuple[StepRunRecord, dict[str, int]]], list[StepRunRecord]]:
        done = [_commit_in(conn, store, commit, run_attempt) for commit in checked_commits]
        return done, _start_in(conn, store, start, worker, lease, False, run_attempt)

    return store.transact(tx, what="step commit and start")


def _checked(commit: StepCommit) -> StepCommit:
    """Validate and normalise new outputs before any transaction (a bad one records nothing)."""
    outputs = {
        k: checked(v) if isinstance(v, NewArtifact) else v for k, v in commit.outputs.items()
    }
    return replace(commit, outputs=outputs)


def _commit_in(
    conn: Connection, store: Store, commit: StepCommit, run_attempt: int | None
) -> Committed:
    step_run_id, attempt = commit.step_run_id, commit.attempt
    now = now_ms()
    step = _commit_fenced(
        conn,
        store,
        step_run_id,
        attempt,
        {
            "status": "succeeded",
            "finished_at": now,
            "cache_key": commit.cache_key,
            "logs_digest": commit.logs_digest,
            "lease_owner": None,
            "lease_expires_at": None,
        },
        run_attempt,
        kind="succeeded",
    )
    if step is None:  # committed already, by this attempt: return that commit
        edges = read_edges(conn, step_run_id)
        return _step(conn, step_run_id), {
            e.name: e.artifact_id for e in edges if e.direction == "out"
        }
    _finish_attempt(conn, step_run_id, attempt, "succeeded", None)
    ids = {
        k: v if isinstance(v, int) else insert_artifact(conn, store, v, step_run_id).id
        for k, v in commit.outputs.items()
    }
    insert_edges(conn, store, step_run_id, inputs=commit.inputs, outputs=ids)
    return step, ids


def _step(conn: Connection, step_run_id: int) -> StepRunRecord:
    row = conn.execute(select(t.step_runs).where(c.id == step_run_id)).one()
    return StepRunRecord.from_row(row)


def fail_attempt(
    store: Store,
    step_run_id: int,
    attempt: int,
    *,
    error: str,
    will_retry: bool,
    logs_digest: str | None = None,
    run_attempt: int | None = None,
) -> StepRunRecord:
    """Record a failed attempt; the step goes back to ``pending`` if it will be retried."""

    def tx(conn: Connection) -> StepRunRecord:
        step = _commit_fenced(
            conn,
            store,
            step_run_id,
            attempt,
            {
                "status": "pending" if will_retry else "failed",
                "error": error,
                "finished_at": now_ms(),
                "logs_digest": logs_digest,
                "lease_owner": None,
                "lease_expires_at": None,
            },
            run_attempt,
            kind="failed",
        )
        if step is None:  # recorded already, by this attempt
            return _step(conn, step_run_id)
        _finish_attempt(conn, step_run_id, attempt, "failed", error)
        return step

    return store.transact(tx, what="step failure")


@functools.cache
def _mark_statement(fenced: bool, status: str) -> Any:
    # Only pending steps: a failed step keeps its failure (and its error), a running one
    # is its runner's to finish.
    where = [c.run_id == bindparam("p_run"), c.name.in_(bindparam("p_names", expanding=True))]
    where.append(c.status.in_(_MARKABLE[status]))
    where.append(_run_guard(fenced, bindparam("p_run")))
    values: dict[str, Any] = {
        "status": bindparam("v_status"),
        "error": bindparam("v_error"),
        "finished_at": bindparam("v_now"),
    }
    return update(t.step_runs).where(*where).values(**values)


def mark_steps(
    store: Store,
    run_id: int,
    names: Collection[str],
    status: str,
    *,
    reason: str = "",
    run_attempt: int | None = None,
) -> int:
    """Set pending steps to ``skipped``, ``upstream_failed`` or ``cancelled``; return how many.

    Steps in any other state are left alone. With ``run_attempt``, only while the run's
    claim is at that attempt.

    Raises:
        StaleAttemptError: ``run_attempt`` is no longer the run's attempt.
    """
    if status not in _MARKS:
        raise InvalidValueError(
            f"mark_steps sets a pending step 'skipped', 'upstream_failed' or 'cancelled'. Got "
            f"{status!r}.{did_you_mean(str(status), _MARKS)}",
            hint="Steps that run are finished by commit_step or fail_attempt.",
            status=status,
        )
    stmt = _mark_statement(run_attempt is not None, status)
    params = {
        "p_run": run_id,
        "p_names": list(names),
        "p_run_attempt": run_attempt,
        "p_project": store.project_id,
        "v_status": status,
        "v_error": reason or None,
        "v_now": now_ms(),
    }

    def tx(conn: Connection) -> int:
        marked = int(conn.execute(stmt, params).rowcount)
        if marked == 0:  # say why: another project's run, or a run taken over
            _check_run_attempt(conn, store, run_id, run_attempt)
        return marked

    return int(store.transact(tx, what="step marking"))


def _check_run_attempt(
    conn: Connection, store: Store, run_id: int, run_attempt: int | None
) -> None:
    """Raise :class:`NotFoundError` if the run is not the store project's, and
    :class:`StaleAttemptError` if its claim moved on from ``run_attempt`` (if given).

    Only called after a fenced write touched nothing, to say why.
    """
    r = t.runs.c
    now_at = conn.execute(
        select(r.attempt).where(r.id == run_id, r.project_id == store.project_id)
    ).scalar()
    if now_at is None:
        raise not_in_project(store, "run", run_id)
    if run_attempt is not None and now_at != run_attempt:
        raise StaleAttemptError(
            f"Run {run_id} was taken over by another runner (attempt {now_at}); attempt "
            f"{run_attempt} may no longer change it.",
            run_id=run_id,
            attempt=run_attempt,
        )


def reset_steps(store: Store, run_id: int, *, run_attempt: int) -> list[str]:
    """Make a run's unfinished steps ``pending`` again for a resume; return their names.

    ``failed``, ``upstream_failed`` and ``cancelled`` steps get a fresh set of attempts.
    ``running`` steps are taken over: the caller just acquired the run at ``run_attempt``
    and has started nothing yet, so whatever runs belongs to an earlier holder of the run;
    their attempts become ``superseded`` and can no longer commit. Attempt numbers keep
    counting up. Fenced: only while the run's claim is at ``run_attempt``.

    Raises:
        StaleAttemptError: another runner took the run over since.
    """
    fence = _run_is_at_param(run_id)
    where = [c.run_id == run_id, c.status.in_(_RESETTABLE)]

    def tx(conn: Connection) -> list[str]:
        # The fence first: it locks the run's row for the rest of the transaction.
        mine = {"p_run_attempt": run_attempt, "p_project": store.project_id}
        if not conn.execute(select(fence), mine).scalar():
            _check_run_attempt(conn, store, run_id, run_attempt)
            raise not_in_project(store, "run", run_id)
        rows = conn.execute(select(c.id, c.name, c.status).where(*where)).all()
        if not rows:
            return []
        now = now_ms()
        running = [r.id for r in rows if r.status == "running"]
        if running:
            conn.execute(
                update(t.step_attempts)
                .where(_a.step_run_id.in_(running), _a.status == "running")
                .values(status="superseded", finished_at=now)
            )
        conn.execute(
            update(t.step_runs)
            .where(c.id.in_([r.id for r in rows]))
            .values(status="pending", error=None, lease_owner=None, lease_expires_at=None)
        )
        return [r.name for r in rows]

    return store.transact(tx, what="step reset")


@functools.cache
def _cache_hit_statement(fenced: bool) -> Any:
    where = [
        c.id == bindparam("p_id"),
        c.status == _CACHE_HITTABLE,
        _run_guard(fenced),
        # The source is a step run of this project too: its outputs become this step's.
        step_run_in_project(bindparam("v_source"), PROJECT),
    ]
    return (
        update(t.step_runs)
        .where(*where)
        .values(
            status="succeeded",
            cached_from_id=bindparam("v_source"),
            cache_key=bindparam("v_key"),
            started_at=bindparam("v_now"),
            finished_at=bindparam("v_now"),
        )
        .returning(*t.step_runs.c)
    )


def record_cache_hit(
    store: Store,
    step_run_id: int,
    source: StepRunRecord,
    *,
    inputs: Mapping[str, int] | None = None,
    run_attempt: int | None = None,
) -> StepRunRecord:
    """Complete a pending step from ``source``'s outputs without running it.

    With ``run_attempt``, only while the run's claim is at that attempt.

    Raises:
        ConflictError: the step is not pending.
        StaleAttemptError: ``run_attempt`` is no longer the run's attempt.
    """
    stmt = _cache_hit_statement(run_attempt is not None)

    def tx(conn: Connection) -> StepRunRecord:
        params = {
            "p_id": step_run_id,
            "p_run_attempt": run_attempt,
            "p_project": store.project_id,
            "v_source": source.id,
            "v_key": source.cache_key,
            "v_now": now_ms(),
        }
        row = conn.execute(stmt, params).first()
        if row is None:
            current = conn.execute(_scoped_step(store).where(c.id == step_run_id)).first()
            if current is None:
                raise not_in_project(store, "step run", step_run_id)
            require_in_project(conn, store, [("step run", source.id)])
            if run_attempt is not None:
                _check_run_attempt(conn, store, current.run_id, run_attempt)
            if current.cached_from_id == source.id:
                # A retry after a lost acknowledgement: the hit is recorded, edges and all.
                return StepRunRecord.from_row(current)
            raise ConflictError(
                f"Step run {step_run_id} is not pending; cannot record a cache hit."
            )
        outs = {e.name: e.artifact_id for e in read_edges(conn, source.id) if e.direction == "out"}
        insert_edges(conn, store, step_run_id, inputs=inputs, outputs=outs)
        return StepRunRecord.from_row(row)

    return store.transact(tx, what="cache hit")


def find_cached_step(store: Store, cache_key: str) -> StepRunRecord | None:
    """The newest succeeded step run in this project with ``cache_key``, if any."""
    query = (
        select(t.step_runs)
        .join(t.runs, t.runs.c.id == c.run_id)
        .where(
            c.cache_key == cache_key,
            c.status == "succeeded",
            t.runs.c.project_id == store.project_id,
        )
        .order_by(c.id.desc())
        .limit(1)
    )
    row = store.query(lambda conn: conn.execute(query).first())
    return None if row is None else StepRunRecord.from_row(row)


def find_cached_steps(store: Store, cache_keys: Collection[str]) -> dict[str, StepRunRecord]:
    """:func:`find_cached_step` for many keys in one query: key to newest succeeded step run."""
    if not cache_keys:
        return {}
    query = (
        select(t.step_runs)
        .join(t.runs, t.runs.c.id == c.run_id)
        .where(
            c.cache_key.in_(list(cache_keys)),
            c.status == "succeeded",
            t.runs.c.project_id == store.project_id,
        )
        .order_by(c.id)
    )
    rows = store.query(lambda conn: [StepRunRecord.from_row(r) for r in conn.execute(query)])
    return {r.cache_key: r for r in rows if r.cache_key}  # the newest wins (ascending ids)


def step_lineage(store: Store, step_run_id: int) -> list[LineageEdgeRecord]:
    """The lineage edges of a step run (none for a step run of another project)."""
    return store.query(lambda conn: read_edges(conn, step_run_id, store))


def step_attempts(store: Store, step_run_id: int) -> list[StepAttemptRecord]:
    a = t.step_attempts.c
    query = (
        select(t.step_attempts)
        .where(a.step_run_id == step_run_id, step_run_in_project(a.step_run_id, store.project_id))
        .order_by(a.attempt)
    )
    return store.query(lambda conn: [StepAttemptRecord.from_row(r) for r in conn.execute(query)])
