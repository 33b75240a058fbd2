"""Monitor windows and monitor state (storage side).

A window row is keyed by (deployment, monitor, window key): computing a window again
replaces its figures, so a recomputation after a crash, or as late labels arrive, never
adds a second row. A monitor's state is written by compare-and-set on its revision
(RELIABILITY.md rule 6): of two processes that computed the same step, one advances the
state and the other is told it lost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, update

from ...core import ConflictError, InvalidValueError, now_ms
from .._engine import Replay, Store
from .._sql import insert
from ..events import append_event
from ..registry import _tables as rt
from ..registry._registry import find_model_id, version_id
from ..serving import _tables as sv
from ..serving._predictions import deployment_id
from . import _tables as t
from ._records import MonitorStateRecord, MonitorWindowRecord

w, ms, d = t.monitor_windows.c, t.monitor_states.c, sv.deployments.c
_mv, _models = rt.model_versions.c, rt.models.c
_WINDOWS = select(
    w.id,
    d.name.label("deployment"),
    w.monitor,
    w.window_key,
    w.start_ms,
    w.end_ms,
    w.n_rows,
    _models.name.label("model"),
    _mv.version.label("version"),
    w.status,
    w.figures,
    w.computed_at,
).select_from(
    t.monitor_windows.join(sv.deployments, d.id == w.deployment_id)
    .outerjoin(rt.model_versions, _mv.id == w.model_version_id)
    .outerjoin(rt.models, _models.id == _mv.model_id)
)
_STATES = select(
    d.name.label("deployment"), ms.monitor, ms.state, ms.revision, ms.updated_at
).select_from(t.monitor_states.join(sv.deployments, d.id == ms.deployment_id))


def _check_monitor(monitor: str) -> None:
    if not isinstance(monitor, str) or not monitor or len(monitor) > 32:
        raise InvalidValueError(
            f"A monitor's name must be a non-empty string of at most 32 characters. "
            f"Got {monitor!r}."
        )


@dataclass(frozen=True)
class WindowValues:
    """One computed window, as :func:`save_monitor_state` records it."""

    window_key: str
    start_ms: int
    end_ms: int
    n_rows: int
    status: str
    figures: dict[str, Any]
    model: str | None = None
    version: int | None = None


def _check_key(window_key: str) -> None:
    if not window_key or len(window_key) > 64:
        raise InvalidValueError(f"A window key must be 1 to 64 characters. Got {window_key!r}.")


def _upsert_window(
    conn: Connection, store: Store, dep: int, monitor: str, values: WindowValues
) -> None:
    mv = None
    if values.model is not None and values.version is not None:
        model_id = find_model_id(conn, store, values.model, create=False)
        mv = version_id(conn, model_id, values.model, values.version)
    row = {
        "start_ms": values.start_ms,
        "end_ms": values.end_ms,
        "n_rows": values.n_rows,
        "model_version_id": mv,
        "status": values.status,
        "figures": values.figures,
        "computed_at": now_ms(),
    }
    stmt = insert(conn, t.monitor_windows).on_conflict_do_update(
        index_elements=["project_id", "deployment_id", "monitor", "window_key"], set_=row
    )
    conn.execute(
        stmt,
        {
            "project_id": store.project_id,
            "deployment_id": dep,
            "monitor": monitor,
            "window_key": values.window_key,
            **row,
        },
    )


def record_monitor_window(
    store: Store,
    deployment: str,
    monitor: str,
    window_key: str,
    *,
    start_ms: int,
    end_ms: int,
    n_rows: int,
    status: str,
    figures: Mapping[str, Any],
    model: str | None = None,
    version: int | None = None,
) -> MonitorWindowRecord:
    """Store one computed window, replacing the figures of an earlier computation of the
    same window. ``model``/``version``: the version that made most of its predictions.

    Raises:
        NotFoundError: no such deployment, model or version.
    """
    _check_monitor(monitor)
    _check_key(window_key)

    def tx(conn: Connection) -> MonitorWindowRecord:
        dep = deployment_id(conn, store, deployment)
        _upsert_window(
            conn,
            store,
            dep,
            monitor,
            WindowValues(
                window_key, start_ms, end_ms, n_rows, status, dict(figures), model, version
            ),
        )
        row = conn.execute(
            _WINDOWS.where(
                w.project_id == store.project_id,
                w.deployment_id == dep,
                w.monitor == monitor,
                w.window_key == window_key,
            )
        ).one()
        return MonitorWindowRecord.from_row(row)

    # An upsert: a retry after its own commit writes the same figures again.
    return store.transact(tx, what="monitor window write")


def list_monitor_windows(
    store: Store,
    deployment: str,
    *,
    monitor: str | None = None,
    since_ms: int | None = None,
    limit: int | None = 1000,
) -> list[MonitorWindowRecord]:
    """Deployment ``deployment``'s computed windows (of ``monitor``, or all monitors) that
    end at or after ``since_ms``, the newest ``limit`` of them, oldest first.

    Raises:
        NotFoundError: no such deployment in this project.
    """

    def read(conn: Connection) -> list[MonitorWindowRecord]:
        query = _WINDOWS.where(w.deployment_id == deployment_id(conn, store, deployment))
        if monitor is not None:
            query = query.where(w.monitor == monitor)
        if since_ms is not None:
            query = query.where(w.end_ms >= since_ms)
        query = query.order_by(w.end_ms.desc(), w.id.desc())
        if limit is not None:
            query = query.limit(limit)
        rows = [MonitorWindowRecord.from_row(r) for r in conn.execute(query)]
        return rows[::-1]

    return store.query(read)


def get_monitor_state(store: Store, deployment: str, monitor: str) -> MonitorStateRecord | None:
    """The state ``monitor`` of ``deployment`` carries between runs, or None before its
    first run.

    Raises:
        NotFoundError: no such deployment in this project.
    """

    def read(conn: Connection) -> MonitorStateRecord | None:
        dep = deployment_id(conn, store, deployment)
        row = conn.execute(_STATES.where(ms.deployment_id == dep, ms.monitor == monitor)).first()
        return None if row is None else MonitorStateRecord.from_row(row)

    return store.query(read)


def save_monitor_state(
    store: Store,
    deployment: str,
    monitor: str,
    state: Mapping[str, Any],
    *,
    expected_revision: int,
    windows: Sequence[WindowValues] = (),
    events: Sequence[tuple[str, str, Mapping[str, Any]]] = (),
) -> MonitorStateRecord:
    """Replace ``monitor``'s state if its revision is still ``expected_revision`` (0 for a
    monitor with no state yet); the new revision is one more. In the same transaction,
    record the ``windows`` computed to reach it and append the ``events`` (type, subject,
    data) they raised, so a window's alarm is in the log once: with its state, or not at
    all.

    Raises:
        ConflictError: another process saved a newer state first (re-read and recompute).
        NotFoundError: no such deployment in this project.
    """
    _check_monitor(monitor)
    for values in windows:
        _check_key(values.window_key)
    revision = expected_revision + 1

    def tx(conn: Connection) -> MonitorStateRecord:
        dep = deployment_id(conn, store, deployment)
        now = now_ms()
        if expected_revision == 0:
            # RETURNING, not rowcount: PostgreSQL's driver reports -1 for this insert.
            stmt = (
                insert(conn, t.monitor_states)
                .values(
                    project_id=store.project_id,
                    deployment_id=dep,
                    monitor=monitor,
                    state=dict(state),
                    revision=revision,
                    updated_at=now,
                )
                .on_conflict_do_nothing(index_elements=["project_id", "deployment_id", "monitor"])
                .returning(ms.id)
            )
            won = conn.execute(stmt).first() is not None
        else:
            won = (
                conn.execute(
                    update(t.monitor_states)
                    .where(
                        ms.deployment_id == dep,
                        ms.monitor == monitor,
                        ms.revision == expected_revision,
                    )
                    .values(state=dict(state), revision=revision, updated_at=now)
                ).rowcount
                == 1
            )
        if not won:
            raise ConflictError(
                f"The state of monitor {monitor!r} of deployment {deployment!r} moved past "
                f"revision {expected_revision} while this process computed it.",
                hint="Another process is computing the same monitor; its result stands.",
            )
        for values in windows:
            _upsert_window(conn, store, dep, monitor, values)
        for type_, subject, data in events:
            append_event(conn, store, type_, subject=subject, data=data)
        return _read_state(conn, dep)

    def _read_state(conn: Connection, dep: int) -> MonitorStateRecord:
        row = conn.execute(_STATES.where(ms.deployment_id == dep, ms.monitor == monitor)).one()
        return MonitorStateRecord.from_row(row)

    # A retry whose first COMMIT landed returns that outcome (and appends no event twice).
    replay: Replay[MonitorStateRecord] = Replay(
        dump=lambda _record: revision,
        load=lambda conn, _value: _read_state(conn, deployment_id(conn, store, deployment)),
    )
    return store.transact_once(
        lambda conn, _op: tx(conn), what="monitor state write", replay=replay
    )
