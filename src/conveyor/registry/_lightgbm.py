"""A LightGBM model loaded from its own text format, with scikit-learn's predict API.

LightGBM writes a fitted model as text (``Booster.model_to_string``): trees and
parameters, no code. Loading it back gives a ``Booster``; this wrapper gives it the
``predict`` / ``predict_proba`` / ``classes_`` of the estimator that was registered, with
the same results: for a classifier, probabilities as ``LGBMClassifier.predict_proba``
returns them and labels from the recorded classes by arg-max, as ``LGBMClassifier.predict``
picks them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

CLASSIFIER = "LGBMClassifier"


class LightGBMModel:
    """A loaded LightGBM model.

    Attributes:
        booster_: The ``lightgbm.Booster``.
        estimator: The class that was registered (``LGBMClassifier``, ``LGBMRegressor``,
            ``LGBMRanker`` or ``Booster``).
        classes_: A classifier's labels, in order (None otherwise).
        n_features_in_: How many features it takes.
        feature_names_in_: Their names.
    """

    def __init__(self, booster: Any, estimator: str, classes: Sequence[Any] | None) -> None:
        import numpy as np

        self.booster_ = booster
        self.estimator = estimator
        self.classes_ = None if classes is None else np.asarray(classes)
        self.n_features_in_ = int(booster.num_feature())
        self.feature_names_in_ = np.asarray(booster.feature_name())

    def predict(self, X: Any, **kwargs: Any) -> Any:
        """Predicted labels (a classifier), values (a regressor) or scores (a ranker)."""
        if self.estimator == CLASSIFIER and self.classes_ is not None:
            import numpy as np

            return self.classes_[np.argmax(self.predict_proba(X, **kwargs), axis=1)]
        return self.booster_.predict(X, **kwargs)

    def predict_proba(self, X: Any, **kwargs: Any) -> Any:
        """Class probabilities, one column per class in ``classes_`` order.

        Raises:
            AttributeError: the model is not a classifier.
        """
        if self.estimator != CLASSIFIER:
            raise AttributeError(f"A LightGBM {self.estimator} has no predict_proba.")
        import numpy as np

        raw = np.asarray(self.booster_.predict(X, **kwargs))
        if raw.ndim == 1:  # binary: the probability of the second class
            return np.vstack((1.0 - raw, raw)).transpose()
        return raw

    def __repr__(self) -> str:
        return f"LightGBMModel({self.estimator}, {self.n_features_in_} features)"
