"""Holdout metrics: classification and regression, overall and per slice.

Everything is vectorised numpy (ranks from scipy); nothing here reads the store. A metric
that cannot be computed on the rows given is ``None`` (undefined), never NaN and never a
made-up number:

- ``roc_auc`` needs both a positive and a negative row (multiclass: one-vs-rest, averaged
  over the classes present with both sides);
- ``log_loss`` and ``ece`` need probabilities (scores in [0, 1]; rows of a 2-D array summing
  to 1); a 1-D score outside [0, 1] (a ``decision_function`` margin) leaves them ``None``;
- ``r2`` needs a target that is not constant.

Precision, recall and F1 count a ratio with a zero denominator as 0, as scikit-learn does
with ``zero_division=0``. Bad input (empty, NaN, lengths that differ, labels that do not
match the scores) raises :class:`~conveyor.core.InvalidValueError` naming the argument.
"""

from __future__ import annotations

import functools
import importlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ..core import ConfigError, InvalidValueError, did_you_mean

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = [
    "CLASSIFICATION_METRICS",
    "GREATER_IS_BETTER",
    "METRICS",
    "REGRESSION_METRICS",
    "Task",
    "classification_metrics",
    "metric_names",
    "regression_metrics",
]

Task = Literal["classification", "regression"]
Metrics = dict[str, float | None]

CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "ece")
REGRESSION_METRICS = ("rmse", "mae", "r2")
METRICS = (*CLASSIFICATION_METRICS, *REGRESSION_METRICS)
# Whether a bigger value is better: the direction every comparison and change rule uses.
GREATER_IS_BETTER: Mapping[str, bool] = {
    "accuracy": True,
    "precision": True,
    "recall": True,
    "f1": True,
    "roc_auc": True,
    "log_loss": False,
    "ece": False,
    "rmse": False,
    "mae": False,
    "r2": True,
}
DEFAULT_N_BINS = 10
DEFAULT_MIN_ROWS = 30
# Rows of a 2-D score array summing to 1 within this count as probabilities (float32
# predict_proba output is off by ~1e-7).
_PROBA_TOLERANCE = 1e-4
_ML_LIBRARIES = ("numpy", "scipy")


def require_ml() -> None:
    """Raise :class:`~conveyor.core.ConfigError` naming the install command if numpy or
    scipy is missing (they come with the ``ml`` extra)."""
    _check_ml_libraries()


@functools.cache
def _check_ml_libraries() -> None:
    missing = []
    for library in _ML_LIBRARIES:
        try:
            importlib.import_module(library)
        except ImportError:
            missing.append(library)
    if missing:
        raise ConfigError(
            f"conveyor.train needs {', '.join(missing)}, which "
            f"{'is' if len(missing) == 1 else 'are'} not installed.",
            hint="Install the ml extra with: pip install 'conveyor[ml]'",
        )


def metric_names(task: Task) -> tuple[str, ...]:
    """The metrics computed for ``task``, in report order."""
    return CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS


def check_task(task: object) -> Task:
    if task == "classification":
        return "classification"
    if task == "regression":
        return "regression"
    raise InvalidValueError(
        f"task must be 'classification' or 'regression'. Got {task!r}."
        + did_you_mean(str(task), ("classification", "regression")),
        value=task,
    )


# --- input checks -------------------------------------------------------------------------


def as_vector(values: Any, what: str, *, numeric: bool = False) -> Any:
    """``values`` as a 1-D numpy array with at least one row and no missing value."""
    import numpy as np

    try:
        array = np.asarray(values)
    except (TypeError, ValueError) as exc:  # ragged nested lists
        raise InvalidValueError(f"{what} must be a 1-D array-like: {exc}.") from None
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise InvalidValueError(
            f"{what} must be 1-D (one value per row). Got an array of shape {array.shape}."
        )
    _check_rows(array, what)
    if numeric:
        return as_finite(array, what)
    if array.dtype.kind == "f" and np.isnan(array).any():
        raise _missing(what, int(np.isnan(array).sum()), len(array))
    if array.dtype.kind == "O":
        import pandas as pd

        missing = pd.isna(array)
        if missing.any():
            raise _missing(what, int(missing.sum()), len(array))
    return array


def as_finite(values: Any, what: str) -> Any:
    """``values`` as a float64 array (any shape) whose values are all finite."""
    import numpy as np

    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidValueError(
            f"{what} must hold numbers. Got values of type {np.asarray(values).dtype}."
        ) from None
    _check_rows(array, what)
    bad = ~np.isfinite(array)
    if bad.any():
        raise _missing(what, int(bad.sum()), array.size, kind="NaN or infinite")
    return array


