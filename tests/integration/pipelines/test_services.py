"""The run services the CLI, REST API and UI share, on each store backend."""

from __future__ import annotations

import pytest

from conveyor.core import InvalidValueError, NotFoundError, StepFailedError
from conveyor.pipelines import (
    describe_run,
    get_run,
    get_step_run,
    list_runs,
    resume_run,
    run_pipeline,
    step_lineage,
    step_logs,
    step_metrics,
    step_params,
)
from support.projects import MakeProject

pytestmark = pytest.mark.integration

SOURCE = """
import os
from conveyor import get_step_context, pipeline, step

@step
def load(n: int) -> list:
    print(f"loading {n} rows")
    get_step_context().log_metric("rows", n)
    get_step_context().log_params({"source": "range"})
    return list(range(n))

@step
def total(rows: list) -> int:
    if os.environ.get("CONVEYOR_TEST_FAIL_TOTAL"):
        raise ValueError("total refused")
    return sum(rows)

@pipeline
def sums(n: int = 4):
    total(load(n))
"""


def test_run_describe_list_logs_and_lineage(make_project: MakeProject) -> None:
    ws = make_project(SOURCE)
    changes: list[tuple[str, str]] = []
    result = run_pipeline(
        ws, "sums", {"n": "5"}, from_text=True, on_change=lambda *c: changes.append(c)
    )
    assert result.succeeded and result.output("total") == 10
    assert ("total", "succeeded") in changes

    details = describe_run(ws, result.run.id)
    assert details.run.status == "succeeded" and details.params == {"n": 5}
    assert [s.name for s in details.steps] == ["load", "total"]
    assert details.to_dict()["steps"][0]["name"] == "load"
    assert [r.id for r in list_runs(ws, pipeline="sums")] == [result.run.id]
    assert list_runs(ws, statuses=["failed"]) == []
    assert get_run(ws, result.run.id) == details.run

    (load_log,) = step_logs(ws, result.run.id, "load")
    assert load_log.text is not None and "loading 5 rows" in load_log.text
    assert len(step_logs(ws, result.run.id)) == 2

    assert [(m.key, m.value) for m in step_metrics(ws, result.run.id, "load")] == [("rows", 5.0)]
    assert step_params(ws, result.run.id, "load") == {"source": "range"}

    edges = step_lineage(ws, result.run.id, "total")
    assert {(e.direction, e.name) for e in edges} == {("in", "rows"), ("out", "output")}


def test_unknown_names_and_bad_values_are_clear(make_project: MakeProject) -> None:
    ws = make_project(SOURCE)
    run_id = run_pipeline(ws, "sums").run.id
    with pytest.raises(NotFoundError, match="no step 'totl'.*Did you mean 'total'"):
        get_step_run(ws, run_id, "totl")
    with pytest.raises(NotFoundError, match="No run 999"):
        describe_run(ws, 999)
    with pytest.raises(InvalidValueError, match="mode must be one of.*Did you mean 'thread'"):
        run_pipeline(ws, "sums", mode="threads")
    with pytest.raises(InvalidValueError, match="executor must be 'local' or 'ray'"):
        run_pipeline(ws, "sums", executor="kubernetes")
    assert len(list_runs(ws)) == 1  # refused calls created nothing


def test_resume_runs_only_what_failed(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = make_project(SOURCE)
    monkeypatch.setenv("CONVEYOR_TEST_FAIL_TOTAL", "1")
    failed = run_pipeline(ws, "sums")
    assert failed.run.status == "failed" and failed.statuses["total"] == "failed"
    with pytest.raises(StepFailedError, match="step 'total': .*total refused") as info:
        failed.raise_for_status()
    assert info.value.hint is not None
    assert f"conveyor runs logs {failed.run.id} total" in info.value.hint
    assert f"conveyor runs resume {failed.run.id}" in info.value.hint
    with pytest.raises(NotFoundError, match="has no output: it is failed"):
        failed.output("total")
    with pytest.raises(NotFoundError, match="no step 'totl'"):
        failed.output("totl")
    monkeypatch.delenv("CONVEYOR_TEST_FAIL_TOTAL")
    resumed = resume_run(ws, failed.run.id).raise_for_status()
    assert resumed.succeeded and resumed.run.id == failed.run.id
    load = get_step_run(ws, failed.run.id, "load")
    assert load.attempt == 1  # finished before the failure: not recomputed


def test_an_executor_chosen_for_one_run_leaves_the_workspace_as_configured(
    make_project: MakeProject,
) -> None:
    ws = make_project(SOURCE)
    before = ws.config
    assert run_pipeline(ws, "sums", executor="local", mode="process").succeeded
    assert ws.config is before  # the choice was the run's, not the workspace's
