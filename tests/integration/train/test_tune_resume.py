"""A tuning step killed mid-study resumes without running a finished trial again.

The runner is the installed ``conveyor`` command. A pause point stops it right after trial
3 of the study is recorded, with another trial still running in a worker process; the test
SIGKILLs the runner there and runs ``conveyor runs resume``. Every invocation of the
objective appends its trial number and pid to a side file, so a trial run twice, or a
worker of the killed runner that lives on, shows up there.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import textwrap
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conveyor.pipelines import get_step_run, step_metrics
from conveyor.store import list_trials
from conveyor.workspace import Workspace
from support.cli import CONVEYOR, _env
from support.pause import PauseBarrier
from support.waits import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

N_TRIALS = 8

PIPELINES = """
import json, os, time
from pathlib import Path
from conveyor import pipeline, step
from conveyor.train._tune import tune

LOG = Path(__file__).parent / "invocations.jsonl"

def objective(trial):
    x = trial.suggest_float("x", -1.0, 1.0)
    with open(LOG, "a") as f:
        f.write(json.dumps({"number": trial.number, "pid": os.getpid()}) + "\\n")
    # Trial 3 (where the runner is killed) is short: when it ends, the trial beside it runs.
    time.sleep(0.05 if trial.number == 3 else 0.3)
    return -(x - 0.3) ** 2, {"x": x}

@step(cache=False)
def search() -> dict:
    result = tune(objective, n_trials=N_TRIALS, parallelism=2, seed=0)
    return {"best": result.best_value, "model": result.best_model, "n": len(result.trials)}

@pipeline
def tuned():
    search()
""".replace("N_TRIALS", str(N_TRIALS))


def alive(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] not in ("Z", "X")


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "tuned"
    subprocess.run(
        [CONVEYOR, "init", str(root), "--name", "t"], check=True, capture_output=True, env=_env()
    )
    (root / "pipelines.py").write_text(textwrap.dedent(PIPELINES))
    yield root
    for fifo in root.glob("*.fifo"):
        PauseBarrier(fifo).release()
    for entry in invocations(root):  # never leak a worker past the test
        if alive(entry["pid"]):
            os.kill(entry["pid"], signal.SIGKILL)


def invocations(root: Path) -> list[dict[str, Any]]:
    log = root / "invocations.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_a_killed_tuning_step_resumes_without_running_a_finished_trial_again(
    project: Path,
) -> None:
    fifo = project / "pause.fifo"
    os.mkfifo(fifo)
    pause = {"CONVEYOR_PAUSE_POINT": "tune.trial_recorded.3", "CONVEYOR_PAUSE_PIPE": str(fifo)}
    with open(project / "run.out", "wb") as out:
        runner = subprocess.Popen(
            [CONVEYOR, "run", "tuned"],
            cwd=project,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_env(pause),
        )
    PauseBarrier(fifo).wait_reached()
    runner.send_signal(signal.SIGKILL)
    runner.wait(timeout=30)

    with Workspace.open(project) as ws:
        step = get_step_run(ws, 1, "search")
        before = list_trials(ws.store, step.id)
    finished = {t.number for t in before if t.is_finished}
    running = {t.number for t in before if not t.is_finished}
    assert 3 in finished and running  # killed mid-study, a trial in flight
    killed_workers = {e["pid"] for e in invocations(project)}
    wait_for(
        lambda: not any(alive(pid) for pid in killed_workers),
        timeout=10,
        what="the killed runner's workers to die with it",
    )

    resume = subprocess.run(
        [CONVEYOR, "runs", "resume", "1"],
        cwd=project,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert resume.returncode == 0, resume.stdout + resume.stderr

    with Workspace.open(project) as ws:
        step = get_step_run(ws, 1, "search")
        trials = list_trials(ws.store, step.id)
        metrics = step_metrics(ws, 1, "search")
    assert step.status == "succeeded" and step.attempt == 2
    assert [t.number for t in trials] == list(range(len(trials)))  # dense, stable
    interrupted = {t.number for t in trials if t.interrupted}
    assert interrupted == running  # closed by the resume, numbers kept
    counted = [t for t in trials if t.is_finished and not t.interrupted]
    assert len(counted) == N_TRIALS  # the study reached n_trials in all
    assert all(t.attempt == 1 for t in trials if t.number in finished | running)
    assert all(t.attempt == 2 for t in trials if t.number not in finished | running)
    # Every trial's objective ran exactly once: the finished ones were not run again.
    starts = Counter(e["number"] for e in invocations(project))
    assert starts == {t.number: 1 for t in trials}
    # The resumed attempt carries the whole study's values, the earlier trials' too.
    logged = {m.step for m in metrics if m.key == "trial_value"}
    assert logged == {t.number for t in trials if t.state == "complete"}