def _check_rows(array: Any, what: str) -> None:
    if array.ndim == 0 or array.shape[0] == 0:
        raise InvalidValueError(
            f"{what} is empty: metrics need at least one row.",
            hint="Check the holdout: did a filter or a join drop every row?",
        )


def _missing(what: str, n_bad: int, n: int, *, kind: str = "missing (NaN/None)") -> Exception:
    return InvalidValueError(
        f"{what} has {n_bad:,} {kind} value{'s' if n_bad != 1 else ''} out of {n:,}: "
        "metrics on a holdout need a value in every row.",
        hint="Drop or impute those rows before evaluating (the same rows for every model).",
    )


def check_same_length(n: int, values: Any, what: str) -> None:
    if len(values) != n:
        raise InvalidValueError(
            f"{what} has {len(values):,} rows but y_true has {n:,}: they must be aligned "
            "row by row."
        )


# --- classification ---------------------------------------------------------------------


@dataclass(frozen=True)
class Classes:
    """Classification inputs checked and encoded once.

    Attributes:
        codes: Each row's true class as an index into ``labels`` (int64).
        scores: The positive class's score per row when binary, else an ``(n, k)`` array.
        labels: The classes, in the order of the score columns (binary: negative, positive).
        is_probability: Whether the scores are probabilities (log loss and ECE need them).
        threshold: A binary row is predicted positive when its score is ``>= threshold``.
    """

    codes: Any
    scores: Any
    labels: tuple[Any, ...]
    is_probability: bool
    threshold: float

    @property
    def is_binary(self) -> bool:
        return len(self.labels) == 2

    @property
    def n(self) -> int:
        return len(self.codes)

    @functools.cached_property
    def predictions(self) -> Any:
        """The predicted class per row, as an index into ``labels``."""
        import numpy as np

        if self.is_binary:
            return (self.scores >= self.threshold).astype(np.int64)
        return np.argmax(self.scores, axis=1)

    def take(self, rows: Any) -> Classes:
        return Classes(
            self.codes[rows], self.scores[rows], self.labels, self.is_probability, self.threshold
        )


def prepare_classes(
    y_true: npt.ArrayLike,
    y_score: npt.ArrayLike,
    *,
    labels: Sequence[Any] | None = None,
    threshold: float = 0.5,
    what: str = "y_score",
) -> Classes:
    """Check and encode classification inputs (see :func:`classification_metrics`)."""
    import numpy as np

    require_ml()
    y = as_vector(y_true, "y_true")
    scores = as_finite(y_score, what)
    check_same_length(len(y), scores, what)
    if scores.ndim not in (1, 2):
        raise InvalidValueError(
            f"{what} must be 1-D (the positive class's score) or 2-D (n rows x k classes, "
            f"as predict_proba returns). Got shape {scores.shape}."
        )
    if scores.ndim == 2 and scores.shape[1] == 1:
        scores = scores[:, 0]
    n_columns = 2 if scores.ndim == 1 else scores.shape[1]
    if not isinstance(threshold, int | float) or not math.isfinite(threshold):
        raise InvalidValueError(f"threshold must be a finite number. Got {threshold!r}.")
    classes = _resolve_labels(y, labels, n_columns, what)
    lookup = {label: i for i, label in enumerate(classes)}
    uniques, inverse = np.unique(y, return_inverse=True)
    unknown = [u for u in uniques.tolist() if u not in lookup]
    if unknown:
        raise InvalidValueError(
            f"y_true holds {_show(unknown)}, which {'is' if len(unknown) == 1 else 'are'} not "
            f"among the labels {_show(classes)}.",
            hint="Pass labels= listing every class, in the column order of the scores "
            "(a fitted classifier's classes_).",
        )
    codes = np.array([lookup[u] for u in uniques.tolist()], dtype=np.int64)[inverse]
    if scores.ndim == 1:
        is_probability = bool(((scores >= 0) & (scores <= 1)).all())
    else:
        in_range = bool(((scores >= 0) & (scores <= 1)).all())
        sums = scores.sum(axis=1)
        is_probability = in_range and bool(np.all(np.abs(sums - 1) <= _PROBA_TOLERANCE))
        if len(classes) == 2:
            scores = scores[:, 1]
    return Classes(codes, scores, classes, is_probability, float(threshold))


