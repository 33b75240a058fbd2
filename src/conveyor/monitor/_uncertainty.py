"""A figure and its interval: Wilson for proportions, DeLong for ROC AUC, a normal interval
from a delta-method (influence function) standard error for every other ratio or mean.

Pure numpy and scipy over the labelled rows of one window; nothing here loops over rows.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

__all__ = ["Figure", "IntervalMethod"]

IntervalMethod = Literal["wilson", "delong", "normal"]


@dataclass(frozen=True)
class Figure:
    """One metric on a window's labelled rows, with its uncertainty.

    Attributes:
        value: The metric.
        lower: Lower end of the two-sided interval at the window's confidence.
        upper: Upper end.
        standard_error: The standard error the interval comes from (for ``"wilson"``: the
            binomial one, ``sqrt(p (1 - p) / n)``, given for comparison).
        method: How the interval was made: ``"wilson"`` (Wilson score interval of a
            proportion), ``"delong"`` (ROC AUC ± z × DeLong's standard error) or ``"normal"``
            (value ± z × a delta-method standard error; RMSE's is the square root of the
            MSE's interval).
        n: The rows the figure rests on (precision: the predicted positives; recall: the
            actual positives; every other: the labelled rows).
    """

    value: float
    lower: float
    upper: float
    standard_error: float
    method: IntervalMethod
    n: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def z_value(confidence: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(0.5 + confidence / 2))


def wilson(successes: int, n: int, z: float) -> Figure:
    """A proportion with its Wilson score interval (good down to a handful of rows)."""
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return Figure(
        value=p,
        lower=max(0.0, centre - half),
        upper=min(1.0, centre + half),
        standard_error=math.sqrt(p * (1 - p) / n),
        method="wilson",
        n=n,
    )


def normal(
    value: float,
    standard_error: float,
    n: int,
    z: float,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    method: IntervalMethod = "normal",
) -> Figure:
    """``value ± z * standard_error``, clipped to the metric's range."""
    return Figure(
        value=value,
        lower=float(max(low, value - z * standard_error)),
        upper=float(min(high, value + z * standard_error)),
        standard_error=standard_error,
        method=method,
        n=n,
    )


def mean_standard_error(terms: Any) -> float:
    """Standard error of the mean of per-row terms (sample standard deviation, ddof 1)."""
    import numpy as np

    n = len(terms)
    return float(np.std(terms, ddof=1) / math.sqrt(n)) if n > 1 else 0.0


def ratio_influence(numerators: Any, denominators: Any) -> tuple[Any, Any]:
    """Ratios ``sum(a) / sum(b)`` per column and each row's influence on them.

    ``numerators`` and ``denominators`` are ``(n, k)`` per-row terms (k ratios at once, as
    one precision per class). A column whose denominator sums to zero has ratio 0 and no
    influence (scikit-learn's ``zero_division=0``). The influence ``(a_i - R b_i) / mean(b)``
    sums to zero, and ``sqrt(sum(influence**2)) / n`` is the delta-method standard error of
    ``R``; a macro average's influence is the row-wise mean of its columns'.
    """
    import numpy as np

    n = numerators.shape[0]
    sum_a = numerators.sum(axis=0)
    sum_b = denominators.sum(axis=0)
    has_rows = sum_b > 0
    ratio = np.divide(sum_a, sum_b, out=np.zeros(len(sum_b)), where=has_rows)
    mean_b = np.where(has_rows, sum_b / n, 1.0)
    influence = (numerators - ratio * denominators) / mean_b
    influence[:, ~has_rows] = 0.0
    return ratio, influence


def influence_standard_error(influence: Any) -> float:
    import numpy as np

    n = len(influence)
    return float(math.sqrt(float(np.dot(influence, influence))) / n)


def auc_placements(positive: Any, scores: Any) -> tuple[float, Any]:
    """ROC AUC (ties count one half) and each row's DeLong placement term.

    Returns ``(auc, influence)``, the influence in the same form as
    :func:`ratio_influence`'s (``auc - E[auc]`` is about its mean): ``N (V10_i - auc) / m``
    for the ``m`` positives and ``N (V01_j - auc) / n`` for the ``n`` negatives of the ``N``
    rows, where ``V10_i`` is the share of negatives a positive outranks and ``V01_j`` the
    share of positives that outrank a negative (DeLong et al. 1988). Needs both classes (the
    caller checks).
    """
    import numpy as np
    from scipy.stats import rankdata

    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    ranks = rankdata(scores)
    within = np.empty(len(scores))
    within[positive] = rankdata(scores[positive])
    within[~positive] = rankdata(scores[~positive])
    auc = float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
    placement = np.where(positive, (ranks - within) / n_neg, 1.0 - (ranks - within) / n_pos)
    n = len(scores)
    influence = np.where(positive, n / n_pos, n / n_neg) * (placement - auc)
    return auc, influence


def delong_standard_error(positive: Any, influence: Any) -> float:
    """DeLong's standard error from the placements (sample variances, ddof 1, per class)."""
    import numpy as np

    n = len(positive)
    n_pos = int(positive.sum())
    n_neg = n - n_pos
    # influence = N (V - auc) / size: DeLong's S10 and S01 are the sample variances of V.
    s10 = float(np.sum((influence[positive] * n_pos / n) ** 2)) / max(n_pos - 1, 1)
    s01 = float(np.sum((influence[~positive] * n_neg / n) ** 2)) / max(n_neg - 1, 1)
    return math.sqrt(s10 / n_pos + s01 / n_neg)
