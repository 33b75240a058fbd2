"""From events to alerts: which events make one, with what kind, severity and text."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor.core import (
    ALIAS_MOVED,
    DECAY_DETECTED,
    DEPLOYMENT_FAILED,
    DRIFT_DETECTED,
    DRIFT_SUSPECTED,
    EVALUATION_FAILED,
    EVALUATION_PASSED,
    RUN_FAILED,
    RUN_SUCCEEDED,
    SIGNAL_RECEIVED,
    VALIDATION_FAILED,
)
from conveyor.notify import ALERTED_EVENTS, alert_for_event
from conveyor.store import EventRecord


def event(type: str, subject: str, **data: Any) -> EventRecord:
    return EventRecord(
        id=9, type=type, source="/projects/shop", subject=subject, time=1_000, data=data
    )


def test_run_failure() -> None:
    alert = alert_for_event(event(RUN_FAILED, "runs/4", run_id=4, pipeline="train", error="boom"))
    assert alert is not None
    assert (alert.kind, alert.severity) == ("run.failed", "critical")
    assert alert.title == "Run 4 of pipeline 'train' failed"
    assert alert.text == "boom\nResume it with: conveyor runs resume 4"
    assert (alert.subject, alert.event_id, alert.source, alert.time_ms) == (
        "runs/4",
        9,
        "/projects/shop",
        1_000,
    )
    assert alert.details == {"run_id": 4, "pipeline": "train", "error": "boom"}
    assert alert.key == "run.failed:runs/4"


def test_validation_failure_lists_the_broken_rules() -> None:
    alert = alert_for_event(
        event(
            VALIDATION_FAILED,
            "datasets/orders",
            dataset="orders",
            errors=[{"column": "price", "rule": "not_null", "n_failed": 3}],
        )
    )
    assert alert is not None and (alert.kind, alert.severity) == ("validation.failed", "warning")
    assert alert.title == "Data validation failed on 'orders'"
    assert alert.text == "price: not_null (3 rows)"


def test_gate_failure_names_the_failed_gates() -> None:
    alert = alert_for_event(
        event(
            EVALUATION_FAILED,
            "models/churn/versions/3",
            model="churn",
            version=3,
            evaluation_id=12,
            failed_gates=[{"name": "roc_auc >= 0.7", "reason": "0.64 is below 0.7"}],
        )
    )
    assert alert is not None and alert.kind == "evaluation.failed"
    assert alert.title == "Version 3 of model 'churn' failed its evaluation gates"
    assert alert.text == "roc_auc >= 0.7: 0.64 is below 0.7"


@pytest.mark.parametrize(
    ("type", "kind", "severity", "title"),
    [
        (DRIFT_SUSPECTED, "drift.suspected", "info", "Drift suspected on deployments/churn"),
        (DRIFT_DETECTED, "drift.detected", "warning", "Drift detected on deployments/churn"),
        (
            DECAY_DETECTED,
            "decay.detected",
            "warning",
            "Live performance dropped on deployments/churn",
        ),
    ],
)
def test_monitoring_events(type: str, kind: str, severity: str, title: str) -> None:
    alert = alert_for_event(
        event(type, "deployments/churn", feature="tenure", psi=0.31, features=["a", "b"])
    )
    assert alert is not None and (alert.kind, alert.severity, alert.title) == (
        kind,
        severity,
        title,
    )
    assert alert.text == "feature: tenure\npsi: 0.31\nfeatures: a, b"


def test_a_drift_alarm_names_the_columns_the_window_and_the_version() -> None:
    # What conveyor.monitor writes on an alarm.
    alert = alert_for_event(
        event(
            DRIFT_DETECTED,
            "deployments/churn",
            deployment="churn",
            level="drift",
            window="2026-12-01T10:00",
            start_ms=1_796_119_200_000,
            end_ms=1_796_122_800_000,
            model="churn",
            version=3,
            columns=["tenure", "charges"],
            expected_windows_between_false_alarms=720,
        )
    )
    assert alert is not None
    assert alert.title == "Drift detected on deployments/churn (models:/churn/3)"
    assert alert.text == (
        "Columns: tenure, charges\n"
        "Window: 2026-12-01T10:00:00.000Z to 2026-12-01T11:00:00.000Z\n"
        "level: drift\nwindow: 2026-12-01T10:00\nexpected_windows_between_false_alarms: 720"
    )
    assert alert.key == "drift.detected:deployments/churn"


def moved(alias: str, reason: str, was: int | None = 2) -> EventRecord:
    return event(
        ALIAS_MOVED,
        "models/churn/versions/3",
        model="churn",
        alias=alias,
        from_version=was,
        to_version=3,
        reason=reason,
    )


def test_promotion_and_rollback_from_alias_moves() -> None:
    promoted = alert_for_event(moved("champion", "evaluation 12 passed"))
    assert promoted is not None and (promoted.kind, promoted.severity) == (
        "model.promoted",
        "info",
    )
    assert promoted.title == "churn@champion now serves version 3 (from version 2)"
    assert promoted.text == "evaluation 12 passed"
    first = alert_for_event(moved("champion", "", was=None))
    assert first is not None and first.title.endswith("(newly created)")
    rolled = alert_for_event(moved("canary", "rollback: p99 doubled"))
    assert rolled is not None and (rolled.kind, rolled.severity) == (
        "model.rolled_back",
        "warning",
    )
    assert rolled.title == "churn@canary rolled back to version 3 (from version 2)"
    restored = alert_for_event(moved("champion", "deploy failed: warm-up raised"))
    assert restored is not None and restored.kind == "model.rolled_back"
    # Other aliases move freely and quietly; the champion alias is a setting.
    assert alert_for_event(moved("challenger", "")) is None
    production = alert_for_event(moved("production", ""), champion_alias="production")
    assert production is not None and production.kind == "model.promoted"


def test_deployment_failure() -> None:
    alert = alert_for_event(
        event(
            DEPLOYMENT_FAILED,
            "deployments/api",
            deployment="api",
            model="churn",
            version=4,
            serving_version=3,
            reason="warm-up raised",
        )
    )
    assert alert is not None and (alert.kind, alert.severity) == ("deployment.failed", "critical")
    assert alert.title == "Deployment 'api' refused version 4 of model 'churn'"
    assert alert.text == "warm-up raised\nIt still serves version 3."


@pytest.mark.parametrize("type", [RUN_SUCCEEDED, EVALUATION_PASSED, SIGNAL_RECEIVED])
def test_other_events_make_no_alert(type: str) -> None:
    assert type not in ALERTED_EVENTS
    assert alert_for_event(event(type, "x")) is None


def test_every_alerted_event_makes_an_alert() -> None:
    for type in ALERTED_EVENTS:
        found = alert_for_event(event(type, "s", alias="champion"))
        assert found is not None, type
