"""The ``ray`` executor against one local Ray cluster for the whole module: resources, a
failing step, a worker that dies, cancellation and step time-outs; and the token rules."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from conveyor.artifacts import LocalArtifactStore
from conveyor.core import Config, ConfigError, ExecutorSettings
from conveyor.pipelines import Runner, find_pipeline, make_executor, run_pipeline
from conveyor.pipelines._ray import RayExecutor, _require_token_auth
from conveyor.pipelines._worker import Outcome, Task
from conveyor.workspace import Workspace, init_project
from support.waits import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MODULE = "ray_executor_steps"
STEPS = """
import os, time
from pathlib import Path
import ray
from conveyor import pipeline, step

HERE = Path(__file__).parent

def assigned():
    return {"resources": ray.get_runtime_context().get_assigned_resources(), "pid": os.getpid()}

def refuse():
    raise ValueError("not on this cluster")

def die():
    os._exit(7)

def hang(name):
    (HERE / name).write_text(str(os.getpid()))
    time.sleep(300)

@step(timeout="2s")
def too_slow() -> int:
    time.sleep(300)
    return 1

@step
def fine() -> str:
    return "fine"

@step
def crash() -> int:
    os._exit(7)

@pipeline
def timing_out():
    too_slow()
    fine()

@pipeline
def crashing():
    crash()
    fine()
