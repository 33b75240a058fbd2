"""A paired bootstrap for any metric: both models scored on the same resampled rows.

Resampling is vectorised: index matrices of (resamples x rows), drawn a chunk at a time
from one seeded generator, so the same seed gives the same result. Named metrics are
computed for a whole chunk at once (per-row terms summed over each resample's rows; AUCs
from row-wise ranks); a callable metric is called once per resample.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ..core import InvalidValueError, did_you_mean
from ._metrics import (
    CLASSIFICATION_METRICS,
    METRICS,
    REGRESSION_METRICS,
    Classes,
    as_vector,
    calibration_terms,
    check_same_length,
    compute_classification,
    compute_regression,
    per_row_log_loss,
    prepare_classes,
    prepare_regression,
    require_ml,
)
from ._stats import Alternative, PairedComparison, check_common

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = ["paired_bootstrap"]

# An evaluator maps a (resamples x rows) matrix of row indices to one metric value per
# resample (NaN where the metric is undefined on that resample).
Evaluator = Callable[[Any], Any]
# Index matrices are built this many elements at a time, so 2,000 resamples of a large
# holdout never hold more than ~16 MB of indices at once.
_CHUNK_ELEMENTS = 1 << 21
_MAX_STRATA = 100


def paired_bootstrap(
    y: npt.ArrayLike,
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    metric_fn: str | Callable[[Any, Any], float],
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    stratify: bool = True,
    null: float = 0.0,
    alternative: Alternative = "greater",
    threshold: float = 0.5,
    labels: Sequence[Any] | None = None,
) -> PairedComparison:
    """A paired bootstrap of ``metric(y, a) - metric(y, b)``.

    Each resample draws ``n`` rows with replacement (within each class of ``y`` when
    ``stratify``, so every resample keeps the holdout's class counts and an AUC is always
    defined) and scores both models on the same rows. The bounds are percentiles of the
    resampled differences; ``p_value`` is ``(1 + #{differences on the wrong side of
    null}) / (1 + resamples)``. The same ``seed`` gives the same result.

    Args:
        y: The true labels or values.
        a: The challenger's scores, probabilities or predictions, as the metric takes them.
        b: The champion's, on the same rows.
        metric_fn: A metric name (``"roc_auc"``, ``"log_loss"``, ``"rmse"`` ...: computed
            for all resamples at once, ``a`` and ``b`` taken as
            :func:`~conveyor.train.classification_metrics` or
            :func:`~conveyor.train.regression_metrics` take them), or any callable
            ``metric_fn(y_true, values) -> float`` (called once per resample and model).
        n_resamples: Number of resamples (at least 100; 2,000 gives stable 95% bounds).
        confidence: Confidence of each one-sided bound.
        seed: Seed of the resampling.
        stratify: Resample within each class of ``y`` (classification).
        null: The hypothesis boundary for ``p_value``.
        alternative: ``"greater"`` or ``"less"`` (see :class:`PairedComparison`).
        threshold: Binary decision threshold, for a named classification metric.
        labels: Class order of the score columns, for a named classification metric.

    Returns:
        A :class:`PairedComparison`; ``details`` holds ``n_resamples`` used and
        ``n_undefined`` (resamples where the metric was undefined, left out).

    Raises:
        InvalidValueError: bad arguments, unknown metric name, a metric undefined on the
            whole holdout, or ``stratify`` on a target with too many distinct values.

    Example:
        >>> r = paired_bootstrap(y, proba_new, proba_old, "log_loss", alternative="less")
        >>> r.upper < 0  # doctest: +SKIP
    """
    check_common(confidence, null, alternative)
    _check_resamples(n_resamples, seed)
    require_ml()
    if isinstance(metric_fn, str):
        if metric_fn not in METRICS:
            raise InvalidValueError(
                f"Unknown metric {metric_fn!r}.{did_you_mean(metric_fn, METRICS)} Known "
                f"metrics: {', '.join(METRICS)}; or pass a callable metric_fn(y_true, values).",
            )
        if metric_fn in REGRESSION_METRICS:
            y_values, pred_a = prepare_regression(y, a, "a")
            _, pred_b = prepare_regression(y_values, b, "b")
            eval_a = regression_evaluator(metric_fn, y_values, pred_a)
            eval_b = regression_evaluator(metric_fn, y_values, pred_b)
            point = (
                compute_regression(y_values, pred_a)[metric_fn],
                compute_regression(y_values, pred_b)[metric_fn],
            )
            target = y_values
        else:
            data_a = prepare_classes(y, a, labels=labels, threshold=threshold, what="a")
            data_b = prepare_classes(y, b, labels=data_a.labels, threshold=threshold, what="b")
            eval_a = classification_evaluator(metric_fn, data_a)
            eval_b = classification_evaluator(metric_fn, data_b)
            point = (
                compute_classification(data_a)[metric_fn],
                compute_classification(data_b)[metric_fn],
            )
            target = data_a.codes
        name = metric_fn
    else:
        if not callable(metric_fn):
            raise InvalidValueError(
                f"metric_fn must be a metric name or a callable (y_true, values) -> float. "
                f"Got {type(metric_fn).__name__}."
            )
        target = as_vector(y, "y")
        values_a, values_b = _aligned(a, len(target), "a"), _aligned(b, len(target), "b")
        eval_a = callable_evaluator(metric_fn, target, values_a)
        eval_b = callable_evaluator(metric_fn, target, values_b)
        name = getattr(metric_fn, "__name__", "metric")
        point = (
            _on_all_rows(metric_fn, name, target, values_a, "a"),
            _on_all_rows(metric_fn, name, target, values_b, "b"),
        )
    for side, value in zip(("a", "b"), point, strict=True):
        if value is None or not math.isfinite(value):
            raise InvalidValueError(
                f"{name} is undefined for {side} on these rows (e.g. an AUC needs both "
                "classes, log loss needs probabilities), so it cannot be bootstrapped."
            )
    return bootstrap_compare(
        name,
        eval_a,
        eval_b,
        point=(float(point[0]), float(point[1])),  # type: ignore[arg-type]
        strata=strata_of(target) if stratify else None,
        n=len(target),
        n_resamples=n_resamples,
        confidence=confidence,
        seed=seed,
        null=null,
        alternative=alternative,
    )


def _check_resamples(n_resamples: object, seed: object) -> None:
    if (
        not isinstance(n_resamples, int)
        or isinstance(n_resamples, bool)
        or not 100 <= n_resamples <= 1_000_000
    ):
        raise InvalidValueError(
            f"n_resamples must be an integer from 100 to 1,000,000. Got {n_resamples!r}."
        )
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise InvalidValueError(f"seed must be a non-negative integer. Got {seed!r}.")


def _aligned(values: Any, n: int, what: str) -> Any:
    import numpy as np

    array = np.asarray(values)
    if array.ndim == 0:
        raise InvalidValueError(f"{what} must hold one value (or row) per row of y.")
    check_same_length(n, array, what)
    return array


def _on_all_rows(
    metric_fn: Callable[[Any, Any], float], name: str, y: Any, values: Any, side: str
) -> float:
    try:
        return _call(metric_fn, y, values)
    except InvalidValueError:
        raise
    except Exception as exc:  # the user's metric failed: say where, keep the cause
        raise InvalidValueError(
            f"metric_fn {name!r} raised {type(exc).__name__} on all rows of {side}: {exc}"
        ) from exc


def _call(metric_fn: Callable[[Any, Any], float], y: Any, values: Any) -> float:
    value = metric_fn(y, values)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidValueError(
            f"metric_fn must return a number. Got {type(value).__name__}: {value!r:.80}."
        ) from None


def strata_of(target: Any) -> Any:
    """The row positions of each class of ``target`` (for stratified resampling)."""
    import numpy as np

    uniques, inverse = np.unique(target, return_inverse=True)
    if len(uniques) > _MAX_STRATA:
        raise InvalidValueError(
            f"stratify=True resamples within each class of y, but y has {len(uniques):,} "
            "distinct values (a regression target?).",
            hint="Pass stratify=False for a continuous target.",
        )
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(uniques) + 1))
    return [order[bounds[i] : bounds[i + 1]] for i in range(len(uniques))]


def resample_indices(
    strata: list[Any] | None, n: int, n_resamples: int, seed: int, *, width: int = 1
) -> Iterator[Any]:
    """Index matrices of at most ``_CHUNK_ELEMENTS / width`` elements, resamples in rows."""
    import numpy as np

    rng = np.random.default_rng(seed)
    per_chunk = max(1, _CHUNK_ELEMENTS // max(n * width, 1))
    done = 0
    while done < n_resamples:
        rows = min(per_chunk, n_resamples - done)
        if strata is None:
            yield rng.integers(0, n, size=(rows, n))
        else:
            yield np.concatenate(
                [part[rng.integers(0, len(part), size=(rows, len(part)))] for part in strata],
                axis=1,
            )
        done += rows


def bootstrap_compare(
    metric: str,
    eval_a: Evaluator,
    eval_b: Evaluator,
    *,
    point: tuple[float, float],
    strata: list[Any] | None,
    n: int,
    n_resamples: int,
    confidence: float,
    seed: int,
    null: float,
    alternative: Alternative,
    width: int = 1,
) -> PairedComparison:
    """Bootstrap ``eval_a - eval_b`` on shared resamples (see :func:`paired_bootstrap`)."""
    import numpy as np

    parts = [
        eval_a(indices) - eval_b(indices)
        for indices in resample_indices(strata, n, n_resamples, seed, width=width)
    ]
    differences = np.concatenate(parts)
    defined = differences[np.isfinite(differences)]
    if len(defined) < max(10, n_resamples // 2):
        raise InvalidValueError(
            f"{metric} was undefined on {n_resamples - len(defined):,} of {n_resamples:,} "
            "resamples (a class missing from a resample?), so the bootstrap cannot be trusted.",
            hint="Resample within classes (stratify=True) or evaluate on more rows.",
        )
    estimate = point[0] - point[1]
    if alternative == "greater":
        wrong_side = int((defined <= null).sum())
    else:
        wrong_side = int((defined >= null).sum())
    return PairedComparison(
        method="bootstrap",
        metric=metric,
        challenger=point[0],
        champion=point[1],
        estimate=estimate,
        se=float(defined.std(ddof=1)),
        lower=float(np.quantile(defined, 1 - confidence)),
        upper=float(np.quantile(defined, confidence)),
        confidence=confidence,
        p_value=(1 + wrong_side) / (1 + len(defined)),
        null=float(null),
        alternative=alternative,
        n=n,
        details={
            "n_resamples": len(defined),
            "n_undefined": n_resamples - len(defined),
            "seed": seed,
        },
    )


def callable_evaluator(metric_fn: Callable[[Any, Any], float], y: Any, values: Any) -> Evaluator:
    import numpy as np

    def evaluate(indices: Any) -> Any:
        out = np.empty(len(indices))
        for i, rows in enumerate(indices):
            try:
                out[i] = _call(metric_fn, y[rows], values[rows])
            except InvalidValueError:
                raise
            except Exception:  # undefined on this resample (e.g. one class only)
                out[i] = np.nan
        return out

    return evaluate


def _sum_rows(per_row: Any, indices: Any) -> Any:
    """``per_row[indices].sum(axis=1)`` for a vector (r,) or a matrix (r, width)."""
    return per_row[indices].sum(axis=1)


def _safe_ratio(numerator: Any, denominator: Any) -> Any:
    import numpy as np

    return np.divide(
        numerator,
        denominator,
        out=np.zeros_like(numerator, dtype=np.float64),
        where=denominator > 0,
    )


def classification_evaluator(metric: str, data: Classes, n_bins: int = 10) -> Evaluator:
    """Vectorised ``metric`` over every resample of an index matrix."""
    import numpy as np

    if metric not in CLASSIFICATION_METRICS:
        raise InvalidValueError(f"{metric!r} is not a classification metric.")
    n, k = data.n, len(data.labels)
    codes, predicted = data.codes, data.predictions
    if metric in ("log_loss", "ece") and not data.is_probability:
        raise InvalidValueError(
            f"{metric} needs probabilities (scores in [0, 1], rows summing to 1); these "
            "scores are not.",
            hint="Pass predict_proba output, or gate on roc_auc or accuracy instead.",
        )
    if metric == "accuracy":
        correct = (predicted == codes).astype(np.float64)
        return lambda indices: correct[indices].mean(axis=1)
    if metric == "log_loss":
        losses = per_row_log_loss(data)
        return lambda indices: losses[indices].mean(axis=1)
    if metric == "ece":
        bins, gaps = calibration_terms(data, n_bins)
        per_bin = np.zeros((n, n_bins))
        per_bin[np.arange(n), bins] = gaps
        return lambda indices: np.abs(_sum_rows(per_bin, indices)).sum(axis=1) / n
    if metric == "roc_auc":
        return _auc_evaluator(data)
    classes = [1] if data.is_binary else list(range(k))
    true_hot = (codes[:, None] == np.asarray(classes)[None, :]).astype(np.float64)
    pred_hot = (predicted[:, None] == np.asarray(classes)[None, :]).astype(np.float64)
    hits = true_hot * pred_hot

    def counts(indices: Any) -> tuple[Any, Any, Any]:
        return _sum_rows(hits, indices), _sum_rows(pred_hot, indices), _sum_rows(true_hot, indices)

    if metric == "precision":
        return lambda indices: _safe_ratio(*counts(indices)[:2]).mean(axis=1)
    if metric == "recall":

        def recall(indices: Any) -> Any:
            tp, _, n_true = counts(indices)
            return _safe_ratio(tp, n_true).mean(axis=1)

        return recall

    def f1(indices: Any) -> Any:
        tp, n_pred, n_true = counts(indices)
        return _safe_ratio(2 * tp, n_pred + n_true).mean(axis=1)

    return f1


def _auc_evaluator(data: Classes) -> Evaluator:
    import numpy as np
    from scipy.stats import rankdata

    def binary(positive_rows: Any, scores: Any, indices: Any) -> Any:
        positive = positive_rows[indices]
        ranks = rankdata(scores[indices], axis=1)
        n_pos = positive.sum(axis=1)
        n_neg = indices.shape[1] - n_pos
        with np.errstate(divide="ignore", invalid="ignore"):
            auc = ((ranks * positive).sum(axis=1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
        return np.where((n_pos > 0) & (n_neg > 0), auc, np.nan)

    if data.is_binary:
        positive_rows = data.codes == 1
        return lambda indices: binary(positive_rows, data.scores, indices)

    def macro(indices: Any) -> Any:
        per_class = np.stack(
            [binary(data.codes == j, data.scores[:, j], indices) for j in range(len(data.labels))]
        )
        defined = np.isfinite(per_class)
        total = np.where(defined, per_class, 0.0).sum(axis=0)
        count = defined.sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(count > 0, total / count, np.nan)

    return macro


def regression_evaluator(metric: str, y: Any, pred: Any) -> Evaluator:
    import numpy as np

    errors = y - pred
    if metric == "rmse":
        squared = errors**2
        return lambda indices: np.sqrt(squared[indices].mean(axis=1))
    if metric == "mae":
        absolute = np.abs(errors)
        return lambda indices: absolute[indices].mean(axis=1)
    if metric == "r2":
        squared = errors**2

        def r2(indices: Any) -> Any:
            sampled = y[indices]
            total = ((sampled - sampled.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
            residual = squared[indices].sum(axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.where(total > 0, 1 - residual / total, np.nan)

        return r2
    raise InvalidValueError(f"{metric!r} is not a regression metric.")
