"""One runner at a time: a runner keeps its run by a heartbeat, and stops when it loses it."""

from __future__ import annotations

import threading

import pytest

from conveyor import store as st
from conveyor.core import ConflictError
from conveyor.pipelines import Runner, find_pipeline
from support.projects import MakeProject
from support.waits import wait_for

pytestmark = pytest.mark.integration

HELD = """
import time
from pathlib import Path
from conveyor import pipeline, step

HERE = Path(__file__).parent

@step
def first() -> int:
    return 1

@step
def blocked(x: int) -> int:
    deadline = time.monotonic() + 60
    while not (HERE / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    (HERE / "returned").touch()
    return x + 1

@pipeline
def held():
    blocked(first())
"""


def test_a_runner_whose_run_is_taken_over_stops_and_leaves_it_to_the_new_owner(
    make_project: MakeProject,
) -> None:
    """The runner waits on a step that does not return; another owner takes the run over.
    The runner's heartbeat finds out and the runner stops while its step still runs; when
    the step returns, nothing of it is written: the run and step are as the new owner found
    them."""
    ws = make_project(HELD, lease="1.5s", busy_timeout="0.3s", retries=1)
    runner = Runner(ws, find_pipeline(ws.config, "held"))
    raised: list[BaseException] = []

    def drive() -> None:
        try:
            runner.start()
        except BaseException as exc:  # reported below
            raised.append(exc)

    thread = threading.Thread(target=drive, daemon=True)
    thread.start()

    def blocked_running() -> st.StepRunRecord | None:
        steps = {s.name: s for s in st.get_step_runs(ws.store, 1)} if st.list_runs(ws.store) else {}
        step = steps.get("blocked")
        return step if step is not None and step.status == "running" else None

    step = wait_for(blocked_running, what="step 'blocked' running")
    seen = st.get_run(ws.store, 1)
    thief = st.acquire_run(
        ws.store, 1, "thief", lease=3600, take_over_from=(seen.lease_owner, seen.attempt)
    )
    thread.join(30)
    assert not thread.is_alive(), "the runner did not stop"
    assert not (ws.config.root / "returned").exists()  # it stopped while its step still ran
    assert len(raised) == 1 and isinstance(raised[0], ConflictError), raised
    assert "taken over" in str(raised[0])

    (ws.config.root / "release").touch()
    wait_for(lambda: (ws.config.root / "returned").exists(), what="the abandoned step")
    run = st.get_run(ws.store, 1)
    assert (run.status, run.lease_owner, run.attempt) == ("running", "thief", thief.attempt)
    after = st.get_step_run(ws.store, step.id)
    assert (after.status, after.attempt) == ("running", step.attempt)
    assert [a.status for a in st.step_attempts(ws.store, step.id)] == ["running"]


def test_a_fan_out_over_nothing_gathers_an_empty_list(make_project: MakeProject) -> None:
    ws = make_project(
        """
from conveyor import pipeline, step

@step
def items(n: int) -> list:
    return list(range(n))

@step
def square(x: int) -> int:
    return x * x

@step
def total(xs: list) -> int:
    return sum(xs)

@pipeline
def fan(n: int = 0):
    total(square.map(items(n)))
"""
    )
    result = Runner(ws, find_pipeline(ws.config, "fan")).start()
    assert result.succeeded, result.errors
    assert (result.output("square"), result.output("total")) == ([], 0)
