"""Metrics and params a step logs on its own step run (``ctx.log_metric`` in a step).

Every row carries the attempt that logged it, and a write is fenced like a commit: only the
step run's current, running attempt may log. An attempt abandoned after a time-out cannot
add to the attempt that replaced it, and readers show one attempt (the current one unless
asked), so a retried step's metrics are never a mix of two attempts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, select

from ...core import (
    ConflictError,
    InvalidNameError,
    InvalidValueError,
    StaleAttemptError,
    now_ms,
)
from .._engine import AS_JSON, Operation, Store
from .._sql import insert, json_text, not_in_project, run_in_project
from . import _tables as t
from ._metrics import _check, _loaded, _stored
from ._records import MetricRecord

StepMetricRow = tuple[str, float, int]  # key, value, step


def _fence(conn: Connection, store: Store, step_run_id: int, attempt: int) -> int:
    """The step run's run id, if it is the store project's and ``attempt`` is its current,
    running attempt."""
    c = t.step_runs.c
    row = conn.execute(
        select(c.run_id, c.name, c.status, c.attempt).where(
            c.id == step_run_id, run_in_project(c.run_id, store.project_id)
        )
    ).first()
    if row is None:
        raise not_in_project(store, "step run", step_run_id)
    if row.attempt != attempt or row.status != "running":
        raise StaleAttemptError(
            f"Attempt {attempt} of step {row.name!r} may not log metrics or params: the step "
            f"is now at attempt {row.attempt}, {row.status}.",
            hint="Only a running attempt logs; this one was superseded (timed out or retried).",
            step_run_id=step_run_id,
        )
    return int(row.run_id)


def log_step_metrics(
    store: Store, step_run_id: int, attempt: int, metrics: Iterable[StepMetricRow]
) -> int:
    """Log metric values of one step attempt in one transaction. Returns the count.

    Each row is ``(key, value, step)``; they are recorded against the step's run too, so
    run-level readers (:func:`metric_history`) see them.

    Raises:
        StaleAttemptError: ``attempt`` is no longer the step run's running attempt.
        InvalidNameError: a key is empty or too long.
        InvalidValueError: a value is not a number, or a step not an int.
        NotFoundError: the step run is not the store project's.
    """
    now = now_ms()
    rows = []
    for key, value, step in metrics:
        _check(key, value)
        if not isinstance(step, int) or isinstance(step, bool):
            raise InvalidValueError(
                f"The step of metric {key!r} must be an int (the epoch or iteration). "
                f"Got {step!r} ({type(step).__name__}).",
                hint="Pass the step as an int, e.g. int(epoch).",
                key=key,
            )
        rows.append(
            {
                "step_run_id": step_run_id,
                "attempt": attempt,
                "key": key,
                "value": _stored(value),
                "step": step,
                "timestamp": now,
            }
        )
    if not rows:
        return 0

    def tx(conn: Connection, _op: Operation) -> int:
        run_id = _fence(conn, store, step_run_id, attempt)
        conn.execute(t.metrics.insert(), [{**r, "run_id": run_id} for r in rows])
        return len(rows)

    # Recorded under an operation key: a retry after a lost acknowledgement logs nothing twice.
    store.transact_once(tx, what="step metric logging", replay=AS_JSON)
    return len(rows)


def log_step_params(
    store: Store, step_run_id: int, attempt: int, params: Mapping[str, Any]
) -> None:
    """Record params of one step attempt. Within an attempt a param cannot change.

    Raises:
        StaleAttemptError: ``attempt`` is no longer the step run's running attempt.
        ConflictError: a key was already logged by this attempt with another value.
        InvalidNameError: a key is empty or too long.
        InvalidValueError: a value is not JSON.
        NotFoundError: the step run is not the store project's.
    """
    if not params:
        return
    rows = []
    for key, value in params.items():
        if not isinstance(key, str) or not key or len(key) > 250:
            raise InvalidNameError(f"A param key must be 1-250 characters. Got {key!r}.")
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            raise InvalidValueError(
                f"Param {key!r} must be a JSON value (number, string, bool, None, list, dict; "
                f"not NaN or infinity). Got {type(value).__name__}.",
                hint="Convert it first, e.g. str(value) or float(value).",
                key=key,
            ) from None
        rows.append({"step_run_id": step_run_id, "attempt": attempt, "key": key, "value": value})

    def tx(conn: Connection) -> None:
        run_id = _fence(conn, store, step_run_id, attempt)
        stmt = insert(conn, t.step_params).values([{**r, "run_id": run_id} for r in rows])
        conn.execute(stmt.on_conflict_do_nothing())
        stored = _read_params(conn, step_run_id, attempt)
        # Compare as stored JSON: a tuple comes back as a list.
        changed = [
            r["key"] for r in rows if json_text(stored.get(r["key"])) != json_text(r["value"])
        ]
        if changed:
            raise ConflictError(
                f"Params {changed} of step run {step_run_id} are already logged with other "
                "values; params cannot change.",
                hint="Log changing values as metrics instead.",
                step_run_id=step_run_id,
            )

    store.transact(tx, what="step param logging")


def _read_params(conn: Connection, step_run_id: int, attempt: int) -> dict[str, Any]:
    c = t.step_params.c
    query = select(c.key, c.value).where(c.step_run_id == step_run_id, c.attempt == attempt)
    return {k: v for k, v in conn.execute(query).all()}


def _attempt_or_current(
    conn: Connection, store: Store, step_run_id: int, attempt: int | None
) -> int:
    """``attempt``, or the step run's current one; the step run must be the project's."""
    c = t.step_runs.c
    current = conn.execute(
        select(c.attempt).where(c.id == step_run_id, run_in_project(c.run_id, store.project_id))
    ).scalar()
    if current is None:
        raise not_in_project(store, "step run", step_run_id)
    return int(current) if attempt is None else attempt


def step_metrics(
    store: Store, step_run_id: int, *, attempt: int | None = None
) -> list[MetricRecord]:
    """The metrics one attempt of a step logged (default: the step run's current attempt),
    in ``(key, step, time)`` order."""

    def read(conn: Connection) -> list[MetricRecord]:
        which = _attempt_or_current(conn, store, step_run_id, attempt)
        c = t.metrics.c
        query = (
            select(c.key, c.value, c.step, c.timestamp)
            .where(c.step_run_id == step_run_id, c.attempt == which)
            .order_by(c.key, c.step, c.timestamp, c.id)
        )
        return [
            MetricRecord(r.key, _loaded(r.value), r.step, r.timestamp) for r in conn.execute(query)
        ]

    return store.query(read)


def step_params(store: Store, step_run_id: int, *, attempt: int | None = None) -> dict[str, Any]:
    """The params one attempt of a step logged (default: the step run's current attempt)."""

    def read(conn: Connection) -> dict[str, Any]:
        which = _attempt_or_current(conn, store, step_run_id, attempt)
        return _read_params(conn, step_run_id, which)

    return store.query(read)
