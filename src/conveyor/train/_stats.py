"""Paired comparisons of a challenger with the champion on the same holdout rows.

Both models score the same rows, so their metrics are correlated and the tests are
paired:

- :func:`delong`: ROC AUC, DeLong, DeLong & Clarke-Pearson (1988) with the O(n log n)
  mid-rank algorithm of Sun & Xu (2014): Var(ΔAUC) = Var(A₁) + Var(A₂) − 2·Cov(A₁, A₂)
  from the placement values;
- :func:`mcnemar`: accuracy, McNemar's exact test (a binomial test on the discordant
  pairs) and Tango's (1998) score interval for the difference of paired proportions;
- :func:`paired_bootstrap`: any metric, the rows resampled with replacement (within each
  class when stratified) and both models scored on the same resample.

Each returns a :class:`PairedComparison` of ``challenger - champion`` with one-sided
bounds at the stated confidence: a decision "better by more than δ" holds when ``lower``
exceeds δ. Its ``p_value`` is for the same one-sided question, against ``null``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ..core import InvalidValueError, did_you_mean
from ._metrics import (
    as_vector,
    check_same_length,
    require_ml,
)

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = ["Alternative", "PairedComparison", "delong", "holm", "mcnemar"]

Alternative = Literal["greater", "less"]


@dataclass(frozen=True)
class PairedComparison:
    """The difference ``challenger - champion`` of one metric on the same rows.

    Attributes:
        method: ``"delong"``, ``"mcnemar"`` or ``"bootstrap"``.
        metric: The metric compared.
        challenger: The challenger's metric on all rows.
        champion: The champion's metric on all rows.
        estimate: ``challenger - champion``.
        se: Standard error of the estimate (DeLong: the paired variance; McNemar: Wald;
            bootstrap: the resamples' standard deviation).
        lower: One-sided lower bound at ``confidence``: the difference is above it with
            that confidence. ``[lower, upper]`` is a two-sided ``2·confidence - 1``
            interval (90% for 0.95).
        upper: One-sided upper bound at ``confidence``.
        confidence: The confidence of each bound.
        p_value: One-sided p-value against ``null``: for ``alternative="greater"`` the
            hypothesis ``difference <= null`` (small when the challenger is shown better
            than the champion plus ``null``); for ``"less"``, ``difference >= null``.
        null: The boundary of the tested hypothesis (0, or a margin).
        alternative: ``"greater"`` or ``"less"``.
        n: Rows compared.
        details: Method-specific figures (variances and covariance, discordant counts,
            resamples used).
    """

    method: str
    metric: str
    challenger: float
    champion: float
    estimate: float
    se: float | None
    lower: float
    upper: float
    confidence: float
    p_value: float
    null: float
    alternative: Alternative
    n: int
    details: Mapping[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (NaN and infinities become ``None``)."""
        out: dict[str, Any] = {
            name: _finite(getattr(self, name))
            for name in (
                "method",
                "metric",
                "challenger",
                "champion",
                "estimate",
                "se",
                "lower",
                "upper",
                "confidence",
                "p_value",
                "null",
                "alternative",
                "n",
            )
        }
        out["details"] = {k: _finite(v) for k, v in self.details.items()}
        return out


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def check_confidence(confidence: object) -> float:
    if (
        not isinstance(confidence, int | float)
        or isinstance(confidence, bool)
        or not 0.5 < confidence < 1
    ):
        raise InvalidValueError(
            f"confidence must be a number between 0.5 and 1 (exclusive), such as 0.95. "
            f"Got {confidence!r}."
        )
    return float(confidence)


def check_common(confidence: object, null: object, alternative: object) -> None:
    check_confidence(confidence)
    if not isinstance(null, int | float) or isinstance(null, bool) or not math.isfinite(null):
        raise InvalidValueError(f"null must be a finite number. Got {null!r}.")
    if alternative not in ("greater", "less"):
        raise InvalidValueError(
            f"alternative must be 'greater' or 'less'. Got {alternative!r}."
            + did_you_mean(str(alternative), ("greater", "less"))
        )


def _normal_p(z: float, alternative: Alternative) -> float:
    from scipy.stats import norm

    return float(norm.sf(z) if alternative == "greater" else norm.cdf(z))


def z_value(confidence: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(confidence))


# --- DeLong ------------------------------------------------------------------------------


def delong(
    y: npt.ArrayLike,
    score_challenger: npt.ArrayLike,
    score_champion: npt.ArrayLike,
    *,
    confidence: float = 0.95,
    null: float = 0.0,
    alternative: Alternative = "greater",
    pos_label: Any = 1,
) -> PairedComparison:
    """DeLong's paired test of ``AUC(challenger) - AUC(champion)``.

    The AUCs and their 2x2 covariance come from the placement values (for each positive,
    the share of negatives scored below it, ties counting one half; the same for each
    negative), computed from mid-ranks in O(n log n) (Sun & Xu, IEEE SPL 21:1389, 2014).
    Bounds are normal: ``estimate ± z·SE``.

    Args:
        y: The true binary labels.
        score_challenger: The challenger's score for the positive class, per row.
        score_champion: The champion's, on the same rows.
        confidence: Confidence of each one-sided bound.
        null: The hypothesis boundary for ``p_value`` (e.g. a margin).
        alternative: ``"greater"``: is the challenger better than champion + ``null``?
            ``"less"``: is it worse than champion + ``null``?
        pos_label: The label of the positive class in ``y`` (ignored for booleans).

    Returns:
        A :class:`PairedComparison`; ``details`` holds ``var_challenger``,
        ``var_champion``, ``covariance``, ``correlation``, ``n_positive``, ``n_negative``.

    Raises:
        InvalidValueError: ``y`` not binary, fewer than 2 rows of a class, NaN, or lengths
            that differ.

    Example:
        >>> r = delong(y, model_b.predict_proba(X)[:, 1], champion.predict_proba(X)[:, 1])
        >>> r.estimate, r.se, r.lower  # doctest: +SKIP
    """
    check_common(confidence, null, alternative)
    require_ml()
    positive = _binary_target(y, pos_label)
    a = as_vector(score_challenger, "score_challenger", numeric=True)
    b = as_vector(score_champion, "score_champion", numeric=True)
    check_same_length(len(positive), a, "score_challenger")
    check_same_length(len(positive), b, "score_champion")
    return delong_compare(positive, a, b, confidence=confidence, null=null, alternative=alternative)


def _binary_target(y: Any, pos_label: Any) -> Any:
    import numpy as np

    values = as_vector(y, "y")
    if values.dtype.kind == "b":
        return values
    distinct = np.unique(values).tolist()
    if len(distinct) > 2 or pos_label not in distinct:
        raise InvalidValueError(
            f"y must be binary with positive label {pos_label!r}. Got the labels {distinct[:8]!r}.",
            hint="Pass pos_label= naming the positive class, or use paired_bootstrap for "
            "a multiclass AUC.",
        )
    return values == pos_label


def delong_covariance(positive: Any, scores: Any) -> tuple[Any, Any]:
    """The AUCs of ``k`` score rows (``scores`` is k x n) and their k x k covariance."""
    import numpy as np
    from scipy.stats import rankdata

    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos < 2 or n_neg < 2:
        raise InvalidValueError(
            f"DeLong's test needs at least 2 positive and 2 negative rows; the holdout has "
            f"{n_pos} positive and {n_neg} negative.",
            hint="Evaluate on a larger holdout.",
        )
    pos, neg = scores[:, positive], scores[:, ~positive]
    rank_pos = rankdata(pos, axis=1)
    rank_neg = rankdata(neg, axis=1)
    rank_all = rankdata(np.concatenate([pos, neg], axis=1), axis=1)
    # A positive's rank among all rows minus its rank among the positives counts the
    # negatives below it (ties one half): its placement value, times n_neg.
    placements_pos = (rank_all[:, :n_pos] - rank_pos) / n_neg
    placements_neg = 1.0 - (rank_all[:, n_pos:] - rank_neg) / n_pos
    aucs = placements_pos.mean(axis=1)
    covariance = (
        np.atleast_2d(np.cov(placements_pos)) / n_pos
        + np.atleast_2d(np.cov(placements_neg)) / n_neg
    )
    return aucs, covariance


def delong_compare(
    positive: Any,
    a: Any,
    b: Any,
    *,
    confidence: float,
    null: float,
    alternative: Alternative,
) -> PairedComparison:
    import numpy as np

    aucs, cov = delong_covariance(positive, np.vstack([a, b]))
    estimate = float(aucs[0] - aucs[1])
    variance = max(float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]), 0.0)
    se = math.sqrt(variance)
    z = z_value(confidence)
    if se > 0:
        p_value = _normal_p((estimate - null) / se, alternative)
    else:  # identical rankings: no uncertainty left in the difference
        beyond = estimate > null if alternative == "greater" else estimate < null
        p_value = 0.0 if beyond else 1.0
    denominator = math.sqrt(float(cov[0, 0] * cov[1, 1]))
    n_pos = int(positive.sum())
    return PairedComparison(
        method="delong",
        metric="roc_auc",
        challenger=float(aucs[0]),
        champion=float(aucs[1]),
        estimate=estimate,
        se=se,
        lower=estimate - z * se,
        upper=estimate + z * se,
        confidence=confidence,
        p_value=p_value,
        null=float(null),
        alternative=alternative,
        n=len(positive),
        details={
            "var_challenger": float(cov[0, 0]),
            "var_champion": float(cov[1, 1]),
            "covariance": float(cov[0, 1]),
            "correlation": float(cov[0, 1]) / denominator if denominator > 0 else 1.0,
            "n_positive": n_pos,
            "n_negative": len(positive) - n_pos,
        },
    )


