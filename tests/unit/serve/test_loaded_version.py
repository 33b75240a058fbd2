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
