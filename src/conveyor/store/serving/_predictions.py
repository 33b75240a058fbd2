"""The prediction log's index and the feedback labels (storage side).

A segment row is written after its blob is stored, so every indexed segment is readable;
its digest is unique per project, which makes a retried insert (lost COMMIT
acknowledgement) find its own row instead of adding a second. Feedback is an upsert keyed
by (project, prediction id): sending the same label again changes nothing, a new label
replaces the old one and moves ``updated_at``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Select, or_, select

from ...core import InvalidValueError, NotFoundError, did_you_mean, now_ms
from .._engine import Store
from .._sql import insert
from ..registry import _tables as rt
from ..registry._registry import find_model_id, version_id
from . import _tables as t
from ._records import FeedbackRecord, PredictionSegmentRecord

s, d, f = t.prediction_segments.c, t.deployments.c, t.feedback.c
_mv, _models = rt.model_versions.c, rt.models.c
# Segments with their deployment's name and their model version's name and number.
_SEGMENTS = (
    select(
        s.id,
        d.name.label("deployment"),
        _models.name.label("model"),
        _mv.version.label("version"),
        s.role,
        s.digest,
        s.n_rows,
        s.n_bytes,
        s.first_id,
        s.last_id,
        s.min_ts,
        s.max_ts,
        s.created_at,
    )
    .select_from(
        t.prediction_segments.join(t.deployments, d.id == s.deployment_id)
        .outerjoin(rt.model_versions, _mv.id == s.model_version_id)
        .outerjoin(rt.models, _models.id == _mv.model_id)
    )
    .order_by(s.min_ts, s.first_id)
)
_FEEDBACK = select(
    f.id,
    f.prediction_id,
    d.name.label("deployment"),
    f.label,
    f.prediction_ts,
    f.received_at,
    f.updated_at,
).select_from(t.feedback.outerjoin(t.deployments, d.id == f.deployment_id))
# Ids per IN (...) list: well under every backend's bound-parameter limit.
_CHUNK = 500


def deployment_id(conn: Connection, store: Store, name: str) -> int:
    """The id of this project's deployment ``name``.

    Raises:
        NotFoundError: the project has no such deployment.
    """
    found = conn.execute(
        select(d.id).where(d.project_id == store.project_id, d.name == name)
    ).scalar()
    if found is None:
        known = conn.execute(select(d.name).where(d.project_id == store.project_id)).scalars()
        raise NotFoundError(
            f"No deployment {name!r} in project {store.project!r}.{did_you_mean(name, known)}",
            hint="Check the deployment's name, or create the deployment before logging to it.",
            deployment=name,
        )
    return int(found)


def record_prediction_segment(
    store: Store,
    deployment: str,
    *,
    digest: str,
    n_rows: int,
    n_bytes: int,
    first_id: str,
    last_id: str,
    min_ts: int,
    max_ts: int,
    role: str = "serve",
    model: str | None = None,
    version: int | None = None,
) -> PredictionSegmentRecord:
    """Index a stored segment of deployment ``deployment``'s prediction log.

    ``model`` and ``version`` name the model version that made its predictions. Recording
    the same digest again returns the first row.

    Raises:
        NotFoundError: no such deployment, model or version in this project.
        InvalidValueError: the id or time range is reversed.
    """
    if first_id > last_id or min_ts > max_ts:
        raise InvalidValueError(
            f"A prediction segment's first id and time must not be after its last: got ids "
            f"{first_id!r}..{last_id!r}, times {min_ts}..{max_ts}.",
            hint="Pass the smallest and largest prediction id and time of the segment's rows.",
        )

    def tx(conn: Connection) -> int:
        dep = deployment_id(conn, store, deployment)
        mv = None
        if model is not None and version is not None:
            mv = version_id(conn, find_model_id(conn, store, model, create=False), model, version)
        conn.execute(
            insert(conn, t.prediction_segments)
            .values(
                project_id=store.project_id,
                deployment_id=dep,
                model_version_id=mv,
                role=role,
                digest=digest,
                n_rows=n_rows,
                n_bytes=n_bytes,
                first_id=first_id,
                last_id=last_id,
                min_ts=min_ts,
                max_ts=max_ts,
                created_at=now_ms(),
            )
            .on_conflict_do_nothing(index_elements=["project_id", "digest"])
        )
        row_id = conn.execute(
            select(s.id).where(s.project_id == store.project_id, s.digest == digest)
        ).scalar_one()
        return int(row_id)

    row_id = store.transact(tx, what="prediction segment record")
    return store.query(
        lambda conn: PredictionSegmentRecord.from_row(
            conn.execute(_SEGMENTS.where(s.id == row_id)).one()
        )
    )


def list_prediction_segments(
    store: Store,
    deployment: str,
    *,
    since_ms: int | None = None,
    until_ms: int | None = None,
    after_id: int | None = None,
    limit: int | None = None,
) -> list[PredictionSegmentRecord]:
    """Deployment ``deployment``'s segments that may hold predictions made in
    [``since_ms``, ``until_ms``] (either bound open when None), oldest first; with
    ``after_id``, those indexed after segment ``after_id``, in the order they were indexed
    (how a monitor that cuts windows by count reads the log), at most ``limit``.

    Raises:
        NotFoundError: no such deployment in this project.
    """

    def read(conn: Connection) -> list[PredictionSegmentRecord]:
        query = _SEGMENTS.where(s.deployment_id == deployment_id(conn, store, deployment))
        if since_ms is not None:
            query = query.where(s.max_ts >= since_ms)
        if until_ms is not None:
            query = query.where(s.min_ts <= until_ms)
        if after_id is not None:
            query = query.where(s.id > after_id).order_by(None).order_by(s.id)
        if limit is not None:
            query = query.limit(limit)
        return [PredictionSegmentRecord.from_row(r) for r in conn.execute(query)]

    return store.query(read)


def find_prediction_segments(store: Store, prediction_id: str) -> list[PredictionSegmentRecord]:
    """This project's segments whose id range holds ``prediction_id`` (usually one)."""
    query = _SEGMENTS.where(
        s.project_id == store.project_id, s.first_id <= prediction_id, s.last_id >= prediction_id
    )
    return store.query(
        lambda conn: [PredictionSegmentRecord.from_row(r) for r in conn.execute(query)]
    )


