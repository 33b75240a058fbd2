"""A process-mode step dies with its runner (RELIABILITY R20).

The runner is the installed ``conveyor`` command. A pause point stops a process-mode step
inside its body (in the step's own child process, which has started a subprocess of its
own); the test SIGKILLs the runner there and at once runs ``conveyor runs resume``. Every
execution of the step appends its pid, its start time and whether any earlier execution
(or its subprocess) was still alive when it started, to a side file: a step executing twice
at once shows up there, in the process that would be the second copy.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.cli import CONVEYOR, _env
from support.pause import PauseBarrier
from support.waits import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROUNDS = 10

PIPELINES = """
import json, multiprocessing, os, subprocess, sys, time
from pathlib import Path
from conveyor.core import pause_point
from conveyor import pipeline, step

LOG = Path(__file__).parent / "executions.jsonl"

def started_at(pid):
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] in ("Z", "X") else fields[19]  # a zombie runs nothing

def record(**entry):
    with open(LOG, "a") as f:
        f.write(json.dumps(entry) + "\\n")

@step
def prepare() -> int:
    return 21

# Not cached: every round must execute it again (rounds share inputs, so a later round's
# resume would otherwise reuse round 1's result).
@step(mode="process", cache=False)
def work(x: int) -> dict:
    me = os.getpid()
    earlier = [json.loads(line) for line in LOG.read_text().splitlines()] if LOG.exists() else []
    # Alive now, and the very process recorded (not a reused pid)?
    still_running = [
        pid
        for e in earlier
        if e["event"] == "start"
        for pid, start in ((e["pid"], e["started_at"]), (e["helper"], e["helper_started_at"]))
        if started_at(pid) == start
    ]
    helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    record(
        event="start",
        pid=me,
        started_at=started_at(me),
        helper=helper.pid,
        helper_started_at=started_at(helper.pid),
        still_running=still_running,
        t=time.monotonic(),
    )
    pause_point("step.work")
    helper.kill()
    helper.wait()
    record(event="end", pid=me, t=time.monotonic())
    return {"x": x * 2}

@step
def forker() -> int:
    # In the runner's process (thread mode): once `work` has started, and so its runner
    # holds its watch pipe, fork a child that outlives the runner.
    deadline = time.monotonic() + 60
    while not (LOG.exists() and '"start"' in LOG.read_text()):
        if time.monotonic() > deadline:
            raise TimeoutError("work did not start")
        time.sleep(0.02)
    child = multiprocessing.get_context("fork").Process(target=time.sleep, args=(300,))
    child.start()
    record(event="forked", pid=child.pid, started_at=started_at(child.pid))
    child.join()
    return 1

@step(mode="process", timeout="5s")
def stuck() -> int:
    helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    record(
        event="start",
        pid=os.getpid(),
        started_at=started_at(os.getpid()),
        helper=helper.pid,
        helper_started_at=started_at(helper.pid),
    )
    time.sleep(300)
    return 1

@pipeline
def timesout():
    stuck()

@pipeline
def killable():
    work(prepare())

@pipeline
def mixed():
    work(prepare())
    forker()
"""


def started_at(pid: int) -> str | None:
    """Field 22 of /proc/PID/stat if the process is there and not a zombie."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] in ("Z", "X") else fields[19]


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "r20"
    root.mkdir()
    subprocess.run(
        [CONVEYOR, "init", str(root), "--name", "r"], check=True, capture_output=True, env=_env()
    )
    (root / "pipelines.py").write_text(textwrap.dedent(PIPELINES))
    with open(root / "conveyor.toml", "a") as f:
        f.write('\n[pipelines]\nlease = "60s"\n')
    yield root
    for fifo in root.glob("pause-*.fifo"):
        PauseBarrier(fifo).release()
    # A failed round may leave a step's processes behind: never leak them past the test.
    for log in root.glob("executions*.jsonl"):
        for entry in read(log):
            for pid, start in (
                (entry["pid"], entry.get("started_at")),
                (entry.get("helper"), entry.get("helper_started_at")),
            ):
                if pid and start and started_at(pid) == start:
                    os.kill(pid, signal.SIGKILL)


