"""Triggers fired from the event log: one queued run per cause, however many controllers
look; a firing while the pipeline is busy or within the cooldown is coalesced with the
reason; new snapshots, Alertmanager alerts and manual firings start runs too."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor import store as st
from conveyor.automate import REASON_TAG, TRIGGER_TAG, fire_triggers, trigger_now
from conveyor.core import DRIFT_DETECTED, DRIFT_SUSPECTED, Config, NotFoundError
from conveyor.workspace import Workspace, init_project
from support.monitoring import firing_racer
from support.procs import SPAWN, run_processes

pytestmark = pytest.mark.integration

TRIGGERS = """
[automate.triggers.drifted]
kind = "drift"
deployment = "churn"
pipeline = "retrain"

[automate.triggers.calm]
kind = "drift"
deployment = "churn"
level = "warning"
pipeline = "calibrate"
cooldown = "1h"

[automate.triggers.fresh]
kind = "new_data"
dataset = "flights"
pipeline = "refresh"

[automate.triggers.paged]
kind = "webhook"
pipeline = "page"
match = { alertname = "ConveyorDrift" }

[automate.triggers.by_hand]
kind = "manual"
pipeline = "retrain"
params = { n_rows = 5 }
"""


@pytest.fixture
def ws(tmp_path: Path, store_url: str) -> Iterator[Workspace]:
    root = tmp_path / "p"
    init_project(root, name="p")
    with open(root / "conveyor.toml", "a") as f:
        f.write(TRIGGERS)
    with Workspace.from_config(Config.load(root, env={"CONVEYOR_STORE": store_url})) as ws:
        st.register_model_version(ws.store, "churn")
        st.upsert_deployment(ws.store, "churn", model="churn")
        yield ws


def alarm(ws: Workspace, window: str, level: str = "drift") -> None:
    st.emit_event(
        ws.store,
        DRIFT_DETECTED if level == "drift" else DRIFT_SUSPECTED,
        subject="deployments/churn",
        data={"deployment": "churn", "level": level, "window": window, "columns": ["x0"]},
    )


def finish(ws: Workspace, run_id: int) -> None:
    run = st.acquire_run(ws.store, run_id, "test-runner")
    st.transition_run(ws.store, run_id, "succeeded", expected=["running"], attempt=run.attempt)


def test_a_drift_alarm_queues_one_run_and_a_busy_pipeline_coalesces(ws: Workspace) -> None:
    alarm(ws, "n:3:100")
    alarm(ws, "n:3:100")  # the same window reported twice is the same firing
    fired, cursor = fire_triggers(ws, owner="c1")
    (started,) = [f for f in fired if f.trigger == "drifted"]
    assert started.outcome == "started" and started.key == "drift:churn:n:3:100"
    run = st.get_run(ws.store, started.run_id)  # type: ignore[arg-type]
    assert (run.pipeline, run.status) == ("retrain", "queued")
    assert run.tags[TRIGGER_TAG] == "drifted" and "n:3:100" in run.tags[REASON_TAG]
    # The warning-level trigger fires on drift alarms too, into its own pipeline.
    assert {f.trigger for f in fired} == {"drifted", "calm"}
    # Read again from the start: everything is taken, nothing new runs.
    again, _ = fire_triggers(ws, owner="c2")
    assert {f.outcome for f in again} == {"taken"}
    # A new window while the first run is queued: coalesced into it, with the reason.
    alarm(ws, "n:4:100")
    fired, cursor = fire_triggers(ws, owner="c1", after=cursor)
    coalesced = next(f for f in fired if f.trigger == "drifted")
    assert coalesced.outcome == "coalesced"
    assert coalesced.reason == f"coalesced into run {started.run_id} of 'retrain' (queued)"
    # Once the run has finished, the next window starts a new one.
    finish(ws, started.run_id)  # type: ignore[arg-type]
    alarm(ws, "n:5:100")
    fired, cursor = fire_triggers(ws, owner="c1", after=cursor)
    assert next(f for f in fired if f.trigger == "drifted").outcome == "started"


def test_cooldown_coalesces_and_old_events_are_ignored(ws: Workspace) -> None:
    alarm(ws, "t:1", level="warning")
    fired, cursor = fire_triggers(ws, owner="c1")
    (first,) = [f for f in fired if f.trigger == "calm"]
    finish(ws, first.run_id)  # type: ignore[arg-type]
    alarm(ws, "t:2", level="warning")
    fired, cursor = fire_triggers(ws, owner="c1", after=cursor)
    (second,) = [f for f in fired if f.trigger == "calm"]
    assert second.outcome == "coalesced"
    assert second.reason.startswith(f"in cooldown after run {first.run_id} (")
    # Events older than max_age (a day) do not fire, e.g. on a controller's first start.
    alarm(ws, "t:3", level="warning")
    fired, _ = fire_triggers(ws, owner="c1", after=cursor, now=10**13 * 3)
    assert fired == []


def test_snapshots_alerts_and_manual_firings(ws: Workspace) -> None:
    from conveyor.notify import receive_alertmanager

    st.emit_event(ws.store, "io.conveyor.snapshot.created", data={"dataset": "other", "version": 1})
    st.emit_event(
        ws.store, "io.conveyor.snapshot.created", data={"dataset": "flights", "version": 7}
    )
    payload = {
        "version": "4",
        "status": "firing",
        "receiver": "conveyor",
        "groupKey": "g",
        "alerts": [
            {
                "status": status,
                "labels": {"alertname": name},
                "annotations": {},
                "startsAt": "2026-12-01T01:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": f"f-{name}-{status}",
            }
            for name, status in [("ConveyorDrift", "firing"), ("Other", "firing"),
                                 ("ConveyorDrift", "resolved")]
        ],
    }  # fmt: skip
    receive_alertmanager(ws, payload)
    fired, _ = fire_triggers(ws, owner="c1")
    by = {f.trigger: f for f in fired}
    assert set(by) == {"fresh", "paged"}
    assert by["fresh"].key == "snapshot:flights/7" and by["fresh"].outcome == "started"
    assert by["paged"].outcome == "started" and "ConveyorDrift" in by["paged"].cause
    manual = trigger_now(ws, "by_hand", owner="me", reason="a person asked")
    assert manual.outcome == "started"
    run = st.get_run(ws.store, manual.run_id)  # type: ignore[arg-type]
    assert run.params == {"n_rows": 5} and run.tags[REASON_TAG] == "a person asked"
    with pytest.raises(NotFoundError, match="Did you mean 'by_hand'"):
        trigger_now(ws, "by_han", owner="me")


@pytest.mark.slow
def test_r05_two_controllers_in_lockstep_start_one_run_per_window(
    ws: Workspace, store_url: str
) -> None:
    rounds = 20
    barrier = SPAWN.Barrier(3)
    root = str(ws.config.root)

    def driver() -> None:
        # Each round: one new drift window, both controllers fire, the run finishes.
        for i in range(rounds):
            alarm(ws, f"n:{i}:100")
            barrier.wait(timeout=60)
            barrier.wait(timeout=60)
            runs = [r for r in st.list_runs(ws.store) if r.pipeline == "retrain"]
            for r in runs:
                if r.status == "queued":
                    finish(ws, r.id)

    thread = threading.Thread(target=driver)
    thread.start()
    try:
        one, two = run_processes(
            firing_racer,
            [(root, store_url, barrier, "c1", rounds), (root, store_url, barrier, "c2", rounds)],
            barrier=barrier,
            timeout=240,
        )
    finally:
        thread.join(timeout=60)
    runs = [r for r in st.list_runs(ws.store) if r.pipeline == "retrain"]
    windows = sorted(r.tags["conveyor.firing"] for r in runs)
    assert windows == sorted(f"drift:churn:n:{i}:100" for i in range(rounds))  # one each
    for i in range(rounds):
        outcomes = [o for o in one["outcomes"][i] + two["outcomes"][i] if o.startswith("drifted:")]
        started = [o for o in outcomes if o.endswith("=started")]
        assert len(started) == 1, (i, outcomes)  # the loser is told it is taken


def test_a_schedule_fires_its_latest_due_time_once(tmp_path: Path) -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from croniter import croniter

    root = tmp_path / "s"
    init_project(root, name="s")
    with open(root / "conveyor.toml", "a") as f:
        f.write(
            '\n[automate.triggers.nightly]\nkind = "schedule"\ncron = "0 3 * * *"\n'
            'timezone = "Europe/Paris"\npipeline = "nightly"\nmax_age = "3d"\n'
        )
    with Workspace.from_config(Config.load(root)) as ws:
        from conveyor.automate import sync_triggers

        created = sync_triggers(ws)["nightly"].created_at
        paris = ZoneInfo("Europe/Paris")
        start = datetime.fromtimestamp(created / 1000, UTC).astimezone(paris)
        first = croniter("0 3 * * *", start).get_next(datetime)  # 03:00 Paris after creation
        ms = int(first.timestamp() * 1000)
        assert first.hour == 3 and first.tzinfo is not None
        # Before the first due time after the trigger was created: nothing (no replay of
        # the times before it existed).
        fired, _ = fire_triggers(ws, owner="c1", now=ms - 1)
        assert fired == []
        fired, _ = fire_triggers(ws, owner="c1", now=ms + 60_000)
        (due,) = fired
        key = first.astimezone(UTC).strftime("schedule:%Y-%m-%dT%H:%MZ")
        assert (due.key, due.outcome) == (key, "started")
        assert fire_triggers(ws, owner="c2", now=ms + 120_000)[0][0].outcome == "taken"
        # Two days later, with the run done and two due times missed: only the latest fires.
        finish(ws, due.run_id)  # type: ignore[arg-type]
        later = ms + 2 * 86_400_000 + 3_600_000
        (caught_up,) = fire_triggers(ws, owner="c1", now=later)[0]
        expected = croniter(
            "0 3 * * *", datetime.fromtimestamp(later / 1000, UTC).astimezone(paris)
        )
        latest = expected.get_prev(datetime).astimezone(UTC).strftime("schedule:%Y-%m-%dT%H:%MZ")
        assert (caught_up.key, caught_up.outcome) == (latest, "started")
