"""Alerts from outside: Alertmanager and Grafana webhook payloads posted to conveyor.

Each alert in a payload becomes one ``io.conveyor.signal.received`` event, once per
(fingerprint, start, status), however often Alertmanager re-sends its group, so a
Prometheus rule (``conveyor_drift_detected == 1``, a latency SLO) can start a retrain
through the triggers that follow those events.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from .. import store as st
from ..core import InvalidValueError

if TYPE_CHECKING:
    from ..workspace import Workspace

MAX_ALERTS = 1000
# No NUL characters: PostgreSQL's JSON cannot hold them.
_NO_NUL = r"^[^\x00]*$"
_Text = Annotated[str, StringConstraints(max_length=4096, pattern=_NO_NUL)]
_Name = Annotated[str, StringConstraints(max_length=256, pattern=_NO_NUL)]
_Labels = Annotated[dict[_Name, _Text], Field(max_length=200)]
_SUBJECT_SAFE = re.compile(r"[^A-Za-z0-9_.:-]+")


class AlertmanagerAlert(BaseModel):
    """One alert of a payload (Grafana's extra fields are accepted and ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    status: Literal["firing", "resolved"]
    labels: _Labels
    annotations: _Labels = Field(default_factory=dict)
    startsAt: datetime
    endsAt: datetime | None = None
    generatorURL: _Text = ""
    fingerprint: Annotated[str, StringConstraints(max_length=128, pattern=_NO_NUL)] = ""


class AlertmanagerPayload(BaseModel):
    """An Alertmanager (webhook ``version`` 4) or Grafana alerting webhook payload."""

    model_config = ConfigDict(extra="allow", frozen=True)

    version: _Text = "4"
    status: Literal["firing", "resolved"]
    receiver: _Text = ""
    groupKey: _Text = ""
    alerts: Annotated[list[AlertmanagerAlert], Field(max_length=MAX_ALERTS)]
    groupLabels: _Labels = Field(default_factory=dict)
    commonLabels: _Labels = Field(default_factory=dict)
    commonAnnotations: _Labels = Field(default_factory=dict)
    externalURL: _Text = ""
    truncatedAlerts: int = 0


@dataclass
class SignalReceipt:
    """What a payload recorded: one event per new alert; repeats are counted, not kept."""

    n_alerts: int = 0
    n_recorded: int = 0
    n_repeated: int = 0
    event_ids: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_alerts": self.n_alerts,
            "n_recorded": self.n_recorded,
            "n_repeated": self.n_repeated,
            "event_ids": self.event_ids,
        }


def parse_alertmanager(payload: Any) -> AlertmanagerPayload:
    """``payload`` (decoded JSON) as an Alertmanager or Grafana webhook payload.

    Raises:
        InvalidValueError: naming each field that is missing or wrong (never its value).
    """
    if not isinstance(payload, Mapping):
        raise InvalidValueError(
            "An Alertmanager webhook body must be a JSON object with 'status' and 'alerts'. "
            f"Got {type(payload).__name__}.",
            hint="Point an Alertmanager webhook_config (or a Grafana webhook contact point) "
            "at /signals/alertmanager.",
        )
    try:
        return AlertmanagerPayload.model_validate(payload)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}"
            for err in exc.errors(include_input=False)[:10]
        ]
        raise InvalidValueError(
            "The Alertmanager webhook body is not valid: " + "; ".join(problems) + ".",
            hint='Send Alertmanager\'s webhook payload (version 4): {"status": "firing", '
            '"alerts": [{"status", "labels", "startsAt", ...}]}.',
        ) from None


def receive_alertmanager(ws: Workspace, payload: Any) -> SignalReceipt:
    """Record each alert of an Alertmanager or Grafana webhook payload as an
    ``io.conveyor.signal.received`` event, once per (fingerprint, start, status).

    Raises:
        InvalidValueError: the payload is not one (naming the fields at fault).

    Example:
        >>> receive_alertmanager(ws, {"status": "firing", "alerts": [...]})  # doctest: +SKIP
        SignalReceipt(n_alerts=1, n_recorded=1, n_repeated=0, event_ids=[57])
    """
    parsed = parse_alertmanager(payload)
    sender = "grafana" if parsed.model_extra and "orgId" in parsed.model_extra else "alertmanager"
    receipt = SignalReceipt(n_alerts=len(parsed.alerts))
    for alert in parsed.alerts:
        fingerprint = alert.fingerprint or _label_hash(alert.labels)
        starts = alert.startsAt.isoformat()
        key = hashlib.sha256(
            f"{sender}\0{fingerprint}\0{starts}\0{alert.status}".encode()
        ).hexdigest()
        name = alert.labels.get("alertname") or parsed.commonLabels.get("alertname") or "alert"
        ends = alert.endsAt if alert.endsAt is not None and alert.endsAt.year > 1 else None
        event_id, new = st.record_signal(
            ws.store,
            key,
            subject=f"signals/{sender}/{_SUBJECT_SAFE.sub('_', name)[:180]}",
            data={
                "sender": sender,
                "status": alert.status,
                "alertname": name,
                "labels": dict(alert.labels),
                "annotations": dict(alert.annotations),
                "starts_at": starts,
                "ends_at": ends.isoformat() if ends else None,
                "fingerprint": fingerprint,
                "generator_url": alert.generatorURL,
                "receiver": parsed.receiver,
                "group_key": parsed.groupKey,
                "external_url": parsed.externalURL,
            },
        )
        if new:
            receipt.n_recorded += 1
            receipt.event_ids.append(event_id)
        else:
            receipt.n_repeated += 1
    return receipt


def _label_hash(labels: Mapping[str, str]) -> str:
    text = "\0".join(f"{k}\0{v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
