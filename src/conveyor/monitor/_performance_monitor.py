"""The live-performance monitor of a deployment: its prediction log joined to the labels
that have arrived, per window of prediction time, with a sequential detector of decay and
an estimate of performance beside the realised figures.

One run (:func:`run_performance_monitor`):

1. reads the windows (``monitor.window`` by time, or ``monitor.window_rows`` by count, as
   the drift monitor cuts them) from the oldest one that is not final to the newest closed
   one. A window is recomputed in place at every run until it is final, ``label_horizon``
   after its end: until then labels may still arrive. A label that arrives later counts
   nowhere;
2. joins each window's predictions (roles ``serve`` and ``canary``) to their labels by
   prediction id, casts the labels to the prediction's type, and computes the label
   coverage and latency and the task's metrics with intervals
   (:func:`~conveyor.monitor.window_performance`); below ``monitor.min_labels`` labels a
   window says ``insufficient labels`` instead of figures;
3. feeds an ADWIN detector per model version the labelled stream (classification: 1 where
   the prediction was right; regression: the absolute error, alarming on a rise), **in the
   order the labels were received** (then by prediction time and id): each run feeds the
   labels received since the last run up to ``monitor.grace`` ago, those of a window that
   had not closed yet as soon as it closes. A drop appends one ``DECAY_DETECTED`` event:
   the cuts ADWIN goes on making while its window still holds labels from before the
   alarm are that drop settling, and a new drop is alarmed once the window is past it;
4. for a classifier whose scores are logged, estimates each window's performance with the
   version's CBPE (:mod:`conveyor.monitor._estimate_reference`), beside the realised
   figures of the labelled rows and the estimate's error over the deployment's history. An
   estimate never raises an alarm.

The windows, the detectors' state and the events commit in one transaction; a process that
loses the race to another computing the same monitor stops and the other's result stands.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .. import store as st
from ..core import DECAY_DETECTED, now_ms
from ..serve.runtime import get_deployment
from ._adwin import ADWIN
from ._estimate_history import compare_estimate, estimate_error
from ._estimate_reference import version_estimator, version_profile
from ._labels import Labels, read_labels, seconds, window_labels
from ._log import Window, count_windows, time_windows
from ._monitors import MonitorRun, commit_run
from ._performance import WindowPerformance, window_performance

if TYPE_CHECKING:
    import pyarrow as pa

    from ..workspace import Workspace
    from ._estimate import CBPE

__all__ = ["ESTIMATE_LABEL", "MAX_WINDOWS", "PERFORMANCE", "run_performance_monitor"]

PERFORMANCE = "performance"
ESTIMATE_LABEL = "estimate (assumes P(y|x) unchanged)"
# Windows computed per run at most, the not yet final ones included (oldest first).
MAX_WINDOWS = 500
# Past windows the estimate's historical error is taken over.
_HISTORY = 500


def run_performance_monitor(
    ws: Workspace, deployment: str, *, now: int | None = None, max_windows: int = MAX_WINDOWS
) -> MonitorRun:
    """Compute (or recompute, while their labels may still arrive) the performance windows
    of ``deployment``, feed the labels received since the last run to the decay detectors,
    and commit windows, detectors and decay events together.

    Args:
        now: The time (Unix ms) windows are closed and made final against; the clock by
            default.
        max_windows: Compute at most this many windows, oldest first.

    Returns:
        The windows computed (figures in ``figures``, status ``ok`` or ``insufficient``)
        and the decay alarms raised.

    Raises:
        NotFoundError: No such deployment.
        InvalidValueError: A label cannot be compared with the predictions (the message
            names the prediction id).
    """
    cfg = ws.config.monitor
    get_deployment(ws, deployment)
    saved = st.get_monitor_state(ws.store, deployment, PERFORMANCE)
    revision = 0 if saved is None else saved.revision
    state: dict[str, Any] = json.loads(json.dumps(saved.state)) if saved is not None else {}
    now = now_ms() if now is None else now
    horizon = int(cfg.label_horizon * 1000)
    cutoff = now - int(cfg.grace * 1000)
    by = f"count:{cfg.window_rows}" if cfg.window_rows > 0 else f"time:{int(cfg.window * 1000)}"
    if state.get("by") != by:
        # New windows from the start of the log; the labels fed so far stay fed.
        state = {"detectors": state.get("detectors", {}), "versions": state.get("versions", {})}
        state["fed_floor"] = saved.state.get("fed_until") if saved is not None else None
        state["by"] = by
    spans, after = _spans(ws, deployment, state, now=now, max_windows=max_windows)
    if not spans:
        return MonitorRun(deployment, PERFORMANCE, [], [])
    labels = read_labels(ws, min(w.start_ms for w, _ in spans), max(w.end_ms for w, _ in spans) - 1)
    fed: dict[str, int | None] = state.setdefault("fed", {})
    versions: dict[str, Any] = state.setdefault("versions", {})
    estimators: dict[str, tuple[CBPE | None, dict[str, Any]]] = {}
    computed: list[st.WindowValues] = []
    streams: list[pa.Table] = []
    next_cursor: Any = after
    behind = True  # every window so far is final: the next run need not read them again
    for window, start in spans:
        final = window.end_ms + horizon <= now
        if behind and not final:
            behind = False
            next_cursor = start  # the oldest window still open to labels
        values, stream = _window(
            ws,
            window,
            labels,
            versions,
            estimators,
            final=final,
            horizon=horizon,
            min_labels=cfg.min_labels,
        )
        computed.append(values)
        since = fed.get(window.key, state.get("fed_floor"))
        streams.append(_received(stream, window.key, since, cutoff))
        if behind:
            fed.pop(window.key, None)
        else:
            fed[window.key] = cutoff if since is None else max(cutoff, since)
    state["next"] = next_cursor
    state["fed_until"] = cutoff
    alarms = _feed(state.setdefault("detectors", {}), versions, streams, deployment)
    _add_track_record(ws, deployment, computed)
    events = [(DECAY_DETECTED, f"deployments/{deployment}", alarm) for alarm in alarms]
    return commit_run(ws, deployment, PERFORMANCE, state, revision, computed, events, alarms)


def _spans(
    ws: Workspace, deployment: str, state: dict[str, Any], *, now: int, max_windows: int
) -> tuple[list[tuple[Window, Any]], Any]:
    """The closed windows from the oldest one not final, each with where it starts (the
    cursor a later run reads it again from), and where the run after the last one goes."""
    cfg = ws.config.monitor
    if cfg.window_rows > 0:
        cursor = state.get("next")
        spans: list[tuple[Window, Any]] = []
        while len(spans) < max_windows:
            found, after = count_windows(
                ws, deployment, rows=cfg.window_rows, cursor=cursor, max_windows=1
            )
            if not found:
                break
            spans.append((found[0], cursor))
            cursor = after
        return spans, cursor
    windows, next_start = time_windows(
        ws,
        deployment,
        width_ms=int(cfg.window * 1000),
        grace_ms=int(cfg.grace * 1000),
        now_ms=now,
        next_start_ms=state.get("next"),
        max_windows=max_windows,
    )
    return [(w, w.start_ms) for w in windows], next_start


def _main_version(rows: pa.Table) -> tuple[str | None, int | None]:
    """The model version that made most of the rows."""
    if not rows.num_rows:
        return None, None
    counts = rows.group_by(["model", "model_version"]).aggregate([("prediction_id", "count")])
    best = counts.sort_by([("prediction_id_count", "descending")]).slice(0, 1).to_pylist()[0]
    return best["model"], best["model_version"]


def _scores(rows: pa.Table, classes: list[Any] | None) -> Any:
    """The logged probabilities in class order (binary: the positive class's), or None
    unless every row has them."""
    import numpy as np

    if not classes or len(classes) < 2:
        return None
    names = ["outputs.score"] if len(classes) == 2 else [f"outputs.proba_{c}" for c in classes]
    if not all(n in rows.column_names and rows.column(n).null_count == 0 for n in names):
        return None
    matrix = np.column_stack([rows.column(n).to_numpy().astype(np.float64) for n in names])
    return matrix[:, 0] if len(names) == 1 else matrix


def _window(
    ws: Workspace,
    window: Window,
    labels: Labels,
    versions: dict[str, Any],
    estimators: dict[str, tuple[CBPE | None, dict[str, Any]]],
    *,
    final: bool,
    horizon: int,
    min_labels: int,
) -> tuple[st.WindowValues, pa.Table]:
    """One window's figures, and its labelled stream (for the detectors). A label received
    more than ``horizon`` ms after the window's end counts nowhere."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    rows = window.rows
    model, version = _main_version(rows)
    key = f"{model}/{version}"
    if model is not None and version is not None and key not in versions:
        versions[key] = version_profile(ws, model, version)
    profile = versions.get(key, {"task": "regression", "classes": None})
    task, classes = profile["task"], profile["classes"]
    found = window_labels(
        rows,
        labels.between(window.start_ms, window.end_ms),
        classes=classes if task == "classification" else None,
        version=key,
    )
    predicted = rows.column("outputs.prediction").combine_chunks()
    in_time = pc.less_equal(found.received_ms, window.end_ms + horizon)
    mask = pc.and_(found.labelled, pc.fill_null(in_time, False)).to_numpy(zero_copy_only=False)
    truth = found.labels.to_numpy(zero_copy_only=False)
    scores = _scores(rows, classes) if task == "classification" else None
    performance = window_performance(
        predicted.to_numpy(zero_copy_only=False),
        truth,
        task=task,
        labelled=mask,
        scores=scores,
        classes=classes if task == "classification" else None,
        prediction_times=seconds(rows.column("ts_ms").combine_chunks()),
        label_times=seconds(found.received_ms),
        min_labels=min_labels,
    )
    figures: dict[str, Any] = {
        **performance.to_dict(),
        "final": final,
        "scores_logged": scores is not None,
    }
    if task == "classification" and model is not None and version is not None:
        figures.update(
            _estimate(
                ws,
                rows,
                scores,
                predicted.to_numpy(zero_copy_only=False),
                truth,
                mask,
                performance,
                versions,
                estimators,
                key,
            )
        )
    if task == "classification":
        value = pc.cast(pc.equal(found.labels, predicted), pa.float64())
    else:
        difference = pc.subtract(found.labels.cast(pa.float64()), predicted.cast(pa.float64()))
        value = pc.abs(difference)
    stream = pa.table(
        {
            "received_ms": found.received_ms,
            "ts_ms": rows.column("ts_ms").combine_chunks(),
            "prediction_id": rows.column("prediction_id").combine_chunks(),
            "version": pc.binary_join_element_wise(
                rows.column("model").combine_chunks(),
                rows.column("model_version").combine_chunks().cast(pa.string()),
                "/",
            ),
            "value": value,
        }
    ).filter(pa.array(mask & np.isfinite(value.to_numpy(zero_copy_only=False))))
    status = "ok" if performance.status == "ok" else "insufficient"
    values = st.WindowValues(
        window.key, window.start_ms, window.end_ms, window.n_rows, status, figures, model, version
    )
    return values, stream


def _estimate(
    ws: Workspace,
    rows: pa.Table,
    scores: Any,
    served: Any,
    truth: Any,
    mask: Any,
    realised: WindowPerformance,
    versions: dict[str, Any],
    estimators: dict[str, tuple[CBPE | None, dict[str, Any]]],
    key: str,
) -> dict[str, Any]:
    """The estimate of the window's main version's rows (all of them: the figure before
    labels), beside the realised figures of its labelled rows (estimated on those rows)."""
    import pyarrow.compute as pc

    if scores is None:
        return {"estimate": None, "estimate_reason": "the log holds no scores for these rows"}
    model, version = key.rsplit("/", 1)
    classes = versions[key]["classes"]
    if key not in estimators:
        estimators[key] = version_estimator(ws, model, int(version), versions[key], classes)
    estimator, shown = estimators[key]
    if estimator is None:
        return {"estimate": None, "estimate_reason": shown["reason"]}
    mine = pc.and_(
        pc.equal(rows.column("model"), model),
        pc.equal(rows.column("model_version"), int(version)),
    )
    own = mine.to_numpy(zero_copy_only=False)
    estimate = estimator.estimate(scores[own], served[own])
    figures: dict[str, Any] = {
        "estimate": {**estimate.to_dict(), "label": ESTIMATE_LABEL, "version": key, **shown},
        "estimate_reason": None,
        "comparison": None,
    }
    both = own & mask
    if int(both.sum()) >= realised.min_labels:
        on_labelled = estimator.estimate(scores[both], served[both])
        if not own.all():  # a window two versions served: the realised figures of one
            realised = window_performance(
                served[both],
                truth[both],
                classes=classes,
                scores=scores[both],
                min_labels=realised.min_labels,
            )
        comparison = compare_estimate(on_labelled, realised)
        figures["comparison"] = {
            "rows": comparison.rows,
            "estimated_positive_rate": comparison.estimated_positive_rate,
            "realised_positive_rate": comparison.realised_positive_rate,
            "positive_rate_gap": comparison.positive_rate_gap,
            "is_gap_significant": comparison.is_gap_significant,
        }
    return figures


def _received(stream: pa.Table, window: str, since: int | None, until: int) -> pa.Table:
    """The window's labelled rows whose label was received in (``since``, ``until``]."""
    import pyarrow as pa
    import pyarrow.compute as pc

    received = stream.column("received_ms")
    keep = pc.less_equal(received, until)
    if since is not None:
        keep = pc.and_(keep, pc.greater(received, since))
    picked = stream.filter(keep)
    return picked.append_column("window", pa.repeat(pa.scalar(window), picked.num_rows))


def _feed(
    detectors: dict[str, Any],
    versions: dict[str, Any],
    streams: list[pa.Table],
    deployment: str,
) -> list[dict[str, Any]]:
    """Feed each version's detector its new labels in the order they were received; the
    decay alarms raised (one per drop found)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = pa.concat_tables(streams).sort_by(
        [("received_ms", "ascending"), ("ts_ms", "ascending"), ("prediction_id", "ascending")]
    )
    alarms: list[dict[str, Any]] = []
    for key in sorted(pc.unique(table.column("version")).to_pylist()):
        task = versions.get(key, {}).get("task", "classification")
        part = table.filter(pc.equal(table.column("version"), key))
        saved = detectors.get(key)
        if saved is not None:
            detector = ADWIN.from_dict(saved["adwin"])
            last_alarm = saved["last_alarm"]
        else:
            detector = ADWIN(alarm_on="decrease" if task == "classification" else "increase")
            last_alarm = None
        before = detector.n_seen_
        changes = detector.update_many(part.column("value").to_numpy())
        model, version = key.rsplit("/", 1)
        for change in changes:
            # After a drop ADWIN goes on cutting while its window still holds labels from
            # before it: the same drop settling, not a new one.
            if not change.is_alarm or (last_alarm is not None and change.start_index <= last_alarm):
                continue
            last_alarm = change.index
            at = change.index - before
            alarms.append(
                {
                    "deployment": deployment,
                    "model": model,
                    "version": int(version),
                    "stream": "correct" if task == "classification" else "absolute_error",
                    "mean_before": change.mean_before,
                    "mean_after": change.mean_after,
                    "n_labelled": change.index + 1,
                    "index": change.index,
                    "start_index": change.start_index,
                    "prediction_id": part.column("prediction_id")[at].as_py(),
                    "prediction_ts_ms": part.column("ts_ms")[at].as_py(),
                    "window": part.column("window")[at].as_py(),
                }
            )
        detectors[key] = {"adwin": detector.to_dict(), "last_alarm": last_alarm}
    return alarms


def _add_track_record(ws: Workspace, deployment: str, computed: list[st.WindowValues]) -> None:
    """Give each computed window the estimate's error over the deployment's windows so far
    (accuracy: the estimate of the labelled rows against their realised figure)."""
    past = st.list_monitor_windows(ws.store, deployment, monitor=PERFORMANCE, limit=_HISTORY)
    by_key = {w.window_key: (w.end_ms, w.figures) for w in past}
    by_key.update({v.window_key: (v.end_ms, v.figures) for v in computed})
    pairs = [
        (row.get("estimate"), row.get("realised"))
        for _, figures in sorted(by_key.values(), key=lambda item: item[0])
        for row in [((figures.get("comparison") or {}).get("rows") or {}).get("accuracy") or {}]
        if row
    ]
    error = estimate_error([e for e, _ in pairs], [r for _, r in pairs])
    record = {
        "metric": "accuracy",
        "n_windows": error.n_windows,
        "mean_absolute_error": error.mean_absolute_error,
        "worst_error": error.worst_error,
        "mean_error": error.mean_error,
    }
    for values in computed:
        if values.figures.get("estimate") is not None:
            values.figures["estimate_error"] = record
