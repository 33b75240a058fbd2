"""Crash resume and fencing with real processes and signals (RELIABILITY R01, R02, R03).

The runner is the installed ``conveyor`` command. Named pause points stop it at an exact
place (inside a step's body; after a step's output bytes are stored but before the commit);
the test then SIGKILLs or SIGSTOPs it, and resumes the run with ``conveyor runs resume``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor import store as st
from support.cli import CONVEYOR, _env
from support.counters import COUNTING_STEPS, counters
from support.pause import PauseBarrier

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Each step's body ends by bumping its counter in a side table: the count of completed
# executions. A finished step recomputed after resume would show 2.
PIPELINES = (
    COUNTING_STEPS
    + """
@step
def s1() -> dict:
    return body("s1", {"x": 1})

@step
def s2(a: dict) -> dict:
    return body("s2", {"x": a["x"] + 1})

@step
def s3(a: dict) -> dict:
    return body("s3", {"x": a["x"] * 3})

@step
def s4(a: dict, b: dict | None = None) -> dict:
    return body("s4", {"x": a["x"] + (b or {"x": 0})["x"]})

@step
def s5(a: dict) -> dict:
    return body("s5", {"x": a["x"] - 1, "done": True})

@step
def slow(a: dict) -> dict:
    pause_point("step.slow")
    return {"x": a["x"], "by": "whoever commits"}

@pipeline
def chain():
    s5(s4(s3(s2(s1()))))

@pipeline
def diamond():
    a = s1()
    s5(s4(s2(a), s3(a)))

@pipeline
def parallel():
    a = s1()
    s4(s2(a))
    s5(s3(a))

@pipeline
def ordered():
    a = s1()
    b = s2(a)
    b >> s3(a)
    s5(s4(b))

@pipeline
def zombie():
    slow(s1())
"""
)
SHAPES = ["chain", "diamond", "parallel", "ordered"]
STEPS = ["s1", "s2", "s3", "s4", "s5"]


def make_project(
    root: Path, lease: str = "60s", busy_timeout: str = "5s", retries: int = 5
) -> Path:
    root.mkdir(parents=True)
    subprocess.run(
        [CONVEYOR, "init", str(root), "--name", "r"], check=True, capture_output=True, env=_env()
    )
    (root / "pipelines.py").write_text(textwrap.dedent(PIPELINES))
    config = root / "conveyor.toml"
    text = config.read_text().replace(
        "[store]\n", f'[store]\nbusy_timeout = "{busy_timeout}"\nretries = {retries}\n'
    )
    config.write_text(text + f'\n[pipelines]\nlease = "{lease}"\n')
    os.mkfifo(root / "pause.fifo")
    return root


def start(root: Path, args: list[str], point: str | None = None) -> subprocess.Popen[str]:
    env = _env(
        {"CONVEYOR_PAUSE_POINT": point, "CONVEYOR_PAUSE_PIPE": str(root / "pause.fifo")}
        if point
        else None
    )
    return subprocess.Popen(
        [CONVEYOR, *args],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


@pytest.fixture
def open_store() -> Iterator[list[st.Store]]:
    opened: list[st.Store] = []
    yield opened
    for s in opened:
        s.close()


def store_of(root: Path, opened: list[st.Store]) -> st.Store:
    s = st.open_store(f"sqlite:///{root}/.conveyor/conveyor.db", project="r")
    opened.append(s)
    return s


def outputs(s: st.Store, run_id: int) -> dict[str, str]:
    """Each step's output digest."""
    found = {}
    for step_run in st.get_step_runs(s, run_id):
        for edge in st.step_lineage(s, step_run.id):
            if edge.direction == "out":
                found[step_run.name] = st.get_artifact(s, edge.artifact_id).digest
    return found


def committed_once(s: st.Store, run_id: int) -> None:
    for step_run in st.get_step_runs(s, run_id):
        attempts = st.step_attempts(s, step_run.id)
        assert sum(a.status == "succeeded" for a in attempts) == 1, (step_run.name, attempts)
        outs = [e for e in st.step_lineage(s, step_run.id) if e.direction == "out"]
        assert len(outs) == 1, (step_run.name, outs)
        assert step_run.status == "succeeded"


def baselines(tmp_path: Path, opened: list[st.Store]) -> dict[str, dict[str, str]]:
    found = {}
    for shape in SHAPES:
        root = make_project(tmp_path / f"baseline-{shape}")
        code, _, err = finish(start(root, ["run", shape, "--no-cache"]))
        assert code == 0, err
        found[shape] = outputs(store_of(root, opened), 1)
    return found


