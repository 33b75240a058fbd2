"""The runner against a real store on each backend: branches, fan-out, retries, time-outs,
cache, failure isolation, logs and lineage."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conveyor import store as st
from conveyor.pipelines import Runner, find_pipeline
from support.projects import MakeProject

pytestmark = pytest.mark.integration

BRANCHES = """
from conveyor import pipeline, step

@step
def evaluate(score: float) -> dict:
    return {"score": score, "passed": score >= 0.5}

@step
def deploy(ev: dict) -> str:
    return "deployed"

@step
def alert(ev: dict) -> str:
    return "alerted"

@step
def notify(message: str) -> str:
    return "notified: " + message

@pipeline
def gate(score: float = 0.9):
    ev = evaluate(score)
    notify(deploy(ev, when=ev.passed))
    alert(ev, when=~ev.passed)
"""


@pytest.mark.parametrize(
    ("score", "taken", "skipped"), [(0.9, "deploy", "alert"), (0.1, "alert", "deploy")]
)
def test_conditional_branches_both_outcomes(
    make_project: MakeProject, score: float, taken: str, skipped: str
) -> None:
    ws = make_project(BRANCHES)
    result = Runner(ws, find_pipeline(ws.config, "gate")).start({"score": score})
    assert result.succeeded
    assert result.statuses[taken] == "succeeded"
    assert result.statuses[skipped] == "skipped"
    # a dependent of a skipped branch is skipped too
    assert result.statuses["notify"] == ("succeeded" if taken == "deploy" else "skipped")
    steps = {s.name: s for s in st.get_step_runs(ws.store, result.run.id)}
    assert "condition" in (steps[skipped].error or "")


FANOUT = """
from conveyor import pipeline, step

@step
def items(n: int) -> list:
    return list(range(n))

@step
def square(x: int, offset: int = 0) -> int:
    return x * x + offset

@step
def total(xs: list) -> int:
    return sum(xs)

@pipeline
def fan(n: int = 100):
    total(square.map(items(n), offset=1))

@pipeline
def static():
    total(square.map([1, 2, 3]))
"""


def test_fan_out_of_100_gathers_in_order(make_project: MakeProject) -> None:
    ws = make_project(FANOUT)
    result = Runner(ws, find_pipeline(ws.config, "fan")).start()
    assert result.succeeded, result.errors
    assert result.output("square") == [x * x + 1 for x in range(100)]
    assert result.output("total") == sum(x * x + 1 for x in range(100))
    names = [s.name for s in st.get_step_runs(ws.store, result.run.id)]
    assert sum(1 for n in names if n.startswith("square[")) == 100
    static = Runner(ws, find_pipeline(ws.config, "static")).start()
    assert static.output("total") == 14


RETRIES = """
from conveyor import pipeline, step
import time

CALLS = {"n": 0}

@step(retries=2, retry_delay="50ms")
def flaky() -> int:
    CALLS["n"] += 1
    print("attempt", CALLS["n"])
    if CALLS["n"] < 3:
        raise RuntimeError(f"transient failure {CALLS['n']}")
    return CALLS["n"]

@step(retries=1)
def always() -> int:
    raise ValueError("never works")

@step
def independent() -> str:
    return "fine"

@step
def after(x: int) -> int:
    return x

@step(timeout="300ms")
def slow_thread() -> int:
    time.sleep(3)
    return 1

@step(timeout="300ms", mode="process")
def slow_process() -> int:
    time.sleep(30)
    return 1

@pipeline
def retry():
    flaky()

@pipeline
def failing():
    after(always())
    independent()

@pipeline
def timeouts():
    slow_thread()
    slow_process()
"""


def test_retries_succeed_on_the_third_attempt(make_project: MakeProject) -> None:
    ws = make_project(RETRIES)
    result = Runner(ws, find_pipeline(ws.config, "retry")).start()
    assert result.succeeded
    assert result.output("flaky") == 3
    (step,) = st.get_step_runs(ws.store, result.run.id)
    attempts = st.step_attempts(ws.store, step.id)
    assert [a.status for a in attempts] == ["failed", "failed", "succeeded"]
    assert "transient failure 1" in (attempts[0].error or "")
    logs = ws.artifacts.get_bytes(step.logs_digest or "").decode()
    assert "attempt 3" in logs


def test_a_failed_step_stops_its_dependents_and_independent_branches_finish(
    make_project: MakeProject,
) -> None:
    ws = make_project(RETRIES)
    result = Runner(ws, find_pipeline(ws.config, "failing")).start()
    assert result.run.status == "failed"
    assert result.statuses == {
        "always": "failed",
        "after": "upstream_failed",
        "independent": "succeeded",
    }
    assert "ValueError: never works" in (result.run.error or "")
    step = next(s for s in st.get_step_runs(ws.store, result.run.id) if s.name == "always")
    assert step.attempt == 2  # retries=1
    logs = ws.artifacts.get_bytes(step.logs_digest or "").decode()
    assert "Traceback" in logs and "never works" in logs


def test_fail_fast_cancels_what_has_not_started(make_project: MakeProject) -> None:
    source = (
        RETRIES
        + """
