"""Drift statistics and profile diffs, computed from sketches, against scipy on raw data."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from conveyor.core import InvalidValueError, NotFoundError
from conveyor.data import (
    ColumnProfile,
    compare_profiles,
    jensen_shannon,
    ks_statistic,
    profile_table,
    psi,
    wasserstein,
)
from conveyor.data._compare import PSI_EPSILON


def column(values: Any, **options: Any) -> ColumnProfile:
    return profile_table(pa.table({"x": values}), **options)["x"]


def normal(mean: float, n: int, seed: int) -> np.ndarray[Any, Any]:
    return np.random.default_rng(seed).normal(mean, 1.0, n)


def raw_shares(data: np.ndarray[Any, Any], edges: list[float]) -> np.ndarray[Any, Any]:
    """Shares of ``data`` in the bins (-inf, e1], (e1, e2], ... (ek, inf)."""
    at_most = [np.mean(data <= e) for e in edges]
    return np.diff(np.concatenate(([0.0], at_most, [1.0])))


def psi_of(ref: np.ndarray[Any, Any], cur: np.ndarray[Any, Any]) -> float:
    ref = (ref + PSI_EPSILON) / (1 + PSI_EPSILON * len(ref))
    cur = (cur + PSI_EPSILON) / (1 + PSI_EPSILON * len(cur))
    return float(np.sum((cur - ref) * np.log(cur / ref)))


# ------------------------------------------------------------------------------ PSI ----


def test_identical_profiles_do_not_drift() -> None:
    numbers = column(normal(0, 20_000, 1))
    assert psi(numbers, numbers) == pytest.approx(0.0, abs=1e-12)
    assert jensen_shannon(numbers, numbers) == pytest.approx(0.0, abs=1e-6)
    assert ks_statistic(numbers, numbers).value == 0.0
    assert wasserstein(numbers, numbers).value == 0.0
    words = column(np.random.default_rng(2).choice(list("abcde"), 5000).tolist())
    assert psi(words, words) == pytest.approx(0.0, abs=1e-12)
    assert jensen_shannon(words, words) == pytest.approx(0.0, abs=1e-6)


def test_the_same_distribution_sampled_twice_barely_drifts() -> None:
    ref, cur = column(normal(0, 50_000, 1)), column(normal(0, 50_000, 2))
    # Sketch errors alone give PSI ~0.005 and JS ~0.03 at most (40 runs); a real shift
    # gives PSI ~1 (below).
    assert psi(ref, cur) < 0.02
    assert jensen_shannon(ref, cur) < 0.08


def test_a_shifted_distribution_has_a_large_psi() -> None:
    ref_data, cur_data = normal(0, 50_000, 1), normal(1.0, 50_000, 2)
    ref, cur = column(ref_data), column(cur_data)
    value = psi(ref, cur)
    assert value > 0.25
    # Against PSI over the same edges on the raw data: rank errors move each bin's share by
    # up to twice the rank error, and PSI's logs amplify that in the bins the shift nearly
    # empties (about 1% of the current here), so allow 15%.
    edges = sorted(set(ref.quantiles([i / 10 for i in range(1, 10)])))
    exact = psi_of(raw_shares(ref_data, edges), raw_shares(cur_data, edges))
    assert value == pytest.approx(exact, rel=0.15)


def test_numeric_psi_on_exact_sketches_equals_psi_on_raw_data() -> None:
    ref_data = np.random.default_rng(3).integers(0, 20, 150).astype(float)
    cur_data = np.random.default_rng(4).integers(5, 30, 180).astype(float)
    ref, cur = column(ref_data), column(cur_data)
    edges = sorted(set(ref.quantiles([i / 10 for i in range(1, 10)])))
    expected_ref, expected_cur = raw_shares(ref_data, edges), raw_shares(cur_data, edges)
    assert psi(ref, cur) == pytest.approx(psi_of(expected_ref, expected_cur), rel=1e-9)
    assert jensen_shannon(ref, cur) == pytest.approx(
        jensenshannon(expected_ref, expected_cur, base=2), rel=1e-9
    )


def test_categorical_psi_and_js_use_every_category_and_other() -> None:
    ref_data = ["a"] * 50 + ["b"] * 30 + ["c"] * 20
    cur_data = ["a"] * 20 + ["b"] * 30 + ["d"] * 50
    ref, cur = column(ref_data), column(cur_data)
    # Bins: a, b, c, d, other.
    expected_ref = np.array([0.5, 0.3, 0.2, 0.0, 0.0])
    expected_cur = np.array([0.2, 0.3, 0.0, 0.5, 0.0])
    assert psi(ref, cur) == pytest.approx(psi_of(expected_ref, expected_cur), rel=1e-12)
    assert jensen_shannon(ref, cur) == pytest.approx(
        jensenshannon(expected_ref, expected_cur, base=2), rel=1e-12
    )
    assert psi(ref, cur) > 0.25


def test_disjoint_categories_are_at_js_distance_one_and_finite_psi() -> None:
    ref, cur = column(["a", "b"] * 10), column(["c", "d"] * 10)
    assert jensen_shannon(ref, cur) == pytest.approx(1.0)
    value = psi(ref, cur)
    assert math.isfinite(value) and value > 10


def test_degraded_counts_put_untracked_mass_in_other() -> None:
    data = ["top"] * 500 + [f"t{i}" for i in range(500)]
    ref = column(data, max_categories=5)
    assert not ref.counts_exact
    from conveyor.data._compare import binned_shares

    ref_shares, cur_shares = binned_shares(ref, ref)
    assert ref_shares.sum() == pytest.approx(1.0) and ref_shares[-1] > 0.4
    assert psi(ref, ref) == pytest.approx(0.0, abs=1e-12)


def test_booleans_compare_like_categories() -> None:
    ref, cur = column([True] * 80 + [False] * 20), column([True] * 40 + [False] * 60)
    expected = psi_of(np.array([0.8, 0.2, 0.0]), np.array([0.4, 0.6, 0.0]))
    assert psi(ref, cur) == pytest.approx(expected, rel=1e-12)


# ------------------------------------------------------------------- KS, Wasserstein ----


@pytest.mark.parametrize(
    ("n_ref", "n_cur", "shift", "sample"),
    [
        (300, 180, 0.5, 65_536),  # sketches keep every value
        (40_000, 30_000, 0.3, 65_536),  # estimating
        (120_000, 150_000, 1.0, 16_384),  # estimating from sampled batches
    ],
)
def test_ks_and_wasserstein_match_scipy_within_the_stated_error(
    n_ref: int, n_cur: int, shift: float, sample: int
) -> None:
    rng = np.random.default_rng(n_ref)
    ref_data, cur_data = rng.lognormal(0, 0.5, n_ref), rng.lognormal(shift, 0.5, n_cur)
    ref = column(ref_data, quantile_sample=sample)
    cur = column(cur_data, quantile_sample=sample)

    ks = ks_statistic(ref, cur)
    exact_ks = stats.ks_2samp(ref_data, cur_data).statistic
    assert abs(ks.value - exact_ks) <= ks.error
    assert ks.error < 0.05

    w = wasserstein(ref, cur)
    exact_w = stats.wasserstein_distance(ref_data, cur_data)
    assert abs(w.value - exact_w) <= w.error
    # The bound is a worst case (about rank error x range, wide for lognormal tails); the
    # estimate itself is much closer.
    assert abs(w.value - exact_w) < 0.15 * exact_w  # seen: at most 6% over 30 runs


def test_ks_finds_the_true_shift_of_two_normals() -> None:
    shift = 0.8
    ref, cur = column(normal(0, 100_000, 5)), column(normal(shift, 100_000, 6))
    ks = ks_statistic(ref, cur)
    truth = 2 * stats.norm.cdf(shift / 2) - 1  # sup |Phi(x) - Phi(x - shift)|
    assert abs(ks.value - truth) <= ks.error + 0.01  # + the raw samples' own KS noise
    assert wasserstein(ref, cur).value == pytest.approx(shift, abs=0.1)  # seen: <= 0.04


def test_ks_on_discrete_values_checks_both_sides_of_each_jump() -> None:
    ref_data = np.repeat([1.0, 2.0, 3.0], [10, 80, 10])
    cur_data = np.repeat([1.0, 2.0, 3.0], [45, 10, 45])
    ks = ks_statistic(column(ref_data), column(cur_data))
    assert ks.value == pytest.approx(stats.ks_2samp(ref_data, cur_data).statistic)
    assert ks.value == pytest.approx(0.35)


# ---------------------------------------------------------------------------- errors ----


def test_infinite_values_make_wasserstein_infinite_not_nan() -> None:
    ref, cur = column([1.0, math.inf, 2.0, -math.inf]), column([1.0, 2.0, 3.0])
    assert wasserstein(ref, cur) == (math.inf, math.inf)
    assert math.isfinite(psi(ref, cur)) and 0 <= ks_statistic(ref, cur).value <= 1


def test_statistics_refuse_what_they_cannot_compare() -> None:
    numbers, words = column([1.0, 2.0]), column(["a"])
    with pytest.raises(
        InvalidValueError, match=r"column 'x' \(numeric\) and column 'x' \(categorical\)"
    ):
        psi(numbers, words)
    with pytest.raises(InvalidValueError, match="KS statistic needs numeric or temporal columns"):
        ks_statistic(words, words)
    with pytest.raises(InvalidValueError, match="Wasserstein distance needs numeric"):
        wasserstein(words, words)
    empty = column(pa.array([None, None], pa.float64()))
    with pytest.raises(InvalidValueError, match="the current profile has no values"):
        jensen_shannon(numbers, empty)
    lists = column(pa.array([[1], [2]]))
    with pytest.raises(InvalidValueError, match="no distribution"):
        psi(lists, lists)
    with pytest.raises(InvalidValueError, match="n_bins >= 2"):
        psi(numbers, numbers, n_bins=1)


# ----------------------------------------------------------------------------- diffs ----


def test_compare_profiles_reports_schema_and_per_column_changes() -> None:
    rng = np.random.default_rng(8)
    n = 5000
    reference = profile_table(
        pa.table(
            {
                "age": rng.normal(40, 10, n),
                "city": rng.choice(["paris", "rome", "oslo"], n, p=[0.5, 0.3, 0.2]).tolist(),
                "score": rng.integers(0, 100, n),
                "gone": np.zeros(n),
            }
        )
    )
    age = rng.normal(45, 10, n)
    age[:500] = np.nan
    current = profile_table(
        pa.table(
            {
                "city": pa.array(
                    rng.choice(["paris", "rome", "lima"], n, p=[0.2, 0.3, 0.5]).tolist(),
                    mask=np.arange(n) < 250,
                ),
                "age": pa.array(age, mask=np.arange(n) % 10 == 1),
                "score": rng.integers(0, 100, n).astype(np.float64),
                "new": np.ones(n),
            }
        )
    )
    diff = compare_profiles(reference, current)
    assert diff.n_rows == (n, n)
    assert (diff.added, diff.removed) == (("new",), ("gone",))
    assert diff.retyped == (("score", "int64", "double"),)
    assert [c.name for c in diff.columns] == ["city", "age", "score"]

    age_diff = diff["age"]
    assert age_diff.comparable and age_diff.null_rate == (0.0, current["age"].null_rate)
    assert age_diff.nan_rate[1] == current["age"].nan_rate > 0
    assert age_diff.mean == (reference["age"].mean, current["age"].mean)
    assert age_diff.mean_shift == pytest.approx(5.0, abs=1.0)
    assert age_diff.quantiles["p50"] == (
        reference["age"].quantile(0.5),
        current["age"].quantile(0.5),
    )
    assert set(age_diff.quantiles) == {"p5", "p25", "p50", "p75", "p95"}
    assert age_diff.psi is not None and age_diff.psi > 0.1
    assert age_diff.ks is not None and age_diff.ks.value > 0.1

    city = diff["city"]
    assert city.new_categories[0][0] == "lima" and [v for v, _ in city.vanished_categories] == [
        "oslo"
    ]
    assert city.share_changes[0][0] in {"lima", "paris"}
    top_change = city.share_changes[0]
    assert abs(top_change[2] - top_change[1]) == max(abs(c - r) for _, r, c in city.share_changes)
    assert city.jensen_shannon is not None and city.jensen_shannon > 0.3
    assert city.null_rate == (0.0, 0.05) and city.categories_exact

    # Retyped int -> float: both numeric, still compared; same distribution, small PSI.
    assert diff["score"].comparable and (diff["score"].psi or 1.0) < 0.1

    data = json.loads(json.dumps(diff.to_dict(), allow_nan=False))
    assert data["added"] == ["new"] and data["columns"][1]["quantiles"]["p50"][1] == pytest.approx(
        current["age"].quantile(0.5)
    )
    assert data["columns"][0]["new_categories"][0][0] == "lima"
    with pytest.raises(NotFoundError, match="no column 'gone' in both profiles"):
        diff["gone"]


def test_columns_of_another_kind_or_without_values_compare_null_rates_only() -> None:
    reference = profile_table(pa.table({"x": [1.0, 2.0], "y": [1.0, 2.0]}))
    current = profile_table(pa.table({"x": ["a", "b"], "y": pa.array([None, None], pa.float64())}))
    diff = compare_profiles(reference, current)
    assert diff.retyped == (("x", "double", "string"),)
    for name in ("x", "y"):
        assert not diff[name].comparable
        assert diff[name].psi is None and diff[name].quantiles == {}
    assert diff["y"].null_rate == (0.0, 1.0)
    json.dumps(diff.to_dict(), allow_nan=False)


def test_temporal_columns_compare_in_their_units() -> None:
    start = np.datetime64("2024-01-01T00:00:00", "s").astype(np.int64)
    rng = np.random.default_rng(21)
    before = start + rng.integers(0, 86_400, 5000)
    after = before + 3600  # everything an hour later
    ref = column(pa.array(before, pa.timestamp("s")))
    cur = column(pa.array(after, pa.timestamp("s")))
    assert (ref.kind, cur.kind) == ("temporal", "temporal")
    w = wasserstein(ref, cur)
    assert abs(w.value - stats.wasserstein_distance(before, after)) <= w.error
    ks = ks_statistic(ref, cur)
    assert abs(ks.value - stats.ks_2samp(before, after).statistic) <= ks.error
    diff = compare_profiles(
        profile_table(pa.table({"t": pa.array(before, pa.timestamp("s"))})),
        profile_table(pa.table({"t": pa.array(after, pa.timestamp("s"))})),
    )
    assert diff["t"].mean_shift == pytest.approx(3600)
    p50_before, p50_after = diff["t"].quantiles["p50"]
    assert p50_after - p50_before == pytest.approx(3600, abs=0.02 * 86_400)


def test_psi_options() -> None:
    ref, cur = column(normal(0, 20_000, 1)), column(normal(0.5, 20_000, 2))
    coarse, fine = psi(ref, cur, n_bins=4), psi(ref, cur, n_bins=20)
    assert 0 < coarse < fine  # finer bins see more of the same shift
    with pytest.raises(InvalidValueError, match=r"epsilon must be in \(0, 1\).*Got 0.0"):
        psi(ref, cur, epsilon=0.0)
    # A larger epsilon damps an empty bin's contribution.
    a, b = column(["a"] * 10), column(["a"] * 9 + ["b"])
    assert psi(a, b, epsilon=0.01) < psi(a, b)


def test_numeric_js_on_estimating_sketches_is_close_to_js_on_raw_bins() -> None:
    ref_data, cur_data = normal(0, 80_000, 3), normal(0.4, 60_000, 4)
    ref, cur = column(ref_data), column(cur_data)
    edges = sorted(set(ref.quantiles([i / 10 for i in range(1, 10)])))
    exact = jensenshannon(raw_shares(ref_data, edges), raw_shares(cur_data, edges), base=2)
    assert jensen_shannon(ref, cur) == pytest.approx(exact, abs=0.03)


def test_a_diff_flags_categories_counted_approximately() -> None:
    words = [f"w{i}" for i in range(200)] * 5
    reference = profile_table(pa.table({"s": words}), max_categories=50)
    current = profile_table(pa.table({"s": words[:500]}))
    diff = compare_profiles(reference, current)["s"]
    assert not diff.categories_exact
    assert diff.psi is not None and diff.jensen_shannon is not None
    assert len(diff.new_categories) <= 20 and len(diff.share_changes) == 10
