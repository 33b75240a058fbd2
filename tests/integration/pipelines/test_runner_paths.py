"""The runner's less-travelled paths on a real store: fan-outs that fail or are empty,
values picked out of outputs, order edges, params from conveyor.toml, idempotency keys,
resumes it must refuse, and a run that must not be left running when the runner breaks."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor import store as st
from conveyor.core import Config, ConfigError, ConflictError
from conveyor.pipelines import Runner, find_pipeline
from conveyor.workspace import Workspace
from support.projects import MakeProject

pytestmark = pytest.mark.integration

SOURCE = """
import os
from pathlib import Path

import pandas as pd
from conveyor import pipeline, step

ORDER: list = []

@step
def numbers(n: int) -> list:
    return list(range(n))

@step
def check(x: int) -> int:
    if x % 2 and not os.environ.get("CONVEYOR_TEST_ODD_OK"):
        raise ValueError(f"odd item {x}")
    return x

@step
def total(xs: list) -> int:
    return sum(xs)

@pipeline
def evens(n: int = 4):
    total(check.map(numbers(n)))

@step
def frame(n: int) -> pd.DataFrame:
    return pd.DataFrame({"a": range(n)})

@step
def summary(df: pd.DataFrame) -> dict:
    return {"score": 0.8, "cols": list(df.columns)}

@step
def describe(rows: int, score: float, first_col: str) -> str:
    return f"{rows} rows, score {score}, first column {first_col}"

@pipeline
def picks(n: int = 5):
    df = frame(n)
    s = summary(df)
    describe(df.shape[0], s["score"], s.cols[0])

@step
def first() -> str:
    ORDER.append("first")
    return "first"

@step
def second() -> list:
    ORDER.append("second")
    return list(ORDER)

@pipeline
def ordered():
    first() >> second()

@step
def unstorable():
    return object()

@step
def after(x) -> int:
    return 1

@pipeline
def broken():
    after(unstorable())

@step
def write_dir(tmp: str) -> Path:
    out = Path(tmp) / "model"
    (out / "weights").mkdir(parents=True, exist_ok=True)
    (out / "weights" / "w.txt").write_text("0.5")
    return out

@step
def read_dir(model: Path) -> float:
    return float((model / "weights" / "w.txt").read_text())

@pipeline
def folders(tmp: str = "."):
    read_dir(write_dir(tmp))

@step
def scaled(n: int, factor: int, label: str) -> str:
    return f"{label}: {n * factor}"

@pipeline
def configured(n: int = 1, factor: int = 1, label: str = "default"):
    scaled(n, factor, label)