def read(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def conveyor(root: Path, args: list[str], output: str, **kwargs: Any) -> subprocess.Popen[bytes]:
    """Start the CLI with its output in a file: a pipe would make the test wait for every
    process holding it (an orphaned step among them), not for the runner alone."""
    with open(root / output, "wb") as out:
        return subprocess.Popen(
            [CONVEYOR, *args], cwd=root, stdout=out, stderr=subprocess.STDOUT, **kwargs
        )


def test_r20_a_process_mode_step_dies_with_its_runner(project: Path) -> None:
    """R20: 10 SIGKILLs of the runner while its process-mode step runs, each followed at
    once by a resume: the step's child (and its subprocess) is gone before resume starts
    the step again; 0 steps executing twice at once; 10/10 resumes succeed."""
    log = project / "executions.jsonl"
    overlaps = resumed = killed_children = 0
    for round_ in range(1, ROUNDS + 1):
        fifo = project / f"pause-{round_}.fifo"  # one per round: nothing left over can answer
        os.mkfifo(fifo)
        pause = {"CONVEYOR_PAUSE_POINT": "step.work", "CONVEYOR_PAUSE_PIPE": str(fifo)}
        # Half the runners lead their own process group, as a shell or systemd starts them;
        # half share the test's, as a runner started by another program does.
        runner = conveyor(
            project,
            ["run", "killable", "--no-cache"],
            f"run-{round_}.out",
            env=_env(pause),
            process_group=0 if round_ % 2 else None,
        )
        PauseBarrier(fifo).wait_reached()
        (first,) = read(log)
        assert first["pid"] != runner.pid  # the step runs in a child process of its own
        assert started_at(first["pid"]) == first["started_at"]  # and it is running
        assert started_at(first["helper"]) == first["helper_started_at"]
        runner.send_signal(signal.SIGKILL)
        runner.wait(timeout=30)
        # No wait for the child here: resume itself must not start the step while it runs.
        resume = conveyor(
            project, ["runs", "resume", str(round_)], f"resume-{round_}.out", env=_env()
        )
        code = resume.wait(timeout=120)
        assert code == 0, (round_, (project / f"resume-{round_}.out").read_text())
        resumed += 1
        executions = read(log)
        starts = [e for e in executions if e["event"] == "start"]
        ends = [e for e in executions if e["event"] == "end"]
        assert len(starts) == 2 and [e["pid"] for e in ends] == [starts[1]["pid"]], executions
        # The second execution looked, as it started: was the first (or its subprocess) alive?
        overlaps += len(starts[1]["still_running"])
        # And now, after the resume: the killed child and its subprocess are gone.
        if started_at(first["pid"]) is None and started_at(first["helper"]) is None:
            killed_children += 1
        log.rename(project / f"executions-{round_}.jsonl")
    assert (resumed, overlaps, killed_children) == (ROUNDS, 0, ROUNDS)


def test_a_fork_of_the_runner_does_not_keep_a_process_mode_step_alive(project: Path) -> None:
    """A thread-mode step forks (multiprocessing's default on Linux) while a process-mode
    step runs; the runner is SIGKILLed. The fork lives on, an orphan holding copies of the
    runner's files, yet the process-mode step and its subprocess die."""
    log = project / "executions.jsonl"
    fifo = project / "pause-mixed.fifo"
    os.mkfifo(fifo)
    pause = {"CONVEYOR_PAUSE_POINT": "step.work", "CONVEYOR_PAUSE_PIPE": str(fifo)}
    runner = conveyor(project, ["run", "mixed", "--no-cache"], "mixed.out", env=_env(pause))
    PauseBarrier(fifo).wait_reached()
    (forked,) = wait_for(
        lambda: [e for e in read(log) if e["event"] == "forked"], timeout=60, what="the fork"
    )
    (work,) = [e for e in read(log) if e["event"] == "start"]
    runner.send_signal(signal.SIGKILL)
    runner.wait(timeout=30)
    wait_for(
        lambda: started_at(work["pid"]) is None and started_at(work["helper"]) is None,
        timeout=10,
        what="the process-mode step and its subprocess to die",
    )
    assert started_at(forked["pid"]) == forked["started_at"]  # the fork is still there


def group_members(pgid: int) -> list[int]:
    """The live (not zombie) processes of process group ``pgid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            found.append(int(entry.name))
    return found


def test_a_time_out_kills_the_steps_subprocesses_too(project: Path) -> None:
    """A process-mode step that times out is killed with its whole process group (by the
    runner, and by the step's watchdog too once the runner closes the watch pipe)."""
    runner = conveyor(project, ["run", "timesout", "--no-cache"], "timesout.out", env=_env())
    assert runner.wait(timeout=120) == 1, (project / "timesout.out").read_text()
    assert "timed out" in (project / "timesout.out").read_text()
    (stuck,) = read(project / "executions.jsonl")
    wait_for(
        lambda: started_at(stuck["pid"]) is None and started_at(stuck["helper"]) is None,
        timeout=10,
        what="the timed-out step and its subprocess to die",
    )


def test_a_finished_step_leaves_nothing_of_its_process_group(project: Path) -> None:
    """The watchdog is stopped and reaped when the attempt ends normally."""
    runner = conveyor(project, ["run", "killable", "--no-cache"], "ok.out", env=_env())
    assert runner.wait(timeout=120) == 0, (project / "ok.out").read_text()
    (start,) = [e for e in read(project / "executions.jsonl") if e["event"] == "start"]
    wait_for(
        lambda: not group_members(start["pid"]),  # the child led its own group
        timeout=10,
        what="the step's process group to empty",
    )