def _resolve_labels(
    y: Any, labels: Sequence[Any] | None, n_columns: int, what: str
) -> tuple[Any, ...]:
    import numpy as np

    hint = "Pass labels= in the column order of the scores (a fitted classifier's classes_)."
    if labels is not None:
        classes = tuple(np.asarray(labels).tolist())
        if len(set(classes)) != len(classes) or len(classes) < 2:
            raise InvalidValueError(
                f"labels must list at least two distinct classes. Got {_show(classes)}.",
                hint=hint,
            )
        if len(classes) != n_columns:
            shape = "1-D" if n_columns == 2 else f"{n_columns} columns"
            raise InvalidValueError(
                f"labels lists {len(classes)} classes but {what} is {shape} "
                f"({'binary' if n_columns == 2 else f'{n_columns} classes'}).",
                hint=hint,
            )
        return classes
    if y.dtype.kind == "b":
        found: list[Any] = [False, True]
    else:
        try:
            found = np.unique(y).tolist()
        except TypeError:
            raise InvalidValueError(
                "y_true mixes value types that cannot be ordered, so the classes cannot be "
                "matched to score columns.",
                hint=hint,
            ) from None
    if len(found) == n_columns:
        return tuple(found)
    if y.dtype.kind in "biu" and set(found) <= set(range(n_columns)):
        return tuple(range(n_columns))  # integer codes with a class absent from the holdout
    if n_columns == 2 and len(found) > 2:
        raise InvalidValueError(
            f"y_true has {len(found)} classes but {what} is 1-D (one score per row).",
            hint="Pass the (n, k) probabilities of predict_proba for a multiclass model.",
        )
    raise InvalidValueError(
        f"y_true has {len(found)} class{'es' if len(found) != 1 else ''} "
        f"({_show(found)}) but {what} has {n_columns} columns, so the classes cannot be "
        "matched to them.",
        hint=hint,
    )


def _show(values: Sequence[Any], limit: int = 8) -> str:
    shown = ", ".join(repr(v) for v in list(values)[:limit])
    more = f", ... ({len(values)} in all)" if len(values) > limit else ""
    return f"[{shown}{more}]"


def classification_metrics(
    y_true: npt.ArrayLike,
    y_score_or_proba: npt.ArrayLike,
    *,
    threshold: float = 0.5,
    labels: Sequence[Any] | None = None,
    n_bins: int = DEFAULT_N_BINS,
) -> dict[str, float | None]:
    """Accuracy, precision, recall, F1, ROC AUC, log loss and ECE of one model on a holdout.

    Binary: ``y_score_or_proba`` is the positive class's score (1-D) or ``predict_proba``'s
    two columns; a row is predicted positive when its score is ``>= threshold``; precision,
    recall and F1 are the positive class's. Multiclass: ``(n, k)`` scores, the predicted
    class is the arg-max (``threshold`` is not used), precision, recall and F1 are macro
    averages over ``labels`` and ROC AUC is one-vs-rest, macro-averaged.

    ``ece`` (expected calibration error) splits [0, 1] into ``n_bins`` equal-width bins
    (``[0, 0.1), [0.1, 0.2), ..., [0.9, 1.0]`` by default) and sums, over bins, the share of
    rows in the bin times ``|observed rate - mean predicted probability|``. Binary: the
    positive class's probability against the positive rate. Multiclass: the top class's
    probability against how often the top class is right (top-label ECE).

    Args:
        y_true: The true class of each row (any labels: 0/1, booleans, strings).
        y_score_or_proba: Scores or probabilities, aligned with ``y_true``.
        threshold: Binary decision threshold on the score.
        labels: The classes in the order of the score columns (binary: negative then
            positive). By default the sorted distinct values of ``y_true``; 0/1 and boolean
            targets need none even when one class is absent.
        n_bins: Number of equal-width bins for ``ece``.

    Returns:
        ``{"accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "ece", "n"}``;
        a metric undefined on these rows is ``None`` (see the module docstring).

    Raises:
        InvalidValueError: empty input, NaN, misaligned lengths, or labels that do not fit.

    Example:
        >>> classification_metrics([0, 1, 1, 0], [0.2, 0.9, 0.6, 0.4])["roc_auc"]
        1.0
    """
    check_bins(n_bins)
    return compute_classification(
        prepare_classes(y_true, y_score_or_proba, labels=labels, threshold=threshold), n_bins
    )


def check_bins(n_bins: object) -> None:
    if not isinstance(n_bins, int) or isinstance(n_bins, bool) or n_bins < 1:
        raise InvalidValueError(f"n_bins must be a positive integer. Got {n_bins!r}.")


def compute_classification(data: Classes, n_bins: int = DEFAULT_N_BINS) -> Metrics:
    """Every classification metric of already prepared inputs."""
    import numpy as np

    n, k = data.n, len(data.labels)
    if n == 0:
        return {**dict.fromkeys(CLASSIFICATION_METRICS), "n": 0}
    codes, predicted = data.codes, data.predictions
    confusion = np.bincount(codes * k + predicted, minlength=k * k).reshape(k, k)
    tp = np.diag(confusion).astype(np.float64)
    n_predicted, n_true = confusion.sum(axis=0), confusion.sum(axis=1)
    precision = _ratio(tp, n_predicted)
    recall = _ratio(tp, n_true)
    f1 = _ratio(2 * tp, n_predicted + n_true)
    if data.is_binary:
        precision, recall, f1 = precision[1:], recall[1:], f1[1:]
    metrics: Metrics = {
        "accuracy": float(tp.sum() / n),
        "precision": float(precision.mean()),
        "recall": float(recall.mean()),
        "f1": float(f1.mean()),
        "roc_auc": roc_auc(data),
        "log_loss": log_loss(data),
        "ece": expected_calibration_error(data, n_bins),
        "n": n,
    }
    return metrics


