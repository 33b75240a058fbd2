"""Reading the prediction log: a deployment's rows over a time range (what monitoring
reads), its latest rows, and the whole story of one prediction.

A prediction is explained from its log row and the registry's lineage: the inputs and
output, the model version that answered, the run that trained it with that run's dataset
snapshots and code version, the alias move that put the version where it served and the
evaluation that allowed that move, and the label fed back for it, if any.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from ... import store as st
from ...core import NotFoundError, now_ms
from ...registry import alias_history, lineage
from ._ids import prediction_time_ms

if TYPE_CHECKING:
    import pyarrow as pa

    from ...workspace import Workspace

__all__ = [
    "LOG_COLUMNS",
    "PredictionExplanation",
    "explain_prediction",
    "latest_predictions",
    "prediction_log_table",
    "read_segment",
]

# The flat columns of every segment, in order; then the structs inputs, outputs, features.
LOG_COLUMNS: Final = (
    "prediction_id",
    "ts",
    "deployment",
    "model",
    "model_version",
    "role",
    "latency_seconds",
    "request_id",
)
# An id this recent may still be in the writer's queue (flush_seconds, 1 s by default).
_RECENT_MS = 60_000


def read_segment(ws: Workspace, digest: str) -> pa.Table:
    """One segment's rows, read from the artifact store (its checksum verified)."""
    import pyarrow.parquet as pq

    return pq.read_table(io.BytesIO(ws.artifacts.get_bytes(digest)))


def _empty() -> pa.Table:
    import pyarrow as pa

    return pa.table(
        {
            "prediction_id": pa.array([], pa.string()),
            "ts": pa.array([], pa.timestamp("ms", tz="UTC")),
            "deployment": pa.array([], pa.string()),
            "model": pa.array([], pa.string()),
            "model_version": pa.array([], pa.int32()),
            "role": pa.array([], pa.string()),
            "latency_seconds": pa.array([], pa.float64()),
            "request_id": pa.array([], pa.string()),
        }
    )


def _in_range(table: pa.Table, since_ms: int | None, until_ms: int | None) -> pa.Table:
    import pyarrow as pa
    import pyarrow.compute as pc

    if since_ms is None and until_ms is None:
        return table
    ts = table.column("ts").cast(pa.int64())
    keep = pa.repeat(pa.scalar(True), table.num_rows)
    if since_ms is not None:
        keep = pc.and_(keep, pc.greater_equal(ts, since_ms))
    if until_ms is not None:
        keep = pc.and_(keep, pc.less_equal(ts, until_ms))
    return table.filter(keep)


def _concat(tables: list[pa.Table]) -> pa.Table:
    import pyarrow as pa

    if not tables:
        return _empty()
    # Segments of different versions may differ in their inputs, outputs or features (or
    # have no features column): the union of their columns, missing values null.
    return pa.concat_tables(tables, promote_options="permissive").sort_by(
        [("ts", "ascending"), ("prediction_id", "ascending")]
    )


def prediction_log_table(
    ws: Workspace,
    deployment: str,
    *,
    since_ms: int | None = None,
    until_ms: int | None = None,
) -> pa.Table:
    """The logged predictions of ``deployment`` made in [``since_ms``, ``until_ms``]
    (Unix ms, either bound open when None), by time.

    The columns are :data:`LOG_COLUMNS`, then the structs ``inputs``, ``outputs`` and
    (when any segment has them) ``features``. DuckDB queries the table as it is:
    ``duckdb.sql("SELECT inputs.age FROM log")``.

    Raises:
        NotFoundError: no such deployment.
    """
    segments = st.list_prediction_segments(
        ws.store, deployment, since_ms=since_ms, until_ms=until_ms
    )
    tables = [_in_range(read_segment(ws, s.digest), since_ms, until_ms) for s in segments]
    return _concat(tables)


def latest_predictions(
    ws: Workspace, deployment: str, *, since_ms: int | None = None, limit: int = 20
) -> pa.Table:
    """The ``limit`` most recent logged predictions of ``deployment`` (made at or after
    ``since_ms``), newest first; reads only the newest segments it needs.

    Raises:
        NotFoundError: no such deployment.
    """
    segments = st.list_prediction_segments(ws.store, deployment, since_ms=since_ms)
    newest: pa.Table = _empty()
    tables: list[pa.Table] = []
    # Newest segments first, until no older segment can hold one of the newest rows.
    for segment in sorted(segments, key=lambda s: s.max_ts, reverse=True):
        if newest.num_rows >= limit and segment.max_ts < _ms(newest.column("ts")[-1].as_py()):
            break
        tables.append(_in_range(read_segment(ws, segment.digest), since_ms, None))
        newest = _concat(tables).sort_by([("ts", "descending"), ("prediction_id", "descending")])
        newest = newest.slice(0, limit)
    return newest


def _ms(value: Any) -> int:
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    return int(value)


