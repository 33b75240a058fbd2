"""One attempt of one step, as the worker runs it: inputs loaded, the user's code called
inside its boundary, the output stored, what it printed captured; it never raises."""

from __future__ import annotations

import stat
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conveyor.artifacts import LocalArtifactStore
from conveyor.pipelines._worker import (
    InputRef,
    Task,
    Workdir,
    capture_output,
    resolve_function,
    run_attempt,
    store_output,
)


@pytest.fixture
def store(tmp_path: Path) -> LocalArtifactStore:
    return LocalArtifactStore(tmp_path / "artifacts")


def task(store: LocalArtifactStore, fn: Callable[..., Any] | None, **fields: Any) -> Task:
    values: dict[str, Any] = {
        "step_name": "train",
        "step_run_id": 1,
        "attempt": 1,
        "module": "nowhere",
        "qualname": "nothing",
        "artifacts_url": store.url,
        "storage_options": {},
        "project_root": None,
        "constants": {},
        "inputs": {},
        "fn": fn,
    }
    return Task(**(values | fields))


def stored(store: LocalArtifactStore, value: Any) -> InputRef:
    workdir = Workdir()
    try:
        spec = store_output(store, value, workdir, "upstream")
    finally:
        workdir.cleanup()
    return InputRef(1, spec.digest, spec.kind, spec.meta["materializer"])


def test_a_successful_attempt_stores_its_output_and_what_it_printed(
    store: LocalArtifactStore,
) -> None:
    def train(rows: list[int], depth: int) -> dict[str, int]:
        print(f"training on {len(rows)} rows")
        sys.stderr.write("warning: small data\n")
        return {"depth": depth, "n": sum(rows)}

    t = task(store, train, constants={"depth": 3}, inputs={"rows": stored(store, [1, 2, 3])})
    outcome = run_attempt(t, store)
    assert outcome.ok and outcome.error is None and outcome.output is not None
    assert outcome.output.name == "train" and outcome.output.type_name == "builtins.dict"
    assert store.get_bytes(outcome.output.digest) == b'{"depth": 3, "n": 6}'
    assert outcome.logs == b"training on 3 rows\nwarning: small data\n"
    assert not outcome.has_value and outcome.value is None  # not kept unless asked
    kept = run_attempt(t, store, keep_value=True)
    assert kept.has_value and kept.value == {"depth": 3, "n": 6}


def test_a_failing_step_reports_the_first_line_and_keeps_the_traceback(
    store: LocalArtifactStore,
) -> None:
    def train() -> int:
        print("about to fail")
        raise ValueError("bad learning rate\nsee the docs for the range")

    outcome = run_attempt(task(store, train), store)
    assert not outcome.ok and outcome.output is None
    assert outcome.error == "ValueError: bad learning rate"
    assert outcome.traceback is not None and "in train" in outcome.traceback
    logs = outcome.logs.decode()
    assert logs.startswith("about to fail\n") and "Traceback" in logs
    assert "see the docs for the range" in logs


def test_an_input_that_cannot_be_loaded_fails_before_the_step_runs(
    store: LocalArtifactStore,
) -> None:
    called: list[int] = []
    missing = InputRef(7, "0" * 64, "file", "json")
    outcome = run_attempt(task(store, lambda rows: called.append(1), inputs={"rows": missing}))
    assert not outcome.ok and called == []
    assert outcome.error is not None and outcome.error.startswith("could not load its inputs: ")


def test_an_output_that_cannot_be_stored_fails_the_attempt_naming_the_type(
    store: LocalArtifactStore,
) -> None:
    outcome = run_attempt(task(store, lambda: threading.Lock()), store)
    assert not outcome.ok
    assert outcome.error is not None
    assert outcome.error.startswith("could not store its output: TypeError: conveyor cannot store")
    assert "_thread.lock" in outcome.error


