"""Training, evaluation against the champion, promotion and reproduction, through real
pipeline runs on a real store: the path every retrain takes.

- a pipeline trains on a snapshot, evaluates against the champion, and promotes only what
  passed: the first version becomes the champion (no champion to beat), a better one
  replaces it, a worse one is refused with the gate's reason and the champion stays;
- a challenger better than the champion by the margin on the point estimate, but not with
  the stated confidence, is not promoted under a superiority gate (a point gate, MLflow's
  ``min_absolute_change``, promotes it);
- a per-slice regression blocks a promotion;
- the lineage of a trained version reaches its run, snapshot, code and evaluation;
- reproduce gives identical metrics for a deterministic model, and a mismatch (saying
  which data changed) when the pipeline snapshots a file that has changed since.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conveyor import registry
from conveyor.core import ConflictError, InvalidValueError, PromotionRefusedError
from conveyor.data import snapshot
from conveyor.pipelines import run_pipeline
from conveyor.train import evaluate, fit, reproduce
from conveyor.workspace import Workspace
from support.projects import MakeProject

pytestmark = pytest.mark.integration

PIPELINES = """
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from conveyor import pipeline, step
from conveyor.data import load_dataset, snapshot
from conveyor.pipelines import get_step_context
from conveyor.train import evaluate, fit, promote_model


@step
def train(data, holdout, c: float = 1.0, features: str = "x0,x1,x2"):
    model = fit(
        make_pipeline(StandardScaler(), LogisticRegression(C=c)),
        data,
        target="y",
        features=features.split(","),
        name="churn",
        seed=3,
    )
    return model


@step
def judge(model, holdout):
    return evaluate(model, holdout, target="y")


@pipeline
def retrain(c: float = 1.0, features: str = "x0,x1,x2"):
    data = load_dataset("train")
    holdout = load_dataset("holdout")
    model = train(data, holdout, c=c, features=features)
    ev = judge(model, holdout)
    promote_model(model, ev, when=ev.passed)


@step(cache=False)
def fresh_snapshot(path: str):
    return snapshot(get_step_context().workspace, path, name="from_file")


@step
def train_file(data):
    return fit(LogisticRegression(), data, target="y", features=["x0", "x1"], name="filed")


@step
def judge_file(model, data):
    return evaluate(model, data, target="y")


@pipeline
def from_file(path: str):
    data = fresh_snapshot(path)
    judge_file(train_file(data), data)
"""

GATES = """
[train.gates.default]
thresholds = { roc_auc = ">= 0.6" }
decision = [{ metric = "roc_auc", mode = "non_inferiority", margin = 0.02 }]
"""


def rows(n: int, seed: int, *, signal: float = 1.5) -> pd.DataFrame:
    """A binary task: y depends on x0 and x1; x2 is noise; ``segment`` a slice column."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    logit = signal * X[:, 0] + 0.8 * X[:, 1]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame(X, columns=["x0", "x1", "x2"])
    frame["segment"] = np.where(rng.random(n) < 0.5, "a", "b")
    frame["seg"] = (frame["segment"] == "b").astype(int)
    frame["y"] = y
    return frame


def commit_project(root: Path) -> None:
    """Make the project a git checkout with everything committed: runs record the commit."""
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "project"]):
        subprocess.run([*git, *args], cwd=root, check=True, capture_output=True)


@pytest.fixture
def ws(make_project: MakeProject) -> Workspace:
    workspace = make_project(PIPELINES)
    with open(workspace.config.root / "conveyor.toml", "a") as f:
        f.write(GATES)
    workspace = Workspace.open(workspace.config.root)
    commit_project(workspace.config.root)
    snapshot(workspace, rows(3000, 1), name="train")
    snapshot(workspace, rows(4000, 2), name="holdout")
    yield workspace
    workspace.close()


def test_only_what_passes_the_gate_becomes_the_champion(ws: Workspace) -> None:
    first = run_pipeline(ws, "retrain")
    assert first.succeeded, first.errors
    assert first.statuses["promote_model"] == "succeeded"
    assert registry.model_aliases(ws, "churn") == {"champion": 1}
    ev1 = first.output("judge")
    assert ev1.passed and ev1.baseline_version is None
    skipped = [g for g in ev1.gates if g.skipped]
    assert skipped and "no champion" in skipped[0].reason

    # Only noise as a feature: far worse than the champion, refused with the reason.
    worse = run_pipeline(ws, "retrain", {"features": "x2"})
    assert worse.succeeded, worse.errors
    ev2 = worse.output("judge")
    assert not ev2.passed and ev2.baseline_version == 1
    assert worse.statuses["promote_model"] == "skipped"
    assert any("roc_auc" in reason for reason in ev2.reasons)
    assert registry.model_aliases(ws, "churn") == {"champion": 1}

    # The same model again: not significantly worse, so it passes non-inferiority.
    same = run_pipeline(ws, "retrain", {"c": 0.9})
    assert same.succeeded, same.errors
    assert same.output("judge").passed
    assert registry.model_aliases(ws, "churn") == {"champion": 3}
    history = registry.alias_history(ws, "churn", "champion")
    assert [(h.from_version, h.to_version) for h in history] == [(None, 1), (1, 3)]
    assert [h.evaluation_id for h in history] == [ev1.id, same.output("judge").id]