"""


def test_a_fan_out_with_failed_items_fails_and_counts_them(make_project: MakeProject) -> None:
    ws = make_project(SOURCE)
    result = Runner(ws, find_pipeline(ws.config, "evens")).start({"n": 5})
    assert result.run.status == "failed"
    assert result.statuses["check"] == "failed" and result.statuses["total"] == "upstream_failed"
    assert result.statuses["check[0]"] == "succeeded"
    assert [result.statuses[f"check[{i}]"] for i in range(5)] == [
        "succeeded",
        "failed",
        "succeeded",
        "failed",
        "succeeded",
    ]
    assert result.errors["check"] == "2 of 5 items failed; first: check[1]: ValueError: odd item 1"
    assert result.run.error == f"step 'check' failed: {result.errors['check']}"


def test_a_fan_out_over_nothing_gathers_an_empty_list(make_project: MakeProject) -> None:
    ws = make_project(SOURCE)
    result = Runner(ws, find_pipeline(ws.config, "evens")).start({"n": 0})
    assert result.succeeded, result.errors
    assert result.output("check") == [] and result.output("total") == 0
    assert sorted(result.statuses) == ["check", "numbers", "total"]


def test_fan_out_items_are_cached_one_by_one(make_project: MakeProject) -> None:
    ws = make_project(SOURCE)
    p = find_pipeline(ws.config, "evens")
    Runner(ws, p).start({"n": 1})
    again = Runner(ws, p).start({"n": 1})
    assert again.succeeded and again.output("total") == 0
    steps = {s.name: s for s in st.get_step_runs(ws.store, again.run.id)}
    assert steps["check[0]"].cached_from_id is not None
    assert steps["numbers"].cached_from_id is not None


def test_values_picked_out_of_outputs_reach_the_step(make_project: MakeProject) -> None:
    ws = make_project(SOURCE)
    result = Runner(ws, find_pipeline(ws.config, "picks")).start()
    assert result.succeeded, result.errors
    assert result.output("describe") == "5 rows, score 0.8, first column a"
    steps = {s.name: s for s in st.get_step_runs(ws.store, result.run.id)}
    # A picked value is not a whole artifact read: lineage shows the outputs it came from.
    edges = st.step_lineage(ws.store, steps["describe"].id)
    assert [(e.direction, e.name) for e in edges] == [("out", "output")]
    frame_in = st.step_lineage(ws.store, steps["summary"].id)
    assert ("in", "df") in [(e.direction, e.name) for e in frame_in]


def test_an_order_edge_runs_the_second_step_after_the_first(make_project: MakeProject) -> None:
    ws = make_project(SOURCE)
    result = Runner(ws, find_pipeline(ws.config, "ordered")).start()
    assert result.output("second") == ["first", "second"]
    first, second = st.get_step_runs(ws.store, result.run.id)
    assert (first.finished_at or 0) <= (second.started_at or 0)


def test_a_value_that_cannot_be_stored_fails_its_step_by_name(make_project: MakeProject) -> None:
    ws = make_project(SOURCE)
    result = Runner(ws, find_pipeline(ws.config, "broken")).start()
    assert result.statuses == {"unstorable": "failed", "after": "upstream_failed"}
    assert result.errors["unstorable"].startswith(
        "could not store its output: TypeError: conveyor cannot store a builtins.object"
    )
    assert result.errors["after"] == "upstream step 'unstorable' failed"


def test_a_folder_output_reaches_the_next_step(make_project: MakeProject, tmp_path: Path) -> None:
    ws = make_project(SOURCE)
    result = Runner(ws, find_pipeline(ws.config, "folders")).start({"tmp": str(tmp_path)})
    assert result.succeeded, result.errors
    assert result.output("read_dir") == 0.5
    out = next(
        e
        for s in st.get_step_runs(ws.store, result.run.id)
        if s.name == "write_dir"
        for e in st.step_lineage(ws.store, s.id)
    )
    assert st.get_artifact(ws.store, out.artifact_id).kind == "dir"


def test_params_come_from_defaults_then_conveyor_toml_then_the_run(
    make_project: MakeProject, store_url: str
) -> None:
    made = make_project(SOURCE)
    root = Path(made.config.root)
    with open(root / "conveyor.toml", "a") as f:
        f.write('\n[pipelines.params.configured]\nfactor = 10\nlabel = "from toml"\n')
    with Workspace.from_config(Config.load(root, env={"CONVEYOR_STORE": store_url})) as ws:
        p = find_pipeline(ws.config, "configured")
        assert Runner(ws, p).start().output("scaled") == "from toml: 10"
        result = Runner(ws, p).start({"n": "3", "label": "cli"}, from_text=True)
        assert result.output("scaled") == "cli: 30"
        assert st.get_params(ws.store, result.run.id) == {"n": 3, "factor": 10, "label": "cli"}


def test_a_bad_value_in_conveyor_toml_is_refused_before_a_run_exists(
    make_project: MakeProject, store_url: str
) -> None:
    made = make_project(SOURCE)
    root = Path(made.config.root)
    with open(root / "conveyor.toml", "a") as f:
        f.write('\n[pipelines.params.configured]\nfactor = "ten"\n')
    with Workspace.from_config(Config.load(root, env={"CONVEYOR_STORE": store_url})) as ws:
        with pytest.raises(
            Exception, match="'factor' of pipeline 'configured' must be of type int"
        ):
            Runner(ws, find_pipeline(ws.config, "configured")).start()
        assert st.list_runs(ws.store) == []


def test_a_key_names_one_run_which_a_second_start_resumes(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = make_project(SOURCE)
    p = find_pipeline(ws.config, "evens")
    failed = Runner(ws, p).start({"n": 2}, idempotency_key="nightly-2026-01-01")
    assert failed.run.status == "failed"
    monkeypatch.setenv("CONVEYOR_TEST_ODD_OK", "1")  # the cause is fixed; the job retries
    resumed = Runner(ws, p).start({"n": 2}, idempotency_key="nightly-2026-01-01")
    assert resumed.succeeded, resumed.errors
    assert (resumed.run.id, resumed.run.attempt) == (failed.run.id, 2)
    assert resumed.output("total") == 1
    steps = {s.name: s for s in st.get_step_runs(ws.store, failed.run.id)}
    assert steps["check[0]"].attempt == 1 and steps["check[1]"].attempt == 2  # only what failed
    assert [r.id for r in st.list_runs(ws.store)] == [failed.run.id]
    done = Runner(ws, find_pipeline(ws.config, "ordered")).start(idempotency_key="once")
    with pytest.raises(ConflictError, match=f"Run {done.run.id} is succeeded"):
        Runner(ws, find_pipeline(ws.config, "ordered")).start(idempotency_key="once")


def test_a_lease_too_short_for_the_store_is_refused(make_project: MakeProject) -> None:
    ws = make_project(SOURCE, busy_timeout="5s", retries=2)
    with pytest.raises(ConfigError, match=r"pipelines.lease \(1s\) is too short") as info:
        Runner(ws, find_pipeline(ws.config, "ordered"), lease=1.0)
    assert "lower store.retries" in str(info.value) and "README" in str(info.value.hint)


def test_a_run_is_resumed_only_by_its_own_pipeline_and_only_if_unfinished(
    make_project: MakeProject,
) -> None:
    ws = make_project(SOURCE)
    done = Runner(ws, find_pipeline(ws.config, "ordered")).start()
    with pytest.raises(ConflictError, match=f"Run {done.run.id} is of pipeline 'ordered', not"):
        Runner(ws, find_pipeline(ws.config, "evens")).resume(done.run.id)
    with pytest.raises(ConflictError, match="only queued, failed or interrupted runs"):
        Runner(ws, find_pipeline(ws.config, "ordered")).resume(done.run.id)
    after = st.get_run(ws.store, done.run.id)
    assert (after.status, after.attempt) == ("succeeded", done.run.attempt)


def test_a_runner_that_breaks_fails_its_run_instead_of_leaving_it_running(
    make_project: MakeProject,
) -> None:
    ws = make_project(SOURCE)

    def on_change(step: str, status: str) -> None:
        if status == "succeeded":
            raise RuntimeError("the live view crashed")

    runner = Runner(ws, find_pipeline(ws.config, "ordered"), on_change=on_change)
    with pytest.raises(RuntimeError, match="the live view crashed"):
        runner.start()
    (run,) = st.list_runs(ws.store)
    assert run.status == "failed" and run.error == "RuntimeError: the live view crashed"
    assert run.lease_owner is None and run.finished_at is not None
