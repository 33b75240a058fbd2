"""CBPE: a classifier's performance estimated from its scores, before the labels arrive.

Confidence-based performance estimation (NannyML's CBPE, reimplemented): if the scores are
calibrated, a row predicted ``c`` is correct with probability ``P(y = c | x)``, so the mean
of those probabilities estimates accuracy, their sums an expected confusion matrix (hence
precision, recall and F1), and treating each row's calibrated probability as a Bernoulli
label gives an expected ROC AUC. Calibration is learned on a *reference* set the model did
not train on: isotonic regression per class, cross-fitted over 3 stratified folds and kept
only where it lowers the expected calibration error (ECE); a multiclass row is renormalised
to sum to 1 afterwards.

What it assumes, and every result says: **P(y|x) has not changed since the reference set**.
It stays right when only P(x) moves (covariate shift within the region the reference
covered). It is wrong under concept or label shift and cannot see it: the estimated
positive rate then parts from the realised one once labels arrive, which is the hint. An
estimate never triggers a retrain on its own.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ..core import InvalidValueError, NotFittedError
from ._arrays import as_finite, as_labels, encode, labelled_rows, resolve_classes

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = ["ASSUMPTION", "CBPE", "PerformanceEstimate"]

ASSUMPTION = "estimate: assumes P(y|x) unchanged since the reference set"
ESTIMATED_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
# Below this many reference rows, calibration (isotonic, 3 folds) has too little to learn
# from: refuse. Below the recommended size, or with a class this rare, warn.
MIN_REFERENCE = 100
RECOMMENDED_REFERENCE = 1000
RECOMMENDED_PER_CLASS = 50
_PROBA_TOLERANCE = 1e-4
_STATE_VERSION = 1


@dataclass(frozen=True)
class PerformanceEstimate:
    """Estimated performance of one window, before (or without) its labels.

    Attributes:
        metrics: ``accuracy``, ``precision``, ``recall``, ``f1`` (binary: the positive
            class's; multiclass: macro) and ``roc_auc`` (expected; multiclass one-vs-rest
            macro); ``None`` where undefined (precision with no predicted positive).
        n: Rows estimated.
        accuracy_standard_error: How far the realised accuracy of these rows is expected to
            fall from the estimate by chance alone if the assumption holds,
            ``sqrt(sum q (1 - q)) / n`` with ``q`` each row's probability of being right.
        class_shares: Estimated share of each class among the true labels (mean calibrated
            probability): binary ``{negative, positive}``.
        predicted_shares: Share of each class among the predictions.
        kind: Always ``"estimate"``: show it as one, never as a measured figure.
        assumption: What the estimate assumes, to show beside it.
    """

    metrics: dict[str, float | None]
    n: int
    accuracy_standard_error: float
    class_shares: dict[Any, float]
    predicted_shares: dict[Any, float]
    kind: Literal["estimate"] = "estimate"
    assumption: str = ASSUMPTION

    @property
    def positive_rate(self) -> float | None:
        """Binary: the estimated share of positive labels (``None`` for multiclass)."""
        if len(self.class_shares) != 2:
            return None
        return list(self.class_shares.values())[1]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "assumption": self.assumption,
            "n": self.n,
            "metrics": dict(self.metrics),
            "accuracy_standard_error": self.accuracy_standard_error,
            "positive_rate": self.positive_rate,
            "class_shares": {str(k): v for k, v in self.class_shares.items()},
            "predicted_shares": {str(k): v for k, v in self.predicted_shares.items()},
        }


class CBPE:
    """Confidence-based performance estimation for a binary or multiclass classifier.

    Follows scikit-learn's contract: the constructor only stores its arguments, :meth:`fit`
    learns the calibration on a reference set and returns ``self``, learned state ends in
    ``_``, and :meth:`estimate` before ``fit`` raises
    :class:`~conveyor.core.NotFittedError`.

    Args:
        classes: The classes in score-column order (binary: negative, positive). By default
            the sorted distinct reference labels (0/1 and booleans need none).
        threshold: Binary only: a row is predicted positive when its score is ``>=
            threshold``, unless :meth:`estimate` is given the served predictions.
        n_bins: Equal-width bins of the expected calibration error.
        n_folds: Folds of the cross-fitted calibration check.
        random_state: Seed of the folds' shuffle.

    Example:
        >>> estimator = CBPE(random_state=0).fit(reference_scores, reference_labels)
        >>> estimator.estimate(window_scores).metrics["accuracy"]  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        classes: Sequence[Any] | None = None,
        threshold: float = 0.5,
        n_bins: int = 10,
        n_folds: int = 3,
        random_state: int | None = None,
    ) -> None:
        self.classes = classes
        self.threshold = threshold
        self.n_bins = n_bins
        self.n_folds = n_folds
        self.random_state = random_state

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {
            "classes": self.classes,
            "threshold": self.threshold,
            "n_bins": self.n_bins,
            "n_folds": self.n_folds,
            "random_state": self.random_state,
        }

    def fit(self, reference_scores: npt.ArrayLike, reference_labels: npt.ArrayLike) -> CBPE:
        """Learn the calibration on a reference set the model did not train on.

        Args:
            reference_scores: Binary: the positive class's probability (1-D) or
                ``predict_proba``'s two columns; multiclass: ``(n, k)`` probabilities in the
                order of ``classes``.
            reference_labels: The true class of each reference row.

        Returns:
            ``self``, with ``classes_``, ``n_reference_``, ``class_counts_``,
            ``calibrated_`` (per class: was isotonic calibration kept), ``ece_raw_`` and
            ``ece_calibrated_`` (cross-fitted), ``calibrators_`` and ``warnings_`` (what
            :func:`warnings.warn` said).

        Raises:
            InvalidValueError: Too few rows (under 100), a single class, a class with fewer
                rows than folds, scores that are not probabilities, misaligned inputs.
        """
        import numpy as np

        self._check_params()
        labels = as_labels(reference_labels, "reference_labels")
        if not labelled_rows(labels).all():
            raise InvalidValueError(
                "reference_labels has missing values: every reference row needs its label.",
                hint="Drop the unlabelled rows from the reference set.",
            )
        scores = _probabilities(reference_scores, len(labels), "reference_scores")
        classes = resolve_classes(labels, self.classes, 2 if scores.ndim == 1 else scores.shape[1])
        codes = encode(labels, classes, "reference_labels")
        counts = np.bincount(codes, minlength=len(classes))
        self._check_reference(len(codes), counts, classes)
        matrix = _as_matrix(scores)
        calibrators, calibrated, raw, crossed = [], [], [], []
        for j in range(len(classes)):  # one isotonic fit per class, not per row
            model, ece_raw, ece_cross = self._calibrate(matrix[:, j], codes == j, codes)
            calibrators.append(model)
            calibrated.append(model is not None)
            raw.append(ece_raw)
            crossed.append(ece_cross)
            if len(classes) == 2:
                break  # binary: the positive column decides, the negative is 1 - p
        self.classes_ = classes
        self.n_reference_ = len(codes)
        self.class_counts_ = dict(zip(classes, counts.tolist(), strict=True))
        self.calibrators_ = calibrators
        self.calibrated_ = tuple(calibrated)
        self.ece_raw_ = tuple(raw)
        self.ece_calibrated_ = tuple(crossed)
        return self

    def _check_params(self) -> None:
        if not isinstance(self.threshold, int | float) or not 0 <= self.threshold <= 1:
            raise InvalidValueError(
                f"threshold must be a number in [0, 1]. Got {self.threshold!r}."
            )
        for name, value, low in (("n_bins", self.n_bins, 1), ("n_folds", self.n_folds, 2)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InvalidValueError(f"{name} must be an integer >= {low}. Got {value!r}.")

    def _check_reference(self, n: int, counts: Any, classes: tuple[Any, ...]) -> None:
        hint = (
            "Use a labelled reference set the model did not train on, such as a recent "
            f"holdout, with at least {RECOMMENDED_REFERENCE:,} rows."
        )
        if n < MIN_REFERENCE:
            raise InvalidValueError(
                f"The reference set has {n:,} rows; CBPE needs at least {MIN_REFERENCE} to "
                "calibrate the scores.",
                hint=hint,
            )
        present = int((counts > 0).sum())
        if present < 2:
            raise InvalidValueError(
                f"The reference set holds a single class ({classes[int(counts.argmax())]!r}): "
                "calibration needs rows of every class.",
                hint=hint,
            )
        rare = [c for c, k in zip(classes, counts.tolist(), strict=True) if k < self.n_folds]
        if rare:
            raise InvalidValueError(
                f"The reference set has fewer than {self.n_folds} rows of class(es) "
                f"{rare}: the cross-fitted calibration needs some in every fold.",
                hint=hint,
            )
        notes = []
        if n < RECOMMENDED_REFERENCE:
            notes.append(f"only {n:,} rows (recommended: {RECOMMENDED_REFERENCE:,} or more)")
        thin = [
            c for c, k in zip(classes, counts.tolist(), strict=True) if k < RECOMMENDED_PER_CLASS
        ]
        if thin:
            notes.append(f"fewer than {RECOMMENDED_PER_CLASS} rows of class(es) {thin}")
        self.warnings_ = [
            f"CBPE reference set is small: {note}; the estimate will be rough." for note in notes
        ]
        for message in self.warnings_:
            warnings.warn(message, UserWarning, stacklevel=3)

    def _calibrate(self, scores: Any, target: Any, codes: Any) -> tuple[Any, float, float]:
        """Isotonic regression on one column, kept only if cross-fitting lowers its ECE."""
        import numpy as np
        from sklearn.isotonic import IsotonicRegression
        from sklearn.model_selection import StratifiedKFold

        folds = StratifiedKFold(self.n_folds, shuffle=True, random_state=self.random_state)
        crossed = np.empty(len(scores))
        for train, test in folds.split(scores, codes):
            model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
            crossed[test] = model.fit(scores[train], target[train]).predict(scores[test])
        ece_raw = _ece(scores, target, self.n_bins)
        ece_crossed = _ece(crossed, target, self.n_bins)
        if ece_crossed >= ece_raw:
            return None, ece_raw, ece_crossed
        model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        return model.fit(scores, target), ece_raw, ece_crossed

    def to_dict(self) -> dict[str, Any]:
        """The parameters and the fitted calibration as plain numbers and lists (JSON-ready):
        each kept isotonic map as its breakpoints, so a monitor fits once per version.

        Raises:
            NotFittedError: Before :meth:`fit`.
        """
        self._check_fitted()
        return {
            "version": _STATE_VERSION,
            "params": {**self.get_params(), "classes": list(self.classes_)},
            "n_reference": self.n_reference_,
            "class_counts": [[c, k] for c, k in self.class_counts_.items()],
            "calibrators": [
                None
                if model is None
                else [model.X_thresholds_.tolist(), model.y_thresholds_.tolist()]
                for model in self.calibrators_
            ],
            "ece_raw": list(self.ece_raw_),
            "ece_calibrated": list(self.ece_calibrated_),
            "warnings": list(self.warnings_),
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> CBPE:
        """A fitted CBPE that estimates exactly as the one that wrote ``state`` did.

        Raises:
            InvalidValueError: ``state`` is not what :meth:`to_dict` writes.
        """
        hint = "Pass the dict CBPE.to_dict() returned, unchanged, or fit a new CBPE."
        if not isinstance(state, Mapping) or state.get("version") != _STATE_VERSION:
            raise InvalidValueError(
                f"Not a CBPE state of version {_STATE_VERSION}: "
                f"{type(state).__name__ if not isinstance(state, Mapping) else sorted(state)}.",
                hint=hint,
            )
        try:
            estimator = cls(**state["params"])
            estimator.classes_ = tuple(state["params"]["classes"])
            estimator.n_reference_ = int(state["n_reference"])
            estimator.class_counts_ = {c: int(k) for c, k in state["class_counts"]}
            estimator.calibrators_ = [
                None if pair is None else _Breakpoints(*pair) for pair in state["calibrators"]
            ]
            estimator.calibrated_ = tuple(c is not None for c in estimator.calibrators_)
            estimator.ece_raw_ = tuple(float(v) for v in state["ece_raw"])
            estimator.ece_calibrated_ = tuple(float(v) for v in state["ece_calibrated"])
            estimator.warnings_ = [str(w) for w in state["warnings"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidValueError(f"A CBPE state is malformed: {exc!r}.", hint=hint) from None
        estimator._check_params()
        return estimator

    def _check_fitted(self) -> None:
        if not hasattr(self, "classes_"):
            raise NotFittedError(
                "This CBPE is not fitted yet: it needs a reference set to calibrate on.",
                hint="Call fit(reference_scores, reference_labels) first.",
            )

    def calibrate(self, scores: npt.ArrayLike) -> Any:
        """Calibrated class probabilities, ``(n, k)`` (binary: the two columns)."""
        import numpy as np

        self._check_fitted()
        raw = _probabilities(scores, None, "scores")
        matrix = _as_matrix(raw)
        k = len(self.classes_)
        if matrix.shape[1] != k:
            raise InvalidValueError(
                f"scores has {matrix.shape[1]} columns; this CBPE was fitted on {k} classes "
                f"{list(self.classes_)}."
            )
        if k == 2:
            model = self.calibrators_[0]
            positive = matrix[:, 1] if model is None else model.predict(matrix[:, 1])
            return np.column_stack([1 - positive, positive])
        columns = [
            matrix[:, j] if model is None else model.predict(matrix[:, j])
            for j, model in enumerate(self.calibrators_)
        ]
        calibrated = np.column_stack(columns)
        sums = calibrated.sum(axis=1, keepdims=True)
        # A row every calibrator sends to 0 keeps its raw probabilities.
        return np.where(sums > 0, calibrated / np.where(sums > 0, sums, 1), matrix)

    def estimate(
        self, scores: npt.ArrayLike, predictions: npt.ArrayLike | None = None
    ) -> PerformanceEstimate:
        """Estimate the performance of one window from its scores.

        Args:
            scores: The window's scores, as for :meth:`fit`.
            predictions: The classes the model served, if they are not the scores'
                arg-max (or, binary, ``score >= threshold``).

        Returns:
            A :class:`PerformanceEstimate` (always labelled as an estimate).

        Raises:
            NotFittedError: Before :meth:`fit`.
            InvalidValueError: Empty, non-finite or misshapen scores; predictions outside
                the classes or of another length.
        """
        import numpy as np

        self._check_fitted()
        raw = _as_matrix(_probabilities(scores, None, "scores"))
        probabilities = self.calibrate(raw)
        n, k = probabilities.shape
        if predictions is None:
            if k == 2:
                predicted = (raw[:, 1] >= self.threshold).astype(np.int64)
            else:
                predicted = raw.argmax(axis=1)
        else:
            served = as_labels(predictions, "predictions")
            if len(served) != n:
                raise InvalidValueError(
                    f"predictions has {len(served):,} rows but scores has {n:,}: they must be "
                    "aligned row by row."
                )
            predicted = encode(served, self.classes_, "predictions")
        right = probabilities[np.arange(n), predicted]
        one_hot = predicted[:, None] == np.arange(k)
        confusion = probabilities.T @ one_hot  # [true class, predicted class], expected
        metrics = _confusion_metrics(confusion, k)
        metrics["accuracy"] = float(right.mean())
        metrics["roc_auc"] = _expected_auc(probabilities, raw, k)
        return PerformanceEstimate(
            metrics={name: metrics[name] for name in ESTIMATED_METRICS},
            n=n,
            accuracy_standard_error=math.sqrt(float(np.sum(right * (1 - right)))) / n,
            class_shares=dict(zip(self.classes_, probabilities.mean(axis=0).tolist(), strict=True)),
            predicted_shares=dict(zip(self.classes_, one_hot.mean(axis=0).tolist(), strict=True)),
        )


class _Breakpoints:
    """A fitted isotonic map restored from its breakpoints: linear between them, clipped to
    the ends (what ``IsotonicRegression(out_of_bounds="clip").predict`` computes)."""

    def __init__(self, x: Sequence[float], y: Sequence[float]) -> None:
        import numpy as np

        self.X_thresholds_ = np.asarray(x, dtype=np.float64)
        self.y_thresholds_ = np.asarray(y, dtype=np.float64)
        if self.X_thresholds_.ndim != 1 or self.X_thresholds_.shape != self.y_thresholds_.shape:
            raise ValueError("breakpoints must be two lists of the same length")
        if not len(self.X_thresholds_):
            raise ValueError("a calibration map needs at least one breakpoint")

    def predict(self, values: Any) -> Any:
        import numpy as np

        return np.interp(values, self.X_thresholds_, self.y_thresholds_)


def _probabilities(scores: Any, n: int | None, what: str) -> Any:
    import numpy as np

    array = as_finite(scores, what)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim not in (1, 2) or array.shape[0] == 0:
        raise InvalidValueError(
            f"{what} must be a non-empty 1-D array (the positive class's probability) or an "
            f"(n, k) matrix of class probabilities. Got shape {array.shape}."
        )
    if n is not None and array.shape[0] != n:
        raise InvalidValueError(
            f"{what} has {array.shape[0]:,} rows but reference_labels has {n:,}: they must "
            "be aligned row by row."
        )
    in_range = bool(((array >= 0) & (array <= 1)).all())
    sums = array.sum(axis=1) if array.ndim == 2 else None
    if not in_range or (sums is not None and not np.all(np.abs(sums - 1) <= _PROBA_TOLERANCE)):
        raise InvalidValueError(
            f"{what} must be probabilities (in [0, 1]; each row of a matrix summing to 1). "
            "CBPE reads them as the model's confidence.",
            hint="Pass predict_proba's output, not decision_function's margins.",
        )
    return array


def _as_matrix(scores: Any) -> Any:
    import numpy as np

    return np.column_stack([1 - scores, scores]) if scores.ndim == 1 else scores


def _ece(probability: Any, target: Any, n_bins: int) -> float:
    """Expected calibration error of one column: equal-width bins, weighted by their rows
    (``conveyor.train``'s definition; that package is a sibling layer, not importable here)."""
    import numpy as np

    bins = np.minimum((probability * n_bins).astype(np.int64), n_bins - 1)
    gaps = np.bincount(bins, weights=target - probability, minlength=n_bins)
    return float(np.abs(gaps).sum() / len(probability))


def _confusion_metrics(confusion: Any, k: int) -> dict[str, float | None]:
    """Precision, recall and F1 from an expected confusion matrix (rows: true class)."""
    import numpy as np

    tp = np.diag(confusion)
    predicted, actual = confusion.sum(axis=0), confusion.sum(axis=1)
    if k == 2:
        return {
            "precision": float(tp[1] / predicted[1]) if predicted[1] > 0 else None,
            "recall": float(tp[1] / actual[1]) if actual[1] > 0 else None,
            "f1": float(2 * tp[1] / (predicted[1] + actual[1]))
            if predicted[1] + actual[1] > 0
            else None,
        }
    present = (predicted > 0) | (actual > 0)
    ratios = {}
    for name, denominator, numerator in (
        ("precision", predicted, tp),
        ("recall", actual, tp),
        ("f1", predicted + actual, 2 * tp),
    ):
        values = np.divide(numerator, denominator, out=np.zeros(k), where=denominator > 0)
        ratios[name] = float(values[present].mean())
    return dict(ratios)


def _expected_auc(probabilities: Any, raw: Any, k: int) -> float | None:
    """Expected ROC AUC: each row a positive with its calibrated probability, ranked by its
    raw score. ``E[concordant pairs] / E[positive-negative pairs]`` over distinct rows, ties
    counting one half; O(n log n). Multiclass: one-vs-rest, macro over the classes with
    expected rows on both sides."""
    import numpy as np

    aucs = []
    for j in range(1 if k == 2 else 0, k):
        p, scores = probabilities[:, j], raw[:, j]
        _, group = np.unique(scores, return_inverse=True)
        positives = np.bincount(group, weights=p)
        negatives = np.bincount(group, weights=1 - p)
        below = np.cumsum(negatives) - negatives  # negatives scored strictly lower
        self_pairs = float(np.sum(p * (1 - p)))
        pairs = float(positives.sum() * negatives.sum()) - self_pairs
        if pairs <= 0:
            continue
        concordant = float(np.sum(positives * (below + 0.5 * negatives))) - 0.5 * self_pairs
        aucs.append(concordant / pairs)
    return float(np.mean(aucs)) if aucs else None
