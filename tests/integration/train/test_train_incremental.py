"""``fit(continue_from=...)``: a retrain grows from a registered version on new rows, by
what the model supports, and the new version records its parent; LightGBM and XGBoost go
through the same ``fit`` as scikit-learn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conveyor import registry
from conveyor.core import ConfigError
from conveyor.train import fit
from conveyor.workspace import Workspace
from support.projects import MakeProject

pytestmark = pytest.mark.integration


def rows(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = (X[:, 0] + 0.5 * X[:, 1] + rng.normal(scale=0.5, size=n) > 0).astype(int)
    return pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "y": y})


@pytest.fixture
def ws(make_project: MakeProject) -> Workspace:
    return make_project("")


def test_partial_fit_continues_and_records_the_parent(ws: Workspace) -> None:
    from sklearn.linear_model import SGDClassifier

    first = fit(SGDClassifier(loss="log_loss"), rows(500, 1), target="y", name="m", seed=0, ws=ws)
    second = fit(None, rows(500, 2), target="y", name="m", continue_from="m/1", ws=ws)
    assert second.parent_version == first.version
    assert second.params["fit_method"] == "partial_fit"
    before, after = first.load(), second.load()
    assert not np.array_equal(before.coef_, after.coef_)  # it learnt from the new rows
    assert registry.lineage(ws, "m/2")["parent"] == "models:/m/1"


def test_a_pipeline_keeps_its_preprocessing_and_grows_its_last_step(ws: Workspace) -> None:
    from sklearn.linear_model import SGDClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipe = make_pipeline(StandardScaler(), SGDClassifier(loss="log_loss"))
    first = fit(pipe, rows(500, 1), target="y", name="p", seed=0, ws=ws)
    second = fit(None, rows(500, 2), target="y", name="p", continue_from=first, ws=ws)
    before, after = first.load(), second.load()
    assert np.array_equal(before[0].mean_, after[0].mean_)  # the scaler as the parent learnt it
    assert not np.array_equal(before[-1].coef_, after[-1].coef_)


def test_warm_start_adds_trees(ws: Workspace) -> None:
    from sklearn.ensemble import GradientBoostingClassifier

    fit(GradientBoostingClassifier(n_estimators=10), rows(400, 1), target="y", name="g", ws=ws)
    second = fit(
        None, rows(400, 2), target="y", name="g", continue_from="g/1", more_estimators=5, ws=ws
    )
    assert second.params["fit_method"] == "warm_start"
    assert second.load().n_estimators_ == 15


def test_lightgbm_continues_from_its_booster(ws: Workspace) -> None:
    lightgbm = pytest.importorskip("lightgbm")
    model = lightgbm.LGBMClassifier(n_estimators=10, verbose=-1)
    first = fit(model, rows(400, 1), target="y", name="l", seed=0, ws=ws)
    assert first.flavor == "lightgbm"
    second = fit(
        None, rows(400, 2), target="y", name="l", continue_from=first, more_estimators=10, ws=ws
    )
    assert second.params["fit_method"] == "lightgbm init_model"
    assert second.parent_version == 1
    assert second.load().booster_.num_trees() == 20  # ten more on top of the parent's ten


def test_xgboost_through_the_same_fit(ws: Workspace) -> None:
    xgboost = pytest.importorskip("xgboost")
    data = rows(400, 1)
    model = fit(xgboost.XGBClassifier(n_estimators=5), data, target="y", name="x", seed=0, ws=ws)
    assert model.flavor == "xgboost"
    X = data[["a", "b", "c"]]
    assert model.load().predict_proba(X).shape == (400, 2)


def test_a_model_that_cannot_continue_says_so(ws: Workspace) -> None:
    from sklearn.linear_model import LogisticRegression

    fit(LogisticRegression(), rows(200, 1), target="y", name="r", ws=ws)
    with pytest.raises(ConfigError, match="LogisticRegression cannot continue training"):
        fit(None, rows(200, 2), target="y", name="r", continue_from="r/1", ws=ws)
    assert [v.version for v in registry.list_versions(ws, "r")] == [1]
