"""How a loaded version calls its model: a numeric model on a plain matrix once warm-up
shows it answers the same; a model that selects columns by name on its frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from conveyor.registry import infer_signature
from conveyor.serve.runtime import Batch, LoadedVersion


def _data() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=200), "b": rng.integers(0, 9, 200)})
    return X, (X["a"] + X["b"] / 9 > 0.5).astype(int)


def _batch(X: pd.DataFrame) -> Batch:
    return Batch(columns={c: X[c].to_numpy() for c in X.columns}, rows=len(X))


def test_a_numeric_model_is_called_on_a_matrix_with_the_same_answers() -> None:
    X, y = _data()
    model = LogisticRegression().fit(X, y)
    loaded = LoadedVersion("m", 1, model, infer_signature(X))
    loaded.warm(_batch(X.head(3)))
    assert loaded._matrix
    got = loaded.predict_batch(_batch(X))["prediction"]
    assert np.array_equal(got, model.predict(X))


def test_a_model_that_selects_columns_by_name_keeps_its_frame() -> None:
    X, y = _data()
    X = X[["b", "a"]]  # the transformer names its columns; the order is the frame's
    model = Pipeline(
        [
            ("prep", ColumnTransformer([("scale", StandardScaler(), ["a"])])),
            ("lr", LogisticRegression()),
        ]
    ).fit(X, y)
    loaded = LoadedVersion("m", 1, model, infer_signature(X))
    loaded.warm(_batch(X.head(3)))
    assert not loaded._matrix
    got = loaded.predict_batch(_batch(X))["prediction"]
    assert np.array_equal(got, model.predict(X))


class _Sink:
    def __init__(self) -> None:
        self.chunks: list[object] = []

    def submit(self, chunk: object) -> bool:
        self.chunks.append(chunk)
        return True


class _Threshold(LogisticRegression):
    """A classifier that decides at 0.3, not at the arg-max of its probabilities."""

    def predict(self, X: object) -> np.ndarray:
        return self.classes_[(self.predict_proba(X)[:, 1] >= 0.3).astype(int)]


def test_a_binary_classifier_logs_its_score_from_one_call() -> None:
    X, y = _data()
    model = LogisticRegression().fit(X, y)
    loaded = LoadedVersion("m", 1, model, infer_signature(X), sink=_Sink(), log_scores=True)
    assert loaded.score_mode == "both"  # until warm-up has checked the arg-max
    loaded.warm(_batch(X.head(3)))
    assert loaded.score_mode == "derive"
    outputs = loaded.predict_batch(_batch(X))
    assert set(outputs) == {"prediction", "score"}
    assert np.array_equal(outputs["prediction"], model.predict(X))
    assert outputs["prediction"].dtype == model.predict(X).dtype
    assert np.allclose(outputs["score"], model.predict_proba(X)[:, 1])


def test_a_classifier_with_its_own_threshold_is_called_twice_and_answers_its_predict() -> None:
    X, y = _data()
    model = _Threshold().fit(X, y)
    probabilities = model.predict_proba(X)[:, 1]
    rows = X[(probabilities >= 0.3) & (probabilities < 0.5)].head(3)
    assert len(rows) == 3  # the warm-up sees rows where the two rules disagree
    loaded = LoadedVersion("m", 1, model, infer_signature(X), sink=_Sink(), log_scores=True)
    loaded.warm(_batch(rows))
    assert loaded.score_mode == "both"
    outputs = loaded.predict_batch(_batch(X))
    assert np.array_equal(outputs["prediction"], model.predict(X))
    assert np.allclose(outputs["score"], probabilities)


def test_a_multiclass_model_logs_one_probability_per_class() -> None:
    X, _ = _data()
    y = np.array(["low", "mid", "high"])[np.digitize(X["a"], [-0.5, 0.5])]
    model = LogisticRegression().fit(X, y)
    loaded = LoadedVersion("m", 1, model, infer_signature(X), sink=_Sink(), log_scores=True)
    loaded.warm(_batch(X.head(5)))
    outputs = loaded.predict_batch(_batch(X))
    assert sorted(outputs) == ["prediction", "proba_high", "proba_low", "proba_mid"]
    assert np.array_equal(outputs["prediction"], model.predict(X))
    assert np.allclose(outputs["proba_mid"], model.predict_proba(X)[:, 2])


def test_no_scores_without_a_log_without_the_setting_or_for_a_regressor() -> None:
    from sklearn.linear_model import LinearRegression

    X, y = _data()
    model = LogisticRegression().fit(X, y)
    for loaded in (
        LoadedVersion("m", 1, model, infer_signature(X), log_scores=True),  # no sink
        LoadedVersion("m", 1, model, infer_signature(X), sink=_Sink(), log_scores=False),
        LoadedVersion(
            "m", 1, LinearRegression().fit(X, y), infer_signature(X), sink=_Sink(), log_scores=True
        ),
    ):
        loaded.warm(_batch(X.head(3)))
        assert loaded.score_mode == "none"
        assert list(loaded.predict_batch(_batch(X))) == ["prediction"]
