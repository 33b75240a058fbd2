"""Firing the triggers of ``[automate.triggers]``: from events in the log to queued runs,
each firing once however many controllers look.

A trigger reads the events of its kind from the event log (a drift alarm of its
deployment, a decay, a new snapshot of its dataset, an Alertmanager or Grafana alert whose
labels include its ``match``), younger than its ``max_age``. Each event is a *firing*,
keyed so that the same cause is the same firing: a drift alarm by its monitor window, a
snapshot by its version, anything else by the event's id. Firing it:

1. **claim** the ``(trigger, key)`` row (:func:`conveyor.store.claim_trigger`): one
   controller wins; the others are told it is taken, which is not an error;
2. **start or coalesce** in one transaction (:func:`conveyor.store.start_claim_unless_busy`):
   a queued run of the trigger's pipeline, tagged with the trigger, the reason and the
   figures that caused it; or, when a run of that pipeline is already queued or running
   or the trigger started one within its ``cooldown``, the firing is recorded as
   coalesced with that reason.

A queued run is the controller's (or ``conveyor runs resume RUN``'s) to execute.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .. import store as st
from ..core import (
    DECAY_DETECTED,
    DRIFT_DETECTED,
    DRIFT_SUSPECTED,
    SIGNAL_RECEIVED,
    SNAPSHOT_CREATED,
    NotFoundError,
    did_you_mean,
    now_ms,
)
from ._triggers import set_trigger

if TYPE_CHECKING:
    from ..core import TriggerSettings
    from ..workspace import Workspace

Outcome = Literal["started", "coalesced", "taken"]
# Run tags a firing's run carries.
TRIGGER_TAG = "conveyor.trigger"
REASON_TAG = "conveyor.reason"
FIRING_TAG = "conveyor.firing"


@dataclass(frozen=True)
class Firing:
    """One firing of a trigger and what came of it: ``started`` (its run is queued),
    ``coalesced`` (``reason`` says into what) or ``taken`` (another controller has it)."""

    trigger: str
    key: str
    cause: str
    outcome: Outcome
    run_id: int | None = None
    reason: str = ""
    figures: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "trigger": self.trigger,
            "key": self.key,
            "cause": self.cause,
            "outcome": self.outcome,
            "run_id": self.run_id,
            "reason": self.reason,
            "figures": self.figures,
        }


@dataclass(frozen=True)
class _Cause:
    key: str
    text: str
    figures: dict[str, Any]


def sync_triggers(ws: Workspace) -> dict[str, st.TriggerRecord]:
    """Write ``[automate.triggers]`` to the store (so each firing has a row to be claimed
    against) and return the records by name."""
    return {
        name: set_trigger(
            ws,
            name,
            kind=spec.kind,
            pipeline=spec.pipeline,
            config=spec.model_dump(exclude={"kind", "pipeline", "enabled", "timezone"}),
            timezone=spec.timezone,
            enabled=spec.enabled,
        )
        for name, spec in ws.config.automate.triggers.items()
    }


def _scheduled(spec: TriggerSettings, record: st.TriggerRecord, now: int) -> list[_Cause]:
    """The latest ``cron`` time at or before ``now``, if it is younger than ``max_age`` and
    than the trigger itself: times missed while no controller ran fire once, not each."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from croniter import croniter

    moment = datetime.fromtimestamp(now / 1000, UTC).astimezone(ZoneInfo(spec.timezone))
    due = croniter(spec.cron, moment).get_prev(datetime)
    due_ms = int(due.timestamp() * 1000)
    if due_ms < max(record.created_at, now - int(spec.max_age * 1000)):
        return []
    at = due.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")
    return [_Cause(f"schedule:{at}", f"scheduled for {at} ({spec.cron})", {"due": at})]


def _causes(
    ws: Workspace, spec: TriggerSettings, record: st.TriggerRecord, *, after: int, now: int
) -> list[_Cause]:
    if spec.kind == "schedule":
        return _scheduled(spec, record, now)
    types = {
        "drift": [DRIFT_DETECTED] if spec.level == "drift" else [DRIFT_DETECTED, DRIFT_SUSPECTED],
        "decay": [DECAY_DETECTED],
        "new_data": [SNAPSHOT_CREATED],
        "webhook": [SIGNAL_RECEIVED],
    }.get(spec.kind)
    if not types:
        return []
    oldest = now - int(spec.max_age * 1000)
    causes: list[_Cause] = []
    seen: set[str] = set()
    for event in st.read_events(ws.store, after=after, types=types, limit=10_000):
        data = dict(event.data or {})
        if event.time < oldest:
            continue
        if spec.kind in ("drift", "decay"):
            if data.get("deployment") != spec.deployment:
                continue
            if spec.kind == "drift":
                key = f"drift:{spec.deployment}:{data.get('window')}"
                text = (
                    f"{data.get('level', 'drift')} on {spec.deployment} in window "
                    f"{data.get('window')}: {', '.join(data.get('columns') or [])}"
                )
            else:
                key = f"decay:{event.id}"
                text = f"live performance of {spec.deployment} dropped (event {event.id})"
        elif spec.kind == "new_data":
            if data.get("dataset") != spec.dataset:
                continue
            key = f"snapshot:{spec.dataset}/{data.get('version')}"
            text = f"new snapshot datasets:/{spec.dataset}/{data.get('version')}"
        else:
            labels = data.get("labels") or {}
            if data.get("status") != "firing" or any(
                labels.get(k) != v for k, v in spec.match.items()
            ):
                continue
            key = f"signal:{event.id}"
            text = f"alert {labels.get('alertname', event.subject)} is firing"
        if key not in seen:  # the same cause reported twice is one firing
            seen.add(key)
            causes.append(_Cause(key, text, {"event_id": event.id, "type": event.type, **data}))
    return causes


