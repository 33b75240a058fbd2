"""Alertmanager and Grafana posting to the prediction server: behind the admin token, one
event per alert however often a group is re-sent, clear 4xx for bad bodies."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from conveyor import store as st
from support.serving import run_server, serving_project

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("store_url", ["sqlite"], indirect=True),
]
ADMIN = "adm-0123456789abcdef"
PAYLOAD: dict[str, Any] = {
    "version": "4",
    "groupKey": '{}:{alertname="ConveyorDrift"}',
    "status": "firing",
    "receiver": "conveyor",
    "groupLabels": {"alertname": "ConveyorDrift"},
    "commonLabels": {"alertname": "ConveyorDrift"},
    "commonAnnotations": {},
    "externalURL": "http://alertmanager:9093",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "ConveyorDrift", "model": "churn"},
            "annotations": {"summary": "PSI above 0.2"},
            "startsAt": "2026-12-01T10:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph",
            "fingerprint": "a1b2c3d4e5f60718",
        },
        {
            "status": "firing",
            "labels": {"alertname": "ConveyorLatency", "route": "/invocations"},
            "annotations": {},
            "startsAt": "2026-12-01T10:01:00Z",
            "fingerprint": "0123456789abcdef",
        },
    ],
}


def test_alertmanager_posts_become_signal_events_once(make_project) -> None:  # type: ignore[no-untyped-def]
    ws = make_project("")
    serving_project(ws)
    admin = {"authorization": f"Bearer {ADMIN}"}
    resolved = copy.deepcopy(PAYLOAD)
    resolved["status"] = "resolved"
    resolved["alerts"] = [
        dict(PAYLOAD["alerts"][0], status="resolved", endsAt="2026-12-01T11:00:00Z")
    ]
    grafana = dict(copy.deepcopy(PAYLOAD), orgId=1, title="[FIRING:2]", state="alerting")
    grafana["alerts"][0]["valueString"] = "[ var='A' value=0.31 ]"
    env = {"CONVEYOR_SERVE_ADMIN_TOKEN": ADMIN}
    with run_server(ws, args=("--no-log",), env=env) as server, server.client() as http:
        first = http.post("/signals/alertmanager", json=PAYLOAD, headers=admin)
        again = http.post("/signals/alertmanager", json=PAYLOAD, headers=admin)
        ended = http.post("/signals/alertmanager", json=resolved, headers=admin)
        from_grafana = http.post("/signals/alertmanager", json=grafana, headers=admin)
        no_token = http.post("/signals/alertmanager", json=PAYLOAD)
        not_json = http.post(
            "/signals/alertmanager",
            content=b"{nope",
            headers={**admin, "content-type": "application/json"},
        )
        broken = copy.deepcopy(PAYLOAD)
        broken["alerts"][1]["startsAt"] = "half past ten"
        bad = http.post("/signals/alertmanager", json=broken, headers=admin)
        huge = http.post("/signals/alertmanager", content=b" " * (9 * 1024 * 1024), headers=admin)
    assert first.status_code == 200, first.text
    assert first.json()["n_alerts"] == 2 and first.json()["n_recorded"] == 2
    assert again.json() == {"n_alerts": 2, "n_recorded": 0, "n_repeated": 2, "event_ids": []}
    assert ended.json()["n_recorded"] == 1  # a resolution is news
    assert from_grafana.json()["n_recorded"] == 2  # another sender, its own alerts
    assert no_token.status_code == 401
    assert not_json.status_code == 400 and "not valid JSON" in not_json.json()["error"]
    assert bad.status_code == 422
    assert "alerts.1.startsAt" in bad.json()["error"] and "half past" not in bad.json()["error"]
    assert huge.status_code == 413
    events = st.read_events(ws.store, types=["io.conveyor.signal.received"])
    assert len(events) == 5
    drift = events[0]
    assert drift.subject == "signals/alertmanager/ConveyorDrift"
    assert drift.data["labels"] == {"alertname": "ConveyorDrift", "model": "churn"}
    assert drift.data["status"] == "firing" and drift.data["ends_at"] is None
    assert events[2].data["status"] == "resolved"
    assert {e.data["sender"] for e in events[3:]} == {"grafana"}
    assert ADMIN not in json.dumps([e.data for e in events]) and ADMIN not in server.output()
