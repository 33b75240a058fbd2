"""The installed command as a long-running process: Ctrl-C during a run or while following
events, ``--verbose`` logging, and the exit codes a shell sees."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import threading
from pathlib import Path

import pytest

from conveyor.store import create_run, open_store
from support.cli import CONVEYOR, Cli, _env
from support.waits import wait_for

pytestmark = pytest.mark.e2e

STUCK = """
import time
from pathlib import Path
from conveyor import pipeline, step

@step
def wait_forever() -> int:
    (Path(__file__).parent / "started").write_text("yes")
    time.sleep(300)
    return 1

@pipeline
def stuck():
    wait_forever()
"""


def test_ctrl_c_during_a_run_exits_130_and_fails_the_run(cli: Cli, tmp_path: Path) -> None:
    assert cli("init", "p").returncode == 0
    project = tmp_path / "p"
    (project / "pipelines.py").write_text(STUCK)
    with subprocess.Popen(
        [CONVEYOR, "run", "stuck"],
        cwd=project,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as runner:
        wait_for(lambda: (project / "started").exists(), timeout=60, what="the step to start")
        runner.send_signal(signal.SIGINT)
        _, err = runner.communicate(timeout=60)
    assert runner.returncode == 130  # the shell's code for SIGINT
    assert "Traceback" not in err
    (run,) = json.loads(cli("runs", "list", "--json", cwd=project).stdout)
    assert run["status"] == "failed" and run["error"] == "interrupted"


def lines_of(proc: subprocess.Popen[str]) -> queue.Queue[str]:
    """The process's stdout lines, read by a thread: a test waits with a deadline."""
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout

    def pump() -> None:
        for line in stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def test_ctrl_c_stops_following_events_cleanly(tmp_path: Path, cli: Cli) -> None:
    assert cli("init", "p").returncode == 0
    project = tmp_path / "p"
    url = f"sqlite:///{project}/.conveyor/conveyor.db"
    with open_store(url, project="p") as store:
        old = create_run(store, "before")
    with subprocess.Popen(
        [CONVEYOR, "events", "--follow", "--after", "0"],
        cwd=project,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as follower:
        lines = lines_of(follower)
        # With --after, what was logged before it started comes first, as text lines.
        first = lines.get(timeout=30).split()
        assert first[0] == "1" and first[3:5] == ["io.conveyor.run.started", f"runs/{old.id}"]
        with open_store(url, project="p") as store:
            new = create_run(store, "after")
        second = lines.get(timeout=30).split()
        assert second[3:5] == ["io.conveyor.run.started", f"runs/{new.id}"]
        follower.send_signal(signal.SIGINT)
        follower.wait(timeout=30)
        assert follower.stderr is not None
        err = follower.stderr.read()
    assert follower.returncode == 0
    assert "Traceback" not in err


def test_verbose_logs_what_happens_on_stderr(cli: Cli, tmp_path: Path) -> None:
    assert cli("init", "p").returncode == 0
    project = tmp_path / "p"
    quiet = cli("artifacts", "gc", cwd=project)
    assert quiet.returncode == 0 and quiet.stderr == ""
    loud = cli("-v", "artifacts", "gc", cwd=project)
    assert loud.returncode == 0
    assert "INFO conveyor.artifacts._gc: artifact gc on " in loud.stderr
    assert loud.stdout == quiet.stdout


def test_debug_does_not_change_a_user_errors_one_line(cli: Cli, tmp_path: Path) -> None:
    result = cli("runs", "list", env={"CONVEYOR_DEBUG": "1"})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("Error: No conveyor.toml in ")