@step
def slow_start() -> str:
    time.sleep(1.0)  # still running when 'always' fails, so 'later' is not yet ready
    return "x"

@step
def later(x: str) -> str:
    return x

@pipeline
def ff():
    after(always())
    later(slow_start())
"""
    )
    ws = make_project(source)
    result = Runner(ws, find_pipeline(ws.config, "ff"), fail_fast=True).start()
    assert result.run.status == "failed"
    assert result.statuses["slow_start"] == "succeeded"  # running steps finish
    assert result.statuses["later"] == "cancelled"
    assert "fail_fast" in result.errors["later"]


def test_timeouts_fail_the_attempt_in_thread_and_process_mode(make_project: MakeProject) -> None:
    ws = make_project(RETRIES)
    result = Runner(ws, find_pipeline(ws.config, "timeouts")).start()
    assert result.statuses == {"slow_thread": "failed", "slow_process": "failed"}
    for err in result.errors.values():
        assert "timed out after 0.3s" in err


CACHED = """
from conveyor import pipeline, step

@step
def source(n: int) -> list:
    return list(range(n))

@step
def double(xs: list, factor: int = 2) -> list:
    return [x * factor for x in xs]

@pipeline
def cached(n: int = 3, factor: int = 2):
    double(source(n), factor=factor)
"""


def test_cache_hits_and_misses_on_input_and_param_changes(make_project: MakeProject) -> None:
    ws = make_project(CACHED)
    p = find_pipeline(ws.config, "cached")

    def run(**params: int) -> dict[str, int | None]:
        result = Runner(ws, p).start(params)
        assert result.succeeded
        return {s.name: s.cached_from_id for s in st.get_step_runs(ws.store, result.run.id)}

    first = run()
    assert first == {"source": None, "double": None}
    again = run()
    assert again["source"] is not None and again["double"] is not None  # both hit
    new_param = run(factor=3)
    assert new_param["source"] is not None and new_param["double"] is None  # param changed
    new_input = run(n=4)
    assert new_input["source"] is None and new_input["double"] is None  # input changed
    no_cache = Runner(ws, p, cache=False).start()
    assert all(s.cached_from_id is None for s in st.get_step_runs(ws.store, no_cache.run.id))


def test_lineage_params_code_version_and_environment_are_recorded(
    make_project: MakeProject,
) -> None:
    ws = make_project(CACHED)
    root = Path(ws.config.root)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(
        ["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "x"],
        cwd=root,
        check=True,
    )
    (root / "dirty.txt").write_text("x")
    subprocess.run(["git", "add", "dirty.txt"], cwd=root, check=True)
    result = Runner(ws, find_pipeline(ws.config, "cached"), cache=False).start({"n": 2})
    run = st.get_run(ws.store, result.run.id)
    assert run.code_version["git_sha"] and len(run.code_version["git_sha"]) == 40
    assert run.code_version["dirty"] is True and run.code_version["diff_sha256"]
    assert "sqlalchemy" in run.environment["packages"]
    assert st.get_params(ws.store, run.id) == {"n": 2, "factor": 2}
    steps = {s.name: s for s in st.get_step_runs(ws.store, run.id)}
    src_out = [e for e in st.step_lineage(ws.store, steps["source"].id) if e.direction == "out"]
    dbl_in = [e for e in st.step_lineage(ws.store, steps["double"].id) if e.direction == "in"]
    assert [(e.name, e.artifact_id) for e in dbl_in] == [("xs", src_out[0].artifact_id)]
    art = st.get_artifact(ws.store, src_out[0].artifact_id)
    assert art.meta["materializer"] == "json" and art.producer_step_run_id == steps["source"].id


def test_process_mode_runs_steps_in_child_processes(make_project: MakeProject) -> None:
    ws = make_project(CACHED.replace("@step\ndef double", "@step(mode='process')\ndef double"))
    result = Runner(ws, find_pipeline(ws.config, "cached")).start({"n": 4})
    assert result.succeeded, result.errors
    assert result.output("double") == [0, 2, 4, 6]


HANGING = """
import time
from conveyor import pipeline, step

@step(timeout="200ms")
def hang(i: int) -> int:
    time.sleep(600)  # never returns in the test's lifetime: it is abandoned
    return i

@step
def quick() -> str:
    return "done"

@pipeline
def hangs():
    hang(1)
    hang(2)
    hang(3)
    quick()
"""


def test_abandoned_threads_do_not_starve_the_pool(make_project: MakeProject) -> None:
    """Three thread-mode steps hang past their time-out on a 2-thread pool; the run still
    finishes (each abandoned thread is replaced), instead of waiting on the hung steps."""
    from conveyor.pipelines import LocalExecutor

    ws = make_project(HANGING)
    executor = LocalExecutor(2, store=ws.artifacts)
    try:
        result = Runner(ws, find_pipeline(ws.config, "hangs"), executor=executor).start()
    finally:
        executor.shutdown()
    assert result.statuses == {
        "hang": "failed",
        "hang_2": "failed",
        "hang_3": "failed",
        "quick": "succeeded",
    }
