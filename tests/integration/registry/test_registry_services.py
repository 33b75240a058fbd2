"""Registering, finding and loading model versions on a real project: each flavor round
trips with identical predictions, files from disk are taken only in code-free formats,
tree models load only while the store's signature verifies, and bad input leaves no
version behind."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest
import skops.io as sio
import xgboost as xgb
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier

from conveyor import store as st
from conveyor.core import (
    ChecksumMismatchError,
    InvalidNameError,
    InvalidValueError,
    NotFoundError,
    SignatureMismatchError,
    StepContextError,
    UntrustedModelError,
)
from conveyor.registry import (
    LightGBMModel,
    get_model,
    list_models,
    list_versions,
    load_model,
    register_model,
)
from support.models import ThresholdModel, frame
from support.projects import MakeProject

pytestmark = pytest.mark.integration
SQLITE_ONLY = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


def test_a_pipeline_round_trips_with_its_signature_and_handles(make_project: MakeProject) -> None:
    ws = make_project("")
    X, y = frame()
    X["plan"] = np.where(X["tenure"] > 30, "annual", "monthly")
    fitted = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [
                        ("num", StandardScaler(), ["tenure", "charges", "calls"]),
                        ("cat", OneHotEncoder(), ["plan"]),
                    ]
                ),
            ),
            ("clf", LogisticRegression()),
        ]
    ).fit(X, y)
    model = register_model(
        ws,
        "churn",
        fitted,
        input_example=X.head(),
        metrics={"auc": 0.81},
        tags={"team": "growth"},
        description="baseline",
    )
    assert (model.name, model.version, model.flavor, model.uri) == (
        "churn",
        1,
        "sklearn",
        "models:/churn/1",
    )
    assert [c["name"] for c in model.signature["inputs"]] == ["tenure", "charges", "calls", "plan"]
    assert [c["type"] for c in model.signature["inputs"]] == ["long", "double", "long", "string"]
    assert model.signature["outputs"] == [{"type": "long"}]
    assert model.metrics == {"auc": 0.81} and model.tags["team"] == "growth"
    assert model.params["memory"] is None and "steps" in model.params  # get_params()
    assert model.description == "baseline" and model.run_id is None

    loaded = load_model(ws, "models:/churn/1")
    assert type(loaded) is Pipeline
    assert np.array_equal(loaded.predict_proba(X), fitted.predict_proba(X))
    # Extra columns are dropped, the rest reordered, as the signature says.
    shuffled = X[["plan", "calls", "charges", "tenure"]].assign(noise=1.0)
    assert np.array_equal(model.predict(shuffled), fitted.predict(X))
    with pytest.raises(InvalidValueError, match=r"lacks required column\(s\) \['plan'\]"):
        model.predict(X.drop(columns="plan"))

    second = register_model(ws, "churn", LogisticRegression().fit(X[["tenure"]], y), parent=1)
    assert (second.version, second.parent_version) == (2, 1)
    assert get_model(ws, "churn") == second  # latest
    assert get_model(ws, "churn/1") == model == get_model(ws, "models:/churn/1")
    st.move_alias(ws.store, "churn", "challenger", 1)
    assert get_model(ws, "models:/churn@challenger") == model
    assert [v.version for v in list_versions(ws, "churn")] == [1, 2]
    (summary,) = list_models(ws)
    assert (summary.name, summary.latest_version, summary.aliases) == (
        "churn",
        2,
        {"challenger": 1},
    )
    registered = st.read_events(ws.store, types=["io.conveyor.model_version.registered"])
    assert [e.subject for e in registered] == ["models/churn/versions/1", "models/churn/versions/2"]


def test_a_handle_loads_only_the_artifact_it_names(make_project: MakeProject) -> None:
    ws = make_project("")
    X, y = frame()
    model = register_model(ws, "churn", LogisticRegression().fit(X, y))
    assert type(model.load()) is LogisticRegression
    stale = replace(model, digest="0" * 64)
    with pytest.raises(ChecksumMismatchError, match="not as sha256:0000"):
        stale.load()
    with pytest.raises(StepContextError, match="not bound to a project"):
        replace(model, _ws=None).load()


def test_tree_models_load_only_while_the_store_signature_verifies(
    make_project: MakeProject,
) -> None:
    ws = make_project("")
    X, y = frame()
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    model = register_model(ws, "forest", forest)
    assert model.flavor == "sklearn" and len(model.tags["conveyor.signature"]) == 64
    assert np.array_equal(load_model(ws, "forest/1").predict_proba(X), forest.predict_proba(X))

    # The same bytes registered by someone who cannot sign: a row pointing at them.
    record = st.get_model_version(ws.store, "forest", 1)
    unsigned = st.register_model_version(
        ws.store, "forest", artifact_id=record.artifact_id, flavor="sklearn"
    )
    with pytest.raises(UntrustedModelError, match="untrusted types: sklearn.tree._tree.Tree"):
        load_model(ws, f"forest/{unsigned.version}")
    forged = st.register_model_version(
        ws.store,
        "forest",
        artifact_id=record.artifact_id,
        flavor="sklearn",
        tags={"conveyor.signature": "f" * 64},
    )
    with pytest.raises(SignatureMismatchError, match="does not match its manifest and model file"):
        load_model(ws, f"forest/{forged.version}")


@SQLITE_ONLY
def test_lightgbm_round_trips_in_its_own_format(make_project: MakeProject) -> None:
    ws = make_project("")
    X, y = frame()
    binary = lgb.LGBMClassifier(n_estimators=20, verbose=-1, random_state=0).fit(X, y)
    labels = np.array(["stay", "churn", "maybe"])[(X["calls"] % 3).to_numpy()]
    multi = lgb.LGBMClassifier(n_estimators=10, verbose=-1).fit(X, labels)
    regressor = lgb.LGBMRegressor(n_estimators=10, verbose=-1).fit(X, X["charges"] * 2)
    booster = lgb.train({"verbose": -1}, lgb.Dataset(X, label=y), num_boost_round=5)
    for fitted in (binary, multi, regressor, booster):
        model = register_model(ws, "lgbm", fitted)
        assert model.flavor == "lightgbm"
        loaded = load_model(ws, model.uri)
        assert isinstance(loaded, LightGBMModel)
        assert np.array_equal(loaded.predict(X), fitted.predict(X))
        if isinstance(fitted, lgb.LGBMClassifier):
            assert np.array_equal(loaded.predict_proba(X), fitted.predict_proba(X))
            assert list(loaded.classes_) == list(fitted.classes_)
        else:
            with pytest.raises(AttributeError, match="has no predict_proba"):
                loaded.predict_proba(X)
    assert (ws.config.state_dir / "cache").exists() is False  # a local store needs no cache


@SQLITE_ONLY
def test_lightgbm_inside_a_pipeline_is_skops_and_signed(make_project: MakeProject) -> None:
    ws = make_project("")
    X, y = frame()
    fitted = Pipeline(
        [("scale", StandardScaler()), ("gbm", lgb.LGBMClassifier(n_estimators=10, verbose=-1))]
    ).fit(X, y)
    model = register_model(ws, "piped", fitted)
    assert model.flavor == "sklearn"
    assert np.array_equal(load_model(ws, model.uri).predict_proba(X), fitted.predict_proba(X))


@SQLITE_ONLY
def test_xgboost_round_trips_into_the_same_class(make_project: MakeProject) -> None:
    ws = make_project("")
    X, y = frame()
    for fitted in (
        xgb.XGBClassifier(n_estimators=10, max_depth=3).fit(X, y),
        xgb.XGBClassifier(n_estimators=5).fit(X, (X["calls"] % 3).to_numpy()),
        xgb.XGBRegressor(n_estimators=10).fit(X, X["charges"]),
    ):
        model = register_model(ws, "xgb", fitted)
        assert model.flavor == "xgboost"
        loaded = load_model(ws, model.uri)
        assert type(loaded) is type(fitted)
        assert np.array_equal(loaded.predict(X), fitted.predict(X))
        if isinstance(fitted, xgb.XGBClassifier):
            assert np.array_equal(loaded.predict_proba(X), fitted.predict_proba(X))


def test_a_signed_pickle_made_by_the_store_loads(make_project: MakeProject) -> None:
    ws = make_project("")
    X, _ = frame()
    model = register_model(ws, "rule", ThresholdModel("calls", 2.5), input_example=X.head())
    assert model.flavor == "pickle"
    assert model.signature["outputs"] == [{"type": "long"}]
    loaded = load_model(ws, "rule")
    assert isinstance(loaded, ThresholdModel) and loaded.threshold == 2.5
    assert np.array_equal(model.predict(X), (X["calls"] > 2.5).astype(int).to_numpy())


def test_files_from_disk_are_taken_only_in_code_free_formats(
    make_project: MakeProject, tmp_path: Path
) -> None:
    ws = make_project("")
    X, y = frame()
    linear = LogisticRegression().fit(X, y)
    (tmp_path / "linear.skops").write_bytes(sio.dumps(linear))
    model = register_model(ws, "from-disk", tmp_path / "linear.skops")
    assert (model.flavor, "conveyor.signature" in model.tags) == ("sklearn", False)
    assert np.array_equal(load_model(ws, model.uri).predict(X), linear.predict(X))

    booster = lgb.train({"verbose": -1}, lgb.Dataset(X, label=y), num_boost_round=5)
    (tmp_path / "gbm.txt").write_text(booster.model_to_string())
    text_model = register_model(ws, "from-disk", str(tmp_path / "gbm.txt"))
    assert text_model.flavor == "lightgbm"
    assert np.array_equal(load_model(ws, text_model.uri).predict(X), booster.predict(X))

    (tmp_path / "tree.skops").write_bytes(sio.dumps(DecisionTreeClassifier().fit(X, y)))
    with pytest.raises(UntrustedModelError, match="untrusted types: sklearn.tree._tree.Tree"):
        register_model(ws, "from-disk", tmp_path / "tree.skops")
    with pytest.raises(InvalidValueError, match="is a sklearn model file, not 'pickle'"):
        register_model(ws, "from-disk", tmp_path / "linear.skops", flavor="pickle")
    with pytest.raises(NotFoundError, match="is not a model file"):
        register_model(ws, "from-disk", tmp_path / "missing.skops")
    assert [v.version for v in list_versions(ws, "from-disk")] == [1, 2]


@pytest.mark.parametrize(
    ("call", "error", "fragment"),
    [
        (lambda ws, m: register_model(ws, "../x", m), InvalidNameError, "model name"),
        (lambda ws, m: register_model(ws, "x", m, flavor="skops"), InvalidValueError, "flavor"),
        (
            lambda ws, m: register_model(ws, "x", m, flavor="sklaern"),
            InvalidValueError,
            "Did you mean 'sklearn'",
        ),
        (
            lambda ws, m: register_model(ws, "x", m, flavor="xgboost"),
            InvalidValueError,
            "stores a bare xgboost estimator",
        ),
        (
            lambda ws, m: register_model(ws, "x", m, tags={"conveyor.signature": "f" * 64}),
            InvalidValueError,
            "is reserved",
        ),
        (
            lambda ws, m: register_model(ws, "x", m, metrics={"auc": float("nan")}),
            InvalidValueError,
            "finite numbers",
        ),
        (
            lambda ws, m: register_model(ws, "x", m, parent="other@champion"),
            InvalidValueError,
            "a version of the same model",
        ),
        (lambda ws, m: register_model(ws, "x", m, parent=0), InvalidValueError, "from 1"),
        (
            lambda ws, m: register_model(ws, "x", m, input_example=[[1, 2, 3]]),
            InvalidValueError,
            "must be a pandas DataFrame",
        ),
        (
            lambda ws, m: register_model(ws, "x", m, signature={"inputs": [{"type": "int"}]}),
            InvalidValueError,
            "Signature column types must be one of",
        ),
        (
            lambda ws, m: register_model(ws, "x", lgb.LGBMClassifier()),
            InvalidValueError,
            "in the 'lightgbm' format",
        ),
    ],
)
@SQLITE_ONLY  # the checks come before the store is touched
def test_bad_registrations_say_why_and_leave_no_version(
    make_project: MakeProject, call: object, error: type[Exception], fragment: str
) -> None:
    ws = make_project("")
    X, y = frame()
    fitted = LogisticRegression().fit(X, y)
    register_model(ws, "x", fitted)
    n_artifacts = len(st.list_artifacts(ws.store))
    with pytest.raises(error, match=fragment):
        call(ws, fitted)  # type: ignore[operator]
    assert [v.version for v in list_versions(ws, "x")] == [1]
    assert len(st.list_artifacts(ws.store)) == n_artifacts  # refused before storing
    assert list((ws.config.state_dir / "tmp").iterdir()) == []  # no temporary folder left


def test_unknown_models_versions_and_aliases_name_what_exists(make_project: MakeProject) -> None:
    ws = make_project("")
    X, y = frame()
    register_model(ws, "churn", LogisticRegression().fit(X, y))
    with pytest.raises(NotFoundError, match="Did you mean 'churn'"):
        get_model(ws, "chrun")
    with pytest.raises(NotFoundError, match="no version 4"):
        load_model(ws, "churn/4")
    with pytest.raises(NotFoundError, match="no alias 'champion'"):
        load_model(ws, "models:/churn@champion")
    with pytest.raises(InvalidValueError, match="A model URI is"):
        load_model(ws, "runs:/abc/model")


def test_a_frame_without_names_still_predicts_through_a_plain_model(
    make_project: MakeProject,
) -> None:
    ws = make_project("")
    X, y = frame()
    fitted = LogisticRegression().fit(X.to_numpy(), y)
    model = register_model(ws, "plain", fitted)
    assert model.signature == {}
    assert np.array_equal(model.predict(X.to_numpy()), fitted.predict(X.to_numpy()))
