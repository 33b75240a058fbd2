"""``get_step_context()``: refused outside a running step; inside a thread-mode run it knows
its step run and logs metrics and params there, one context per thread."""

from __future__ import annotations

import pickle
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import conveyor
from conveyor import get_step_context, pipeline, step
from conveyor import store as st
from conveyor.core import Config, StepContextError
from conveyor.pipelines import Runner, StepContext
from conveyor.pipelines._context import step_context
from conveyor.pipelines._worker import Task
from conveyor.workspace import Workspace, init_project


@step
def fit(rows: int) -> dict[str, Any]:
    ctx = get_step_context()
    ctx.log_params({"rows": rows, "solver": "lbfgs"})
    for epoch in range(1, 4):
        ctx.log_metric("loss", 1.0 / epoch, step=epoch)
    ctx.log_metrics({"accuracy": 0.9, "f1": 0.8})
    return {
        "run_id": ctx.run_id,
        "step_run_id": ctx.step_run_id,
        "step": ctx.step_name,
        "attempt": ctx.attempt,
        "same_store": ctx.workspace.store.url,
        "thread": threading.get_ident(),
    }


@step
def score(x: int) -> int:
    ctx = get_step_context()
    ctx.log_metric("x", float(x))
    ctx.log_params({"item": x})
    return ctx.step_run_id


@step(retries=1)
def flaky() -> int:
    ctx = get_step_context()
    ctx.log_metric("flaky_loss", 10.0 * ctx.attempt)
    ctx.log_params({"attempt_seen": ctx.attempt})
    if ctx.attempt == 1:
        raise RuntimeError("the first attempt fails")
    return ctx.attempt


@pipeline
def logging_pipeline(rows: int = 100) -> None:
    fit(rows)
    score.map([1, 2, 3, 4])
    flaky()


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    init_project(tmp_path / "proj", name="ctx")
    config = Config.load(tmp_path / "proj", env={})
    with Workspace.from_config(config) as opened:
        yield opened


def test_outside_a_step_it_raises_a_clear_error() -> None:
    with pytest.raises(StepContextError, match="can only be called inside a running step"):
        get_step_context()
    assert issubclass(StepContextError, conveyor.ConveyorError)
    assert conveyor.StepContextError is StepContextError


def test_a_step_called_plainly_or_a_pipeline_being_defined_has_no_context() -> None:
    with pytest.raises(StepContextError, match="inside a running step"):
        fit(3)

    with pytest.raises(StepContextError):

        @pipeline
        def defining() -> None:
            get_step_context()
            fit(3)


def test_a_thread_mode_run_logs_on_each_step_run(ws: Workspace) -> None:
    result = Runner(ws, logging_pipeline, mode="thread").start()
    assert result.succeeded, result.errors
    steps = {s.name: s for s in st.get_step_runs(ws.store, result.run.id)}

    out = result.output("fit")
    assert out["run_id"] == result.run.id
    assert out["step_run_id"] == steps["fit"].id
    assert (out["step"], out["attempt"]) == ("fit", 1)
    assert out["same_store"] == ws.store.url
    assert out["thread"] != threading.get_ident()  # ran on the executor's thread

    metrics = st.step_metrics(ws.store, steps["fit"].id)
    assert [(m.key, m.step, m.value) for m in metrics] == [
        ("accuracy", 0, 0.9),
        ("f1", 0, 0.8),
        ("loss", 1, 1.0),
        ("loss", 2, 0.5),
        ("loss", 3, pytest.approx(1 / 3)),
    ]
    assert st.step_params(ws.store, steps["fit"].id) == {"rows": 100, "solver": "lbfgs"}
    assert st.metric_history(ws.store, result.run.id, "loss")[0].value == 1.0

    # Fan-out items ran concurrently on several threads; each logged on its own step run.
    for i, x in enumerate([1, 2, 3, 4]):
        item = steps[f"score[{i}]"]
        assert result.output("score")[i] == item.id
        assert [m.value for m in st.step_metrics(ws.store, item.id)] == [float(x)]
        assert st.step_params(ws.store, item.id) == {"item": x}


def test_a_retried_step_shows_the_committed_attempt_and_keeps_the_first(ws: Workspace) -> None:
    result = Runner(ws, logging_pipeline, mode="thread").start()
    assert result.output("flaky") == 2
    flaky_run = next(s for s in st.get_step_runs(ws.store, result.run.id) if s.name == "flaky")
    assert [m.value for m in st.step_metrics(ws.store, flaky_run.id)] == [20.0]
    assert [m.value for m in st.step_metrics(ws.store, flaky_run.id, attempt=1)] == [10.0]
    assert st.step_params(ws.store, flaky_run.id) == {"attempt_seen": 2}
    assert st.step_params(ws.store, flaky_run.id, attempt=1) == {"attempt_seen": 1}
    history = st.metric_history(ws.store, result.run.id, "flaky_loss")
    assert [m.value for m in history] == [20.0]  # the superseded attempt is left out


def test_contexts_are_per_thread(ws: Workspace) -> None:
    seen: dict[str, str] = {}
    barrier = threading.Barrier(2)

    def work(name: str) -> None:
        ctx = StepContext(run_id=1, step_run_id=1, step_name=name, attempt=1, workspace=ws)
        with step_context(ctx):
            barrier.wait()  # both contexts are set at once
            seen[name] = get_step_context().step_name

    threads = [threading.Thread(target=work, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"a": "a", "b": "b"}
    with pytest.raises(StepContextError):
        get_step_context()  # reset after the block


def test_another_process_opens_the_workspace_from_the_runs_settings(ws: Workspace) -> None:
    task = Task(
        step_name="fit",
        step_run_id=1,
        attempt=1,
        module="m",
        qualname="fit",
        artifacts_url=ws.artifacts.url,
        storage_options={},
        project_root=str(ws.config.root),
        constants={},
        inputs={},
        fn=fit.fn,
        run_id=1,
        config=ws.config,
        workspace=ws,
    )
    assert task.context().workspace is ws  # in-process: the runner's own
    travelled = pickle.loads(pickle.dumps(task))
    assert travelled.fn is None and travelled.workspace is None
    ctx = travelled.context()
    with step_context(ctx):
        opened = get_step_context().workspace
        assert opened is not ws
        assert opened.store.url == ws.store.url
        assert opened.store.project == ws.store.project
    assert ctx._owned is None  # closed when the attempt ended


def test_without_settings_or_a_folder_the_workspace_cannot_open() -> None:
    ctx = StepContext(run_id=1, step_run_id=1, step_name="fit", attempt=1)
    with pytest.raises(StepContextError, match="Step 'fit' has no project to open"):
        _ = ctx.workspace