def test_an_unknown_materializer_is_an_input_failure(store: LocalArtifactStore) -> None:
    ref = stored(store, [1])
    odd = InputRef(ref.artifact_id, ref.digest, ref.kind, "feather")
    outcome = run_attempt(task(store, lambda rows: rows, inputs={"rows": odd}), store)
    assert outcome.error is not None and "No materializer named 'feather'" in outcome.error


def test_fan_out_inputs_arrive_in_order_and_in_memory_values_win(
    store: LocalArtifactStore,
) -> None:
    refs = [stored(store, i * 10) for i in range(4)]
    gathered = task(store, lambda parts: parts, inputs={"parts": refs})
    assert run_attempt(gathered, store, keep_value=True).value == [0, 10, 20, 30]
    in_memory = task(
        store,
        lambda parts, item: (parts, item),
        inputs={"parts": refs},
        values={"parts": ["already", "loaded"], "item": 5},
    )
    assert run_attempt(in_memory, store, keep_value=True).value == (["already", "loaded"], 5)


def test_a_worker_opens_the_artifact_store_from_the_url_when_given_none(
    store: LocalArtifactStore,
) -> None:
    outcome = run_attempt(task(store, lambda: b"bytes"))
    assert outcome.ok and outcome.output is not None
    assert store.get_bytes(outcome.output.digest) == b"bytes"


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "project"
    root.mkdir()
    (root / "worker_steps_mod.py").write_text(
        textwrap.dedent(
            """
            from conveyor import step

            class Models:
                @staticmethod
                def double(x: int) -> int:
                    return 2 * x

            @step
            def triple(x: int) -> int:
                print("tripling", x)
                return 3 * x
            """
        )
    )
    yield root
    sys.modules.pop("worker_steps_mod", None)
    while str(root) in sys.path:
        sys.path.remove(str(root))


def test_another_process_finds_the_step_by_module_and_name(
    project: Path, store: LocalArtifactStore
) -> None:
    t = task(
        store,
        None,
        module="worker_steps_mod",
        qualname="triple",
        project_root=str(project),
        constants={"x": 4},
    )
    outcome = run_attempt(t, store, keep_value=True)
    assert outcome.ok, outcome.error
    assert outcome.value == 12 and outcome.logs == b"tripling 4\n"
    nested = resolve_function("worker_steps_mod", "Models.double", str(project))
    assert nested(5) == 10


def test_a_step_module_that_is_gone_fails_the_attempt(
    project: Path, store: LocalArtifactStore
) -> None:
    t = task(store, None, module="no_such_module_x", qualname="f", project_root=str(project))
    outcome = run_attempt(t, store)
    assert outcome.error == (
        "could not load its inputs: ModuleNotFoundError: No module named 'no_such_module_x'"
    )


def test_a_workdir_is_private_made_on_demand_and_removed() -> None:
    workdir = Workdir()
    workdir.cleanup()  # nothing made yet: nothing to remove
    path = workdir.path
    assert path.is_dir() and stat.S_IMODE(path.stat().st_mode) == 0o700
    assert workdir.path == path  # made once
    (path / "x").write_text("x")
    workdir.cleanup()
    assert not path.exists()


def test_each_thread_captures_only_its_own_output() -> None:
    captured: dict[str, str] = {}
    gate = threading.Barrier(3)

    def work(name: str) -> None:
        with capture_output() as buffer:
            gate.wait(10)
            for i in range(50):
                print(name, i)
            gate.wait(10)
        captured[name] = buffer.getvalue()

    threads = [threading.Thread(target=work, args=(n,)) for n in ("a", "b", "c")]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    for name in ("a", "b", "c"):
        lines = captured[name].splitlines()
        assert lines == [f"{name} {i}" for i in range(50)]


def test_output_outside_a_capture_still_reaches_the_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with capture_output() as buffer:
        print("inside")
    print("outside")
    assert buffer.getvalue() == "inside\n"
    assert capsys.readouterr().out == "outside\n"
    assert not sys.stdout.isatty()