def _iso(ms: int | None) -> str | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def jsonable(value: Any) -> Any:
    """``value`` with datetimes as ISO text, non-finite floats as None, bytes as hex."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bytes):
        return value.hex()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


@dataclass(frozen=True, slots=True)
class PredictionExplanation:
    """One prediction and what stands behind it.

    Attributes:
        prediction_id: The id.
        ts: When the request arrived (Unix ms).
        deployment: The deployment that answered.
        model: The model's name.
        version: The version that answered (for role ``serve``).
        role: ``serve``, ``canary`` or ``shadow``.
        latency_seconds: How long the prediction took.
        request_id: The client's request id, if it sent one.
        inputs: The model's inputs.
        outputs: What the model answered.
        features: Features added by enrichment.
        run: The run that trained the version (id, pipeline, status, params, code
            version), or None if none was recorded.
        code_version: That run's code version.
        snapshots: The dataset snapshots that run read and wrote.
        feature_views: The feature views that run used.
        promotion: The alias move that put this version where it answered, at or before
            the prediction (alias, from/to version, reason, actor, moved_at), or None.
        evaluation: The evaluation that allowed that move (id, passed, digest, verified),
            or None.
        label: The ground truth fed back for this prediction, or None.
        labelled_at: When that label was last set (Unix ms), or None.
        other_answers: The same prediction id answered in other roles (a shadow's answer).
        segment: The digest of the log segment that holds the row.
    """

    prediction_id: str
    ts: int
    deployment: str
    model: str
    version: int
    role: str
    latency_seconds: float | None
    request_id: str | None
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    features: dict[str, Any]
    run: dict[str, Any] | None
    code_version: str | None
    snapshots: list[dict[str, Any]]
    feature_views: list[dict[str, Any]]
    promotion: dict[str, Any] | None
    evaluation: dict[str, Any] | None
    label: Any
    labelled_at: int | None
    other_answers: list[dict[str, Any]] = field(default_factory=list)
    segment: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: times as ISO-8601 UTC text."""
        out = {f.name: jsonable(getattr(self, f.name)) for f in fields(self)}
        out["time"] = _iso(self.ts)
        out["labelled_at"] = _iso(self.labelled_at)
        return out


def _find_rows(ws: Workspace, prediction_id: str) -> list[tuple[dict[str, Any], str]]:
    import pyarrow.compute as pc

    found = []
    for segment in st.find_prediction_segments(ws.store, prediction_id):
        table = read_segment(ws, segment.digest)
        hits = table.filter(pc.equal(table.column("prediction_id"), prediction_id))
        found += [(row, segment.digest) for row in hits.to_pylist()]
    return found


def _not_logged(ws: Workspace, prediction_id: str, ts: int) -> NotFoundError:
    age_ms = now_ms() - ts
    if -_RECENT_MS < age_ms < _RECENT_MS:
        hint = (
            f"It was made {max(age_ms, 0) / 1000:.1f} s ago: the prediction log writes its "
            "queue every flush_seconds (1 s by default), so try again in a moment. If it "
            "never appears, the log dropped it (see conveyor_prediction_log_dropped_total)."
        )
    else:
        hint = (
            "Check the id: it is the one the prediction service returned with the "
            "prediction. Rows the log dropped (overload, full disk) cannot be explained."
        )
    return NotFoundError(
        f"No prediction {prediction_id} is in the prediction log of project {ws.store.project!r}.",
        hint=hint,
        prediction_id=prediction_id,
    )


def _promotion(
    ws: Workspace, deployment: str, model: str, version: int, ts: int
) -> dict[str, Any] | None:
    """The last move, at or before ``ts``, of the deployment's alias (else any alias) to
    ``version``."""
    aliases = [d.alias for d in st.list_deployments(ws.store) if d.name == deployment]
    moves = [
        m
        for m in alias_history(ws, model)
        if m.to_version == version and m.moved_at <= ts and m.to_version is not None
    ]
    preferred = [m for m in moves if m.alias in aliases] or moves
    if not preferred:
        return None
    move = preferred[-1]
    return {
        "id": move.id,
        "alias": move.alias,
        "from_version": move.from_version,
        "to_version": move.to_version,
        "reason": move.reason,
        "actor": move.actor,
        "moved_at": _iso(move.moved_at),
        "evaluation_id": move.evaluation_id,
    }


def explain_prediction(ws: Workspace, prediction_id: str) -> PredictionExplanation:
    """Explain one logged prediction: its row and the lineage of the version that made it.

    Raises:
        InvalidValueError: ``prediction_id`` is not a prediction id.
        NotFoundError: no such prediction is logged (yet).

    Example:
        >>> explain_prediction(ws, "0192b3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b").run  # doctest: +SKIP
    """
    ts = prediction_time_ms(prediction_id)
    rows = _find_rows(ws, prediction_id)
    if not rows:
        raise _not_logged(ws, prediction_id, ts)
    # The answer the client got first; a shadow's answer is listed beside it.
    rows.sort(key=lambda r: r[0]["role"] == "shadow")
    row, digest = rows[0]
    model, version = str(row["model"]), int(row["model_version"])
    story = lineage(ws, f"models:/{model}/{version}")
    run = story["run"]
    promotion = _promotion(ws, row["deployment"], model, version, _ms(row["ts"]))
    evaluation = None
    if promotion is not None and promotion["evaluation_id"] is not None:
        evaluation = next(
            (e for e in story["evaluations"] if e["id"] == promotion["evaluation_id"]), None
        )
    labels = st.list_feedback(ws.store, ids=[prediction_id])
    return PredictionExplanation(
        prediction_id=prediction_id,
        ts=_ms(row["ts"]),
        deployment=str(row["deployment"]),
        model=model,
        version=version,
        role=str(row["role"]),
        latency_seconds=row.get("latency_seconds"),
        request_id=row.get("request_id"),
        inputs=dict(row.get("inputs") or {}),
        outputs=dict(row.get("outputs") or {}),
        features=dict(row.get("features") or {}),
        run=run,
        code_version=None if run is None else run.get("code_version"),
        snapshots=list(story["snapshots"]),
        feature_views=list(story["feature_views"]),
        promotion=promotion,
        evaluation=evaluation,
        label=labels[0].label if labels else None,
        labelled_at=labels[0].updated_at if labels else None,
        other_answers=[
            {
                "role": other["role"],
                "model": other["model"],
                "version": other["model_version"],
                "outputs": dict(other.get("outputs") or {}),
            }
            for other, _ in rows[1:]
        ],
        segment=digest,
    )