# --- McNemar -----------------------------------------------------------------------------


def mcnemar(
    y: npt.ArrayLike,
    pred_challenger: npt.ArrayLike,
    pred_champion: npt.ArrayLike,
    *,
    confidence: float = 0.95,
    null: float = 0.0,
    alternative: Alternative = "greater",
) -> PairedComparison:
    """McNemar's exact test of ``accuracy(challenger) - accuracy(champion)``.

    Only the discordant rows carry information: ``b`` rows only the challenger gets right
    and ``c`` rows only the champion does; the difference is ``(b - c) / n``. Against
    ``null=0`` the p-value is exact: ``scipy.stats.binomtest(b, b + c, 0.5)``. The bounds
    are Tango's score interval for a difference of paired proportions (Tango, Stat Med
    17:891, 1998), which stays valid for a margin and when ``b + c`` is small; against a
    non-zero ``null`` the p-value is Tango's score test, the one the interval inverts.

    Args:
        y: The true labels (any classes).
        pred_challenger: The challenger's predicted labels.
        pred_champion: The champion's, on the same rows.
        confidence: Confidence of each one-sided bound.
        null: The hypothesis boundary for ``p_value``.
        alternative: ``"greater"`` or ``"less"`` (see :class:`PairedComparison`).

    Returns:
        A :class:`PairedComparison`; ``details`` holds ``n_challenger_only``,
        ``n_champion_only`` and the exact two-sided ``p_value_two_sided``.

    Raises:
        InvalidValueError: empty input, NaN, or lengths that differ.

    Example:
        >>> mcnemar([1, 0, 1, 1], [1, 0, 1, 0], [0, 0, 1, 0]).estimate
        0.25
    """
    check_common(confidence, null, alternative)
    require_ml()
    truth = as_vector(y, "y")
    a = as_vector(pred_challenger, "pred_challenger")
    b = as_vector(pred_champion, "pred_champion")
    check_same_length(len(truth), a, "pred_challenger")
    check_same_length(len(truth), b, "pred_champion")
    return mcnemar_compare(
        _equal(a, truth),
        _equal(b, truth),
        confidence=confidence,
        null=null,
        alternative=alternative,
    )