"""


def alive(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] not in ("Z", "X")


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ray-project")
    init_project(folder, name="r")
    (folder / "pipelines.py").unlink()
    (folder / f"{MODULE}.py").write_text(textwrap.dedent(STEPS))
    with open(folder / "conveyor.toml", "a") as f:
        f.write(f'\n[pipelines]\nmodules = ["{MODULE}"]\n')
    return folder


@pytest.fixture(scope="module")
def cluster(root: Path) -> Iterator[Any]:
    """One small local cluster (2 CPUs and 2 of a custom resource), token-authenticated."""
    # Ray keeps the first token it read for the life of the process: the variables this
    # sets stay set, so later clusters in this process use the same token.
    _require_token_auth(str(root))
    import ray

    if ray.is_initialized():  # pragma: no cover - another module left one running
        ray.shutdown()
    paths = os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH")) if p)
    ray.init(
        num_cpus=2,
        resources={"special": 2},
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
        runtime_env={"env_vars": {"PYTHONPATH": paths}},
    )
    try:
        yield ray
    finally:
        ray.shutdown()
        sys.modules.pop(MODULE, None)


@pytest.fixture
def executor(cluster: Any, root: Path) -> Iterator[RayExecutor]:
    ex = RayExecutor(max_workers=2, project_root=str(root))  # joins the running cluster
    yield ex
    ex.shutdown()
    assert cluster.is_initialized()  # it did not start the cluster, so it leaves it running


def task(root: Path, fn: str, **constants: Any) -> Task:
    return Task(
        step_name=fn,
        step_run_id=1,
        attempt=1,
        module=MODULE,
        qualname=fn,
        artifacts_url=str(root / ".conveyor" / "artifacts"),
        storage_options={},
        project_root=str(root),
        constants=constants,
        inputs={},
    )


def result(future: Future[Outcome]) -> Outcome:
    return future.result(timeout=120)


def stored(root: Path, outcome: Outcome) -> Any:
    assert outcome.ok and outcome.output is not None, outcome
    store = LocalArtifactStore(root / ".conveyor" / "artifacts")
    return json.loads(store.get_bytes(outcome.output.digest))


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        (None, {"CPU": 1.0}),
        ({"cpus": 0.5}, {"CPU": 0.5}),
        ({"num_cpus": 1, "special": 1}, {"CPU": 1.0, "special": 1.0}),
        ({"gpus": 0}, {"CPU": 1.0}),
    ],
)
def test_resources_map_to_what_ray_assigns(
    executor: RayExecutor,
    root: Path,
    resources: dict[str, float] | None,
    expected: dict[str, float],
) -> None:
    outcome = result(
        executor.submit(task(root, "assigned"), mode=None, timeout=None, resources=resources)
    )
    value = stored(root, outcome)
    assert value["resources"] == expected
    assert value["pid"] != os.getpid()  # a Ray worker ran it


def test_a_raising_step_is_a_failed_outcome(executor: RayExecutor, root: Path) -> None:
    outcome = result(executor.submit(task(root, "refuse"), mode=None, timeout=None))
    assert not outcome.ok and outcome.error == "ValueError: not on this cluster"
    assert outcome.traceback is not None and "refuse" in outcome.traceback


def test_a_worker_that_dies_is_a_failed_outcome_not_an_exception(
    executor: RayExecutor, root: Path
) -> None:
    outcome = result(executor.submit(task(root, "die"), mode=None, timeout=None))
    assert not outcome.ok
    assert outcome.error is not None and outcome.error.startswith("the step's Ray task failed: ")


def test_cancel_kills_the_worker_running_the_attempt(executor: RayExecutor, root: Path) -> None:
    pid_file = root / "hang.pid"
    future = executor.submit(task(root, "hang", name="hang.pid"), mode=None, timeout=None)
    pid = int(wait_for(lambda: pid_file.exists() and pid_file.read_text(), timeout=60))
    executor.cancel(future)
    outcome = result(future)
    assert not outcome.ok and "cancelled" in (outcome.error or "").lower()
    wait_for(lambda: not alive(pid), timeout=30, what="the cancelled Ray worker to die")
    executor.cancel(future)  # again: nothing left to cancel


def workspace(root: Path) -> Workspace:
    return Workspace.from_config(Config.load(root, env={}))


def test_a_step_time_out_on_ray_fails_that_step_and_the_run_goes_on(
    executor: RayExecutor, root: Path
) -> None:
    # The run ends at the time-out, not when the 300 s step would; the executor cancels
    # the task (which kills its worker: see the cancel test above).
    with workspace(root) as ws:
        result = Runner(ws, find_pipeline(ws.config, "timing_out"), executor=executor).start()
    assert result.statuses == {"too_slow": "failed", "fine": "succeeded"}
    assert result.errors["too_slow"] == "StepTimeoutError: timed out after 2s"
    assert result.run.status == "failed"


def test_a_crashing_step_fails_alone_and_the_run_ends(executor: RayExecutor, root: Path) -> None:
    with workspace(root) as ws:
        result = Runner(ws, find_pipeline(ws.config, "crashing"), executor=executor).start()
    assert result.run.status == "failed"
    assert result.statuses == {"crash": "failed", "fine": "succeeded"}
    assert result.errors["crash"].startswith("the step's Ray task failed: ")


def test_a_run_may_choose_ray_and_leaves_the_workspace_local(cluster: Any, root: Path) -> None:
    with workspace(root) as ws:
        assert ws.config.executor.kind == "local"
        result = run_pipeline(ws, "crashing", executor="ray")
        assert result.statuses["fine"] == "succeeded"
        assert result.errors["crash"].startswith("the step's Ray task failed: ")
        assert ws.config.executor.kind == "local"
    assert cluster.is_initialized()  # joined, not started: still up for the other tests


# -- token authentication (no cluster needed) ---------------------------------------------


def test_an_existing_token_file_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAY_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("RAY_AUTH_TOKEN_PATH", raising=False)
    _require_token_auth(str(tmp_path))
    token = tmp_path / ".conveyor" / "ray_auth_token"
    first = token.read_text()
    assert len(first) == 64 and token.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / ".conveyor").stat().st_mode & 0o777 == 0o700
    assert os.environ["RAY_AUTH_TOKEN_PATH"] == str(token)
    monkeypatch.delenv("RAY_AUTH_TOKEN_PATH")
    _require_token_auth(str(tmp_path))
    assert token.read_text() == first  # reused, never rotated under a running cluster


def test_a_token_from_the_environment_is_used_as_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAY_AUTH_TOKEN", "t" * 64)
    monkeypatch.delenv("RAY_AUTH_TOKEN_PATH", raising=False)
    _require_token_auth(str(tmp_path))
    assert os.environ["RAY_AUTH_MODE"] == "token"
    assert not (tmp_path / ".conveyor").exists()


def test_ray_imported_without_token_auth_is_refused(tmp_path: Path) -> None:
    script = (
        "import ray\n"
        "from conveyor.core import ConfigError, ExecutorSettings\n"
        "from conveyor.pipelines import make_executor\n"
        "try:\n"
        "    make_executor(ExecutorSettings(kind='ray'))\n"
        "except ConfigError as exc:\n"
        "    print(exc)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Ray was imported before conveyor could turn on token authentication" in done.stdout
    assert "Set RAY_AUTH_MODE=token in the environment before starting Python." in done.stdout
    assert not (tmp_path / ".conveyor").exists()


def test_make_executor_names_the_ray_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAY_AUTH_MODE", "off")
    with pytest.raises(ConfigError) as info:
        make_executor(ExecutorSettings(kind="ray"))
    assert "(RAY_AUTH_MODE='off')" in info.value.message
    assert info.value.hint == "Unset RAY_AUTH_MODE or set it to 'token'."
