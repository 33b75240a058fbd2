"""Live performance of one window of predictions, from the labels that have arrived so far.

The monitor joins the feedback to the prediction log by prediction id and hands this module
one window's arrays: what the model predicted (and its scores), the labels with a mask of
which rows have one, and when each prediction was made and each label received. It returns
the label coverage and latency, and the task's metrics on the labelled rows, each with an
interval (:class:`~conveyor.monitor._uncertainty.Figure` says which kind). A window with
fewer labels than ``min_labels`` reports ``insufficient_labels`` and the count, no figures.

Why 100 labels by default: the 95% Wilson interval of an accuracy reaches at most 0.096
from the figure with 100 labels (at accuracy 0.5; 0.089 at accuracy 0.8), so a window's
figure is good to about ten points; with 30 labels it is 0.17, wider than any drop worth
reporting. Below 100 a window's accuracy is mostly noise; the sequential detector
(:class:`~conveyor.monitor._adwin.ADWIN`) still sees every label.

Metrics are scikit-learn's definitions (the tests check them against it): precision, recall
and F1 of the positive class for a binary task and their macro average over the classes
present (in the labels or the predictions) for a multiclass one, with ``zero_division=0``
in the average; binary precision with no predicted positive (recall with no actual one) is
undefined rather than 0. ROC AUC is one-vs-rest, macro-averaged over the classes present
on both sides, for multiclass. Vectorised numpy and scipy; no loop over rows.

``conveyor.train`` computes the same point figures for holdouts, but ``train`` and
``monitor`` are sibling layers that may not import each other (``pyproject.toml``), and a
window needs intervals and a label mask that the holdout metrics do not have.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ..core import InvalidValueError, did_you_mean
from ._arrays import (
    as_labels,
    as_mask,
    as_seconds,
    check_length,
    encode_classes,
    labelled_rows,
    scores_for,
)
from ._uncertainty import (
    Figure,
    auc_placements,
    delong_standard_error,
    influence_standard_error,
    mean_standard_error,
    normal,
    ratio_influence,
    wilson,
    z_value,
)

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = ["MIN_LABELS", "LabelLatency", "Task", "WindowPerformance", "window_performance"]

Task = Literal["classification", "regression"]
Status = Literal["ok", "insufficient_labels"]
_TASKS: tuple[Task, ...] = ("classification", "regression")
# See the module docstring: at 100 labels a 95% Wilson interval reaches at most 0.096 away.
MIN_LABELS = 100


@dataclass(frozen=True)
class LabelLatency:
    """Seconds from prediction to label, over the window's labelled rows.

    A negative latency means the clock that stamped the label is behind the one that
    stamped the prediction.
    """

    median: float
    p90: float
    max: float


@dataclass(frozen=True)
class WindowPerformance:
    """What one window's labels say about the model so far.

    Attributes:
        task: ``"classification"`` or ``"regression"``.
        n_predictions: Predictions in the window.
        n_labelled: Of those, how many have a label (received by ``as_of`` when given).
        coverage: ``n_labelled / n_predictions`` (``None`` for an empty window).
        latency: Label latency in seconds (``None`` without label times or labels).
        min_labels: The minimum number of labels for figures.
        metrics: Metric name -> :class:`Figure`; empty when labels are insufficient.
        undefined: Metric name -> why it could not be computed on these rows (for example
            ``roc_auc``: only one class among the labels).
        confidence: Confidence level of every interval.
    """

    task: Task
    n_predictions: int
    n_labelled: int
    coverage: float | None
    latency: LabelLatency | None
    min_labels: int
    metrics: dict[str, Figure] = field(default_factory=dict)
    undefined: dict[str, str] = field(default_factory=dict)
    confidence: float = 0.95

    @property
    def status(self) -> Status:
        return "ok" if self.n_labelled >= self.min_labels else "insufficient_labels"

    @property
    def message(self) -> str:
        """One line for a log or a UI: the figures' basis, or why there are none."""
        if self.n_predictions == 0:
            return "insufficient labels: no predictions in this window"
        basis = (
            f"{self.n_labelled:,} of {self.n_predictions:,} predictions labelled "
            f"({self.coverage:.1%})"
        )
        if self.status == "ok":
            return basis
        return f"insufficient labels: {basis}; figures need at least {self.min_labels:,}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "status": self.status,
            "message": self.message,
            "n_predictions": self.n_predictions,
            "n_labelled": self.n_labelled,
            "coverage": self.coverage,
            "latency_seconds": None
            if self.latency is None
            else {"median": self.latency.median, "p90": self.latency.p90, "max": self.latency.max},
            "min_labels": self.min_labels,
            "confidence": self.confidence,
            "metrics": {name: figure.to_dict() for name, figure in self.metrics.items()},
            "undefined": dict(self.undefined),
        }


