"""``tune`` with ``executor.kind = "ray"``: the tuning step is a Ray task, and each of its
trials a Ray task of its own; and ``map_calls`` on the Ray executor (a failure, a time-out).
One local Ray cluster (token auth, no dashboard) for the module."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest

from conveyor.core import Config
from conveyor.pipelines import Call, Runner, find_pipeline, get_step_run, make_executor
from conveyor.store import list_trials
from conveyor.workspace import Workspace, init_project

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MODULE = "ray_tuned_steps"
SOURCE = """
import time
import ray
from conveyor import pipeline, step
from conveyor.train._tune import tune

def where():
    context = ray.get_runtime_context()
    return {"task": context.get_task_id(), "node": context.get_node_id()}

def objective(trial):
    x = trial.suggest_float("x", 0.0, 1.0)
    for key, value in where().items():
        trial.set_user_attr(key, value)
    return x

def refuse(x):
    raise ValueError(f"no {x}")

def hang():
    time.sleep(300)

def double(x):
    return 2 * x

@step(cache=False)
def search() -> dict:
    result = tune(objective, n_trials=4, parallelism=2, seed=0)
    return {"step": where(), "n": result.n_complete, "best": result.best_value}

@pipeline
def on_ray():
    search()
"""


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    root = tmp_path_factory.mktemp("ray-tune")
    init_project(root, name="raytune")
    (root / f"{MODULE}.py").write_text(textwrap.dedent(SOURCE))
    with open(root / "conveyor.toml", "a") as f:
        f.write(f'\n[pipelines]\nmodules = ["{MODULE}"]\n')
    env = {"CONVEYOR_EXECUTOR_KIND": "ray", "CONVEYOR_EXECUTOR_MAX_WORKERS": "2"}
    ws = Workspace.from_config(Config.load(root, env=env))
    yield ws
    ws.close()
    sys.modules.pop(MODULE, None)


def test_each_trial_is_a_ray_task_of_its_own(workspace: Workspace) -> None:
    config = workspace.config
    # The project's executor, made here so that the cluster outlives the run (the runner
    # shuts down an executor it makes); the step makes its own for the trials, on it.
    executor = make_executor(config.executor, project_root=str(config.root))
    runner = Runner(workspace, find_pipeline(config, "on_ray"), executor=executor)
    try:
        result = runner.start()
        assert result.succeeded, result.errors
        out = result.output("search")
        trials = list_trials(workspace.store, get_step_run(workspace, 1, "search").id)
        assert out["n"] == 4 and [t.state for t in trials] == ["complete"] * 4
        tasks = {t.user_attrs["task"] for t in trials}
        assert len(tasks) == 4 and out["step"]["task"] not in tasks
        assert out["best"] == max(t.value for t in trials if t.value is not None)

        # The same cluster runs map_calls directly: results, a failure, a time-out.
        module: Any = sys.modules[MODULE]
        calls = [
            Call(module.double, (21,), key="double"),
            Call(module.refuse, (3,), key="refuse"),
            Call(module.hang, key="hang", timeout=1.0),
        ]
        results = {r.key: r for r in executor.map_calls(calls, parallelism=2)}
        assert results["double"].ok and results["double"].value == 42
        assert results["refuse"].error == "ValueError: no 3"
        assert results["hang"].timed_out and not results["hang"].ok
    finally:
        executor.shutdown()
