"""The live performance of one model version on a deployment over a span of time: its
logged predictions joined to their labels, as one window (what a rollback compares)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import store as st
from ..serve.runtime import read_segment
from ._estimate_reference import version_profile
from ._labels import read_labels, seconds, window_labels
from ._log import LIVE_ROLES, flatten
from ._performance import WindowPerformance, window_performance

if TYPE_CHECKING:
    from ..workspace import Workspace


def version_performance(
    ws: Workspace,
    deployment: str,
    model: str,
    version: int,
    *,
    since_ms: int,
    until_ms: int,
    min_labels: int,
) -> WindowPerformance:
    """Version ``version`` of ``model`` as it served ``deployment`` in
    [``since_ms``, ``until_ms``): its predictions (roles ``serve`` and ``canary``), the
    labels received for them so far, and the figures ``window_performance`` makes of them.

    Raises:
        NotFoundError: no such deployment, model or version.
        InvalidValueError: a label cannot be compared with the predictions.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    profile = version_profile(ws, model, version)
    classes = profile["classes"] if profile["task"] == "classification" else None
    parts = []
    segments = st.list_prediction_segments(
        ws.store, deployment, since_ms=since_ms, until_ms=until_ms - 1
    )
    for segment in segments:
        if segment.role not in LIVE_ROLES or segment.version != version:
            continue
        rows = flatten(read_segment(ws, segment.digest))
        ts = rows.column("ts_ms")
        keep = pc.and_(pc.greater_equal(ts, since_ms), pc.less(ts, until_ms))
        keep = pc.and_(keep, pc.equal(rows.column("model_version"), version))
        parts.append(rows.filter(keep))
    rows = pa.concat_tables(parts, promote_options="permissive") if parts else None
    if rows is None or not rows.num_rows:
        return window_performance(
            [], [], task=profile["task"], labelled=[], classes=classes, min_labels=min_labels
        )
    found = window_labels(
        rows, read_labels(ws, since_ms, until_ms - 1), classes=classes, version=f"{model}/{version}"
    )
    return window_performance(
        rows.column("outputs.prediction").combine_chunks().to_numpy(zero_copy_only=False),
        found.labels.to_numpy(zero_copy_only=False),
        task=profile["task"],
        labelled=found.labelled.to_numpy(zero_copy_only=False),
        classes=classes,
        prediction_times=seconds(rows.column("ts_ms").combine_chunks()),
        label_times=seconds(found.received_ms),
        min_labels=min_labels,
    )