def window_performance(
    predictions: npt.ArrayLike,
    labels: npt.ArrayLike,
    *,
    task: Task = "classification",
    labelled: npt.ArrayLike | None = None,
    scores: npt.ArrayLike | None = None,
    classes: Sequence[Any] | None = None,
    prediction_times: npt.ArrayLike | None = None,
    label_times: npt.ArrayLike | None = None,
    as_of: Any = None,
    min_labels: int = MIN_LABELS,
    confidence: float = 0.95,
) -> WindowPerformance:
    """Coverage, label latency and the task's metrics with intervals for one window.

    Args:
        predictions: What the model answered, one row per prediction: class labels for a
            classifier, numbers for a regressor.
        labels: The true label of each row, aligned with ``predictions``; rows without a
            label may hold anything (``None``, NaN) when ``labelled`` is given, and must
            hold ``None`` or NaN when it is not.
        task: ``"classification"`` or ``"regression"``.
        labelled: Which rows have a label (booleans). By default, the rows whose label is
            not missing.
        scores: Classification only, optional: the positive class's probability (binary,
            1-D) or an ``(n, k)`` matrix in the order of ``classes``. ROC AUC needs them,
            log loss needs them to be probabilities. Rows without a label may hold NaN.
        classes: The classes in score-column order (binary: negative, positive). By
            default the sorted distinct values of the labels and predictions; 0/1 and
            boolean targets need none even when one class is absent.
        prediction_times: When each prediction was made: datetimes (naive ones are read as
            UTC) or seconds since the epoch.
        label_times: When each label was received, same kinds; missing for unlabelled rows.
        as_of: Count only labels received at or before this instant (needs
            ``label_times``): the window as it looked then.
        min_labels: Below this many labels the window reports ``insufficient_labels``.
        confidence: Confidence level of the intervals (0.95 by default).

    Returns:
        A :class:`WindowPerformance`.

    Raises:
        InvalidValueError: Arrays of different lengths, labels or predictions outside
            ``classes``, missing or non-finite values where a figure needs one, a bad
            parameter.

    Example:
        >>> window = window_performance([1, 0, 1, 1], [1, 0, 0, None], min_labels=3)
        >>> window.coverage, window.metrics["accuracy"].value
        (0.75, 0.6666666666666666)
    """
    import numpy as np

    if task not in _TASKS:
        raise InvalidValueError(
            f"task must be 'classification' or 'regression'. Got {task!r}."
            + did_you_mean(str(task), _TASKS),
            value=task,
        )
    if isinstance(min_labels, bool) or not isinstance(min_labels, int) or min_labels < 1:
        raise InvalidValueError(
            f"min_labels must be a positive integer. Got {min_labels!r}.",
            hint=f"The default, {MIN_LABELS}, keeps a 95% accuracy interval within ±0.1.",
        )
    if not isinstance(confidence, float) or not 0 < confidence < 1:
        raise InvalidValueError(
            f"confidence must be a float between 0 and 1, such as 0.95. Got {confidence!r}."
        )
    predicted = as_labels(predictions, "predictions")
    n = len(predicted)
    truth = as_labels(labels, "labels")
    check_length(n, truth, "labels")
    mask = labelled_rows(truth) if labelled is None else as_mask(labelled, n, "labelled")
    made = received = None
    if prediction_times is not None:
        made = as_seconds(prediction_times, n, "prediction_times")
    if label_times is not None:
        received = as_seconds(label_times, n, "label_times")
    if as_of is not None:
        if received is None:
            raise InvalidValueError(
                "as_of needs label_times: which labels had arrived by then is read from them."
            )
        cutoff = as_seconds([as_of], 1, "as_of")[0]
        mask = mask & ~(received > cutoff)
    n_labelled = int(mask.sum())
    latency = None
    if made is not None and received is not None and n_labelled:
        latency = _latency(made[mask], received[mask])
    result = WindowPerformance(
        task=task,
        n_predictions=n,
        n_labelled=n_labelled,
        coverage=n_labelled / n if n else None,
        latency=latency,
        min_labels=min_labels,
        confidence=confidence,
    )
    if n_labelled < min_labels:
        return result
    z = z_value(confidence)
    rows = np.flatnonzero(mask)
    if task == "regression":
        metrics, undefined = _regression(truth[rows], predicted[rows], z)
    else:
        metrics, undefined = _classification(truth, predicted, scores, classes, rows, z)
    return WindowPerformance(
        task=task,
        n_predictions=n,
        n_labelled=n_labelled,
        coverage=result.coverage,
        latency=latency,
        min_labels=min_labels,
        metrics=metrics,
        undefined=undefined,
        confidence=confidence,
    )


