"""Steps log metrics and params through ``get_step_context()`` in every place a step can run
(a thread, a child process, a Ray task), and the store holds them on the right step run."""

from __future__ import annotations

import os

import pytest

from conveyor import store as st
from conveyor.core import ExecutorSettings
from conveyor.pipelines import Runner, find_pipeline, make_executor
from conveyor.workspace import Workspace
from support.projects import MakeProject

pytestmark = pytest.mark.integration

SOURCE = """
import os
from conveyor import get_step_context, pipeline, step

@step
def train(epochs: int) -> dict:
    ctx = get_step_context()
    ctx.log_params({"epochs": epochs, "optimizer": {"name": "adam", "lr": 0.01}})
    for epoch in range(1, epochs + 1):
        ctx.log_metric("loss", 1.0 / epoch, step=epoch)
    return {
        "pid": os.getpid(),
        "run_id": ctx.run_id,
        "step_run_id": ctx.step_run_id,
        "attempt": ctx.attempt,
        "root": str(ctx.project_root),
        "store": ctx.workspace.store.url,
    }

@step(retries=1)
def evaluate(model: dict) -> dict:
    ctx = get_step_context()
    ctx.log_metrics({"accuracy": 0.5 + 0.2 * ctx.attempt, "attempt": ctx.attempt})
    ctx.log_params({"seen_attempt": ctx.attempt})
    if ctx.attempt == 1:
        raise RuntimeError("the first attempt fails")
    return {"step": ctx.step_name}

@step
def score(x: int) -> int:
    get_step_context().log_metric("x", float(x))
    return x

@pipeline
def logged(epochs: int = 3):
    evaluate(train(epochs))
    score.map([1, 2])
"""


def check_logged(ws: Workspace, run_id: int) -> dict[str, st.StepRunRecord]:
    steps = {s.name: s for s in st.get_step_runs(ws.store, run_id)}
    train = steps["train"]
    assert [(m.key, m.step, m.value) for m in st.step_metrics(ws.store, train.id)] == [
        ("loss", 1, 1.0),
        ("loss", 2, 0.5),
        ("loss", 3, pytest.approx(1 / 3)),
    ]
    assert st.step_params(ws.store, train.id) == {
        "epochs": 3,
        "optimizer": {"name": "adam", "lr": 0.01},
    }
    evaluate = steps["evaluate"]
    assert evaluate.attempt == 2
    latest = {m.key: m.value for m in st.step_metrics(ws.store, evaluate.id)}
    assert latest == {"accuracy": pytest.approx(0.9), "attempt": 2.0}
    first = {m.key: m.value for m in st.step_metrics(ws.store, evaluate.id, attempt=1)}
    assert first == {"accuracy": pytest.approx(0.7), "attempt": 1.0}
    assert st.step_params(ws.store, evaluate.id) == {"seen_attempt": 2}
    assert st.latest_metrics(ws.store, run_id)["accuracy"] == pytest.approx(0.9)
    for i, x in enumerate([1, 2]):
        item = steps[f"score[{i}]"]
        assert [m.value for m in st.step_metrics(ws.store, item.id)] == [float(x)]
    assert st.get_params(ws.store, run_id) == {"epochs": 3}  # the run's params are its own
    return steps


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_steps_log_metrics_and_params_on_their_step_runs(
    make_project: MakeProject, mode: str
) -> None:
    ws = make_project(SOURCE)
    result = Runner(ws, find_pipeline(ws.config, "logged"), mode=mode).start()
    assert result.succeeded, result.errors
    steps = check_logged(ws, result.run.id)
    out = result.output("train")
    assert (out["run_id"], out["step_run_id"]) == (result.run.id, steps["train"].id)
    assert out["attempt"] == 1
    assert out["root"] == str(ws.config.root)
    assert out["store"] == ws.store.url
    assert (out["pid"] == os.getpid()) == (mode == "thread")
    assert result.output("evaluate") == {"step": "evaluate"}


@pytest.mark.slow
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_steps_log_metrics_and_params_from_ray_tasks(make_project: MakeProject) -> None:
    ws = make_project(SOURCE)
    executor = make_executor(
        ExecutorSettings(kind="ray", max_workers=2), project_root=str(ws.config.root)
    )
    try:
        result = Runner(ws, find_pipeline(ws.config, "logged"), executor=executor).start()
    finally:
        executor.shutdown()
    assert result.succeeded, result.errors
    check_logged(ws, result.run.id)
    assert result.output("train")["pid"] != os.getpid()