def _equal(left: Any, right: Any) -> Any:
    import numpy as np

    if left.dtype.kind in "biuf" and right.dtype.kind in "biuf":
        return left == right
    return np.array([x == t for x, t in zip(left.tolist(), right.tolist(), strict=True)])


def mcnemar_compare(
    right_a: Any,
    right_b: Any,
    *,
    confidence: float,
    null: float,
    alternative: Alternative,
) -> PairedComparison:
    from scipy.stats import binomtest

    n = len(right_a)
    only_a = int((right_a & ~right_b).sum())
    only_b = int((~right_a & right_b).sum())
    discordant = only_a + only_b
    estimate = (only_a - only_b) / n
    z = z_value(confidence)
    lower, upper = _tango_interval(only_a, only_b, n, z)
    if null == 0:
        p_value = (
            float(binomtest(only_a, discordant, 0.5, alternative=alternative).pvalue)
            if discordant
            else 1.0
        )
    else:
        p_value = _normal_p(_tango_z(only_a, only_b, n, null), alternative)
    two_sided = float(binomtest(only_a, discordant, 0.5).pvalue) if discordant else 1.0
    accuracy_a = float(right_a.mean())
    return PairedComparison(
        method="mcnemar",
        metric="accuracy",
        challenger=accuracy_a,
        champion=accuracy_a - estimate,
        estimate=estimate,
        se=math.sqrt(max(discordant - (only_a - only_b) ** 2 / n, 0.0)) / n,
        lower=lower,
        upper=upper,
        confidence=confidence,
        p_value=p_value,
        null=float(null),
        alternative=alternative,
        n=n,
        details={
            "n_challenger_only": only_a,
            "n_champion_only": only_b,
            "p_value_two_sided": two_sided,
        },
    )


