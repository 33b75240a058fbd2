"""``conveyor models evaluation`` and ``conveyor models reproduce`` on a version a pipeline
trained and evaluated: the gate table, its JSON, a reproduction that matches (exit 0) and one
whose data changed (exit 1, saying so)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conveyor.pipelines import run_pipeline
from conveyor.workspace import Workspace
from support.inprocess_cli import Invoke, MakeCliProject

PIPELINES = """
from sklearn.linear_model import LogisticRegression

from conveyor import pipeline, step
from conveyor.data import snapshot
from conveyor.pipelines import get_step_context
from conveyor.train import evaluate, fit


@step(cache=False)
def take(path: str):
    return snapshot(get_step_context().workspace, path, name="rows")


@step
def train(data):
    return fit(LogisticRegression(), data, target="y", name="churn", seed=0)


@step
def judge(model, data):
    return evaluate(model, data, target="y", gate={"thresholds": {"roc_auc": ">= 0.6"}})


@pipeline
def retrain(path: str):
    data = take(path)
    judge(train(data), data)
"""


def write_rows(path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(400, 2))
    y = (x[:, 0] + rng.normal(size=400) > 0).astype(int)
    pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": y}).to_csv(path, index=False)


@pytest.fixture
def project(make_project: MakeCliProject) -> Path:
    root = make_project(PIPELINES)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "p"]):
        subprocess.run([*git, *args], cwd=root, check=True, capture_output=True)
    write_rows(root / "rows.csv", 1)  # data, not code: untracked
    with Workspace.open(root) as ws:
        assert run_pipeline(ws, "retrain", {"path": str(root / "rows.csv")}).succeeded
    return root


def test_evaluation_shows_each_gate_and_verifies(invoke: Invoke, project: Path) -> None:
    text = invoke("-p", str(project), "models", "evaluation", "churn/1")
    assert text.code == 0, text
    assert "passed" in text.out and "roc_auc >= 0.6" in text.out and "verifies" in text.out
    data = json.loads(invoke("-p", str(project), "models", "evaluation", "churn/1", "--json").out)
    assert data["passed"] is True and data["report"]["gates"][0]["threshold"] == 0.6
    missing = invoke("-p", str(project), "models", "evaluation", "churn/1", "--id", "99")
    assert missing.code != 0 and "Traceback" not in missing.err


def test_reproduce_matches_then_reports_changed_data(invoke: Invoke, project: Path) -> None:
    same = invoke("-p", str(project), "models", "reproduce", "churn/1")
    assert same.code == 0, same
    assert "reproduced" in same.out
    write_rows(project / "rows.csv", 2)  # the source file changes (it is not tracked)
    changed = invoke("-p", str(project), "models", "reproduce", "churn/1", "--json")
    assert changed.code == 1
    found = json.loads(changed.out)
    assert found["matched"] is False
    assert any("the data changed" in r for r in found["reasons"])
