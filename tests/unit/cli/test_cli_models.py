"""``conveyor models list|show|promote|rollback|lineage|load``: tables and ``--json``, the
promotion policy's refusals as one line with the next command, and loading with a check
prediction on a sample row or a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sklearn.linear_model import LogisticRegression

from conveyor.registry import record_evaluation, register_model
from conveyor.workspace import Workspace
from support.inprocess_cli import Invoke, MakeCliProject
from support.models import frame


@pytest.fixture
def project(make_project: MakeCliProject) -> Path:
    """Two versions of ``churn``, the second evaluated (passed)."""
    root = make_project()
    X, y = frame(120)
    with Workspace.open(root) as ws:
        register_model(ws, "churn", LogisticRegression().fit(X, y), input_example=X.head())
        register_model(
            ws,
            "churn",
            LogisticRegression(C=3.0).fit(X, y),
            input_example=X.head(),
            metrics={"auc": 0.8},
            parent=1,
        )
        record_evaluation(ws, "churn", 2, {"auc": 0.8}, passed=True)
    X.head(4).to_csv(root / "rows.csv", index=False)
    X.head(3).to_parquet(root / "rows.parquet")
    return root


def run(invoke: Invoke, root: Path, *args: str) -> Any:
    result = invoke("-p", str(root), "models", *args, "--json")
    assert result.code == 0, result
    return json.loads(result.out)


def test_list_and_show(invoke: Invoke, project: Path) -> None:
    (listed,) = run(invoke, project, "list")
    assert (listed["name"], listed["latest_version"], listed["aliases"]) == ("churn", 2, {})
    text = invoke("-p", str(project), "models", "list")
    assert text.code == 0 and "churn" in text.out and "Models" in text.out
    shown = run(invoke, project, "show", "churn")
    assert [v["version"] for v in shown["versions"]] == [1, 2]
    assert shown["versions"][1]["parent_version"] == 1
    version = run(invoke, project, "show", "churn/2")
    assert (version["uri"], version["flavor"], version["metrics"]) == (
        "models:/churn/2",
        "sklearn",
        {"auc": 0.8},
    )
    assert [e["verified"] for e in version["evaluations"]] == [True]
    table = invoke("-p", str(project), "models", "show", "churn/2")
    assert "signed by the store" in table.out and "tenure" in table.out


def test_promote_rollback_and_lineage(invoke: Invoke, project: Path) -> None:
    refused = invoke("-p", str(project), "models", "promote", "churn", "1")
    assert refused.code == 1 and refused.out == ""
    assert "may not become 'champion': it has no evaluation" in refused.err
    assert "conveyor models promote churn 1 --force 'REASON'" in refused.err
    moved = run(invoke, project, "promote", "churn", "2", "--actor", "ci")
    assert (moved["to_version"], moved["evaluation_id"], moved["actor"]) == (2, 1, "ci")
    forced = invoke("-p", str(project), "models", "promote", "churn", "1", "--force", "hotfix")
    assert forced.code == 0, forced
    assert forced.out.strip() == (
        "models:/churn@champion now points at version 1 (was version 2): forced: hotfix"
    )
    back = run(invoke, project, "rollback", "churn", "--reason", "slow")
    assert (back["from_version"], back["to_version"], back["reason"]) == (1, 2, "rollback: slow")
    free = run(invoke, project, "promote", "churn", "1", "--alias", "challenger")
    assert free["alias"] == "challenger"
    conflict = invoke(
        "-p", str(project), "models", "promote", "churn", "2", "-a", "challenger",
        "--expected-version", "0",
    )  # fmt: skip
    assert conflict.code == 1 and "points at version 1, not 0" in conflict.err
    found = run(invoke, project, "lineage", "churn@champion")
    assert found["parent"] == "models:/churn/1"
    assert [(p["reason"], p["evaluation_id"]) for p in found["promotions"]] == [
        ("evaluation 1 passed", 1),
        ("rollback: slow", None),
    ]
    text = invoke("-p", str(project), "models", "lineage", "churn@champion")
    assert text.code == 0 and "registered outside a pipeline run" in text.out
    assert "evaluation 1 passed" in text.out


def test_load_checks_and_predicts(invoke: Invoke, project: Path) -> None:
    sample = run(invoke, project, "load", "churn")
    assert (sample["uri"], sample["prediction_shape"]) == ("models:/churn/2", [1])
    assert sample["type"] == "sklearn.linear_model._logistic.LogisticRegression"
    csv = run(invoke, project, "load", "churn/1", "--input", str(project / "rows.csv"))
    assert csv["prediction_shape"] == [4] and len(csv["predictions"]) == 4
    parquet = run(invoke, project, "load", "churn", "-i", str(project / "rows.parquet"))
    assert parquet["prediction_shape"] == [3]
    text = invoke("-p", str(project), "models", "load", "churn", "-i", str(project / "rows.csv"))
    assert text.code == 0 and "Predictions (first 4 of 4)" in text.out


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["show", "chrun"], "Did you mean 'churn'"),
        (["show", "runs:/x"], "A model URI is"),
        (["load", "churn/7"], "no version 7"),
        (["rollback", "churn", "--reason", "x"], "no alias 'champion'"),
        (["promote", "churn", "2", "--force", " "], "needs a reason"),
        (["load", "churn", "--input", "rows.json"], "must be a .csv or .parquet file"),
    ],
)
def test_user_errors_are_one_line(
    invoke: Invoke, project: Path, args: list[str], fragment: str
) -> None:
    if "rows.json" in args:
        (project / "rows.json").write_text("{}")
        args = [a.replace("rows.json", str(project / "rows.json")) for a in args]
    result = invoke("-p", str(project), "models", *args)
    assert result.code == 1, result
    assert fragment in result.err and "Traceback" not in result.err
