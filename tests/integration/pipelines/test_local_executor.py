"""The local executor on its own: attempts in threads and in child processes, what an
attempt whose process dies reports, and what a time-out kills (its whole process group)."""

from __future__ import annotations

import json
import os
import sys
import textwrap
import uuid
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from conveyor.artifacts import LocalArtifactStore
from conveyor.core import ConfigError, ExecutorSettings
from conveyor.pipelines import LocalExecutor, make_executor
from conveyor.pipelines._worker import Outcome, Task
from support.waits import wait_for

pytestmark = pytest.mark.integration

STEPS = """
import os, signal, subprocess, sys, threading, time
from pathlib import Path

HERE = Path(__file__).parent
RELEASE = threading.Event()

def add(a, b):
    print(f"adding {a} and {b}")
    return {"sum": a + b, "pid": os.getpid()}

def refuse(a, b):
    print("about to refuse")
    raise ValueError(f"cannot add {a} and {b}")

def exit_hard(code):
    os._exit(code)

def kill_self():
    os.kill(os.getpid(), signal.SIGKILL)

def hang_with_a_helper(name):
    helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    (HERE / name).write_text(f"{os.getpid()} {helper.pid}")
    time.sleep(300)

def wait_for_release():
    RELEASE.wait(60)
    return "released"

def quick():
    return "quick"

def chatty(tag, n):
    for i in range(n):
        print(f"{tag} line {i}")
        print(f"{tag} warning {i}", file=sys.stderr)
        time.sleep(0.001)
    return tag

RUNNING = {"now": 0, "most": 0}
LOCK = threading.Lock()
GATE = threading.Event()

def counted():
    with LOCK:
        RUNNING["now"] += 1
        RUNNING["most"] = max(RUNNING["most"], RUNNING["now"])
    GATE.wait(30)
    with LOCK:
        RUNNING["now"] -= 1
    return RUNNING["most"]
"""