def upsert_feedback(
    store: Store,
    rows: Sequence[tuple[str, Any, int]],
    *,
    deployment: str | None = None,
) -> int:
    """Store labels: ``rows`` of (prediction id, label, prediction time in ms), in one
    transaction. A label already stored for an id is replaced (and ``updated_at`` moves)
    only if it differs; ``deployment``, when given, is recorded on each row. Returns the
    number of rows given.

    Raises:
        NotFoundError: no such deployment in this project.
    """
    if not rows:
        return 0

    def tx(conn: Connection) -> int:
        dep = None if deployment is None else deployment_id(conn, store, deployment)
        now = now_ms()
        stmt = insert(conn, t.feedback)
        new = stmt.excluded
        stmt = stmt.on_conflict_do_update(
            index_elements=["project_id", "prediction_id"],
            set_={
                "label": new.label,
                "deployment_id": new.deployment_id if dep is not None else f.deployment_id,
                "updated_at": new.updated_at,
            },
            # A repeat of the same label (and deployment) is no change: updated_at stays.
            where=_changed(conn, new, dep is not None),
        )
        conn.execute(
            stmt,
            [
                {
                    "project_id": store.project_id,
                    "prediction_id": prediction_id,
                    "deployment_id": dep,
                    "label": label,
                    "prediction_ts": ts,
                    "received_at": now,
                    "updated_at": now,
                }
                for prediction_id, label, ts in rows
            ],
        )
        return len(rows)

    # An upsert: running it again after its own commit changes nothing.
    return store.transact(tx, what="feedback upsert")


def _changed(conn: Connection, new: Any, with_deployment: bool) -> Any:
    if conn.dialect.name == "postgresql":
        label_changed = f.label.is_distinct_from(new.label)
    else:
        # SQLite keeps JSON as text; compare the text.
        label_changed = f.label.op("IS NOT", is_comparison=True)(new.label)
    if not with_deployment:
        return label_changed
    return or_(label_changed, f.deployment_id.is_distinct_from(new.deployment_id))


def list_feedback(
    store: Store,
    *,
    deployment: str | None = None,
    since_ms: int | None = None,
    until_ms: int | None = None,
    ids: Iterable[str] | None = None,
) -> list[FeedbackRecord]:
    """This project's labels, by prediction time then id: of one deployment's predictions,
    of predictions made in [``since_ms``, ``until_ms``], and/or of the ``ids`` given.

    Raises:
        NotFoundError: no such deployment in this project.
    """
    wanted = None if ids is None else sorted(set(ids))

    def read(conn: Connection) -> list[FeedbackRecord]:
        query: Select[Any] = _FEEDBACK.where(f.project_id == store.project_id)
        if deployment is not None:
            query = query.where(f.deployment_id == deployment_id(conn, store, deployment))
        if since_ms is not None:
            query = query.where(f.prediction_ts >= since_ms)
        if until_ms is not None:
            query = query.where(f.prediction_ts <= until_ms)
        query = query.order_by(f.prediction_ts, f.prediction_id)
        if wanted is None:
            return [FeedbackRecord.from_row(r) for r in conn.execute(query)]
        found = []
        for i in range(0, len(wanted), _CHUNK):
            chunk = wanted[i : i + _CHUNK]
            found += [
                FeedbackRecord.from_row(r)
                for r in conn.execute(query.where(f.prediction_id.in_(chunk)))
            ]
        found.sort(key=lambda r: (r.prediction_ts, r.prediction_id))
        return found

    return store.query(read)
