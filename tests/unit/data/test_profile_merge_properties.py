"""Property: the profiles of two halves of random data, merged, answer like the data.

Exact statistics (counts, min, max, mean, variance) must match numpy on the whole; sketch
answers must be within their stated error of the truth on the whole:

- quantiles: the true rank of ``quantile(q)`` is within ``2 * rank_error`` of ``q``.
  ``rank_error`` is datasketches' ``normalized_rank_error`` for a single query at 99%
  confidence (about 2.6 standard deviations); twice that is over 5 standard deviations,
  which a query misses with probability below 1e-6, so a hundred examples of 21 queries
  stay reliable. While the sketch keeps every value, the bound is one value (1/n): q * n
  computed in floating point can land on either side of an item boundary.
- distinct counts: the merged KMV sketch equals the sketch of the whole (bottom-k of a
  union is exact), and its estimate is within 5 relative standard errors of the truth.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conveyor.data import ColumnProfile, Profiler, profile_table

QUANTILE_GRID = [0.0, 0.01, *np.round(np.linspace(0.05, 0.95, 19), 2), 0.99, 1.0]
RANK_FACTOR = 2.0
DISTINCT_SIGMAS = 5.0


def make_data(kind: str, n: int, seed: int) -> np.ndarray[Any, Any]:
    rng = np.random.default_rng(seed)
    if kind == "normal":
        return rng.normal(rng.uniform(-1e3, 1e3), rng.uniform(0.1, 100), n)
    if kind == "lognormal":
        return rng.lognormal(0, 2, n)
    if kind == "few_ints":
        return rng.integers(-3, 4, n)
    if kind == "many_ints":
        return rng.integers(-(10**12), 10**12, n)
    # Heavy ties plus a continuous tail.
    return np.where(rng.random(n) < 0.5, 7.0, rng.exponential(5, n))


def as_column(values: np.ndarray[Any, Any], null_share: float, seed: int) -> pa.Array:
    rng = np.random.default_rng(seed + 1)
    values = values.copy()
    if values.dtype.kind == "f":
        values[rng.random(len(values)) < null_share / 2] = np.nan
    return pa.array(values, mask=rng.random(len(values)) < null_share)


def check_against(merged: ColumnProfile, column: pa.Array) -> None:
    raw = column.to_numpy(zero_copy_only=False)
    valid = np.asarray(column.is_valid())
    data = raw[valid]
    n_nan = int(np.isnan(data.astype(np.float64)).sum()) if data.dtype.kind == "f" else 0
    values = data[~np.isnan(data)] if data.dtype.kind == "f" else data
    assert (merged.n_rows, merged.n_null, merged.n_nan) == (len(raw), int((~valid).sum()), n_nan)
    assert merged.n_values == len(values)
    if len(values) == 0:
        assert merged.mean is None and merged.min is None
        return
    assert (merged.min, merged.max) == (values.min().item(), values.max().item())
    as_float = values.astype(np.float64)
    assert math.isclose(merged.mean or 0.0, as_float.mean(), rel_tol=1e-9, abs_tol=1e-9)
    scale = float(np.max(np.abs(as_float - as_float.mean()))) ** 2
    assert math.isclose(merged.variance or 0.0, as_float.var(), rel_tol=1e-9, abs_tol=1e-9 * scale)

    ordered = np.sort(as_float)
    bound = RANK_FACTOR * merged.rank_error
    for q, answer in zip(QUANTILE_GRID, merged.quantiles(QUANTILE_GRID), strict=True):
        below = np.searchsorted(ordered, answer, side="left") / len(ordered)
        at_most = np.searchsorted(ordered, answer, side="right") / len(ordered)
        assert below - bound <= q <= at_most + bound, (q, answer, below, at_most, bound)

    truth = len(np.unique(as_float))
    estimate = merged.distinct_estimate
    assert estimate is not None
    if merged.distinct_exact:
        assert estimate == truth
    else:
        assert abs(estimate - truth) <= DISTINCT_SIGMAS * merged.distinct_error * truth


@given(
    kind=st.sampled_from(["normal", "lognormal", "few_ints", "many_ints", "ties"]),
    n=st.integers(min_value=0, max_value=12_000),
    split=st.floats(min_value=0.0, max_value=1.0),
    null_share=st.sampled_from([0.0, 0.1, 0.6]),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_merged_halves_answer_like_the_whole(
    kind: str, n: int, split: float, null_share: float, seed: int
) -> None:
    column = as_column(make_data(kind, n, seed), null_share, seed)
    cut = int(split * n)
    left = profile_table(pa.table({"x": column.slice(0, cut)}))
    right = profile_table(pa.table({"x": column.slice(cut)}))
    merged = left.merge(right)["x"]
    whole = profile_table(pa.table({"x": column}))["x"]

    check_against(merged, column)
    assert merged.distinct_sketch == whole.distinct_sketch
    assert ColumnProfile.from_dict(merged.to_dict()) == merged


@given(
    n_batches=st.integers(min_value=1, max_value=12),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_sampled_sketches_stay_within_their_stated_error(n_batches: int, seed: int) -> None:
    # A small quantile_sample forces the sampled path (weights up to ~100) on modest data;
    # the stated rank_error then includes the sampling term.
    column = as_column(make_data("lognormal", 60_000, seed), 0.05, seed)
    profiler = Profiler(quantile_sample=512, random_state=seed)
    for part in np.array_split(np.arange(len(column)), n_batches):
        profiler.update(pa.table({"x": column.slice(int(part[0]), len(part))}))
    half = profiler.result()["x"]
    assert half.sampling_variance > 0
    other = profile_table(pa.table({"x": column}), quantile_sample=None)["x"]
    merged = half.merge(other)

    check_against(half, column)
    doubled = pa.concat_arrays([column, column])
    check_against(merged, doubled)
