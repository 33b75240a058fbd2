"""The null distribution: each vectorised draw against the statistic computed directly on
the same split (window vs the rest of the reference), the draws themselves, bad input."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats

from conveyor.core import InvalidValueError
from conveyor.monitor._drift_null import draw_positions, null_statistics, statistics_for_draws
from conveyor.monitor._drift_reference import (
    CategoricalReference,
    ColumnReference,
    NumericReference,
    prepare_column,
)
from conveyor.monitor._drift_stats import METHODS, run_test

# The vectorised statistics are exact up to rounding; this is the error they must stay in.
TOLERANCE = 1e-9


def split(reference: ColumnReference, row: Any) -> tuple[ColumnReference, ColumnReference]:
    """The rest and the window of one draw, prepared as a reference and a current column."""
    drawn = np.zeros(reference.n_values, dtype=bool)
    drawn[row] = True
    if isinstance(reference, NumericReference):
        values: Any = reference.values
        kind = "numeric"
    else:
        assert isinstance(reference, CategoricalReference)
        codes = np.repeat(np.arange(reference.counts.size), reference.counts)
        values = reference.categories.take(pa.array(codes)).to_numpy(zero_copy_only=False)
        kind = "categorical"
    rest = prepare_column("x", values[~drawn], kind)  # type: ignore[arg-type]
    window = prepare_column("x", values[drawn], kind)  # type: ignore[arg-type]
    return rest, window


def worst_errors(reference: ColumnReference, method: str, window_rows: int) -> tuple[float, float]:
    rng = np.random.default_rng(1)
    positions = draw_positions(rng, reference.n_values, window_rows, 25)
    null = statistics_for_draws(reference, METHODS[method], positions)  # type: ignore[index]
    worst, worst_p = 0.0, 0.0
    for i, row in enumerate(positions):
        direct = run_test(method, *split(reference, row))  # type: ignore[arg-type]
        if np.isinf(direct.statistic):
            assert np.isinf(null.statistics[i])
        else:
            worst = max(worst, abs(direct.statistic - null.statistics[i]))
        if direct.p_value is not None:
            assert null.p_values is not None
            worst_p = max(worst_p, abs(direct.p_value - null.p_values[i]))
        if direct.raw is not None:
            assert null.raw_statistics is not None
            assert null.raw_statistics[i] == pytest.approx(direct.raw, rel=TOLERANCE)
    return worst, worst_p


rng = np.random.default_rng(0)
NUMERIC = {
    "continuous": rng.normal(5, 2, 3000),
    "rounded": np.round(rng.normal(0, 1, 3000), 1),  # ties, binned
    "integers_30": rng.integers(0, 30, 3000).astype(float),  # a draw may leave <= 20 values
    "four_values": rng.integers(0, 4, 3000).astype(float),  # read as categories
    "skewed": rng.lognormal(3, 1.5, 2500),
}
CATEGORICAL = {
    "five": rng.choice(list("abcde"), 3000, p=[0.5, 0.2, 0.2, 0.09, 0.01]),
    "rare": rng.choice(list("abcdefgh"), 2000, p=[0.3] * 3 + [0.02] * 5),
    "two": rng.choice(["no", "yes"], 2000),
}


@pytest.mark.parametrize("data", NUMERIC.values(), ids=list(NUMERIC))
@pytest.mark.parametrize("method", ["ks", "wasserstein", "psi", "jensenshannon"])
def test_numeric_null_statistics_equal_the_direct_ones(data: Any, method: str) -> None:
    reference = prepare_column("x", data, "numeric")
    worst, worst_p = worst_errors(reference, method, 200)
    assert worst < TOLERANCE
    assert worst_p < TOLERANCE


@pytest.mark.parametrize("method", ["chisquare", "z"])
def test_few_valued_numeric_columns_use_category_tests(method: str) -> None:
    reference = prepare_column("x", NUMERIC["four_values"], "numeric")
    worst, worst_p = worst_errors(reference, method, 300)
    assert worst < TOLERANCE and worst_p < TOLERANCE


@pytest.mark.parametrize("data", CATEGORICAL.values(), ids=list(CATEGORICAL))
@pytest.mark.parametrize("method", ["chisquare", "z", "psi", "jensenshannon"])
def test_categorical_null_statistics_equal_the_direct_ones(data: Any, method: str) -> None:
    reference = prepare_column("c", data, "categorical")
    worst, worst_p = worst_errors(reference, method, 150)
    assert worst < TOLERANCE and worst_p < TOLERANCE


def test_a_draw_can_take_a_rare_category_entirely() -> None:
    # "z" is held by 3 rows: a draw holding all 3 leaves the rest without it, and the
    # chi-square is infinite (p = 0), as it is directly.
    data = np.array(["a"] * 40 + ["b"] * 37 + ["z"] * 3)
    reference = prepare_column("c", data, "categorical")
    positions = np.array([[77, 78, 79] + list(range(0, 27))])
    null = statistics_for_draws(reference, METHODS["chisquare"], positions)
    assert np.isinf(null.statistics[0])
    assert null.p_values is not None and null.p_values[0] == 0.0


@pytest.mark.parametrize("method", ["psi", "jensenshannon"])
def test_a_draw_that_leaves_the_rest_20_values_switches_to_categories(method: str) -> None:
    # 21 distinct values, one held by 2 rows: a draw of both leaves the rest 20 values,
    # which Evidently reads as categories instead of Sturges bins.
    data = np.concatenate([np.repeat(np.arange(20.0), 100), [50.0, 50.0]])
    reference = prepare_column("x", data, "numeric")
    positions = np.array([list(range(0, 98)) + [2000, 2001], list(range(100, 199)) + [2000]])
    null = statistics_for_draws(reference, METHODS[method], positions)  # type: ignore[index]
    for i, row in enumerate(positions):
        direct = run_test(method, *split(reference, row))  # type: ignore[arg-type]
        assert null.statistics[i] == pytest.approx(direct.statistic, abs=TOLERANCE)
    # The first draw left 20 values (categories), the second 21 (Sturges bins).
    assert [split(reference, row)[0].n_unique for row in positions] == [20, 21]


def test_ks_p_values_past_10000_values_are_asymptotic_like_scipy() -> None:
    data = np.random.default_rng(2).normal(size=12_000)
    reference = prepare_column("x", data, "numeric")
    null = null_statistics(reference, 500, n_draws=5, random_state=3, method="ks")
    positions = draw_positions(np.random.default_rng(3), 12_000, 500, 5)
    assert null.p_values is not None
    for i, row in enumerate(positions):
        rest, window = split(reference, row)
        assert isinstance(rest, NumericReference) and isinstance(window, NumericReference)
        expected = stats.ks_2samp(rest.values, window.values)
        assert null.statistics[i] == pytest.approx(expected.statistic, abs=TOLERANCE)
        assert null.p_values[i] == pytest.approx(expected.pvalue, rel=TOLERANCE)


def test_default_method_is_the_references_and_results_repeat_with_a_seed() -> None:
    big = prepare_column("x", NUMERIC["continuous"], "numeric")
    first = null_statistics(big, 100, n_draws=50, random_state=7)
    again = null_statistics(big, 100, n_draws=50, random_state=7)
    other = null_statistics(big, 100, n_draws=50, random_state=8)
    assert first.method == "wasserstein"
    assert np.array_equal(first.statistics, again.statistics)
    assert not np.array_equal(first.statistics, other.statistics)
    assert (first.window_rows, first.n_reference, first.statistics.shape) == (100, 3000, (50,))
    assert first.p_values is None
    small = prepare_column("x", NUMERIC["continuous"][:800], "numeric")
    assert null_statistics(small, 100, n_draws=5, random_state=0).method == "ks"
    cats = prepare_column("c", CATEGORICAL["five"], "categorical")
    assert null_statistics(cats, 100, n_draws=5, random_state=0).method == "jensenshannon"


def test_the_null_quantiles_sit_where_no_drift_puts_them() -> None:
    # Windows of 200 from 3,000 normal values: the 0.95 quantile of the KS p-value's
    # complement is the 0.05 quantile of the p-values; about 5% of draws fall under 0.05.
    reference = prepare_column("x", NUMERIC["continuous"], "numeric")
    null = null_statistics(reference, 200, n_draws=2000, random_state=4, method="ks")
    assert null.p_values is not None
    share = float(np.mean(null.p_values < 0.05))
    assert 0.02 < share < 0.08
    assert null.quantile(0.5) < null.quantile(0.99)


@pytest.mark.parametrize(
    ("data", "kind", "method"),
    [
        (NUMERIC["continuous"], "numeric", "ks"),
        (NUMERIC["continuous"], "numeric", "wasserstein"),
        (NUMERIC["rounded"], "numeric", "psi"),
        (CATEGORICAL["five"], "categorical", "chisquare"),
        (CATEGORICAL["two"], "categorical", "z"),
        (CATEGORICAL["rare"], "categorical", "jensenshannon"),
    ],
)
def test_a_threshold_from_the_null_keeps_false_alarms_within_the_rate(
    data: Any, kind: str, method: str
) -> None:
    reference = prepare_column("x", data, kind)  # type: ignore[arg-type]
    null = null_statistics(reference, 200, n_draws=1000, random_state=9, method=method)
    spec = METHODS[method]  # type: ignore[index]
    for rate in (0.0, 0.01, 0.05, 0.2):
        threshold = null.threshold(rate)
        p_values = null.p_values if null.p_values is not None else [None] * 1000
        alarms = sum(
            spec.is_drift(float(s), None if p is None else float(p), threshold)
            for s, p in zip(null.statistics, p_values, strict=True)
        )
        assert alarms <= rate * 1000
        if rate >= 0.05:  # and not far below it (ties aside)
            assert alarms >= rate * 1000 * 0.5
    with pytest.raises(InvalidValueError, match=r"false-alarm rate must be in \[0, 1\)"):
        null.threshold(1.0)


@pytest.mark.parametrize("window_rows", [1, 10, 400, 2999])
def test_draws_are_distinct_sorted_and_cover_the_reference(window_rows: int) -> None:
    positions = draw_positions(np.random.default_rng(5), 3000, window_rows, 300)
    assert positions.shape == (300, window_rows)
    assert (np.diff(positions, axis=1) > 0).all()
    assert positions.min() >= 0 and positions.max() < 3000
    # Without replacement yet uniform: every position is drawn about as often.
    hits = np.bincount(positions.ravel(), minlength=3000)
    expected = 300 * window_rows / 3000
    assert abs(hits.mean() - expected) < 1e-9
    if expected >= 20:
        assert hits.std() < 2 * np.sqrt(expected)


def test_windows_larger_than_a_quarter_of_the_reference_match_directly() -> None:
    reference = prepare_column("x", NUMERIC["skewed"][:400], "numeric")
    worst, worst_p = worst_errors(reference, "ks", 300)
    assert worst < TOLERANCE and worst_p < TOLERANCE


def test_bad_input_is_refused_with_the_fix() -> None:
    reference = prepare_column("x", np.arange(100.0), "numeric")
    with pytest.raises(InvalidValueError, match="window_rows must be below the reference's 100"):
        null_statistics(reference, 100)
    with pytest.raises(InvalidValueError, match="window_rows must be a whole number >= 1"):
        null_statistics(reference, 0)
    with pytest.raises(InvalidValueError, match="n_draws must be a whole number >= 1. Got 2.5"):
        null_statistics(reference, 10, n_draws=2.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="Did you mean 'psi'"):
        null_statistics(reference, 10, method="pis")
    with pytest.raises(InvalidValueError, match="'chisquare' does not apply to numeric"):
        null_statistics(reference, 10, method="chisquare")
    with pytest.raises(InvalidValueError, match=r"quantile must be in \[0, 1\]"):
        null_statistics(reference, 10, n_draws=3, random_state=0).quantile(1.5)
    empty = prepare_column("x", pa.array([None], pa.float64()), "numeric")
    with pytest.raises(InvalidValueError, match="below the reference's 0 non-null values"):
        null_statistics(empty, 1)
