"""The drift monitor of a deployment: every closed window of its prediction log compared
with the served version's reference, column by column, under a false-alarm budget.

One run (:func:`run_drift_monitor`) computes the windows closed since the last run:

1. the window's rows (``monitor.window`` by time, or ``monitor.window_rows`` by count);
2. per column (the model's inputs, the enriched features and the prediction): the drift
   statistic Evidently would choose for its type and size, the textbook verdict, null and
   out-of-range rates;
3. each statistic's p-value among the same statistic on windows of the same size drawn
   from the reference (computed once per version and size, kept in the artifact store);
4. the window is *flagged* at a level when a column's p-value is at or below the level's
   Šidák per-column bound; ``warning`` and ``drift`` alarms follow from their persistence
   and cooldown (see :mod:`conveyor.monitor._budget`).

The windows, the monitor's state and the alarm events commit in one transaction, so a
window's alarm is in the event log once. A process that loses the race to another
computing the same monitor stops: the other's result stands.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import store as st
from ..core import DRIFT_DETECTED, DRIFT_SUSPECTED, ConflictError, InvalidValueError, now_ms
from ..serve.runtime import get_deployment
from ._budget import AlarmLevel, draws_needed, empirical_p_values
from ._drift_window import (
    CALIBRATION_ROWS,
    column_names,
    compare,
    null_statistics,
    prepare,
    rescaled,
)
from ._log import Window, count_windows, time_windows
from ._reference import load_reference

if TYPE_CHECKING:
    import numpy as np

    from ..workspace import Workspace

DRIFT = "drift"
PREDICTION = "outputs.prediction"
# Windows computed per run at most (a run that falls behind catches up over several).
MAX_WINDOWS = 500
_SEED = 20261201


@dataclass(frozen=True)
class MonitorWindow:
    """One computed window: its key, span, size, the version that served most of it, its
    status (``ok``, ``flagged``, ``warning``, ``drift``, ``insufficient``) and the figures
    behind the status."""

    deployment: str
    monitor: str
    key: str
    start_ms: int
    end_ms: int
    n_rows: int
    model: str | None
    version: int | None
    status: str
    figures: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_record(cls, record: st.MonitorWindowRecord) -> MonitorWindow:
        return cls(
            record.deployment,
            record.monitor,
            record.window_key,
            record.start_ms,
            record.end_ms,
            record.n_rows,
            record.model,
            record.version,
            record.status,
            dict(record.figures),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "deployment": self.deployment,
            "monitor": self.monitor,
            "key": self.key,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "n_rows": self.n_rows,
            "model": self.model,
            "version": self.version,
            "status": self.status,
            "figures": self.figures,
        }


@dataclass(frozen=True)
class MonitorRun:
    """What one run of a monitor did: the windows it computed and the alarms they raised."""

    deployment: str
    monitor: str
    windows: list[MonitorWindow]
    alarms: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "deployment": self.deployment,
            "monitor": self.monitor,
            "windows": [w.to_dict() for w in self.windows],
            "alarms": self.alarms,
        }


def alarm_levels(ws: Workspace) -> tuple[AlarmLevel, AlarmLevel]:
    """The ``warning`` and ``drift`` levels ``[monitor]`` configures.

    Raises:
        InvalidValueError: a budget cannot be met with its persistence and the cooldown.
    """
    cfg = ws.config.monitor
    try:
        return (
            AlarmLevel("warning", cfg.warning_every, *cfg.warning_persistence, cfg.cooldown),
            AlarmLevel("drift", cfg.drift_every, *cfg.drift_persistence, cfg.cooldown),
        )
    except InvalidValueError as exc:
        raise InvalidValueError(
            f"The [monitor] budgets cannot be met: {exc.message}",
            hint="Raise monitor.warning_every / monitor.drift_every, or lower monitor.cooldown.",
        ) from None


class _Calibrated:
    """A version's reference, prepared for the drift statistics, and the null draws of
    each statistic per window size (read from the artifact store or computed once)."""

    def __init__(self, ws: Workspace, model: str, version: int, columns: list[str]) -> None:
        self.ws = ws
        self.data = load_reference(ws, model, version, columns, seed=_SEED)
        self.prepared = prepare(self.data.rows, self.data.outputs, ws.config.monitor.methods)
        self.columns = column_names(self.prepared)
        methods = json.dumps(ws.config.monitor.methods, sort_keys=True)
        self.key = hashlib.sha256(
            f"{model}/{version}|{self.data.source}|{self.data.rows.num_rows}|{methods}|"
            f"{','.join(self.columns)}".encode()
        ).hexdigest()[:16]

    def null(self, state: dict[str, Any], rows: int, draws: int) -> np.ndarray:
        """The ``(draws, columns)`` null statistics for windows of ``rows`` rows."""
        import numpy as np

        cache = state.setdefault("calibration", {}).setdefault(self.key, {})
        entry = cache.get(str(rows))
        if entry is not None and entry["draws"] >= draws:
            data = self.ws.artifacts.get_bytes(entry["digest"])
            return np.asarray(np.load(io.BytesIO(data), allow_pickle=False))
        matrix: np.ndarray = null_statistics(self.prepared, rows, draws, seed=_SEED + rows)
        buffer = io.BytesIO()
        np.save(buffer, matrix, allow_pickle=False)
        digest = self.ws.artifacts.put_bytes(buffer.getvalue()).digest
        cache[str(rows)] = {"digest": digest, "draws": draws}
        return matrix


def _bucket(n: int, exact: bool) -> int:
    """The window size a window of ``n`` rows is calibrated at: itself when windows are
    cut by count; else the power of 2**(1/4) at or below it (a smaller size's null is
    wider, so rounding down keeps the false-alarm rate at or under the budget); at most
    :data:`CALIBRATION_ROWS`, beyond which scores are rescaled to it."""
    if n > CALIBRATION_ROWS:
        return CALIBRATION_ROWS
    if exact:
        return n
    return max(2, int(2 ** (math.floor(4 * math.log2(n)) / 4)))


def _version_of(window: Window) -> tuple[str | None, int | None]:
    counts = Counter(
        zip(
            window.rows.column("model").to_pylist(),
            window.rows.column("model_version").to_pylist(),
            strict=True,
        )
    )
    if not counts:
        return None, None
    (model, version), _ = counts.most_common(1)[0]
    return model, version


def run_drift_monitor(
    ws: Workspace, deployment: str, *, now: int | None = None, max_windows: int = MAX_WINDOWS
) -> MonitorRun:
    """Compute the drift windows of ``deployment`` closed since the last run.

    Args:
        now: The time (Unix ms) windows are closed against; defaults to the clock.
        max_windows: Compute at most this many windows (the rest wait for the next run).

    Raises:
        NotFoundError: no such deployment, or no reference for its version.
        InvalidValueError: the ``[monitor]`` settings cannot be met.
    """
    cfg = ws.config.monitor
    warning, drift = alarm_levels(ws)
    record = get_deployment(ws, deployment)
    saved = st.get_monitor_state(ws.store, deployment, DRIFT)
    revision = 0 if saved is None else saved.revision
    state: dict[str, Any] = json.loads(json.dumps(saved.state)) if saved is not None else {}
    by_count = cfg.window_rows > 0
    if by_count:
        windows, cursor = count_windows(
            ws,
            deployment,
            rows=cfg.window_rows,
            cursor=state.get("cursor") if state.get("by") == "count" else None,
            max_windows=max_windows,
        )
        state["cursor"] = cursor
    else:
        width = int(cfg.window * 1000)
        next_start = state.get("next_start") if state.get("by") == f"time:{width}" else None
        windows, next_start = time_windows(
            ws,
            deployment,
            width_ms=width,
            grace_ms=int(cfg.grace * 1000),
            now_ms=now_ms() if now is None else now,
            next_start_ms=next_start,
            max_windows=max_windows,
        )
        state["next_start"] = next_start
    state["by"] = "count" if by_count else f"time:{int(cfg.window * 1000)}"
    if not windows:
        return MonitorRun(deployment, DRIFT, [], [])

    features = [str(ref).split(":", 1)[-1] for ref in record.config.get("features") or ()]
    calibrated: dict[tuple[str, int], _Calibrated] = {}
    levels = state.setdefault("levels", {})
    computed: list[st.WindowValues] = []
    events: list[tuple[str, str, dict[str, Any]]] = []
    alarms: list[dict[str, Any]] = []
    for window in windows:
        model, version = _version_of(window)
        if window.n_rows < cfg.min_rows or model is None or version is None:
            short: dict[str, Any] = {"n_rows": window.n_rows, "min_rows": cfg.min_rows}
            computed.append(
                st.WindowValues(
                    window.key,
                    window.start_ms,
                    window.end_ms,
                    window.n_rows,
                    "insufficient",
                    short,
                    model,
                    version,
                )
            )
            continue
        if (model, version) not in calibrated:
            from .. import registry

            inputs = [
                c["name"]
                for c in registry.get_model(ws, f"models:/{model}/{version}").signature.get(
                    "inputs"
                )
                or ()
                if "name" in c
            ]
            calibrated[(model, version)] = _Calibrated(
                ws, model, version, list(dict.fromkeys([*inputs, *features]))
            )
        ref = calibrated[(model, version)]
        report = compare(ref.prepared, window.rows)
        n_columns = len(report.columns)
        bound_w, bound_d = warning.feature_p(n_columns), drift.feature_p(n_columns)
        rows = _bucket(window.n_rows, by_count)
        null = ref.null(state, rows, draws_needed(min(bound_w, bound_d)))
        big = window.n_rows > CALIBRATION_ROWS
        scores = rescaled(ref.prepared, report, rows) if big else report.scores
        p_values = empirical_p_values(scores, null)
        flagged_w = bool((p_values <= bound_w).any())
        flagged_d = bool((p_values <= bound_d).any())
        alarm_w, levels["warning"] = warning.advance(levels.get("warning"), flagged_w)
        alarm_d, levels["drift"] = drift.advance(levels.get("drift"), flagged_d)
        status = "drift" if alarm_d else "warning" if alarm_w else "flagged" if flagged_w else "ok"
        columns = [
            {
                **column,
                "p_value": float(p),
                "flagged": {"warning": bool(p <= bound_w), "drift": bool(p <= bound_d)},
            }
            for column, p in zip(report.figures, p_values, strict=True)
        ]
        figures: dict[str, Any] = {
            "reference": ref.data.source,
            "n_reference": ref.data.rows.num_rows,
            "calibration": {
                "rows": rows,
                "draws": int(null.shape[0]),
                "rescaled": big,
            },
            "columns": columns,
            "share_flagged": sum(c["flagged"]["warning"] for c in columns) / max(1, n_columns),
            "share_drifted": report.share_drifted,
            "dataset_drift": report.dataset_drift,
            "levels": {
                level.name: {
                    **level.to_dict(),
                    "column_p": bound,
                    "flagged": flagged,
                    "alarm": alarm,
                    "cooling": int(levels[level.name]["cooldown"]),
                }
                for level, bound, flagged, alarm in (
                    (warning, bound_w, flagged_w, alarm_w),
                    (drift, bound_d, flagged_d, alarm_d),
                )
            },
        }
        computed.append(
            st.WindowValues(
                window.key,
                window.start_ms,
                window.end_ms,
                window.n_rows,
                status,
                figures,
                model,
                version,
            )
        )
        for level, alarm, type_ in (
            (drift, alarm_d, DRIFT_DETECTED),
            (warning, alarm_w, DRIFT_SUSPECTED),
        ):
            if not alarm:
                continue
            flagged = [c["column"] for c in columns if c["flagged"][level.name]]
            alarm_data = {
                "deployment": deployment,
                "level": level.name,
                "window": window.key,
                "start_ms": window.start_ms,
                "end_ms": window.end_ms,
                "model": model,
                "version": version,
                "columns": flagged,
                "expected_windows_between_false_alarms": level.ert,
            }
            alarms.append(alarm_data)
            events.append((type_, f"deployments/{deployment}", alarm_data))
            break  # a drift alarm is also the warning: one event per window
    return commit_run(ws, deployment, DRIFT, state, revision, computed, events, alarms)


def commit_run(
    ws: Workspace,
    deployment: str,
    monitor: str,
    state: dict[str, Any],
    revision: int,
    computed: list[st.WindowValues],
    events: list[tuple[str, str, dict[str, Any]]],
    alarms: list[dict[str, Any]],
) -> MonitorRun:
    """Commit one run of ``monitor``: its windows, its new state and its alarm events in
    one transaction; a run that lost the race to another process commits nothing."""
    try:
        st.save_monitor_state(
            ws.store,
            deployment,
            monitor,
            state,
            expected_revision=revision,
            windows=computed,
            events=events,
        )
    except ConflictError:
        # Another process computed these windows first: its windows and alarms stand.
        return MonitorRun(deployment, monitor, [], [])
    done = [
        MonitorWindow(
            deployment,
            monitor,
            v.window_key,
            v.start_ms,
            v.end_ms,
            v.n_rows,
            v.model,
            v.version,
            v.status,
            v.figures,
        )
        for v in computed
    ]
    return MonitorRun(deployment, monitor, done, alarms)


def monitor_history(
    ws: Workspace,
    deployment: str,
    *,
    monitor: str | None = None,
    last: int = 24,
) -> list[MonitorWindow]:
    """The last ``last`` computed windows of ``deployment`` (of ``monitor``, or all),
    oldest first.

    Raises:
        NotFoundError: no such deployment.
    """
    records = st.list_monitor_windows(ws.store, deployment, monitor=monitor, limit=last)
    return [MonitorWindow.from_record(r) for r in records]