def _latency(made: Any, received: Any) -> LabelLatency:
    import numpy as np

    missing = np.isnan(made) | np.isnan(received)
    if missing.any():
        which = "prediction_times" if np.isnan(made).any() else "label_times"
        raise InvalidValueError(
            f"{which} is missing for {int(missing.sum()):,} labelled row(s): every labelled "
            "prediction needs its prediction time and its label's receive time.",
            hint="Check the join of feedback to predictions, or pass labelled= explicitly.",
        )
    seconds = received - made
    median, p90 = np.percentile(seconds, [50, 90])
    return LabelLatency(median=float(median), p90=float(p90), max=float(seconds.max()))


def _regression(y_true: Any, y_pred: Any, z: float) -> tuple[dict[str, Figure], dict[str, str]]:
    import numpy as np

    from ._arrays import as_finite

    y = as_finite(y_true, "labels (labelled rows)")
    pred = as_finite(y_pred, "predictions (labelled rows)")
    n = len(y)
    errors = y - pred
    squared = errors * errors
    mse = float(squared.mean())
    mse_se = mean_standard_error(squared)
    absolute = np.abs(errors)
    metrics = {
        "rmse": Figure(
            value=math.sqrt(mse),
            lower=math.sqrt(max(0.0, mse - z * mse_se)),
            upper=math.sqrt(mse + z * mse_se),
            standard_error=mse_se / (2 * math.sqrt(mse)) if mse > 0 else 0.0,
            method="normal",
            n=n,
        ),
        "mae": normal(float(absolute.mean()), mean_standard_error(absolute), n, z, low=0.0),
    }
    undefined: dict[str, str] = {}
    centred = y - y.mean()
    deviations = centred * centred
    ss_tot = float(deviations.mean())
    if ss_tot > 0:
        r2 = 1 - mse / ss_tot
        # R2 = 1 - A / B with A = mean(e^2), B = mean((y - ybar)^2): the delta method.
        influence = (squared - mse) / ss_tot - mse * (deviations - ss_tot) / ss_tot**2
        metrics["r2"] = normal(r2, influence_standard_error(influence), n, z, high=1.0)
    else:
        undefined["r2"] = "the labels are constant"
    return metrics, undefined