def test_better_but_not_by_the_margin_with_confidence_is_not_promoted(ws: Workspace) -> None:
    from sklearn.linear_model import LogisticRegression

    train = rows(3000, 1)
    champion = fit(LogisticRegression(), train, target="y", features=["x0"], name="m", ws=ws)
    registry.promote(ws, "m", champion.version, force_reason="first version")
    challenger = fit(
        LogisticRegression(), train, target="y", features=["x0", "x1", "x2"], name="m", ws=ws
    )
    holdout = rows(600, 7)
    point = evaluate(
        challenger, holdout, target="y", ws=ws,
        gate={"change": {"roc_auc": {"min_absolute_change": 0.04}}},
    )  # fmt: skip
    strict = evaluate(
        challenger, holdout, target="y", ws=ws,
        gate={"decision": [{"metric": "roc_auc", "mode": "superiority", "margin": 0.04}]},
    )  # fmt: skip
    decision = next(g for g in strict.gates if g.kind == "decision")
    # Better than the champion by more than the margin on the point estimate, but the
    # lower confidence bound of the difference does not clear the margin.
    assert decision.estimate is not None and decision.estimate > 0.04
    assert decision.interval is not None and decision.interval[0] < 0.04
    assert point.passed, point.reasons
    assert not strict.passed
    with pytest.raises(PromotionRefusedError, match="did not pass"):
        registry.promote(ws, "m", challenger.version, evaluation_id=strict.id)
    assert registry.promote(ws, "m", challenger.version, evaluation_id=point.id).to_version == 2


def test_a_slice_regression_blocks_the_promotion(ws: Workspace) -> None:
    from sklearn.ensemble import GradientBoostingClassifier

    features = ["x0", "x1", "seg"]
    train = rows(3000, 1)
    champion = fit(
        GradientBoostingClassifier(), train, target="y", features=features, name="s", ws=ws,
        seed=0,
    )  # fmt: skip
    registry.promote(ws, "s", champion.version, force_reason="first version")
    # The challenger learns from rows whose labels in segment b are noise.
    noisy = train.copy()
    b = noisy["seg"] == 1
    noisy.loc[b, "y"] = np.random.default_rng(0).integers(0, 2, size=int(b.sum()))
    challenger = fit(
        GradientBoostingClassifier(), noisy, target="y", features=features, name="s", ws=ws,
        seed=0,
    )  # fmt: skip
    gate = {"slices": {"columns": ["segment"], "max_regression": {"roc_auc": 0.02}}}
    ev = evaluate(challenger, rows(3000, 5), target="y", gate=gate, ws=ws)
    blocking = [g for g in ev.gates if g.kind == "slice" and not g.passed]
    assert not ev.passed
    assert [g.slice["value"] for g in blocking if g.slice] == ["b"]
    with pytest.raises(PromotionRefusedError, match="did not pass"):
        registry.promote(ws, "s", challenger.version, evaluation_id=ev.id)


def test_lineage_reaches_run_snapshot_code_and_evaluation(ws: Workspace) -> None:
    result = run_pipeline(ws, "retrain")
    assert result.succeeded, result.errors
    trail = registry.lineage(ws, "models:/churn@champion")
    assert trail["run"]["id"] == result.run.id
    assert trail["run"]["pipeline"] == "retrain"
    assert {s["dataset"] for s in trail["snapshots"]} == {"train", "holdout"}
    assert trail["evaluations"][0]["passed"] is True
    assert trail["promotions"][0]["evaluation_id"] == trail["evaluations"][0]["id"]
    model = registry.get_model(ws, "churn/1")
    assert model.params["target"] == "y" and model.params["seed"] == 3
    assert model.params["logisticregression__C"] == 1.0


def test_reproduce_matches_a_deterministic_run(ws: Workspace) -> None:
    assert run_pipeline(ws, "retrain").succeeded
    # New data arrives after training: the reproduction must still read snapshot 1.
    snapshot(ws, rows(3000, 99), name="train")
    again = reproduce(ws, "churn/1")
    assert again.matched, again.reasons
    assert again.code is not None and again.code.same
    assert again.reproduced_version == 2
    assert any(m.name == "eval.roc_auc" and m.same for m in again.metrics)
    assert all(d.same for d in again.datasets)
    assert registry.get_model(ws, "churn/2").tags["reproduction_of"] == "models:/churn/1"
    # Its evaluation passed against the champion (version 1), but a reproduction never promotes.
    assert registry.model_aliases(ws, "churn") == {"champion": 1}


def test_reproduce_reports_a_mismatch_when_the_data_changed(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    rows(2000, 3).to_csv(path, index=False)
    assert run_pipeline(ws, "from_file", {"path": str(path)}).succeeded
    rows(2000, 4).to_csv(path, index=False)  # the source changed since
    again = reproduce(ws, "filed/1")
    assert not again.matched
    assert any("the data changed" in r and "from_file" in r for r in again.reasons)
    assert any(not m.same for m in again.metrics)


def test_reproduce_refuses_other_code_unless_allowed(ws: Workspace) -> None:
    assert run_pipeline(ws, "retrain").succeeded
    module = next(ws.config.root.glob("pipes_*.py"))
    module.write_text(module.read_text() + "\n# edited after training\n")
    with pytest.raises(ConflictError, match="trained by code .* with uncommitted changes"):
        reproduce(ws, "churn/1")
    anyway = reproduce(ws, "churn/1", allow_code_change=True)
    assert any("the code differs" in r for r in anyway.reasons)


def test_fit_rejects_bad_columns_with_the_fix(ws: Workspace) -> None:
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(InvalidValueError, match="target column 'label' is not in the training"):
        fit(LogisticRegression(), rows(100, 1), target="label", name="x", ws=ws)
    with pytest.raises(InvalidValueError, match=r"\['x9'\]"):
        fit(LogisticRegression(), rows(100, 1), target="y", features=["x9"], name="x", ws=ws)
    assert registry.list_models(ws) == []