def fire_triggers(
    ws: Workspace,
    *,
    owner: str,
    after: dict[str, int] | None = None,
    now: int | None = None,
) -> tuple[list[Firing], dict[str, int]]:
    """Fire every enabled trigger on the events logged after ``after[trigger]`` (0 when
    absent) and return the firings and where each trigger's reading got to.

    Args:
        owner: This controller's name (the holder of the claims it wins).
        after: Per trigger, the last event id already read (a controller keeps it between
            calls; starting from 0 is safe: a firing already claimed is ``taken``).
    """
    now = now_ms() if now is None else now
    records = sync_triggers(ws)
    cursor = dict(after or {})
    last = st.last_event_id(ws.store)
    fired: list[Firing] = []
    for name, spec in ws.config.automate.triggers.items():
        if not spec.enabled or spec.kind == "manual":
            continue
        for cause in _causes(ws, spec, records[name], after=cursor.get(name, 0), now=now):
            fired.append(_fire(ws, name, spec, records[name], cause, owner=owner))
        cursor[name] = last
    return fired, cursor


def trigger_now(ws: Workspace, name: str, *, owner: str, reason: str = "") -> Firing:
    """Fire trigger ``name`` by hand (``conveyor trigger NAME``), whatever its kind.

    Raises:
        NotFoundError: ``[automate.triggers]`` has no such trigger.
    """
    triggers = ws.config.automate.triggers
    if name not in triggers:
        raise NotFoundError(
            f"No trigger named {name!r} in [automate.triggers].{did_you_mean(name, triggers)}",
            hint="Declare one in conveyor.toml, e.g. [automate.triggers.retrain] with "
            'kind = "manual" and pipeline = "NAME".',
        )
    record = sync_triggers(ws)[name]
    text = reason or "fired by hand"
    cause = _Cause(f"manual:{now_ms()}:{uuid.uuid4().hex[:8]}", text, {})
    return _fire(ws, name, triggers[name], record, cause, owner=owner)


def _fire(
    ws: Workspace,
    name: str,
    spec: TriggerSettings,
    record: st.TriggerRecord,
    cause: _Cause,
    *,
    owner: str,
) -> Firing:
    lease = ws.config.automate.lease
    claimed = st.claim_trigger(ws.store, record.id, cause.key, owner, lease=lease)
    if not claimed.won:
        held = claimed.claim
        return Firing(
            name, cause.key, cause.text, "taken", reason=f"{held.status} by {held.claimed_by}"
        )
    started = st.start_claim_unless_busy(
        ws.store,
        claimed.claim.id,
        claimed.claim.attempt,
        cooldown=spec.cooldown,
        params=spec.params,
        tags={TRIGGER_TAG: name, REASON_TAG: cause.text, FIRING_TAG: cause.key},
    )
    if started.run is None:
        return Firing(
            name,
            cause.key,
            cause.text,
            "coalesced",
            reason=started.claim.reason,
            figures=cause.figures,
        )
    return Firing(
        name, cause.key, cause.text, "started", run_id=started.run.id, figures=cause.figures
    )


def trigger_history(ws: Workspace, *, last: int = 1) -> list[dict[str, Any]]:
    """The configured triggers with their number of firings and the ``last`` latest
    (JSON-ready), in the order ``[automate.triggers]`` lists them."""
    records = sync_triggers(ws)
    rows = []
    for name, spec in ws.config.automate.triggers.items():
        claims = st.list_claims(ws.store, records[name].id)
        latest = [c.to_dict() for c in claims[-last:]][::-1] if last else []
        rows.append(
            {
                "name": name,
                "kind": spec.kind,
                "pipeline": spec.pipeline,
                "enabled": spec.enabled,
                "cooldown": spec.cooldown,
                "n_firings": len(claims),
                "latest": latest[0] if latest else None,
            }
        )
    return rows