def _ratio(numerator: Any, denominator: Any) -> Any:
    import numpy as np

    return np.divide(
        numerator,
        denominator,
        out=np.zeros(len(numerator), dtype=np.float64),
        where=denominator > 0,
    )


def binary_auc(positive: Any, scores: Any) -> float | None:
    """ROC AUC from mid-ranks (ties count one half), ``None`` without both classes."""
    from scipy.stats import rankdata

    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = rankdata(scores)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def roc_auc(data: Classes) -> float | None:
    if data.is_binary:
        return binary_auc(data.codes == 1, data.scores)
    aucs = [binary_auc(data.codes == j, data.scores[:, j]) for j in range(len(data.labels))]
    defined = [a for a in aucs if a is not None]
    return float(sum(defined) / len(defined)) if defined else None


def per_row_log_loss(data: Classes) -> Any:
    """Each row's negative log-likelihood, probabilities clipped to [eps, 1 - eps]."""
    import numpy as np

    eps = np.finfo(np.float64).eps
    if data.is_binary:
        p = np.clip(data.scores, eps, 1 - eps)
        return -np.where(data.codes == 1, np.log(p), np.log1p(-p))
    p = np.clip(data.scores[np.arange(data.n), data.codes], eps, 1 - eps)
    return -np.log(p)


def log_loss(data: Classes) -> float | None:
    if not data.is_probability:
        return None
    return float(per_row_log_loss(data).mean())


def calibration_terms(data: Classes, n_bins: int) -> tuple[Any, Any]:
    """Per row: its bin and ``observed - predicted`` (see :func:`classification_metrics`)."""
    import numpy as np

    if data.is_binary:
        confidence = data.scores
        observed = (data.codes == 1).astype(np.float64)
    else:
        confidence = data.scores.max(axis=1)
        observed = (data.predictions == data.codes).astype(np.float64)
    bins = np.minimum((confidence * n_bins).astype(np.int64), n_bins - 1)
    return bins, observed - confidence


def expected_calibration_error(data: Classes, n_bins: int = DEFAULT_N_BINS) -> float | None:
    import numpy as np

    if not data.is_probability:
        return None
    bins, gaps = calibration_terms(data, n_bins)
    per_bin = np.bincount(bins, weights=gaps, minlength=n_bins)
    return float(np.abs(per_bin).sum() / data.n)


# --- regression --------------------------------------------------------------------------


def prepare_regression(y_true: npt.ArrayLike, y_pred: npt.ArrayLike, what: str = "y_pred") -> Any:
    """Check regression inputs; return ``(y_true, y_pred)`` as float64 vectors."""
    require_ml()
    y = as_vector(y_true, "y_true", numeric=True)
    pred = as_vector(y_pred, what, numeric=True)
    check_same_length(len(y), pred, what)
    return y, pred


def regression_metrics(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> dict[str, float | None]:
    """RMSE, MAE and R² of one model's predictions on a holdout.

    ``r2`` is ``1 - SS_res / SS_tot``; it is ``None`` when ``y_true`` is constant (scikit-learn
    would return 0.0 or 1.0 there, which a gate could not tell from a real figure).

    Args:
        y_true: The true values.
        y_pred: The predictions, aligned with ``y_true``.

    Returns:
        ``{"rmse", "mae", "r2", "n"}``.

    Raises:
        InvalidValueError: empty input, NaN or infinite values, or misaligned lengths.

    Example:
        >>> regression_metrics([1.0, 2.0, 3.0], [1.0, 2.0, 4.0])["mae"]
        0.3333333333333333
    """
    y, pred = prepare_regression(y_true, y_pred)
    return compute_regression(y, pred)


def compute_regression(y: Any, pred: Any) -> Metrics:
    import numpy as np

    n = len(y)
    if n == 0:
        return {**dict.fromkeys(REGRESSION_METRICS), "n": 0}
    errors = y - pred
    ss_res = float(np.dot(errors, errors))
    centred = y - y.mean()
    ss_tot = float(np.dot(centred, centred))
    return {
        "rmse": math.sqrt(ss_res / n),
        "mae": float(np.abs(errors).mean()),
        "r2": 1 - ss_res / ss_tot if ss_tot > 0 else None,
        "n": n,
    }
