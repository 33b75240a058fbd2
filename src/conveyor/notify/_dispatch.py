"""From events to alerts: a dispatcher reads the event log after its cursor, turns the
events people must hear about into alerts, sends them, and moves its cursor (kept in the
store) past each event it handled.

A restart neither re-sends nor skips: the cursor moves after an event's alerts were claimed,
and each channel's claim of an event is unique in the store, so an event read again (a
crash between the two, a second dispatcher reading the same log) is alerted once per
channel.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import store as st
from ..core import (
    ALIAS_MOVED,
    DECAY_DETECTED,
    DEPLOYMENT_FAILED,
    DRIFT_DETECTED,
    DRIFT_SUSPECTED,
    EVALUATION_FAILED,
    RUN_FAILED,
    VALIDATION_FAILED,
    Resolver,
    now_ms,
)
from ._alert import Alert, Severity
from ._envelope import rfc3339
from ._service import Delivery, send_alert

if TYPE_CHECKING:
    from ..workspace import Workspace

log = logging.getLogger(__name__)

# The events that become alerts (the rest of the log does not).
ALERTED_EVENTS = (
    VALIDATION_FAILED,
    EVALUATION_FAILED,
    RUN_FAILED,
    DRIFT_SUSPECTED,
    DRIFT_DETECTED,
    DECAY_DETECTED,
    ALIAS_MOVED,
    DEPLOYMENT_FAILED,
)
# The reasons registry.rollback and a server restoring a failed swap record on a move.
_ROLLBACK_REASONS = ("rollback:", "deploy failed:")
_TEXT_MAX = 1500


def alert_for_event(event: st.EventRecord, *, champion_alias: str = "champion") -> Alert | None:
    """The alert ``event`` calls for, or None.

    Validation failures, failed evaluation gates, failed runs, drift (suspected and
    detected), decay and failed deployments each make one; an alias move makes a
    ``model.rolled_back`` alert when it was a rollback (or a server restoring the alias
    after a failed swap) and a ``model.promoted`` alert when it moved ``champion_alias``;
    other moves make none.
    """
    data: Mapping[str, Any] = event.data
    made = _MAKERS.get(event.type)
    if made is None:
        return None
    found = made(event, data, champion_alias)
    if found is None:
        return None
    kind, severity, title, text = found
    return Alert(
        kind=kind,
        severity=severity,
        title=_line(title),
        text=text[:_TEXT_MAX],
        subject=event.subject,
        event_id=event.id,
        details=dict(data),
        source=event.source,
        time_ms=event.time,
    )


_Made = tuple[str, Severity, str, str] | None


def _run_failed(event: st.EventRecord, data: Mapping[str, Any], _alias: str) -> _Made:
    run = data.get("run_id", event.subject)
    error = data.get("error") or "no error message was recorded"
    return (
        "run.failed",
        "critical",
        f"Run {run} of pipeline {data.get('pipeline', '?')!r} failed",
        f"{error}\nResume it with: conveyor runs resume {run}",
    )


def _validation_failed(event: st.EventRecord, data: Mapping[str, Any], _alias: str) -> _Made:
    dataset = data.get("dataset") or event.subject
    lines = [
        f"{e.get('column')}: {e.get('rule')} ({e.get('n_failed')} rows)"
        for e in data.get("errors", [])
        if isinstance(e, Mapping)
    ]
    return (
        "validation.failed",
        "warning",
        f"Data validation failed on {dataset!r}",
        "\n".join(lines) or "The data broke a rule of its schema.",
    )


def _evaluation_failed(event: st.EventRecord, data: Mapping[str, Any], _alias: str) -> _Made:
    model, version = data.get("model", "?"), data.get("version", "?")
    gates = [g for g in data.get("failed_gates", []) if isinstance(g, Mapping)]
    text = "\n".join(f"{g.get('name')}: {g.get('reason')}" for g in gates)
    return (
        "evaluation.failed",
        "warning",
        f"Version {version} of model {model!r} failed its evaluation gates",
        text or f"Evaluation {data.get('evaluation_id')} did not pass.",
    )


def _monitoring(kind: str, severity: Severity, what: str) -> Callable[..., _Made]:
    def make(event: st.EventRecord, data: Mapping[str, Any], _alias: str) -> _Made:
        about = event.subject or data.get("deployment") or data.get("model") or "a model"
        model, version = data.get("model"), data.get("version")
        serving = f" (models:/{model}/{version})" if model and version is not None else ""
        lines = []
        if data.get("columns"):
            lines.append("Columns: " + ", ".join(str(c) for c in data["columns"]))
        if isinstance(data.get("start_ms"), int) and isinstance(data.get("end_ms"), int):
            start, end = rfc3339(data["start_ms"]), rfc3339(data["end_ms"])
            lines.append(f"Window: {start} to {end}")
        shown = {"columns", "start_ms", "end_ms", "model", "version", "deployment"}
        rest = _facts({k: v for k, v in data.items() if k not in shown})
        text = "\n".join([*lines, rest] if rest else lines)
        return kind, severity, f"{what} on {about}{serving}", text

    return make


def _alias_moved(event: st.EventRecord, data: Mapping[str, Any], champion_alias: str) -> _Made:
    model, alias = data.get("model", "?"), data.get("alias", "?")
    to, was = data.get("to_version"), data.get("from_version")
    reason = str(data.get("reason") or "")
    was_text = f"from version {was}" if was is not None else "newly created"
    if reason.startswith(_ROLLBACK_REASONS):
        return (
            "model.rolled_back",
            "warning",
            f"{model}@{alias} rolled back to version {to} ({was_text})",
            reason,
        )
    if alias != champion_alias:
        return None
    return (
        "model.promoted",
        "info",
        f"{model}@{alias} now serves version {to} ({was_text})",
        reason or "Promoted.",
    )


def _deployment_failed(event: st.EventRecord, data: Mapping[str, Any], _alias: str) -> _Made:
    return (
        "deployment.failed",
        "critical",
        f"Deployment {data.get('deployment', event.subject)!r} refused version "
        f"{data.get('version', '?')} of model {data.get('model', '?')!r}",
        f"{data.get('reason', '')}\nIt still serves version {data.get('serving_version', '?')}.",
    )


_MAKERS: dict[str, Callable[[st.EventRecord, Mapping[str, Any], str], _Made]] = {
    RUN_FAILED: _run_failed,
    VALIDATION_FAILED: _validation_failed,
    EVALUATION_FAILED: _evaluation_failed,
    DRIFT_SUSPECTED: _monitoring("drift.suspected", "info", "Drift suspected"),
    DRIFT_DETECTED: _monitoring("drift.detected", "warning", "Drift detected"),
    DECAY_DETECTED: _monitoring("decay.detected", "warning", "Live performance dropped"),
    ALIAS_MOVED: _alias_moved,
    DEPLOYMENT_FAILED: _deployment_failed,
}


def _facts(data: Mapping[str, Any]) -> str:
    """The event's plain values, one ``key: value`` line each."""
    lines = []
    for key, value in data.items():
        if isinstance(value, str | int | float | bool) or value is None:
            lines.append(f"{key}: {value}")
        elif isinstance(value, list) and len(value) <= 10:
            lines.append(f"{key}: {', '.join(str(v) for v in value)}")
    return "\n".join(lines)