def _tango_z(b: int, c: int, n: int, delta: float) -> float:
    """Tango's score statistic for ``H0: difference = delta`` (b, c: discordant counts)."""
    # The restricted maximum-likelihood estimate of P(only the champion is right) under
    # H0 is the positive root of 2n·q² + B·q + C = 0.
    quad_b = -b - c + (2 * n - b + c) * delta
    quad_c = -c * delta * (1 - delta)
    root = math.sqrt(max(quad_b * quad_b - 8 * n * quad_c, 0.0))
    q21 = (root - quad_b) / (4 * n)
    variance = n * (2 * q21 + delta * (1 - delta))
    numerator = b - c - n * delta
    if variance <= 0:
        return 0.0 if numerator == 0 else math.copysign(math.inf, numerator)
    return numerator / math.sqrt(variance)


def _tango_interval(b: int, c: int, n: int, z: float) -> tuple[float, float]:
    from scipy.optimize import brentq

    estimate = (b - c) / n
    edge = 1 - 1e-12
    lower = (
        -1.0
        if estimate <= -1
        else float(brentq(lambda d: _tango_z(b, c, n, d) - z, -edge, edge, xtol=1e-12))
    )
    upper = (
        1.0
        if estimate >= 1
        else float(brentq(lambda d: _tango_z(b, c, n, d) + z, -edge, edge, xtol=1e-12))
    )
    return lower, upper


# --- multiplicity ------------------------------------------------------------------------


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error control, any dependence).

    Reject hypothesis ``i`` at level α when its adjusted p-value is ``< α``.

    Example:
        >>> holm([0.01, 0.04, 0.03])
        [0.03, 0.06, 0.06]
    """
    values = [float(p) for p in p_values]
    for p in values:
        if not 0 <= p <= 1:
            raise InvalidValueError(f"p-values must be between 0 and 1. Got {p!r}.")
    m = len(values)
    order = sorted(range(m), key=lambda i: values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * values[i]))
        adjusted[i] = running
    return adjusted
