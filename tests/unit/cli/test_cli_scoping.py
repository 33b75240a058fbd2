"""Two projects on one store: each command sees only its own project's runs, steps,
artifacts and events."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.inprocess_cli import Invoke, MakeCliProject

SOURCE = """
from conveyor import pipeline, step

@step
def make() -> list:
    print("making")
    return [1, 2, 3]

@pipeline
def one():
    make()
"""


def test_projects_sharing_a_store_see_only_their_own(
    invoke: Invoke, make_project: MakeCliProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONVEYOR_STORE", f"sqlite:///{tmp_path}/shared.db")
    alpha, beta = make_project(SOURCE, name="alpha"), make_project(SOURCE, name="beta")

    def cli(root: Path, *args: str) -> object:
        result = invoke("-p", str(root), *args, "--json")
        assert result.code == 0, result
        return json.loads(result.out)

    ran = cli(alpha, "run", "one")
    assert isinstance(ran, dict) and ran["status"] == "succeeded"
    run_id = str(ran["id"])

    assert cli(beta, "runs", "list") == []
    assert cli(beta, "events") == []
    assert cli(beta, "artifacts", "list") == []
    for args in (["runs", "show", run_id], ["runs", "logs", run_id], ["runs", "resume", run_id]):
        refused = invoke("-p", str(beta), *args)
        assert refused.code == 1, args
        assert f"No run {run_id} in project 'beta'." in refused.err
    (artifact,) = cli(alpha, "artifacts", "list")  # type: ignore[misc]
    hidden = invoke("-p", str(beta), "artifacts", "show", str(artifact["id"]))
    assert hidden.code == 1 and "in project 'beta'" in hidden.err

    assert [r["id"] for r in cli(alpha, "runs", "list")] == [ran["id"]]  # type: ignore[index]
    events = cli(alpha, "events")
    assert {e["source"] for e in events} == {"/projects/alpha"}  # type: ignore[union-attr]
    assert "making" in invoke("-p", str(alpha), "runs", "logs", run_id).out
