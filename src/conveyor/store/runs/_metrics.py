"""Metrics: time series of (key, value, step, timestamp) per run, logged singly or in batches.

A run's readers leave out what superseded step attempts logged (see ``_step_metrics``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    bindparam,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
)

from ...core import InvalidNameError, InvalidValueError, NotFoundError, now_ms
from .._engine import AS_JSON, Operation, Store
from .._sql import PROJECT, require_in_project, run_in_project
from . import _tables as t
from ._records import MetricRecord

MetricRow = tuple[str, float, int, int]  # key, value, step, timestamp (ms)
_COLUMNS = ("run_id", "step_run_id", "key", "value", "step", "timestamp")


def _param(name: str) -> Any:
    return cast(bindparam(name), t.metrics.c[name].type)


# The ids a metric names are sound if its run is the store project's and its step run (if
# any) is a step of that run.
_s = t.step_runs.c
_IDS_SOUND = and_(
    run_in_project(_param("run_id"), PROJECT),
    or_(
        _param("step_run_id").is_(None),
        exists().where(_s.id == _param("step_run_id"), _s.run_id == _param("run_id")),
    ),
)
# One metric: ``INSERT ... SELECT ... WHERE`` checks its ids in the same statement; no row
# inserted names a foreign id.
_INSERT_METRIC = (
    t.metrics.insert()
    .from_select(list(_COLUMNS), select(*(_param(name) for name in _COLUMNS)).where(_IDS_SOUND))
    # An INSERT's row count is kept only when asked for (psycopg).
    .execution_options(preserve_rowcount=True)
)
# A batch shares one run and step run: they are checked once, then the rows go in as a plain
# multi-row insert (a guard per row would check the same two ids a thousand times). A run's
# project and a step run's run never change, so the check holds for the transaction.
_IDS_CHECK = select(literal(1)).where(_IDS_SOUND)
_INSERT_ROWS = t.metrics.insert()


def _check(key: str, value: float) -> None:
    if not isinstance(key, str) or not key or len(key) > 250:
        raise InvalidNameError(f"A metric key must be 1-250 characters. Got {key!r}.")
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise InvalidValueError(
            f"Metric {key!r} must be a number (int or float). Got {value!r} "
            f"({type(value).__name__}).",
            hint="Log a number, e.g. float(value); log text as a tag or param instead.",
            key=key,
        )


def _stored(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def _loaded(value: float | None) -> float:
    return math.nan if value is None else value


def log_metric(
    store: Store,
    run_id: int,
    key: str,
    value: float,
    *,
    step: int = 0,
    timestamp: int | None = None,
    step_run_id: int | None = None,
) -> None:
    """Log one metric value (one transaction). Prefer :func:`log_metrics` for many."""
    _check(key, value)
    row = {
        "run_id": run_id,
        "step_run_id": step_run_id,
        "key": key,
        "value": _stored(value),
        "step": step,
        "timestamp": now_ms() if timestamp is None else timestamp,
    }
    _insert(store, run_id, step_run_id, [row], what="metric logging")


def log_metrics(
    store: Store,
    run_id: int,
    metrics: Iterable[tuple[str, float] | MetricRow],
    *,
    step_run_id: int | None = None,
) -> int:
    """Log many metric values in one transaction (``executemany``). Returns the count.

    Each item is ``(key, value)`` or ``(key, value, step, timestamp_ms)``.
    """
    now = now_ms()
    rows = []
    for item in metrics:
        key, value = item[0], item[1]
        _check(key, value)
        step = item[2] if len(item) > 2 else 0
        stamp = item[3] if len(item) > 3 else now
        rows.append(
            {
                "run_id": run_id,
                "step_run_id": step_run_id,
                "key": key,
                "value": _stored(value),
                "step": step,
                "timestamp": stamp,
            }
        )
    if rows:
        _insert(store, run_id, step_run_id, rows, what="metric batch")
    return len(rows)


def _insert(
    store: Store, run_id: int, step_run_id: int | None, rows: list[dict[str, Any]], *, what: str
) -> None:
    # Recorded under an operation key: a retry after a lost COMMIT acknowledgement must not
    # log the values a second time.
    ids = {**rows[0], "p_project": store.project_id}  # what the guards read

    def tx(conn: Connection, _op: Operation) -> int:
        if len(rows) == 1:
            sound = conn.execute(_INSERT_METRIC, ids).rowcount == 1
        else:
            sound = conn.execute(_IDS_CHECK, ids).first() is not None
            if sound:
                conn.execute(_INSERT_ROWS, rows)
        if not sound:
            # Say which id is not this project's (or is not a step of that run).
            require_in_project(conn, store, [("run", run_id), ("step run", step_run_id)])
            raise NotFoundError(
                f"Step run {step_run_id} is not a step of run {run_id}.",
                run_id=run_id,
                step_run_id=step_run_id,
            )
        return len(rows)

    store.transact_once(tx, what=what, replay=AS_JSON)


def _committed(query: Select[Any]) -> Select[Any]:
    """Keep metrics logged on the run, or by the current attempt of their step run."""
    c, s = t.metrics.c, t.step_runs.c
    current: ColumnElement[bool] = or_(c.attempt.is_(None), c.attempt == s.attempt)
    return query.outerjoin(t.step_runs, s.id == c.step_run_id).where(current)


def metric_history(store: Store, run_id: int, key: str) -> list[MetricRecord]:
    """One metric of a run over its steps (none for a run of another project)."""
    c = t.metrics.c
    query = _committed(
        select(c.key, c.value, c.step, c.timestamp)
        .select_from(t.metrics)
        .where(c.run_id == run_id, c.key == key, run_in_project(c.run_id, store.project_id))
    ).order_by(c.step, c.timestamp, c.id)
    return store.query(
        lambda conn: [
            MetricRecord(r.key, _loaded(r.value), r.step, r.timestamp) for r in conn.execute(query)
        ]
    )


def latest_metrics(store: Store, run_id: int) -> dict[str, float]:
    """The most recently logged value of each metric key of a run (none for a run of
    another project)."""

    def read(conn: Connection) -> dict[str, float]:
        c = t.metrics.c
        last = (
            _committed(
                select(c.key, func.max(c.id).label("id"))
                .select_from(t.metrics)
                .where(c.run_id == run_id, run_in_project(c.run_id, store.project_id))
            )
            .group_by(c.key)
            .subquery()
        )
        rows = conn.execute(select(c.key, c.value).join(last, c.id == last.c.id)).all()
        return {k: _loaded(v) for k, v in rows}

    return store.query(read)


def count_metrics(store: Store, run_ids: Sequence[int] | None = None) -> int:
    """How many metric values the store's project holds (of ``run_ids`` only, if given)."""
    query = (
        select(func.count())
        .select_from(t.metrics)
        .where(run_in_project(t.metrics.c.run_id, store.project_id))
    )
    if run_ids is not None:
        query = query.where(t.metrics.c.run_id.in_(list(run_ids)))
    return int(store.query(lambda c: c.execute(query).scalar_one()))