def alive(pid: int) -> bool:
    """Running and not a zombie (a killed child its parent has not reaped yet)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] not in ("Z", "X")


@pytest.fixture
def module(tmp_path: Path) -> Iterator[str]:
    name = "executor_steps_" + uuid.uuid4().hex[:10]
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(STEPS))
    yield name
    sys.modules.pop(name, None)


@pytest.fixture
def store(tmp_path: Path) -> LocalArtifactStore:
    return LocalArtifactStore(tmp_path / "artifacts")


def task(store: LocalArtifactStore, root: Path, module: str, fn: str, **constants: Any) -> Task:
    return Task(
        step_name=fn,
        step_run_id=1,
        attempt=1,
        module=module,
        qualname=fn,
        artifacts_url=store.url,
        storage_options={},
        project_root=str(root),
        constants=constants,
        inputs={},
    )


def output(store: LocalArtifactStore, outcome: Outcome) -> Any:
    assert outcome.ok and outcome.output is not None, outcome
    return json.loads(store.get_bytes(outcome.output.digest))


@pytest.fixture
def executor(store: LocalArtifactStore) -> Iterator[LocalExecutor]:
    ex = LocalExecutor(max_workers=2, store=store)
    yield ex
    ex.shutdown()


def result(future: Future[Outcome]) -> Outcome:
    return future.result(timeout=60)


def test_a_thread_attempt_returns_its_value_output_and_logs(
    executor: LocalExecutor, store: LocalArtifactStore, tmp_path: Path, module: str
) -> None:
    outcome = result(
        executor.submit(task(store, tmp_path, module, "add", a=2, b=3), mode=None, timeout=None)
    )
    assert outcome.value == {"sum": 5, "pid": os.getpid()} and outcome.has_value
    assert output(store, outcome) == outcome.value  # stored through its materializer
    assert outcome.output is not None and outcome.output.meta == {"materializer": "json"}
    assert outcome.logs == b"adding 2 and 3\n"


def test_a_process_attempt_runs_in_a_child_and_returns_only_what_it_stored(
    executor: LocalExecutor, store: LocalArtifactStore, tmp_path: Path, module: str
) -> None:
    outcome = result(
        executor.submit(
            task(store, tmp_path, module, "add", a=20, b=22), mode="process", timeout=30
        )
    )
    value = output(store, outcome)
    assert value["sum"] == 42 and value["pid"] != os.getpid()
    assert outcome.value is None and not outcome.has_value  # the value stayed in the child
    assert outcome.logs == b"adding 20 and 22\n"
    assert not alive(value["pid"])


def test_the_default_mode_is_the_executors(
    store: LocalArtifactStore, tmp_path: Path, module: str
) -> None:
    ex = LocalExecutor(max_workers=1, default_mode="process", store=store)
    try:
        outcome = result(
            ex.submit(task(store, tmp_path, module, "add", a=1, b=1), mode=None, timeout=30)
        )
        assert output(store, outcome)["pid"] != os.getpid()
        threaded = result(
            ex.submit(task(store, tmp_path, module, "add", a=1, b=1), mode="thread", timeout=None)
        )
        assert output(store, threaded)["pid"] == os.getpid()
    finally:
        ex.shutdown()


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_a_raising_step_is_an_outcome_with_its_error_and_traceback(
    executor: LocalExecutor, store: LocalArtifactStore, tmp_path: Path, module: str, mode: str
) -> None:
    future = executor.submit(
        task(store, tmp_path, module, "refuse", a=1, b=2), mode=mode, timeout=30
    )
    outcome = result(future)  # never raises
    assert not outcome.ok and outcome.output is None
    assert outcome.error == "ValueError: cannot add 1 and 2"
    assert outcome.traceback is not None and "Traceback (most recent call last)" in (
        outcome.traceback
    )
    assert outcome.logs.startswith(b"about to refuse\n") and b"cannot add 1 and 2" in outcome.logs


def test_a_step_that_cannot_be_imported_fails_to_load_its_inputs(
    executor: LocalExecutor, store: LocalArtifactStore, tmp_path: Path
) -> None:
    outcome = result(
        executor.submit(
            task(store, tmp_path, "no_such_module_here", "f"), mode="process", timeout=30
        )
    )
    assert not outcome.ok
    assert outcome.error == (
        "could not load its inputs: ModuleNotFoundError: No module named 'no_such_module_here'"
    )


@pytest.mark.parametrize(
    ("fn", "constants", "code"), [("exit_hard", {"code": 3}, 3), ("kill_self", {}, -9)]
)
def test_a_child_that_dies_is_a_failed_attempt_naming_its_exit_code(
    executor: LocalExecutor,
    store: LocalArtifactStore,
    tmp_path: Path,
    module: str,
    fn: str,
    constants: dict[str, Any],
    code: int,
) -> None:
    outcome = result(
        executor.submit(task(store, tmp_path, module, fn, **constants), mode="process", timeout=30)
    )
    assert not outcome.ok and not outcome.timed_out
    assert outcome.error == f"the step's process died (exit code {code})"
    # The executor keeps working after a child died.
    again = result(
        executor.submit(task(store, tmp_path, module, "add", a=1, b=2), mode="process", timeout=30)
    )
    assert output(store, again)["sum"] == 3


def test_a_time_out_kills_the_child_and_the_processes_it_started(
    executor: LocalExecutor, store: LocalArtifactStore, tmp_path: Path, module: str
) -> None:
    outcome = result(
        executor.submit(
            task(store, tmp_path, module, "hang_with_a_helper", name="pids"),
            mode="process",
            timeout=1.0,
        )
    )
    assert not outcome.ok and outcome.timed_out
    assert outcome.error == "timed out after 1s; the process was killed"
    child, helper = map(int, (tmp_path / "pids").read_text().split())
    wait_for(
        lambda: not alive(child) and not alive(helper),
        timeout=10,
        what="the timed-out step and its subprocess to die",
    )


def test_a_cancelled_thread_attempt_gives_its_slot_back(
    store: LocalArtifactStore, tmp_path: Path, module: str
) -> None:
    ex = LocalExecutor(max_workers=1, store=store)
    stuck = ex.submit(task(store, tmp_path, module, "wait_for_release"), mode=None, timeout=None)
    try:
        ex.cancel(stuck)  # a thread cannot be stopped: the pool grows by one instead
        quick = ex.submit(task(store, tmp_path, module, "quick"), mode=None, timeout=None)
        assert result(quick).value == "quick"
        assert not stuck.done()
    finally:
        sys.modules[module].RELEASE.set()
        assert result(stuck).value == "released"
        ex.shutdown()


def test_cancelling_a_finished_attempt_changes_nothing(
    executor: LocalExecutor, store: LocalArtifactStore, tmp_path: Path, module: str
) -> None:
    done = executor.submit(task(store, tmp_path, module, "quick"), mode=None, timeout=None)
    assert result(done).value == "quick"
    executor.cancel(done)
    assert result(done).value == "quick"


def test_make_executor_builds_the_configured_local_executor(store: LocalArtifactStore) -> None:
    ex = make_executor(ExecutorSettings(max_workers=3), store=store, mode="process")
    try:
        assert isinstance(ex, LocalExecutor) and ex.name == "local"
        assert (ex.max_workers, ex.default_mode, ex.store) == (3, "process", store)
    finally:
        ex.shutdown()
    every_cpu = make_executor(ExecutorSettings())
    try:
        assert every_cpu.max_workers == (os.cpu_count() or 2)
    finally:
        every_cpu.shutdown()


def test_make_executor_refuses_an_unknown_kind() -> None:
    # Settings are validated on load; one built in code without validation is caught here.
    settings = ExecutorSettings.model_construct(kind="rey", max_workers=0, address="")
    with pytest.raises(ConfigError) as info:
        make_executor(settings)
    assert info.value.message == "Unknown executor 'rey'. Did you mean 'ray'?"
    assert info.value.hint == "Set executor.kind to 'local' or 'ray'."


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_each_attempt_captures_only_its_own_output(
    executor: LocalExecutor, store: LocalArtifactStore, tmp_path: Path, module: str, mode: str
) -> None:
    # Two attempts print at the same time; each one's logs hold its lines, stdout and stderr.
    futures = [
        executor.submit(
            task(store, tmp_path, module, "chatty", tag=tag, n=50), mode=mode, timeout=60
        )
        for tag in ("left", "right")
    ]
    for tag, future in zip(("left", "right"), futures, strict=True):
        logs = result(future).logs.decode().splitlines()
        assert sorted(logs) == sorted(
            [f"{tag} line {i}" for i in range(50)] + [f"{tag} warning {i}" for i in range(50)]
        )


def test_no_more_attempts_run_at_once_than_max_workers(
    store: LocalArtifactStore, tmp_path: Path, module: str
) -> None:
    ex = LocalExecutor(max_workers=2, store=store)
    try:
        futures = [
            ex.submit(task(store, tmp_path, module, "counted"), mode=None, timeout=None)
            for _ in range(5)
        ]
        steps = wait_for(lambda: sys.modules.get(module), what="the steps to be imported")
        wait_for(lambda: steps.RUNNING["now"] == 2, timeout=30, what="two attempts to start")
        assert sum(f.running() for f in futures) == 2  # the other three wait their turn
        steps.GATE.set()
        assert max(result(f).value for f in futures) == 2
    finally:
        if module in sys.modules:
            sys.modules[module].GATE.set()
        ex.shutdown()
