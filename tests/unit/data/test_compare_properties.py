"""Properties of comparisons and category merges on random data.

- KS and Wasserstein from two profiles are within their stated errors of scipy's answers
  on the raw data (the errors already include each sketch's 99% rank bound; no extra
  factor is applied, and a hundred examples stay reliable because KLL's typical error is
  well under its 99% bound).
- PSI and JS are zero on identical profiles, JS is symmetric for categories and bounded
  by 1, and PSI over merged profiles equals PSI over profiles of the concatenated data
  when the sketches are exact.
- Category counts of merged halves equal the counts of the whole under the cap, and obey
  the Misra-Gries bound above it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from conveyor.data import (
    ColumnProfile,
    jensen_shannon,
    ks_statistic,
    profile_table,
    psi,
    wasserstein,
)

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def sample(kind: str, n: int, shift: float, seed: int) -> np.ndarray[Any, Any]:
    rng = np.random.default_rng(seed)
    if kind == "normal":
        return rng.normal(shift, 1.0, n)
    if kind == "exponential":
        return rng.exponential(1.0 + shift, n)
    if kind == "uniform":
        return rng.uniform(shift, shift + 3.0, n)
    return rng.integers(0, 12, n).astype(np.float64) + np.round(shift)


def profile_of(values: Any, **options: Any) -> ColumnProfile:
    return profile_table(pa.table({"x": values}), **options)["x"]


@given(
    kind=st.sampled_from(["normal", "exponential", "uniform", "ints"]),
    n_ref=st.integers(min_value=1, max_value=30_000),
    n_cur=st.integers(min_value=1, max_value=30_000),
    shift=st.floats(min_value=0.0, max_value=2.0),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
@SETTINGS
def test_ks_and_wasserstein_are_within_their_error_of_scipy(
    kind: str, n_ref: int, n_cur: int, shift: float, seed: int
) -> None:
    ref_data, cur_data = sample(kind, n_ref, 0.0, seed), sample(kind, n_cur, shift, seed + 1)
    ref, cur = profile_of(ref_data), profile_of(cur_data)

    ks = ks_statistic(ref, cur)
    assert 0.0 <= ks.value <= 1.0
    assert abs(ks.value - stats.ks_2samp(ref_data, cur_data).statistic) <= ks.error

    w = wasserstein(ref, cur)
    exact = stats.wasserstein_distance(ref_data, cur_data)
    assert abs(w.value - exact) <= w.error + 1e-12 * max(1.0, exact)  # + float rounding


@given(
    kind=st.sampled_from(["normal", "exponential", "ints"]),
    n=st.integers(min_value=1, max_value=5000),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
@SETTINGS
def test_identical_profiles_compare_to_zero(kind: str, n: int, seed: int) -> None:
    profile = profile_of(sample(kind, n, 0.0, seed))
    assert abs(psi(profile, profile)) < 1e-12
    assert jensen_shannon(profile, profile) < 1e-6
    assert ks_statistic(profile, profile).value == 0.0
    assert wasserstein(profile, profile).value == 0.0


categories = st.lists(st.sampled_from([f"c{i}" for i in range(40)]), min_size=1, max_size=400)


@given(left=categories, right=categories)
@SETTINGS
def test_category_drift_is_symmetric_and_bounded(left: list[str], right: list[str]) -> None:
    a, b = profile_of(pa.array(left)), profile_of(pa.array(right))
    assert 0.0 <= jensen_shannon(a, b) <= 1.0
    assert abs(jensen_shannon(a, b) - jensen_shannon(b, a)) < 1e-12
    # PSI is symmetric too: sum((c - r) ln(c / r)) does not change when r and c swap.
    assert abs(psi(a, b) - psi(b, a)) < 1e-9
    assert psi(a, b) >= 0.0


@given(left=categories, right=categories, cap=st.integers(min_value=1, max_value=60))
@SETTINGS
def test_merged_category_counts_keep_their_guarantee(
    left: list[str], right: list[str], cap: int
) -> None:
    a = profile_of(pa.array(left), max_categories=cap)
    b = profile_of(pa.array(right), max_categories=cap)
    merged = a.merge(b)
    truth = Counter(left + right)
    listed = dict(merged.top(1000))
    assert len(listed) <= cap
    for value, count in truth.items():
        assert listed.get(value, 0) <= count <= listed.get(value, 0) + merged.count_error
    assert merged.count_error <= (len(left) + len(right) - sum(merged.counts)) / (cap + 1)
    if merged.counts_exact:
        assert listed == dict(truth)
    if len(truth) <= cap:
        assert merged.counts_exact and merged.distinct_estimate == len(truth)


@given(
    n_ref=st.integers(min_value=1, max_value=150),
    n_cur=st.integers(min_value=1, max_value=150),
    split=st.floats(min_value=0.0, max_value=1.0),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
@SETTINGS
def test_drift_of_merged_profiles_equals_drift_of_the_whole(
    n_ref: int, n_cur: int, split: float, seed: int
) -> None:
    # With every value kept (n <= k), merged sketches answer exactly like the whole's.
    ref_data = sample("ints", n_ref, 0.0, seed)
    cur_data = sample("normal", n_cur, 4.0, seed + 1)
    cut = int(split * n_cur)
    halves = profile_of(cur_data[:cut]).merge(profile_of(cur_data[cut:]))
    whole = profile_of(cur_data)
    ref = profile_of(ref_data)
    assert abs(psi(ref, halves) - psi(ref, whole)) < 1e-9
    assert abs(jensen_shannon(ref, halves) - jensen_shannon(ref, whole)) < 1e-9
    assert ks_statistic(ref, halves).value == ks_statistic(ref, whole).value
