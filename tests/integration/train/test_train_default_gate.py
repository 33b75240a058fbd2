"""The built-in gate (no ``[train.gates]`` configured) for each task: multiclass ROC AUC
non-inferiority, and regression RMSE within 1% of the champion's; a worse regressor fails
with the reason, and without a champion the rule is skipped, not failed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conveyor.registry import promote
from conveyor.train import evaluate, fit
from conveyor.workspace import Workspace
from support.projects import MakeProject

pytestmark = pytest.mark.integration


@pytest.fixture
def data() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(900, 3))
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    frame["kind"] = np.array(["x", "y", "z"])[np.argmax(X + rng.normal(size=X.shape), axis=1)]
    frame["value"] = X @ [1.0, 2.0, 3.0] + rng.normal(size=900)
    return frame


@pytest.fixture
def ws(make_project: MakeProject) -> Workspace:
    return make_project("")


def test_multiclass_uses_roc_auc_non_inferiority(ws: Workspace, data: pd.DataFrame) -> None:
    from sklearn.linear_model import LogisticRegression

    train, holdout = data[:600], data[600:]
    first = fit(
        LogisticRegression(), train, target="kind", features=["a", "b", "c"], name="k", ws=ws
    )
    ev = evaluate(first, holdout, target="kind", ws=ws)
    assert ev.passed and all(g.skipped for g in ev.gates)
    assert "no champion" in ev.gates[0].reason
    promote(ws, "k", first.version, evaluation_id=ev.id)
    second = fit(
        LogisticRegression(C=0.5), train, target="kind", features=["a", "b", "c"], name="k", ws=ws
    )
    ev2 = evaluate(second, holdout, target="kind", ws=ws)
    (gate,) = ev2.gates
    assert (gate.metric, gate.kind, gate.threshold) == ("roc_auc", "decision", -0.01)
    assert ev2.passed and ev2.baseline_version == 1


def test_regression_must_stay_within_one_percent_of_the_champion_rmse(
    ws: Workspace, data: pd.DataFrame
) -> None:
    from sklearn.linear_model import Ridge

    train, holdout = data[:600], data[600:]
    first = fit(Ridge(), train, target="value", features=["a", "b", "c"], name="r", ws=ws)
    promote(
        ws, "r", first.version, evaluation_id=evaluate(first, holdout, target="value", ws=ws).id
    )
    worse = fit(Ridge(alpha=50.0), train, target="value", features=["a", "b", "c"], name="r", ws=ws)
    ev = evaluate(worse, holdout, target="value", ws=ws)
    (gate,) = ev.gates
    assert gate.metric == "rmse" and not ev.passed
    champion_rmse = ev.gates[0].baseline
    assert champion_rmse is not None and gate.threshold == pytest.approx(
        0.01 * champion_rmse, rel=1e-3
    )
    assert "not shown to be within the margin" in gate.reason
