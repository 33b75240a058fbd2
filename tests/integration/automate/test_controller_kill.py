"""A controller SIGKILLed in the middle of a triggered run, then started again: the run
resumes (its finished steps kept) and completes once; no firing, run or event is lost or
doubled."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from conveyor import store as st
from conveyor.core import DRIFT_DETECTED, RUN_SUCCEEDED, Config
from conveyor.workspace import Workspace, init_project
from support.cli import CONVEYOR, _env
from support.pause import PauseBarrier

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PIPELINES = """
import json, os
from pathlib import Path
from conveyor import pipeline, step

LOG = Path(__file__).parent / "executions.jsonl"

def record(name):
    with open(LOG, "a") as f:
        f.write(json.dumps({"step": name, "pid": os.getpid()}) + "\\n")

@step
def prepare(n: int) -> int:
    record("prepare")
    return n + 1

@step
def refit(m: int) -> int:
    record("refit")
    return m * 2

@pipeline
def retrain(n: int = 1):
    refit(prepare(n))
"""

CONFIG = """
[pipelines]
modules = ["pipes"]

[automate.triggers.drifted]
kind = "drift"
deployment = "churn"
pipeline = "retrain"
"""


def up(root: Path, output: str, extra: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with open(root / output, "wb") as out:
        return subprocess.Popen(
            [CONVEYOR, "up", "--once", "--json"],
            cwd=root,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_env(extra),
        )


def test_a_controller_killed_mid_run_resumes_it_once(tmp_path: Path) -> None:
    root = tmp_path / "p"
    init_project(root, name="p")
    (root / "pipes.py").write_text(PIPELINES)
    with open(root / "conveyor.toml", "a") as f:
        f.write(CONFIG)
    with Workspace.from_config(Config.load(root)) as ws:
        st.register_model_version(ws.store, "churn")
        st.upsert_deployment(ws.store, "churn", model="churn")
        st.emit_event(
            ws.store,
            DRIFT_DETECTED,
            data={"deployment": "churn", "level": "drift", "window": "n:0:10", "columns": []},
        )
    fifo = tmp_path / "pause.fifo"
    os.mkfifo(fifo)
    pause = {"CONVEYOR_PAUSE_POINT": "runner.before_commit.refit", "CONVEYOR_PAUSE_PIPE": str(fifo)}
    first = up(root, "first.out", pause)
    PauseBarrier(fifo).wait_reached(timeout=120)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    second = up(root, "second.out")
    assert second.wait(timeout=120) == 0, (root / "second.out").read_text()
    tick = json.loads((root / "second.out").read_text())
    (ran,) = tick["runs"]
    assert (ran["status"], ran["resumed"]) == ("succeeded", True)
    assert [f["outcome"] for f in tick["firings"]] == ["taken"]  # fired once, by the first
    with Workspace.from_config(Config.load(root)) as ws:
        (run,) = st.list_runs(ws.store)
        assert (run.id, run.status, run.attempt) == (ran["run_id"], "succeeded", 2)
        succeeded = st.read_events(ws.store, types=[RUN_SUCCEEDED])
        assert [e.subject for e in succeeded] == [f"runs/{run.id}"]
        (claim,) = st.list_claims(ws.store, st.get_trigger(ws.store, "drifted").id)
        assert claim.status == "started"
    steps = [
        json.loads(line)["step"] for line in (root / "executions.jsonl").read_text().splitlines()
    ]
    # prepare committed before the kill and is not run again; refit ran, was killed before
    # its commit, and ran again.
    assert steps == ["prepare", "refit", "refit"]
