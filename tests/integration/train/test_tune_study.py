"""``tune`` inside a step, on the local executor: trials in worker processes two at a time,
every trial recorded under its step run, pruning, a failing trial, a time-out, and the best
trial's model as the step's output without fitting it again."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from conveyor.pipelines import Runner, find_pipeline, step_metrics, step_params
from conveyor.store import list_trials
from conveyor.train import tuning_trials
from conveyor.workspace import Workspace
from support.projects import MakeProject

pytestmark = pytest.mark.integration

SOURCE = """
import json, os, time
from pathlib import Path
import optuna
from typing import Any
from conveyor import get_step_context, pipeline, step
from conveyor.train._tune import tune

HERE = Path(__file__).parent

def record(entry):
    with open(HERE / "invocations.jsonl", "a") as f:
        f.write(json.dumps(entry) + "\\n")

def fitted(trial):
    from sklearn.linear_model import Ridge

    alpha = trial.suggest_float("alpha", 1e-3, 10.0, log=True)
    trial.set_user_attr("pid", os.getpid())
    X = [[float(i), float(i % 3)] for i in range(30)]
    y = [2.0 * a + b for a, b in X]
    model = Ridge(alpha=alpha).fit(X, y)
    print(f"alpha={alpha:.4f}")
    return -abs(model.coef_[0] - 2.0), model

def reporting(trial):
    x = trial.suggest_float("x", 0.0, 1.0)
    record({"number": trial.number, "x": x, "pid": os.getpid()})
    for step in range(4):
        trial.report(x, step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return x

def failing(trial):
    x = trial.suggest_int("x", 0, 100)
    if trial.number == 2:
        raise ValueError(f"trial 2 refuses x={x}")
    return float(x)

def hangs_once(trial):
    x = trial.suggest_float("x", 0.0, 1.0)  # sampled in the step's process (space)
    if trial.number == 1:
        time.sleep(60)
    return x

def slow(trial):
    time.sleep(0.3)
    return trial.suggest_float("x", 0.0, 1.0)

@step(cache=False)
def search() -> Any:
    result = tune(fitted, n_trials=6, parallelism=2, seed=0)
    assert result.n_complete == 6
    get_step_context().log_metric("best_from_step", result.best_value)
    return result.best_model

@step(cache=False)
def prune() -> dict:
    result = tune(
        reporting,
        n_trials=14,
        parallelism=2,
        seed=1,
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0),
    )
    return {"pruned": result.n_pruned, "complete": result.n_complete}

@step(cache=False, mode="process")
def survive() -> dict:
    result = tune(failing, n_trials=5, parallelism=2, seed=2, direction="minimize")
    return {"failed": result.n_failed, "complete": result.n_complete, "best": result.best_value}

@step(cache=False)
def timed() -> dict:
    started = time.time()
    result = tune(slow, timeout=1.0, parallelism=2, seed=3)
    return {"started": started, "complete": result.n_complete, "n": len(result.trials)}

@step(cache=False)
def bounded() -> dict:
    result = tune(
        hangs_once,
        n_trials=3,
        parallelism=2,
        seed=4,
        space={"x": optuna.distributions.FloatDistribution(0.0, 1.0)},
        trial_timeout=1.0,
    )
    return {"failed": result.n_failed, "complete": result.n_complete}

@pipeline
def bounded_trials():
    bounded()

@pipeline
def searched():
    search()

@pipeline
def pruned():
    prune()

@pipeline
def survived():
    survive()

@pipeline
def timed_out():
    timed()