def test_r01_kill_inside_each_step_then_resume_recomputes_nothing(
    tmp_path: Path, open_store: list[st.Store]
) -> None:
    """R01: 4 pipelines x 5 kill points = 20 SIGKILLs inside a step's body, then resume:
    20/20 resumes succeed, finished steps recomputed = 0, outputs equal the baseline's."""
    expected = baselines(tmp_path, open_store)
    resumed = recomputed = n_finished = 0
    for shape in SHAPES:
        for killed_step in STEPS:
            root = make_project(tmp_path / f"{shape}-{killed_step}")
            runner = start(root, ["run", shape, "--no-cache"], point=f"step.{killed_step}")
            barrier = PauseBarrier(root / "pause.fifo")
            barrier.wait_reached()
            runner.send_signal(signal.SIGKILL)
            runner.communicate(timeout=30)
            s = store_of(root, open_store)
            assert st.get_run(s, 1).status == "running"  # died without a word
            # Finished = committed in the store when the runner died. (A step whose body had
            # returned but was not committed yet may run again: only one result commits.)
            finished = {x.name for x in st.get_step_runs(s, 1) if x.status == "succeeded"}
            before = counters(root)
            assert killed_step not in finished
            code, out, err = finish(start(root, ["runs", "resume", "1"]))
            assert code == 0, (shape, killed_step, out, err)
            resumed += 1
            after = counters(root)
            recomputed += sum(after[name] - before[name] for name in finished)
            assert set(after) == set(STEPS), (shape, killed_step, after)
            assert outputs(s, 1) == expected[shape], (shape, killed_step)
            committed_once(s, 1)
            n_finished += len(finished)
    assert (resumed, recomputed) == (20, 0)
    assert n_finished >= 20  # the kills really came after finished steps, not only at the start


def test_r02_kill_between_stored_output_and_commit(
    tmp_path: Path, open_store: list[st.Store]
) -> None:
    """R02: 10 SIGKILLs after a step's output bytes are stored (renamed into place) but
    before the commit: exactly 1 committed result per step, 0 steps left running, the
    orphan bytes are adopted (same digest, verified on read) or rewritten, never half."""
    expected = baselines(tmp_path, open_store)
    cases = [(shape, step) for shape in ("chain", "diamond") for step in STEPS]
    for shape, killed_step in cases:
        root = make_project(tmp_path / f"r02-{shape}-{killed_step}")
        runner = start(
            root, ["run", shape, "--no-cache"], point=f"runner.before_commit.{killed_step}"
        )
        PauseBarrier(root / "pause.fifo").wait_reached()
        runner.send_signal(signal.SIGKILL)
        runner.communicate(timeout=30)
        s = store_of(root, open_store)
        step_run = next(x for x in st.get_step_runs(s, 1) if x.name == killed_step)
        assert step_run.status == "running"  # not committed
        code, out, err = finish(start(root, ["runs", "resume", "1"]))
        assert code == 0, (out, err)
        committed_once(s, 1)
        assert all(x.status != "running" for x in st.get_step_runs(s, 1))
        assert outputs(s, 1) == expected[shape]
        for digest in outputs(s, 1).values():
            assert s and json.loads(_read_verified(root, digest))  # whole, verified bytes
    assert len(cases) == 10


def _read_verified(root: Path, digest: str) -> bytes:
    from conveyor.artifacts import open_artifact_store

    return open_artifact_store(str(root / ".conveyor" / "artifacts")).get_bytes(digest)


def test_r03_a_zombie_runners_late_commit_is_rejected(
    tmp_path: Path, open_store: list[st.Store]
) -> None:
    """R03: 5 rounds: SIGSTOP the runner inside a step past its 2 s lease; a second runner
    resumes and finishes; SIGCONT the first: its commit is rejected by fencing. 0 overwrites;
    the step's history shows 2 attempts, 1 committed."""
    rejected = 0
    for round_ in range(5):
        root = make_project(tmp_path / f"r03-{round_}", lease="2s", busy_timeout="0.5s", retries=1)
        zombie = start(root, ["run", "zombie", "--no-cache"], point="step.slow")
        barrier = PauseBarrier(root / "pause.fifo")
        barrier.wait_reached()
        zombie.send_signal(signal.SIGSTOP)
        s = store_of(root, open_store)
        # The second runner waits out the stopped runner's lease, then takes over.
        code, out, err = finish(start(root, ["runs", "resume", "1"]))
        assert code == 0, (out, err)
        winner = outputs(s, 1)["slow"]
        zombie.send_signal(signal.SIGCONT)
        # Let its step body go on if it gets there; the runner itself notices, at its next
        # heartbeat or commit (both fenced by attempt numbers), that its run was taken over.
        while zombie.poll() is None:
            barrier.release()
            try:
                code, out, err = finish(zombie, timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                continue
        else:
            code, out, err = finish(zombie)
        assert code == 1 and "taken over" in (out + err), (code, out, err)
        assert "Traceback" not in err
        rejected += 1
        assert outputs(s, 1)["slow"] == winner  # 0 overwrites
        slow = next(x for x in st.get_step_runs(s, 1) if x.name == "slow")
        attempts = st.step_attempts(s, slow.id)
        assert [a.status for a in attempts] == ["superseded", "succeeded"], attempts
        assert st.get_run(s, 1).status == "succeeded"
    assert rejected == 5
