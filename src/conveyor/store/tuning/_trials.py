"""Trials of a tuning study: started and finished by the step attempt that runs the study.

Every write is fenced like a step commit (RELIABILITY rules 6 and 7): the step run must be
the store project's and ``attempt`` its current, running attempt, read with the step run's
row locked (``FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` holds the write lock
already), so a zombie attempt that wakes up after the step was retried or resumed cannot
start, finish or fail a trial. A trial row is finished once: ``UPDATE ... WHERE attempt =
:attempt AND state = 'running'``. A retry after a lost COMMIT acknowledgement finds its own
result (same attempt, finished) and returns it (R19).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, column, select, table, update

from ...core import (
    TRIAL_STATES,
    ConflictError,
    InvalidValueError,
    NotFoundError,
    StaleAttemptError,
    TrialStatus,
    did_you_mean,
    now_ms,
)
from .._engine import Store
from .._sql import (
    insert,
    not_in_project,
    require_in_project,
    run_in_project,
    step_run_in_project,
)
from ..lineage import NewArtifact, checked, insert_artifact
from . import _tables as t
from ._records import INTERRUPTED, TrialRecord, stored_intermediate

c = t.tuning_trials.c
# The step runs table, named here (not imported): the tuning domain sits beside runs.
_steps = table(
    "step_runs",
    column("id"),
    column("run_id"),
    column("name"),
    column("status"),
    column("attempt"),
)
FINISHED: tuple[TrialStatus, ...] = tuple(s for s in TRIAL_STATES if s != "running")
ERROR_LIMIT = 2000  # the column's width


def _fence(conn: Connection, store: Store, step_run_id: int, attempt: int, what: str) -> None:
    """Lock the step run and check that ``attempt`` is its current, running attempt."""
    s = _steps.c
    row = conn.execute(
        select(s.name, s.status, s.attempt)
        .where(s.id == step_run_id, run_in_project(s.run_id, store.project_id))
        .with_for_update()
    ).first()
    if row is None:
        raise not_in_project(store, "step run", step_run_id)
    if row.attempt != attempt or row.status != "running":
        raise StaleAttemptError(
            f"Attempt {attempt} of step {row.name!r} may not {what}: the step is now at "
            f"attempt {row.attempt}, {row.status}.",
            hint="Only the step's running attempt writes its trials; this one was superseded "
            "(timed out, retried or resumed).",
            step_run_id=step_run_id,
        )


def _check_number(number: int) -> None:
    if not isinstance(number, int) or isinstance(number, bool) or number < 0:
        raise InvalidValueError(
            f"A trial number must be an int from 0. Got {number!r}.",
            hint="Number a study's trials 0, 1, 2 ... as Optuna does.",
        )


def _json_mapping(value: Mapping[str, Any] | None, what: str) -> dict[str, Any]:
    out = dict(value or {})
    for key in out:
        if not isinstance(key, str):
            raise InvalidValueError(
                f"The keys of a trial's {what} must be strings. Got {key!r}.",
                hint="Name every parameter and attribute with a string.",
            )
    try:
        json.dumps(out, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidValueError(
            f"A trial's {what} must be JSON values (no NaN or infinity): {exc}.",
            hint="Convert them first, e.g. str(value) or float(value).",
        ) from None
    return out


def _row(conn: Connection, step_run_id: int, number: int) -> Any:
    return conn.execute(
        select(t.tuning_trials).where(c.step_run_id == step_run_id, c.number == number)
    ).first()


def start_trial(
    store: Store,
    step_run_id: int,
    attempt: int,
    number: int,
    *,
    params: Mapping[str, Any] | None = None,
    distributions: Mapping[str, Any] | None = None,
) -> TrialRecord:
    """Record that ``attempt`` of the step run started trial ``number`` (state ``running``).

    Starting the same trial again from the same attempt returns the row (a retried call);
    a number any other attempt used is a conflict: numbers are never reused.

    Args:
        params: The params known at the start (those sampled before the trial ran).
        distributions: Their distributions (Optuna's JSON form).

    Raises:
        StaleAttemptError: ``attempt`` is not the step run's current, running attempt.
        ConflictError: trial ``number`` exists already, from another attempt or finished.
        InvalidValueError: a negative number, or params that are not JSON.
        NotFoundError: the step run is not the store project's.
    """
    _check_number(number)
    values = {
        "step_run_id": step_run_id,
        "number": number,
        "attempt": attempt,
        "state": "running",
        "params": _json_mapping(params, "params"),
        "distributions": _json_mapping(distributions, "distributions"),
        "intermediate": {},
        "user_attrs": {},
        "started_at": now_ms(),
    }

    def tx(conn: Connection) -> TrialRecord:
        _fence(conn, store, step_run_id, attempt, "start trials")
        stmt = insert(conn, t.tuning_trials).values(values)
        conn.execute(stmt.on_conflict_do_nothing(index_elements=["step_run_id", "number"]))
        record = TrialRecord.from_row(_row(conn, step_run_id, number))
        if record.attempt != attempt or record.state != "running":
            raise ConflictError(
                f"Trial {number} of step run {step_run_id} exists already (attempt "
                f"{record.attempt}, {record.state}); a trial number is used once.",
                hint="Start the next trial with the next free number (see list_trials).",
                step_run_id=step_run_id,
                number=number,
            )
        return record

    return store.transact(tx, what="trial start")


def finish_trial(
    store: Store,
    step_run_id: int,
    attempt: int,
    number: int,
    *,
    state: TrialStatus,
    value: float | None = None,
    params: Mapping[str, Any] | None = None,
    distributions: Mapping[str, Any] | None = None,
    intermediate: Mapping[int, float] | None = None,
    user_attrs: Mapping[str, Any] | None = None,
    artifact: int | NewArtifact | None = None,
    error: str | None = None,
) -> TrialRecord:
    """Finish trial ``number``: its state, value, params, reported values and model, at once.

    Args:
        state: ``complete``, ``pruned`` or ``failed``.
        value: The objective's value; required (and not NaN) for ``complete``.
        params: Every param the trial used (replaces those recorded at its start).
        intermediate: ``{step: value}`` the trial reported (for pruning).
        artifact: The trial's model: an artifact id of the project, or a
            :class:`NewArtifact` whose bytes are stored already, recorded in the same
            transaction as produced by the step run (a rejected finish records nothing).
        error: Why a ``failed`` trial failed (cut to 2,000 characters).

    Raises:
        StaleAttemptError: ``attempt`` is not the step run's current, running attempt.
        ConflictError: the trial is not running under ``attempt`` (finished already, or
            another attempt's).
        InvalidValueError: a bad state or value, or params that are not JSON.
        NotFoundError: the step run, the trial or the artifact is not the store project's.
    """
    _check_number(number)
    if state not in FINISHED:
        raise InvalidValueError(
            f"A trial finishes as one of {list(FINISHED)}. Got {state!r}."
            f"{did_you_mean(str(state), FINISHED)}",
            hint="A trial is 'running' only until it finishes.",
        )
    if value is not None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidValueError(
                f"A trial's value must be a number. Got {value!r} ({type(value).__name__}).",
                hint="Return a float from the objective.",
            )
        value = float(value)
        if math.isnan(value):
            value = None  # NaN is no value: Optuna fails such a trial, and so do we
    if state == "complete" and value is None:
        raise InvalidValueError(
            f"Trial {number} cannot be complete without a value (got {value!r}).",
            hint="Record a trial whose objective returned no number (or NaN) as 'failed'.",
        )
    spec = checked(artifact) if isinstance(artifact, NewArtifact) else None
    updates: dict[str, Any] = {
        "state": state,
        "value": value,
        "intermediate": stored_intermediate(intermediate or {}),
        "user_attrs": _json_mapping(user_attrs, "user attributes"),
        "error": None if error is None else error[:ERROR_LIMIT],
        "finished_at": now_ms(),
    }
    if params is not None:
        updates["params"] = _json_mapping(params, "params")
    if distributions is not None:
        updates["distributions"] = _json_mapping(distributions, "distributions")

    def tx(conn: Connection) -> TrialRecord:
        _fence(conn, store, step_run_id, attempt, "finish trials")
        row = _row(conn, step_run_id, number)
        if row is None:
            raise NotFoundError(
                f"Step run {step_run_id} has no trial {number}.",
                hint="Start a trial (start_trial) before finishing it.",
                step_run_id=step_run_id,
                number=number,
            )
        if row.attempt == attempt and row.state == state and row.finished_at is not None:
            # Our own finish, committed by an execution whose acknowledgement was lost.
            return TrialRecord.from_row(row)
        if row.attempt != attempt or row.state != "running":
            raise ConflictError(
                f"Trial {number} of step run {step_run_id} is {row.state} under attempt "
                f"{row.attempt}; attempt {attempt} cannot finish it.",
                hint="A trial is finished once, by the attempt that started it.",
                step_run_id=step_run_id,
                number=number,
            )
        artifact_id = artifact if isinstance(artifact, int) else None
        if spec is not None:
            artifact_id = insert_artifact(conn, store, spec, step_run_id).id
        elif artifact_id is not None:
            require_in_project(conn, store, [("artifact", artifact_id)])
        conn.execute(
            update(t.tuning_trials)
            .where(c.id == row.id, c.attempt == attempt, c.state == "running")
            .values(**updates, artifact_id=artifact_id)
        )
        return TrialRecord.from_row(_row(conn, step_run_id, number))

    return store.transact(tx, what="trial finish")


def fail_interrupted_trials(store: Store, step_run_id: int, attempt: int) -> list[TrialRecord]:
    """Mark failed the trials that earlier attempts of the step run left ``running``.

    The attempt that resumes a study calls this first: those trials never finished (their
    attempt was killed, timed out or lost its run), so they are closed with an
    ``interrupted`` error and their numbers stay taken.

    Returns:
        The trials it closed, by number.

    Raises:
        StaleAttemptError: ``attempt`` is not the step run's current, running attempt.
        NotFoundError: the step run is not the store project's.
    """

    def tx(conn: Connection) -> list[TrialRecord]:
        _fence(conn, store, step_run_id, attempt, "close interrupted trials")
        stale = select(c.id, c.attempt).where(
            c.step_run_id == step_run_id, c.state == "running", c.attempt < attempt
        )
        closed = []
        now = now_ms()
        for trial_id, old in conn.execute(stale).all():
            conn.execute(
                update(t.tuning_trials)
                .where(c.id == trial_id, c.state == "running")
                .values(state="failed", error=INTERRUPTED.format(attempt=old), finished_at=now)
            )
            closed.append(trial_id)
        if not closed:
            return []
        query = select(t.tuning_trials).where(c.id.in_(closed)).order_by(c.number)
        return [TrialRecord.from_row(r) for r in conn.execute(query)]

    return store.transact(tx, what="closing interrupted trials")


def list_trials(store: Store, step_run_id: int) -> list[TrialRecord]:
    """The trials of one step run, by number (none for another project's step run)."""
    query = (
        select(t.tuning_trials)
        .where(c.step_run_id == step_run_id, step_run_in_project(c.step_run_id, store.project_id))
        .order_by(c.number)
    )
    return store.query(lambda conn: [TrialRecord.from_row(r) for r in conn.execute(query)])


def list_run_trials(store: Store, run_id: int) -> list[TrialRecord]:
    """The trials of every step run of run ``run_id``, by step run and number (none for
    another project's run)."""
    s = _steps.c
    query = (
        select(t.tuning_trials)
        .join(_steps, s.id == c.step_run_id)
        .where(s.run_id == run_id, run_in_project(s.run_id, store.project_id))
        .order_by(c.step_run_id, c.number)
    )
    return store.query(lambda conn: [TrialRecord.from_row(r) for r in conn.execute(query)])
