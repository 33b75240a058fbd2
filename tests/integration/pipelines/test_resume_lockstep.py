"""Two resumers in lockstep (RELIABILITY R21), on SQLite and PostgreSQL.

A runner is SIGKILLed inside a step; two ``conveyor runs resume RUN`` start together and
stop at a pause point after each has read the run and judged its holder dead, before
either acquires it; both are released at once. Exactly one acquires the run, no step runs
twice, the other exits 1 with one line.
"""

from __future__ import annotations

import os
import signal
import subprocess
import textwrap
from pathlib import Path

import pytest

from conveyor import store as st
from support.cli import CONVEYOR, _env
from support.counters import COUNTING_STEPS, counters
from support.pause import PauseBarrier

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TRIALS = 20
STEPS = ["s1", "s2", "s3", "s4", "s5"]
# Each step's body ends by bumping its counter in a side table: completed executions.
# Not cached, so every trial's steps run (and count) again.
PIPELINES = (
    COUNTING_STEPS
    + """
@step(cache=False)
def s1() -> int:
    return body("s1", 1)

@step(cache=False)
def s2(a: int) -> int:
    return body("s2", a + 1)

@step(cache=False)
def s3(a: int) -> int:
    return body("s3", a * 3)

@step(cache=False)
def s4(a: int) -> int:
    return body("s4", a - 1)

@step(cache=False)
def s5(a: int) -> int:
    return body("s5", a * 2)

@pipeline
def chain():
    s5(s4(s3(s2(s1()))))
"""
)


def start(root: Path, store_url: str, args: list[str], point: str | None, fifo: str):
    extra = {"CONVEYOR_STORE": store_url}
    if point:
        extra |= {"CONVEYOR_PAUSE_POINT": point, "CONVEYOR_PAUSE_PIPE": str(root / fifo)}
    return subprocess.Popen(
        [CONVEYOR, *args],
        cwd=root,
        env=_env(extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_r21_two_resumers_in_lockstep_one_acquires(tmp_path: Path, store_url: str) -> None:
    root = tmp_path / "project"
    subprocess.run(
        [CONVEYOR, "init", str(root), "--name", "r"],
        check=True,
        capture_output=True,
        env=_env({"CONVEYOR_STORE": store_url}),
    )
    (root / "pipelines.py").write_text(textwrap.dedent(PIPELINES))
    for fifo in ("main.fifo", "a.fifo", "b.fifo"):
        os.mkfifo(root / fifo)
    store = st.open_store(store_url, project="r")
    acquired = executed_twice = one_line_losers = 0
    try:
        for trial in range(TRIALS):
            killed_step = STEPS[trial % len(STEPS)]
            runner = start(root, store_url, ["run", "chain"], f"step.{killed_step}", "main.fifo")
            PauseBarrier(root / "main.fifo").wait_reached()
            runner.send_signal(signal.SIGKILL)
            runner.communicate(timeout=30)
            run_id = st.list_runs(store, limit=1)[0].id
            killed = st.get_run(store, run_id)
            assert (killed.status, killed.attempt) == ("running", 1)

            resumers = [
                start(root, store_url, ["runs", "resume", str(run_id)], "runner.before_acquire", f)
                for f in ("a.fifo", "b.fifo")
            ]
            barriers = [PauseBarrier(root / f) for f in ("a.fifo", "b.fifo")]
            for barrier in barriers:  # both have read the run and chosen to take it over
                barrier.wait_reached()
            for barrier in barriers:
                barrier.resume()
            results = [proc.communicate(timeout=120) for proc in resumers]
            codes = sorted(proc.returncode for proc in resumers)
            assert codes == [0, 1], (trial, results)

            _, loser_err = results[[p.returncode for p in resumers].index(1)]
            lines = loser_err.strip().splitlines()
            assert "Traceback" not in loser_err
            assert "taken over" in loser_err, loser_err
            one_line_losers += len(lines) == 1
            run = st.get_run(store, run_id)
            assert (run.status, run.attempt) == ("succeeded", 2), (trial, run)
            starts = st.read_events(store, types=["io.conveyor.run.started"])
            # The run's own start is attempt 1; each acquisition after it emits one more.
            acquired += sum(
                e.data.get("run_id") == run_id and e.data["attempt"] > 1 for e in starts
            )
            # Every step completed once over the kill and the resume: the killed run did
            # the steps before the kill point, the winner the rest, the loser none.
            executed_twice += sum(n - (trial + 1) for n in counters(root).values())
            assert counters(root) == {s: trial + 1 for s in STEPS}, (trial, counters(root))
    finally:
        store.close()
    assert (acquired, executed_twice, one_line_losers) == (TRIALS, 0, TRIALS)