def _line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 200 else text[:199] + "…"


@dataclass
class DispatchResult:
    """What one dispatch did.

    Attributes:
        cursor: The id of the last event handled (where the next dispatch starts).
        n_events: Events read.
        n_alerts: Alerts made from them.
        n_stale: Events older than ``notify.max_age``, skipped.
        deliveries: One per channel per alert.
    """

    cursor: int
    n_events: int = 0
    n_alerts: int = 0
    n_stale: int = 0
    deliveries: list[Delivery] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "cursor": self.cursor,
            "n_events": self.n_events,
            "n_alerts": self.n_alerts,
            "n_stale": self.n_stale,
            "deliveries": [d.to_dict() for d in self.deliveries],
        }


def dispatch_alerts(
    ws: Workspace,
    *,
    name: str = "default",
    limit: int = 500,
    follow: bool = False,
    stop_after: float | None = None,
    on_delivery: Callable[[Delivery], None] | None = None,
    env: Mapping[str, str] | None = None,
    resolver: Resolver | None = None,
) -> DispatchResult:
    """Alert on the events after dispatcher ``name``'s cursor, and move the cursor.

    Once (for tests and cron): up to ``limit`` events, then return. With ``follow``, keep
    reading new events every ``notify.dispatch_interval`` until ``stop_after`` seconds
    passed (forever without it). Events older than ``notify.max_age`` are skipped (a
    first start on an old log, a long outage). Several dispatchers may run at once.

    Args:
        on_delivery: Called with each delivery as it ends (to print progress).

    Example:
        >>> dispatch_alerts(ws).n_alerts  # doctest: +SKIP
        2
    """
    result = DispatchResult(cursor=st.get_alert_cursor(ws.store, name))
    deadline = None if stop_after is None else time.monotonic() + stop_after
    while True:
        n_read = _once(ws, name, limit, result, on_delivery, env, resolver)
        if not follow:
            return result
        if deadline is not None and time.monotonic() >= deadline:
            return result
        if n_read < limit:  # caught up: wait for new events
            pause = ws.config.notify.dispatch_interval
            if deadline is not None:
                pause = max(0.0, min(pause, deadline - time.monotonic()))
            time.sleep(pause)


def _once(
    ws: Workspace,
    name: str,
    limit: int,
    result: DispatchResult,
    on_delivery: Callable[[Delivery], None] | None,
    env: Mapping[str, str] | None,
    resolver: Resolver | None,
) -> int:
    settings = ws.config.notify
    events = st.read_events(
        ws.store, after=st.get_alert_cursor(ws.store, name), types=ALERTED_EVENTS, limit=limit
    )
    oldest = now_ms() - int(settings.max_age * 1000)
    for event in events:
        result.n_events += 1
        if event.time < oldest:
            result.n_stale += 1
        else:
            alert = alert_for_event(event, champion_alias=ws.config.registry.champion_alias)
            if alert is not None:
                result.n_alerts += 1
                for delivery in send_alert(ws, alert, env=env, resolver=resolver):
                    result.deliveries.append(delivery)
                    if on_delivery is not None:
                        on_delivery(delivery)
        # After the event's claims: a crash before this line reads the event again, and
        # its claims make it go out once per channel all the same.
        result.cursor = st.advance_alert_cursor(ws.store, name, event.id)
    return len(events)
