"""The controller's tick: a drift alarm fires its trigger, the queued run executes, and a
second tick (or a second controller) does nothing again."""

from __future__ import annotations

import pytest

from conveyor import store as st
from conveyor.automate import Controller
from conveyor.core import DRIFT_DETECTED
from conveyor.pipelines import list_runs
from support.projects import MakeProject

pytestmark = pytest.mark.integration

PIPELINES = """
from conveyor import pipeline, step

@step
def refit(n: int) -> int:
    return n * 2

@pipeline
def retrain(n: int = 3):
    refit(n)
"""

TRIGGER = """
[automate.triggers.drifted]
kind = "drift"
deployment = "churn"
pipeline = "retrain"
params = { n = 21 }
"""


def test_a_tick_fires_and_runs_and_the_next_tick_and_controller_do_nothing(
    make_project: MakeProject,
) -> None:
    ws = make_project(PIPELINES)
    with open(ws.config.root / "conveyor.toml", "a") as f:
        f.write(TRIGGER)
    from conveyor.core import Config
    from conveyor.workspace import Workspace

    with Workspace.from_config(
        Config.load(ws.config.root, env={"CONVEYOR_STORE": ws.config.store.url})
    ) as ws:
        st.register_model_version(ws.store, "churn")
        st.upsert_deployment(ws.store, "churn", model="churn")
        st.emit_event(
            ws.store,
            DRIFT_DETECTED,
            data={"deployment": "churn", "level": "drift", "window": "n:0:10", "columns": ["a"]},
        )
        one, two = Controller(ws, every_monitor=3600), Controller(ws, every_monitor=3600)
        tick = one.tick()
        assert [f.outcome for f in tick.firings] == ["started"]
        (ran,) = tick.runs
        assert ran["status"] == "succeeded"
        (run,) = list_runs(ws, pipeline="retrain")
        assert run.params == {"n": 21} and run.tags["conveyor.trigger"] == "drifted"
        # The monitors ran: the deployment has no log yet, so no window, no error.
        assert tick.monitors == {"churn": {"windows": 0, "alarms": [], "errors": {}}}
        assert one.tick().quiet
        later = two.tick()  # a second controller reads the log from the start: taken
        assert [f.outcome for f in later.firings] == ["taken"] and later.runs == []
        assert len(list_runs(ws, pipeline="retrain")) == 1
