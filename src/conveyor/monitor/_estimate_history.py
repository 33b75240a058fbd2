"""An estimate beside what the labels said: per window once labels arrive, and over a
deployment's history (mean absolute and worst error), so the estimate is shown with its
track record on this deployment, not a promise."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..core import InvalidValueError
from ._arrays import as_finite

if TYPE_CHECKING:
    from ._estimate import PerformanceEstimate
    from ._performance import WindowPerformance

__all__ = ["EstimateComparison", "EstimateError", "compare_estimate", "estimate_error"]


@dataclass(frozen=True)
class EstimateComparison:
    """An estimate beside the realised figures of the same rows, once labels arrived.

    Attributes:
        rows: Metric -> ``{"estimate", "realised", "error"}`` (error = estimate - realised),
            for the metrics both have.
        estimated_positive_rate: Binary: the estimate's share of positives.
        realised_positive_rate: Binary: the labels' share of positives.
        positive_rate_gap: Estimated minus realised positive rate. Well outside the
            realised rate's interval, it says P(y|x) moved (concept or label shift): the
            estimate's assumption broke, so its figures are off too.
        is_gap_significant: Whether the estimated rate lies outside the realised rate's
            interval.
    """

    rows: dict[str, dict[str, float]] = field(default_factory=dict)
    estimated_positive_rate: float | None = None
    realised_positive_rate: float | None = None
    positive_rate_gap: float | None = None
    is_gap_significant: bool = False


def compare_estimate(
    estimate: PerformanceEstimate, realised: WindowPerformance
) -> EstimateComparison:
    """Set an estimate beside the realised figures (compute both on the same rows: estimate
    the labelled rows' scores, or the gap mixes in which rows got labels)."""
    rows = {
        name: {
            "estimate": value,
            "realised": realised.metrics[name].value,
            "error": value - realised.metrics[name].value,
        }
        for name, value in estimate.metrics.items()
        if value is not None and name in realised.metrics
    }
    observed = realised.metrics.get("positive_rate")
    expected = estimate.positive_rate
    if observed is None or expected is None:
        return EstimateComparison(rows=rows)
    return EstimateComparison(
        rows=rows,
        estimated_positive_rate=expected,
        realised_positive_rate=observed.value,
        positive_rate_gap=expected - observed.value,
        is_gap_significant=not observed.lower <= expected <= observed.upper,
    )


@dataclass(frozen=True)
class EstimateError:
    """How far a deployment's estimates fell from the realised figures, window by window.

    Attributes:
        n_windows: Windows with both an estimate and a realised figure.
        mean_absolute_error: Mean of ``|estimate - realised|`` (``None`` without windows).
        worst_error: The signed error of largest size.
        mean_error: Mean signed error (positive: the estimate runs high).
    """

    n_windows: int
    mean_absolute_error: float | None
    worst_error: float | None
    mean_error: float | None


def estimate_error(
    estimates: Sequence[float | None], realised: Sequence[float | None]
) -> EstimateError:
    """The historical error of an estimate on one deployment.

    Args:
        estimates: One metric's estimate per past window (``None`` where there was none).
        realised: The realised figure of the same windows, in the same order (``None``
            where labels were insufficient). Windows missing either are skipped.

    Raises:
        InvalidValueError: The two sequences differ in length or hold non-finite numbers.
    """
    import numpy as np

    if len(estimates) != len(realised):
        raise InvalidValueError(
            f"estimates has {len(estimates):,} windows but realised has {len(realised):,}: "
            "they must list the same windows in the same order."
        )
    pairs = [
        (e, r) for e, r in zip(estimates, realised, strict=True) if e is not None and r is not None
    ]
    if not pairs:
        return EstimateError(0, None, None, None)
    errors = np.subtract(*as_finite(np.array(pairs, dtype=np.float64).T, "estimates and realised"))
    worst = float(errors[np.argmax(np.abs(errors))])
    return EstimateError(
        n_windows=len(errors),
        mean_absolute_error=float(np.abs(errors).mean()),
        worst_error=worst,
        mean_error=float(errors.mean()),
    )