def _classification(
    truth: Any,
    predicted: Any,
    scores: Any,
    classes: Sequence[Any] | None,
    rows: Any,
    z: float,
) -> tuple[dict[str, Figure], dict[str, str]]:
    import numpy as np

    y_codes, p_codes, labels = encode_classes(truth[rows], predicted[rows], classes, scores)
    n, k = len(y_codes), len(labels)
    correct = y_codes == p_codes
    metrics: dict[str, Figure] = {"accuracy": wilson(int(correct.sum()), n, z)}
    undefined: dict[str, str] = {}
    if k == 2:
        actual, guessed = y_codes == 1, p_codes == 1
        n_guessed, n_actual = int(guessed.sum()), int(actual.sum())
        n_hits = int((actual & guessed).sum())
        metrics["positive_rate"] = wilson(n_actual, n, z)
        if n_guessed:
            metrics["precision"] = wilson(n_hits, n_guessed, z)
        else:
            undefined["precision"] = "no positive prediction among the labelled rows"
        if n_actual:
            metrics["recall"] = wilson(n_hits, n_actual, z)
        else:
            undefined["recall"] = "no positive label"
        if n_guessed or n_actual:
            hits = 2.0 * (actual & guessed)[:, None]
            both = (actual.astype(np.float64) + guessed)[:, None]
            f1, influence = ratio_influence(hits, both)
            metrics["f1"] = normal(
                float(f1[0]), influence_standard_error(influence[:, 0]), n, z, low=0, high=1
            )
        else:
            undefined["f1"] = "no positive label and no positive prediction"
    else:
        present = np.union1d(np.unique(y_codes), np.unique(p_codes))
        actual = y_codes[:, None] == present
        guessed = p_codes[:, None] == present
        hits = (actual & guessed).astype(np.float64)
        for name, numerators, denominators in (
            ("precision", hits, guessed.astype(np.float64)),
            ("recall", hits, actual.astype(np.float64)),
            ("f1", 2 * hits, actual.astype(np.float64) + guessed),
        ):
            ratios, influence = ratio_influence(numerators, denominators)
            se = influence_standard_error(influence.mean(axis=1))
            metrics[name] = normal(float(ratios.mean()), se, n, z, low=0, high=1)
    if scores is None:
        undefined["roc_auc"] = undefined["log_loss"] = "no scores were given"
        return metrics, undefined
    probabilities, is_probability = scores_for(scores, rows, len(truth), k)
    _add_score_metrics(metrics, undefined, y_codes, probabilities, is_probability, k, z)
    return metrics, undefined


def _add_score_metrics(
    metrics: dict[str, Figure],
    undefined: dict[str, str],
    y_codes: Any,
    scores: Any,
    is_probability: bool,
    k: int,
    z: float,
) -> None:
    import numpy as np

    n = len(y_codes)
    if k == 2:
        positive = y_codes == 1
        if positive.all() or not positive.any():
            undefined["roc_auc"] = "only one class among the labels"
        else:
            auc, influence = auc_placements(positive, scores)
            se = delong_standard_error(positive, influence)
            metrics["roc_auc"] = normal(auc, se, n, z, low=0, high=1, method="delong")
    else:
        aucs, influences = [], []
        for j in range(k):  # a loop over classes, not rows
            positive = y_codes == j
            if positive.any() and not positive.all():
                auc, influence = auc_placements(positive, scores[:, j])
                aucs.append(auc)
                influences.append(influence)
        if aucs:
            se = influence_standard_error(np.mean(influences, axis=0))
            metrics["roc_auc"] = normal(
                float(np.mean(aucs)), se, n, z, low=0, high=1, method="delong"
            )
        else:
            undefined["roc_auc"] = "only one class among the labels"
    if not is_probability:
        undefined["log_loss"] = "the scores are not probabilities"
        return
    eps = np.finfo(np.float64).eps
    if k == 2:
        p = np.clip(scores, eps, 1 - eps)
        losses = -np.where(y_codes == 1, np.log(p), np.log1p(-p))
    else:
        losses = -np.log(np.clip(scores[np.arange(n), y_codes], eps, 1 - eps))
    metrics["log_loss"] = normal(float(losses.mean()), mean_standard_error(losses), n, z, low=0)
