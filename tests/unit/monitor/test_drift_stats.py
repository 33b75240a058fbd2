"""Each drift statistic against scipy on random data and against small cases by hand; the
binning against numpy; Evidently 0.7's default choice of test."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from conveyor.monitor._drift import column_drift
from conveyor.monitor._drift_reference import ColumnKind, prepare_column
from conveyor.monitor._drift_stats import (
    METHODS,
    default_method,
    fill_zeros,
    histogram_counts,
    merged_cdfs,
    sturges_edges,
)


def numeric(values: Any) -> Any:
    return prepare_column("x", np.asarray(values), "numeric")


def categorical(values: Any) -> Any:
    return prepare_column("c", values, "categorical")


def samples(seed: int, n: int, m: int, shift: float = 0.1) -> tuple[Any, Any]:
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, 1.0, n), rng.normal(shift, 1.2, m)


# ------------------------------------------------------------------------ KS ----------


@pytest.mark.parametrize(
    ("seed", "n", "m"),
    [(0, 800, 700), (1, 50, 3000), (2, 9000, 10_000), (3, 20_000, 15_000), (4, 1, 5)],
)
def test_ks_matches_scipy_ks_2samp(seed: int, n: int, m: int) -> None:
    ref, cur = samples(seed, n, m)
    result = column_drift(numeric(ref), cur, method="ks")
    expected = stats.ks_2samp(ref, cur)
    assert result.statistic == pytest.approx(expected.statistic, abs=1e-9)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)
    assert result.drifted == (expected.pvalue <= 0.05)


def test_ks_with_ties_matches_scipy() -> None:
    rng = np.random.default_rng(5)
    ref = rng.integers(0, 30, 4000).astype(float)
    cur = rng.integers(2, 32, 12_000).astype(float)
    result = column_drift(numeric(ref), cur, method="ks")
    expected = stats.ks_2samp(ref, cur)
    assert result.statistic == pytest.approx(expected.statistic, abs=1e-9)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-9)


def test_ks_drifts_at_p_equal_to_the_threshold() -> None:
    # Evidently's ks is the one test that drifts at p == threshold ("<=").
    ref, cur = samples(6, 300, 300, shift=0.2)
    p = column_drift(numeric(ref), cur, method="ks").p_value
    assert p is not None
    assert column_drift(numeric(ref), cur, method="ks", threshold=p).drifted
    assert METHODS["ks"].is_drift(0.5, 0.05, 0.05)
    assert not METHODS["chisquare"].is_drift(1.0, 0.05, 0.05)
    assert not METHODS["z"].is_drift(1.0, 0.05, 0.05)


def test_merged_cdfs_are_right_continuous_at_every_distinct_value() -> None:
    x, f_ref, f_cur = merged_cdfs(np.array([1.0, 2.0, 2.0, 3.0]), np.array([2.0, 4.0]))
    assert x.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert f_ref.tolist() == [0.25, 0.75, 1.0, 1.0]
    assert f_cur.tolist() == [0.0, 0.5, 0.5, 1.0]


# ---------------------------------------------------------------- Wasserstein ----------


@pytest.mark.parametrize(("seed", "n", "m"), [(0, 2000, 1500), (1, 5000, 50), (2, 3, 4)])
def test_wasserstein_matches_scipy_and_is_normed_by_the_reference_std(
    seed: int, n: int, m: int
) -> None:
    ref, cur = samples(seed, n, m, shift=0.3)
    result = column_drift(numeric(ref), cur, method="wasserstein")
    raw = stats.wasserstein_distance(ref, cur)
    assert result.raw_statistic == pytest.approx(raw, rel=1e-9)
    assert result.statistic == pytest.approx(raw / np.std(ref), rel=1e-9)
    assert result.p_value is None
    assert result.drifted == (raw / np.std(ref) >= 0.1)


def test_wasserstein_with_ties_matches_scipy() -> None:
    rng = np.random.default_rng(8)
    ref = np.round(rng.normal(size=3000), 1)
    cur = np.round(rng.normal(0.1, 1, size=2000), 1)
    result = column_drift(numeric(ref), cur, method="wasserstein")
    assert result.raw_statistic == pytest.approx(stats.wasserstein_distance(ref, cur), rel=1e-9)


def test_a_constant_reference_norms_wasserstein_by_0_001() -> None:
    cur = np.array([2.0, 2.1, 2.2])
    result = column_drift(numeric(np.full(2000, 2.0)), cur, method="wasserstein")
    assert result.raw_statistic == pytest.approx(0.1)
    assert result.statistic == pytest.approx(0.1 / 0.001)
    assert result.drifted


# ------------------------------------------------------------------ chi-square ----------


def test_chisquare_matches_scipy() -> None:
    rng = np.random.default_rng(9)
    ref = rng.choice(list("abcdef"), 900, p=[0.3, 0.2, 0.2, 0.1, 0.1, 0.1])
    cur = rng.choice(list("abcdef"), 400)
    result = column_drift(categorical(ref), cur, method="chisquare")
    keys = sorted(set(ref))
    observed = [int(np.sum(cur == k)) for k in keys]
    expected = [np.sum(ref == k) * len(cur) / len(ref) for k in keys]
    want = stats.chisquare(observed, expected)
    assert result.statistic == pytest.approx(want.statistic, rel=1e-12)
    assert result.p_value == pytest.approx(want.pvalue, rel=1e-9)


def test_a_category_only_in_current_makes_chisquare_infinite() -> None:
    # Expected count 0 for an observed category: Evidently's chi-square is inf, p = 0.
    result = column_drift(categorical(["a"] * 50 + ["b"] * 50), ["a", "b", "z"], method="chisquare")
    assert result.statistic == math.inf
    assert result.p_value == 0.0
    assert result.drifted
    assert result.out_of_range_rate == pytest.approx(1 / 3)


def test_chisquare_of_one_shared_value_is_no_drift_not_nan() -> None:
    result = column_drift(categorical(["a"] * 10), ["a"] * 4, method="chisquare")
    assert (result.statistic, result.p_value, result.drifted) == (0.0, 1.0, False)


# ----------------------------------------------------------------------- Z-test ----------


def test_z_test_by_hand() -> None:
    # Sorted keys: "no" < "yes", so the test is on the share of "yes": 0.3 against 0.5.
    ref = ["yes"] * 30 + ["no"] * 70
    cur = ["yes"] * 50 + ["no"] * 50
    z = (0.3 - 0.5) / math.sqrt(0.4 * 0.6 * (1 / 100 + 1 / 100))
    result = column_drift(categorical(ref), cur, method="z")
    assert result.statistic == pytest.approx(z, rel=1e-12)
    assert result.p_value == pytest.approx(math.erfc(abs(z) / math.sqrt(2)), rel=1e-12)
    assert result.p_value == pytest.approx(0.003892, abs=1e-6)
    assert result.drifted


def test_z_test_of_one_and_the_same_value_is_p_1() -> None:
    result = column_drift(categorical([True] * 20), [True] * 5, method="z")
    assert (result.statistic, result.p_value, result.drifted) == (0.0, 1.0, False)


def test_z_test_on_booleans_compares_the_share_of_true() -> None:
    ref = [False] * 60 + [True] * 40
    cur = [False] * 40 + [True] * 60
    result = column_drift(categorical(ref), cur, method="z")
    pooled = 0.5
    z = (0.4 - 0.6) / math.sqrt(pooled * pooled * (2 / 100))
    assert result.statistic == pytest.approx(z)


# ------------------------------------------------------------------------- PSI ----------


def test_psi_by_hand() -> None:
    ref = ["a"] * 6 + ["b"] * 4
    cur = ["a"] * 3 + ["b"] * 7
    expected = (0.6 - 0.3) * math.log(0.6 / 0.3) + (0.4 - 0.7) * math.log(0.4 / 0.7)
    result = column_drift(categorical(ref), cur, method="psi")
    assert result.statistic == pytest.approx(expected, rel=1e-12)
    assert result.statistic == pytest.approx(0.375829, abs=1e-6)
    assert result.drifted  # >= 0.1


def test_psi_fills_an_empty_bin_with_1e_4() -> None:
    # The reference lacks "b": its share 0 becomes 1e-4 (the smallest nonzero share, 1.0,
    # is above 1e-4); no renormalisation.
    result = column_drift(categorical(["a"] * 10), ["a"] * 5 + ["b"] * 5, method="psi")
    expected = (1.0 - 0.5) * math.log(1.0 / 0.5) + (1e-4 - 0.5) * math.log(1e-4 / 0.5)
    assert result.statistic == pytest.approx(expected, rel=1e-12)


def test_psi_fills_below_a_tiny_share_with_a_millionth_of_it() -> None:
    ref = ["a"] * 20_000 + ["b"]
    cur = ["a"] * 9 + ["c"]
    tiny = 1 / 20_001
    r = np.array([20_000 / 20_001, tiny, tiny / 1e6])  # a, b, c
    c = np.array([0.9, 1e-4, 0.1])  # the current's smallest share is 0.1: fill 1e-4
    expected = float(np.sum((r - c) * np.log(r / c)))
    result = column_drift(categorical(ref), cur, method="psi")
    assert result.statistic == pytest.approx(expected, rel=1e-12)


def test_fill_zeros_works_row_by_row() -> None:
    shares = np.array([[0.5, 0.5, 0.0], [0.99995, 0.00005, 0.0]])
    filled = fill_zeros(shares)
    assert filled[0].tolist() == [0.5, 0.5, 1e-4]
    assert filled[1, 2] == pytest.approx(0.00005 / 1e6)


# ------------------------------------------------------------------ Jensen-Shannon ----------


def test_jensen_shannon_matches_scipy_on_categories() -> None:
    rng = np.random.default_rng(11)
    ref = rng.choice(list("abcd"), 5000, p=[0.4, 0.3, 0.2, 0.1])
    cur = rng.choice(list("abcde"), 3000)
    keys = sorted(set(ref) | set(cur))
    p = [np.mean(ref == k) for k in keys]
    q = [np.mean(cur == k) for k in keys]
    result = column_drift(categorical(ref), cur, method="jensenshannon")
    assert result.statistic == pytest.approx(jensenshannon(p, q), rel=1e-12)
    assert result.statistic <= math.sqrt(math.log(2))


def test_jensen_shannon_of_disjoint_columns_is_sqrt_ln_2() -> None:
    result = column_drift(categorical(["a"] * 5), ["b"] * 5, method="jensenshannon")
    assert result.statistic == pytest.approx(math.sqrt(math.log(2)))


def test_binned_statistics_use_sturges_bins_over_both_sides() -> None:
    ref, cur = samples(12, 3000, 2000, shift=0.4)
    edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
    p = np.histogram(ref, edges)[0] / ref.size
    q = np.histogram(cur, edges)[0] / cur.size
    result = column_drift(numeric(ref), cur, method="jensenshannon")
    assert result.statistic == pytest.approx(jensenshannon(p, q), rel=1e-12)
    psi = column_drift(numeric(ref), cur, method="psi").statistic
    pf, qf = fill_zeros(p), fill_zeros(q)
    assert psi == pytest.approx(float(np.sum((pf - qf) * np.log(pf / qf))), rel=1e-12)


def test_a_numeric_reference_with_20_distinct_values_is_read_as_categories() -> None:
    rng = np.random.default_rng(13)
    ref = rng.integers(0, 20, 3000).astype(float)
    cur = rng.integers(0, 22, 3000).astype(float)
    keys = np.union1d(ref, cur)
    p = np.array([np.mean(ref == k) for k in keys])
    q = np.array([np.mean(cur == k) for k in keys])
    result = column_drift(numeric(ref), cur, method="jensenshannon")
    assert result.statistic == pytest.approx(jensenshannon(p, q), rel=1e-12)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("integer", [False, True])
def test_sturges_edges_and_counts_match_numpy(seed: int, integer: bool) -> None:
    rng = np.random.default_rng(seed)
    size = int(rng.integers(2, 50_000))
    values = rng.integers(-5, int(rng.integers(1, 400)), size) if integer else rng.normal(size=size)
    edges = sturges_edges(float(values.min()), float(values.max()), values.size, integer)
    assert np.array_equal(edges, np.histogram_bin_edges(values, bins="sturges"))
    counts = histogram_counts(np.sort(values.astype(float)), edges)
    assert np.array_equal(counts, np.histogram(values, edges)[0])


def test_sturges_edges_of_one_value_span_half_either_side() -> None:
    values = np.full(10, 3.0)
    edges = sturges_edges(3.0, 3.0, 10, False)
    assert np.array_equal(edges, np.histogram_bin_edges(values, bins="sturges"))


# ------------------------------------------------------------------ default choice ----------


@pytest.mark.parametrize(
    ("kind", "n_reference", "n_unique", "method"),
    [
        ("numeric", 1000, 6, "ks"),
        ("numeric", 1000, 5, "chisquare"),
        ("numeric", 1000, 3, "chisquare"),
        ("numeric", 1000, 2, "z"),
        ("numeric", 1, 1, "z"),
        ("numeric", 1001, 6, "wasserstein"),
        ("numeric", 1001, 5, "jensenshannon"),
        ("numeric", 10**6, 2, "jensenshannon"),
        ("categorical", 1000, 3, "chisquare"),
        ("categorical", 1000, 2, "z"),
        ("categorical", 1001, 2, "jensenshannon"),
        ("categorical", 10**6, 500, "jensenshannon"),
    ],
)
def test_default_method_follows_evidently(
    kind: ColumnKind, n_reference: int, n_unique: int, method: str
) -> None:
    assert default_method(kind, n_reference, n_unique) == method


def test_the_default_counts_distinct_values_of_both_sides() -> None:
    ref = numeric([1.0, 2.0, 3.0, 4.0, 5.0] * 20)
    assert column_drift(ref, [1.0, 2.0]).method == "chisquare"
    assert column_drift(ref, [1.0, 6.0]).method == "ks"  # 6 distinct values together
    two = categorical(["a", "b"] * 10)
    assert column_drift(two, ["a"]).method == "z"
    assert column_drift(two, ["a", "c"]).method == "chisquare"


def test_default_thresholds_and_directions() -> None:
    assert {name: spec.default_threshold for name, spec in METHODS.items()} == {
        "chisquare": 0.05,
        "jensenshannon": 0.1,
        "ks": 0.05,
        "psi": 0.1,
        "wasserstein": 0.1,
        "z": 0.05,
    }
    assert [name for name, spec in METHODS.items() if spec.uses_p_value] == [
        "chisquare",
        "ks",
        "z",
    ]
    # Distances drift at the threshold itself.
    assert METHODS["wasserstein"].is_drift(0.1, None, 0.1)
    assert not METHODS["wasserstein"].is_drift(0.0999, None, 0.1)


def test_integer_columns_get_bins_at_least_1_wide() -> None:
    # numpy floors the Sturges width at 1 for integer data; the same values as floats get
    # many narrower bins, so the flag matters.
    values = np.random.default_rng(14).integers(0, 5, 10_000)
    as_int = sturges_edges(0.0, 4.0, values.size, True)
    assert np.array_equal(as_int, np.histogram_bin_edges(values, bins="sturges"))
    assert as_int.size == 5
    assert sturges_edges(0.0, 4.0, values.size, False).size == 16
