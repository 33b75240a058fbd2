"""Alerts from the real emitters: the drift monitor's alarm, a failed evaluation, a
promotion and a rollback through the registry, each dispatched to a webhook receiver
that verifies its signature."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from standardwebhooks.webhooks import Webhook

from conveyor.core import Config
from conveyor.monitor import run_drift_monitor
from conveyor.notify import dispatch_alerts
from conveyor.registry import load_model, promote, record_evaluation, register_model, rollback
from conveyor.workspace import Workspace
from support.alerts import SECRET
from support.monitoring import log_segment, monitored_project, sample
from support.prediction_log import open_workspace
from support.receivers import http_receiver

pytestmark = pytest.mark.integration
T0 = 1_780_000_000_000
ROWS = 100


def workspace(tmp_path: Path, receiver_url: str) -> Workspace:
    url = f"sqlite:///{tmp_path}/c.db"
    open_workspace(tmp_path / "p", url).close()  # creates the project
    toml = tmp_path / "p" / "conveyor.toml"
    toml.write_text(
        toml.read_text()
        + f"""
[monitor]
window_rows = {ROWS}
warning_every = 200
warning_persistence = [2, 3]
drift_every = 1000
drift_persistence = [3, 3]
cooldown = 50

[notify]
allowed_hosts = ["127.0.0.1"]

[notify.channels.hooks]
kind = "webhook"
url = "{receiver_url}/hook"
secret = "{SECRET}"
events = ["drift.detected", "evaluation.*", "model.*"]
"""
    )
    return Workspace.from_config(Config.load(tmp_path / "p", env={"CONVEYOR_STORE": url}))


def test_monitor_registry_and_evaluations_reach_the_receiver(tmp_path: Path) -> None:
    with http_receiver() as receiver:
        with workspace(tmp_path, receiver.url) as ws:
            first = monitored_project(ws, n_reference=5_000)
            model = load_model(ws, "models:/churn@champion")
            for i in range(50):
                frame = sample(ROWS, seed=1000 + i, shift=1.0 if i >= 40 else 0.0)
                stamps = T0 + i * 1000 + np.arange(ROWS)
                log_segment(ws, frame, stamps, predictions=model.predict(frame))
            run = run_drift_monitor(ws, "churn")
            assert [a["level"] for a in run.alarms] == ["warning", "drift"]
            report = {"gates": [{"name": "roc_auc >= 0.9", "passed": False, "reason": "0.81"}]}
            record_evaluation(ws, "churn", first, report, passed=False)
            second = register_model(ws, "churn", model).version
            promote(ws, "churn", second, alias="challenger")  # another alias: no alert
            promote(ws, "churn", second, force_reason="hotfix")
            rollback(ws, "churn", reason="checking the runbook")
            result = dispatch_alerts(ws)
    received = [Webhook(SECRET).verify(r.body, r.headers) for r in receiver.received]
    by_type = {e["type"]: e for e in received}  # the last of each type
    # The project's first promotion (its creation) and the hotfix are both promotions.
    assert sorted(e["type"] for e in received) == [
        "io.conveyor.drift.detected",
        "io.conveyor.evaluation.failed",
        "io.conveyor.model.promoted",
        "io.conveyor.model.promoted",
        "io.conveyor.model.rolled_back",
    ]
    assert result.n_alerts == 6  # the warning alarm too, which the channel does not take
    promoted = by_type["io.conveyor.model.promoted"]
    assert promoted["data"]["title"] == (
        f"churn@champion now serves version {second} (from version {first})"
    )
    assert promoted["data"]["text"] == "forced: hotfix"
    drift = by_type["io.conveyor.drift.detected"]
    assert drift["subject"] == "deployments/churn"
    assert drift["data"]["title"] == f"Drift detected on deployments/churn (models:/churn/{first})"
    assert drift["data"]["text"].startswith("Columns: ") and "x0" in drift["data"]["text"]
    failed = by_type["io.conveyor.evaluation.failed"]
    assert failed["data"]["text"] == "roc_auc >= 0.9: 0.81"
    rolled = by_type["io.conveyor.model.rolled_back"]
    assert rolled["data"]["title"] == (
        f"churn@champion rolled back to version {first} (from version {second})"
    )
    assert rolled["data"]["text"] == "rollback: checking the runbook"
