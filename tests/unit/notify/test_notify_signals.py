"""Alertmanager and Grafana webhook payloads: accepted as they are sent, refused with the
field named (never its value) when they are not."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from conveyor.core import InvalidValueError
from conveyor.notify import parse_alertmanager

ALERTMANAGER: dict[str, Any] = {
    "version": "4",
    "groupKey": '{}:{alertname="ConveyorDrift"}',
    "truncatedAlerts": 0,
    "status": "firing",
    "receiver": "conveyor",
    "groupLabels": {"alertname": "ConveyorDrift"},
    "commonLabels": {"alertname": "ConveyorDrift", "severity": "warning"},
    "commonAnnotations": {"summary": "Drift on churn"},
    "externalURL": "http://alertmanager:9093",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "ConveyorDrift", "model": "churn"},
            "annotations": {"summary": "PSI above 0.2"},
            "startsAt": "2026-12-01T10:00:00.000Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph?g0.expr=x",
            "fingerprint": "c6b5a4d3e2f1a0b9",
        }
    ],
}
# Grafana's unified alerting adds fields of its own.
GRAFANA: dict[str, Any] = {
    **copy.deepcopy(ALERTMANAGER),
    "orgId": 1,
    "title": "[FIRING:1] ConveyorDrift",
    "state": "alerting",
    "message": "**Firing**",
}
GRAFANA["alerts"][0].update(
    {"values": {"A": 0.31}, "valueString": "[ var='A' value=0.31 ]", "silenceURL": "http://g"}
)


def test_an_alertmanager_payload_parses() -> None:
    parsed = parse_alertmanager(ALERTMANAGER)
    assert parsed.status == "firing" and len(parsed.alerts) == 1
    alert = parsed.alerts[0]
    assert alert.labels["model"] == "churn" and alert.fingerprint == "c6b5a4d3e2f1a0b9"
    assert alert.startsAt.year == 2026 and alert.endsAt is not None and alert.endsAt.year == 1


def test_a_grafana_payload_parses_with_its_extra_fields() -> None:
    parsed = parse_alertmanager(GRAFANA)
    assert parsed.model_extra is not None and parsed.model_extra["orgId"] == 1
    assert parsed.alerts[0].labels["alertname"] == "ConveyorDrift"


def broken(path: list[Any], value: Any = None, *, delete: bool = False) -> dict[str, Any]:
    payload = copy.deepcopy(ALERTMANAGER)
    target: Any = payload
    for part in path[:-1]:
        target = target[part]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return payload


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (broken(["status"], "pending"), "status: Input should be 'firing' or 'resolved'"),
        (broken(["alerts"], delete=True), "alerts: Field required"),
        (broken(["alerts"], "many"), "alerts: Input should be a valid list"),
        (broken(["alerts", 0, "startsAt"], "yesterday-ish"), "alerts.0.startsAt:"),
        (broken(["alerts", 0, "labels"], delete=True), "alerts.0.labels: Field required"),
        (broken(["alerts", 0, "labels"], {"x": 1}), "alerts.0.labels.x:"),
        (broken(["alerts", 0, "status"], "ok"), "alerts.0.status:"),
        (broken(["alerts", 0, "fingerprint"], "f" * 200), "alerts.0.fingerprint:"),
        (broken(["alerts", 0, "labels"], {"x": "a\x00b"}), "alerts.0.labels.x:"),
        (broken(["commonLabels"], {"a\x00": "b"}), "commonLabels.a\x00.[key]:"),
        (broken(["alerts"], [ALERTMANAGER["alerts"][0]] * 1001), "alerts: List should have"),
    ],
)
def test_bad_payloads_name_the_field(payload: dict[str, Any], fragment: str) -> None:
    with pytest.raises(InvalidValueError) as info:
        parse_alertmanager(payload)
    assert fragment in info.value.message
    assert "yesterday-ish" not in info.value.message  # values are never echoed


@pytest.mark.parametrize("payload", [[], "firing", 3, None])
def test_a_body_that_is_no_object_is_refused(payload: Any) -> None:
    with pytest.raises(InvalidValueError, match="must be a JSON object"):
        parse_alertmanager(payload)
