"""What the runner refuses and how a step's data problems surface: parameters from the
settings and the command line together, unsafe leases, resuming a run with the wrong
pipeline, outputs that cannot be stored and inputs that fail verification on resume."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conveyor import store as st
from conveyor.core import ConfigError, ConflictError, PipelineDefinitionError
from conveyor.pipelines import Runner, find_pipeline, resume_run, run_pipeline
from support.projects import MakeProject

pytestmark = pytest.mark.integration

SOURCE = """
from pathlib import Path
from conveyor import pipeline, step

HERE = Path(__file__).parent

@step
def make(n: int) -> list:
    return [n] * 3

@step
def check(rows: list) -> int:
    if (HERE / "refuse").exists():
        raise ValueError("refused")
    return len(rows)

@step
def opaque() -> dict:
    return {"handle": object()}

@pipeline
def needs(n: int, label: str = "x"):
    check(make(n))

@pipeline
def unstorable():
    opaque()
"""


def configure(ws_root: Path, text: str) -> None:
    with open(ws_root / "conveyor.toml", "a") as f:
        f.write(text)


def test_a_required_parameter_may_come_from_the_command_line(make_project: MakeProject) -> None:
    ws = make_project(SOURCE)
    result = run_pipeline(ws, "needs", {"n": "4"}, from_text=True)
    assert result.succeeded and result.run.params == {"n": 4, "label": "x"}
    with pytest.raises(PipelineDefinitionError, match="needs parameter 'n'"):
        run_pipeline(ws, "needs")


def test_a_required_parameter_may_come_from_the_settings(
    make_project: MakeProject, store_url: str
) -> None:
    ws = make_project(SOURCE)
    configure(ws.config.root, "\n[pipelines.params.needs]\nn = 2\n")
    from conveyor.workspace import Workspace

    with Workspace.open(ws.config.root, env={"CONVEYOR_STORE": store_url}) as configured:
        result = run_pipeline(configured, "needs", {"label": "y"}, from_text=True)
        assert result.run.params == {"n": 2, "label": "y"}
        override = run_pipeline(configured, "needs", {"n": "5"}, from_text=True)
        assert override.run.params["n"] == 5


def test_settings_are_typed_values_never_coerced_from_text(
    make_project: MakeProject, store_url: str
) -> None:
    ws = make_project(SOURCE)
    configure(ws.config.root, '\n[pipelines.params.needs]\nn = "2"\n')
    from conveyor.workspace import Workspace

    with Workspace.open(ws.config.root, env={"CONVEYOR_STORE": store_url}) as configured:
        with pytest.raises(PipelineDefinitionError) as info:
            run_pipeline(configured, "needs", {"label": "y"}, from_text=True)
    assert "Parameter 'n' of pipeline 'needs' must be of type int. Got '2' (str)." in str(
        info.value
    )


def test_an_unknown_parameter_is_refused_even_from_text(make_project: MakeProject) -> None:
    ws = make_project(SOURCE)
    with pytest.raises(PipelineDefinitionError) as info:
        run_pipeline(ws, "needs", {"n": "1", "lable": "y"}, from_text=True)
    assert "has no parameter 'lable'. Did you mean 'label'?" in info.value.message
    assert info.value.hint == "Its parameters: n, label."
    assert st.list_runs(ws.store) == []


def test_a_lease_too_short_for_the_store_is_refused(make_project: MakeProject) -> None:
    ws = make_project(SOURCE)
    with pytest.raises(ConfigError) as info:
        Runner(ws, find_pipeline(ws.config, "needs"), lease=1.0)
    assert "pipelines.lease (1s) is too short for the store" in info.value.message
    assert "raise pipelines.lease to at least" in info.value.message
    assert info.value.hint == "See the configuration reference in the README."


def test_resuming_a_run_with_another_pipeline_is_refused(make_project: MakeProject) -> None:
    ws = make_project(SOURCE)
    (ws.config.root / "refuse").write_text("")
    failed = run_pipeline(ws, "needs", {"n": 1})
    assert failed.run.status == "failed"
    runner = Runner(ws, find_pipeline(ws.config, "unstorable"))
    with pytest.raises(ConflictError) as info:
        runner.resume(failed.run.id)
    assert info.value.message == (f"Run {failed.run.id} is of pipeline 'needs', not 'unstorable'.")
    assert st.get_run(ws.store, failed.run.id).status == "failed"  # untouched


def test_an_output_that_cannot_be_stored_fails_its_step(make_project: MakeProject) -> None:
    ws = make_project(SOURCE)
    result = run_pipeline(ws, "unstorable")
    assert result.statuses == {"opaque": "failed"}
    error = result.errors["opaque"]
    assert error.startswith("could not store its output: TypeError: ")
    assert "cannot store a builtins.dict (no materializer for it)" in error
    assert "register_materializer" in error  # and how to teach conveyor the type


def test_an_input_corrupted_before_a_resume_is_never_used(make_project: MakeProject) -> None:
    ws = make_project(SOURCE)
    refuse = ws.config.root / "refuse"
    refuse.write_text("")
    failed = run_pipeline(ws, "needs", {"n": 1})
    assert failed.statuses == {"make": "succeeded", "check": "failed"}
    (made,) = [a for a in st.list_artifacts(ws.store) if a.name == "make"]
    path = ws.artifacts.blob_path(made.digest)  # type: ignore[attr-defined]
    os.chmod(path, 0o600)
    data = bytearray(path.read_bytes())
    data[1] ^= 0xFF
    path.write_bytes(bytes(data))
    refuse.unlink()

    resumed = resume_run(ws, failed.run.id)
    assert resumed.statuses == {"make": "succeeded", "check": "failed"}
    error = resumed.errors["check"]
    assert error.startswith("could not load its inputs: ChecksumMismatchError: ")
    assert made.digest in error
