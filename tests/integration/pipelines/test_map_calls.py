"""``Executor.map_calls`` on the local executor: picklable calls in a pool of worker
processes, at most ``parallelism`` at once, results as they finish, the next call taken only
after the results before it were handled; failures, dead workers and time-outs come back as
results; closing the iterator, or killing the process that started the pool, kills what runs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from importlib import import_module
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from conveyor.pipelines import Call, CallResult, LocalExecutor
from support.waits import wait_for

pytestmark = pytest.mark.integration

CALLS = """
import os, subprocess, sys, time
from pathlib import Path

def square(x):
    return {"x": x, "square": x * x, "pid": os.getpid()}

def refuse(x):
    raise ValueError(f"no {x}")

def exit_hard(code):
    os._exit(code)

def hang(folder, name):
    helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    Path(folder, name).write_text(f"{os.getpid()} {helper.pid}")
    time.sleep(300)

def unpicklable_result():
    return lambda: 1
"""

# A program that starts a pool with a hanging call, reports the pids, and waits to be killed.
STARTER = """
import contextlib, sys, time
sys.path.insert(0, sys.argv[1])
from conveyor.pipelines import Call, LocalExecutor
import {module} as calls

if __name__ == "__main__":  # the workers import this module too (as multiprocessing does)
    with contextlib.closing(LocalExecutor(2).map_calls(
        [Call(calls.hang, (sys.argv[1], "starter.pids"), key=0)], parallelism=1
    )) as results:
        for result in results:
            print(result)
"""


def alive(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] not in ("Z", "X")


@pytest.fixture
def calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    name = "map_calls_" + uuid.uuid4().hex[:10]
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(CALLS))
    monkeypatch.syspath_prepend(str(tmp_path))  # the workers get the caller's sys.path
    yield import_module(name)
    sys.modules.pop(name, None)


@pytest.fixture
def executor() -> Iterator[LocalExecutor]:
    ex = LocalExecutor(2)
    yield ex
    ex.shutdown()


def pids(folder: Path, name: str) -> list[int]:
    path = folder / name
    wait_for(lambda: path.exists() and path.read_text(), timeout=30, what=f"{name}")
    return [int(p) for p in path.read_text().split()]


def test_calls_run_in_worker_processes_at_most_parallelism_at_once(
    calls: ModuleType, executor: LocalExecutor
) -> None:
    taken: list[tuple[int, int]] = []  # (call taken, results handled before)
    handled: list[CallResult] = []

    def lazily() -> Iterator[Call]:
        for x in range(6):
            taken.append((x, len(handled)))
            yield Call(calls.square, (x,), key=x)

    for result in executor.map_calls(lazily(), parallelism=2):
        handled.append(result)
    assert sorted(r.key for r in handled) == list(range(6))
    assert all(r.ok and r.value["square"] == r.key**2 for r in handled)
    workers = {r.value["pid"] for r in handled}
    assert os.getpid() not in workers and len(workers) <= 2  # reused, one per slot
    # Two taken at the start; each later one only after a result before it was handled.
    assert taken[:2] == [(0, 0), (1, 0)]
    assert all(before >= x - 1 for x, before in taken[2:])


def test_a_failure_a_dead_worker_and_a_bad_call_are_results(
    calls: ModuleType, executor: LocalExecutor
) -> None:
    batch = [
        Call(calls.refuse, (3,), key="refuse"),
        Call(calls.exit_hard, (7,), key="exit"),
        Call(lambda: 1, key="lambda"),
        Call(calls.unpicklable_result, key="result"),
        Call(calls.square, (4,), key="after"),
    ]
    results = {r.key: r for r in executor.map_calls(batch, parallelism=2)}
    assert results["refuse"].error == "ValueError: no 3" and not results["refuse"].ok
    assert "raise ValueError" in (results["refuse"].traceback or "")
    assert results["exit"].error == "its worker process died (exit code 7)"
    assert "could not send the call to a worker process" in (results["lambda"].error or "")
    assert "could not return the result" in (results["result"].error or "")
    assert results["after"].ok and results["after"].value["square"] == 16


def test_a_call_past_its_timeout_is_killed_with_its_subprocesses(
    calls: ModuleType, executor: LocalExecutor, tmp_path: Path
) -> None:
    batch = [
        Call(calls.hang, (str(tmp_path), "hang.pids"), key="hang", timeout=1.0),
        Call(calls.square, (2,), key="quick"),
    ]
    results = {r.key: r for r in executor.map_calls(batch, parallelism=2)}
    assert results["hang"].timed_out and "timed out after 1s" in (results["hang"].error or "")
    assert results["quick"].ok
    worker, helper = pids(tmp_path, "hang.pids")
    wait_for(lambda: not alive(worker) and not alive(helper), timeout=10, what="the kill")


def test_closing_the_iterator_kills_the_calls_in_flight(
    calls: ModuleType, executor: LocalExecutor, tmp_path: Path
) -> None:
    batch = [Call(calls.hang, (str(tmp_path), "closed.pids"), key=0), Call(calls.square, (1,))]
    with contextlib.closing(executor.map_calls(batch, parallelism=2)) as results:
        first = next(results)
        assert first.ok  # the quick one; the hanging one still runs
        worker, helper = pids(tmp_path, "closed.pids")
        assert alive(worker)
    wait_for(lambda: not alive(worker) and not alive(helper), timeout=10, what="the kill")


def test_a_worker_dies_with_the_process_that_started_it(calls: ModuleType, tmp_path: Path) -> None:
    script = tmp_path / "starter.py"
    script.write_text(textwrap.dedent(STARTER.format(module=calls.__name__)))
    starter = subprocess.Popen([sys.executable, str(script), str(tmp_path)])
    try:
        worker, helper = pids(tmp_path, "starter.pids")
        assert alive(worker) and alive(helper)
        starter.send_signal(signal.SIGKILL)
        starter.wait(30)
        wait_for(lambda: not alive(worker) and not alive(helper), timeout=10, what="the kill")
    finally:
        if starter.poll() is None:
            starter.kill()


def _from_a_daemon(folder: str, module: str, out: Any) -> None:
    sys.path.insert(0, folder)
    mod = import_module(module)
    results = list(LocalExecutor(1).map_calls([Call(mod.square, (5,), key=5)], parallelism=1))
    out.send([(r.key, r.ok, r.value and r.value["square"], r.error) for r in results])


def test_a_daemonic_process_such_as_a_process_mode_step_can_map_calls(
    calls: ModuleType, tmp_path: Path
) -> None:
    from conveyor.pipelines._executor import _FORKSERVER

    receiver, sender = _FORKSERVER.Pipe(duplex=False)
    child = _FORKSERVER.Process(
        target=_from_a_daemon, args=(str(tmp_path), calls.__name__, sender), daemon=True
    )
    child.start()
    sender.close()
    assert receiver.poll(60)
    assert receiver.recv() == [(5, True, 25, None)]
    child.join(10)