"""


def run(ws: Workspace, name: str) -> Any:
    result = Runner(ws, find_pipeline(ws.config, name)).start()
    assert result.succeeded, result.errors
    return result


def test_trials_run_two_at_a_time_and_the_best_model_is_the_steps_output(
    make_project: MakeProject,
) -> None:
    ws = make_project(SOURCE)
    result = run(ws, "searched")
    run_id = result.run.id
    (step_run,) = [s for s in st_steps(ws, run_id) if s.name == "search"]
    trials = list_trials(ws.store, step_run.id)
    expected = [(i, "complete", 1) for i in range(6)]
    assert [(t.number, t.state, t.attempt) for t in trials] == expected
    pids = {t.user_attrs["pid"] for t in trials}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2  # worker processes, reused
    assert all(t.artifact_id is not None and t.params.keys() == {"alpha"} for t in trials)
    assert all(t.distributions["alpha"]["name"] == "FloatDistribution" for t in trials)

    best = max(trials, key=lambda t: t.value or -1e9)
    model = result.output("search")
    assert type(model).__name__ == "Ridge" and model.alpha == best.params["alpha"]
    metrics = step_metrics(ws, run_id, "search")
    values = [(m.step, m.value) for m in metrics if m.key == "trial_value"]
    assert sorted(values) == sorted((t.number, t.value) for t in trials)
    assert [m.value for m in metrics if m.key == "n_complete"] == [6.0]
    assert [m.value for m in metrics if m.key == "best_from_step"] == [best.value]
    assert step_params(ws, run_id, "search") == {"best.alpha": best.params["alpha"]}
    assert tuning_trials(ws, run_id) == {"search": trials}
    assert tuning_trials(ws, run_id, step="search") == {"search": trials}
    logs = ws.artifacts.get_bytes(st_step(ws, run_id, "search").logs_digest or "").decode()
    assert "[trial 0]\nalpha=" in logs  # what each trial printed, in the step's logs


def st_steps(ws: Workspace, run_id: int) -> list[Any]:
    from conveyor.pipelines import describe_run

    return describe_run(ws, run_id).steps


def st_step(ws: Workspace, run_id: int, name: str) -> Any:
    from conveyor.pipelines import get_step_run

    return get_step_run(ws, run_id, name)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_trials_that_report_worse_than_the_median_are_pruned(make_project: MakeProject) -> None:
    ws = make_project(SOURCE)
    result = run(ws, "pruned")
    out = result.output("prune")
    assert out["pruned"] > 0 and out["pruned"] + out["complete"] == 14
    trials = list_trials(ws.store, st_step(ws, result.run.id, "prune").id)
    pruned = [t for t in trials if t.state == "pruned"]
    # Each pruned trial stopped at its first report (step 0): its x was below the median
    # of the complete trials the worker saw, and its last reported value is its value.
    assert all(list(t.intermediate) == [0] and t.value == t.params["x"] for t in pruned)
    complete = [t for t in trials if t.state == "complete"]
    assert all(list(t.intermediate) == [0, 1, 2, 3] for t in complete)
    log = Path(ws.config.root, "invocations.jsonl").read_text().splitlines()
    invocations = [json.loads(line) for line in log]
    assert sorted(i["number"] for i in invocations) == list(range(14))  # each trial once


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_failing_trial_is_recorded_and_the_study_goes_on_from_a_process_mode_step(
    make_project: MakeProject,
) -> None:
    ws = make_project(SOURCE)
    result = run(ws, "survived")
    out = result.output("survive")
    assert (out["failed"], out["complete"]) == (1, 4)
    trials = list_trials(ws.store, st_step(ws, result.run.id, "survive").id)
    (failed,) = [t for t in trials if t.state == "failed"]
    assert failed.number == 2 and failed.value is None and not failed.interrupted
    assert failed.error == f"ValueError: trial 2 refuses x={failed.params['x']}"
    assert out["best"] == min(t.value for t in trials if t.value is not None)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_timeout_stops_asking_new_trials(make_project: MakeProject) -> None:
    ws = make_project(SOURCE)
    result = run(ws, "timed_out")
    out = result.output("timed")
    trials = list_trials(ws.store, st_step(ws, result.run.id, "timed").id)
    assert out["n"] == len(trials) >= 1 and out["complete"] == len(trials)
    assert all(t.state == "complete" for t in trials)
    # No trial was asked after the deadline (started_at is written as the trial is asked;
    # the slack covers the store's write, not a speed).
    assert all(t.started_at / 1000 <= out["started"] + 1.0 + 0.5 for t in trials)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_trial_past_its_timeout_is_killed_and_keeps_the_params_sampled_for_it(
    make_project: MakeProject,
) -> None:
    ws = make_project(SOURCE)
    result = run(ws, "bounded_trials")
    assert result.output("bounded") == {"failed": 1, "complete": 2}
    trials = list_trials(ws.store, st_step(ws, result.run.id, "bounded").id)
    (late,) = [t for t in trials if t.state == "failed"]
    assert late.number == 1 and late.error == "timed out after 1s; its process was killed"
    # Sampled in the step's process before the trial started, so known though it never
    # reported back.
    assert 0.0 <= late.params["x"] <= 1.0 and late.distributions["x"]["name"] == (
        "FloatDistribution"
    )
    assert all(t.value == t.params["x"] for t in trials if t.state == "complete")
