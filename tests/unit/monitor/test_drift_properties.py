"""Properties on random data: every method and the default choice against a plain,
row-by-row transcription of Evidently 0.7's definitions (pandas Series, value counts,
``np.histogram`` over both sides, scipy); serialisation round trips; the null
distribution against the direct computation on random references.

The oracle below is written from the definitions in ``docs/monitoring.md`` and is slow on
purpose: dictionaries and pandas, no sorted arrays, nothing shared with the code under
test but scipy.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial import distance

from conveyor.monitor._drift import column_drift, detect_drift
from conveyor.monitor._drift_null import draw_positions, statistics_for_draws
from conveyor.monitor._drift_reference import (
    CategoricalReference,
    DriftReference,
    NumericReference,
    prepare_column,
    prepare_reference,
)
from conveyor.monitor._drift_stats import METHODS, run_test

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ------------------------------------------------------------------------ oracle --------


def clean(values: Any) -> pd.Series:
    series = pd.Series(values, dtype=object if not _is_number_list(values) else float)
    return series.replace([np.inf, -np.inf], np.nan).dropna()


def _is_number_list(values: Any) -> bool:
    return all(v is None or isinstance(v, float | int) and not isinstance(v, bool) for v in values)


def oracle_counts(ref: pd.Series, cur: pd.Series) -> tuple[list[Any], list[int], list[int]]:
    keys = sorted(set(ref) | set(cur))
    ref_counts = ref.value_counts().to_dict()
    cur_counts = cur.value_counts().to_dict()
    return keys, [ref_counts.get(k, 0) for k in keys], [cur_counts.get(k, 0) for k in keys]


def oracle_shares(ref: pd.Series, cur: pd.Series, numeric: bool) -> tuple[Any, Any]:
    if numeric and ref.nunique() > 20:
        edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
        return np.histogram(ref, edges)[0] / len(ref), np.histogram(cur, edges)[0] / len(cur)
    _, r, c = oracle_counts(ref, cur)
    return np.array(r) / len(ref), np.array(c) / len(cur)


def oracle_fill(shares: Any) -> Any:
    shares = shares.copy()
    smallest = min(s for s in shares if s > 0)
    shares[shares == 0] = smallest / 1e6 if smallest <= 1e-4 else 1e-4
    return shares


def oracle(method: str, ref: pd.Series, cur: pd.Series, numeric: bool) -> float:
    """The score: the p-value of a test, the value of a distance."""
    if method == "ks":
        with warnings.catch_warnings():  # scipy says when it falls back to asymptotic
            warnings.simplefilter("ignore", RuntimeWarning)
            return float(stats.ks_2samp(ref, cur).pvalue)
    if method == "wasserstein":
        return float(stats.wasserstein_distance(ref, cur) / max(np.std(ref), 0.001))
    if method == "psi":
        r, c = oracle_shares(ref, cur, numeric)
        r, c = oracle_fill(r), oracle_fill(c)
        return float(np.sum((r - c) * np.log(r / c)))
    if method == "jensenshannon":
        return float(distance.jensenshannon(*oracle_shares(ref, cur, numeric)))
    keys, r, c = oracle_counts(ref, cur)
    if method == "chisquare":
        if len(keys) == 1:
            return 1.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            expected = [x * len(cur) / len(ref) for x in r]
            return float(stats.chisquare(c, expected).pvalue)
    if ref.nunique() == 1 and cur.nunique() == 1 and ref.iloc[0] == cur.iloc[0]:
        return 1.0
    p1 = sum(ref != keys[0]) / len(ref)
    p2 = sum(cur != keys[0]) / len(cur)
    pooled = (p1 * len(ref) + p2 * len(cur)) / (len(ref) + len(cur))
    z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1 / len(ref) + 1 / len(cur)))
    return float(2 * (1 - stats.norm.cdf(abs(z))))


def oracle_default(ref: pd.Series, cur: pd.Series, numeric: bool) -> str:
    distinct = pd.concat([ref, cur]).nunique()
    if len(ref) <= 1000:
        if numeric and distinct > 5:
            return "ks"
        return "chisquare" if distinct > 2 else "z"
    if numeric and distinct > 5:
        return "wasserstein"
    return "jensenshannon"


def oracle_drift(method: str, score: float, threshold: float) -> bool:
    if method == "ks":
        return score <= threshold
    if METHODS[method].uses_p_value:  # type: ignore[index]
        return score < threshold
    return score >= threshold


def assert_same(result: Any, method: str, expected: float) -> None:
    ours = result.p_value if result.p_value is not None else result.statistic
    assert result.method == method
    assert math.isclose(ours, expected, rel_tol=1e-9, abs_tol=1e-12), (method, ours, expected)
    # The verdict follows from the score; the same score gives the same verdict.
    assert result.drifted == oracle_drift(method, ours, result.threshold)


# -------------------------------------------------------------------- strategies --------


@st.composite
def numbers(draw: Any, min_size: int = 1) -> list[float | None]:
    style = draw(st.sampled_from(["normal", "rounded", "few", "integers"]))
    n = draw(st.integers(min_size, 2500))
    seed = draw(st.integers(0, 2**32 - 1))
    shift = draw(st.floats(-1, 1))
    rng = np.random.default_rng(seed)
    if style == "normal":
        values = rng.normal(shift, 1 + abs(shift), n)
    elif style == "rounded":
        values = np.round(rng.normal(shift, 1, n), 1)
    elif style == "few":
        values = rng.integers(0, draw(st.integers(1, 7)), n).astype(float)
    else:
        values = rng.integers(0, draw(st.integers(8, 60)), n).astype(float) + round(shift)
    out: list[float | None] = values.tolist()
    for _ in range(draw(st.integers(0, 3))):
        out[draw(st.integers(0, n - 1))] = draw(st.sampled_from([None, math.nan, math.inf]))
    return out


@st.composite
def labels(draw: Any) -> list[str | None]:
    pool = draw(st.lists(st.text("abcxyz", min_size=1, max_size=3), min_size=1, max_size=8))
    n = draw(st.integers(1, 2500))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    weights = rng.random(len(pool)) + 0.01
    out: list[str | None] = list(rng.choice(pool, n, p=weights / weights.sum()))
    if draw(st.booleans()):
        out[draw(st.integers(0, n - 1))] = None
    return out


def has_values(values: list[Any]) -> bool:
    return len(clean(values)) > 0


# -------------------------------------------------------------------- properties --------


@SETTINGS
@given(numbers(), numbers(), st.sampled_from(["ks", "wasserstein", "psi", "jensenshannon"]))
def test_numeric_methods_match_the_oracle(ref: Any, cur: Any, method: str) -> None:
    if not (has_values(ref) and has_values(cur)):
        return
    result = column_drift(
        prepare_column("x", pa.array(ref), "numeric"), pa.array(cur), method=method
    )
    assert_same(result, method, oracle(method, clean(ref), clean(cur), numeric=True))


@SETTINGS
@given(numbers(), numbers())
def test_the_numeric_default_matches_the_oracle(ref: Any, cur: Any) -> None:
    if not (has_values(ref) and has_values(cur)):
        return
    r, c = clean(ref), clean(cur)
    result = column_drift(prepare_column("x", pa.array(ref), "numeric"), pa.array(cur))
    method = oracle_default(r, c, numeric=True)
    assert_same(result, method, oracle(method, r, c, numeric=True))


@SETTINGS
@given(labels(), labels(), st.sampled_from([None, "chisquare", "z", "psi", "jensenshannon"]))
def test_categorical_methods_and_default_match_the_oracle(
    ref: Any, cur: Any, method: str | None
) -> None:
    if not (has_values(ref) and has_values(cur)):
        return
    r, c = clean(ref), clean(cur)
    result = column_drift(prepare_column("c", ref, "categorical"), cur, method=method)
    expected = method or oracle_default(r, c, numeric=False)
    assert_same(result, expected, oracle(expected, r, c, numeric=False))


@SETTINGS
@given(numbers(), labels(), st.booleans())
def test_references_survive_their_bytes(values: Any, words: Any, as_ints: bool) -> None:
    n = min(len(values), len(words))
    numbers_column = pa.array(values[:n])
    if as_ints:
        numbers_column = pa.array(
            [0 if v is None or not math.isfinite(v) else int(v) for v in values[:n]]
        )
    table = pa.table({"x": numbers_column, "c": pa.array(words[:n])})
    reference = prepare_reference(table)
    again = DriftReference.from_bytes(reference.to_bytes())
    assert again.to_bytes() == reference.to_bytes()
    assert detect_drift(again, table) == detect_drift(reference, table)


@SETTINGS
@given(
    st.one_of(numbers(min_size=30), labels()),
    st.sampled_from(["ks", "wasserstein", "psi", "jensenshannon", "chisquare", "z"]),
    st.data(),
)
def test_null_statistics_equal_the_direct_computation(
    values: Any, method: str, data: st.DataObject
) -> None:
    kind = "categorical" if any(isinstance(v, str) for v in values) else "numeric"
    reference = prepare_column("x", pa.array(values), kind)  # type: ignore[arg-type]
    spec = METHODS[method]  # type: ignore[index]
    few = reference.n_unique <= 5
    if kind not in spec.kinds and not (few and method in ("chisquare", "z")):
        return
    if reference.n_values < 2:
        return
    window = data.draw(st.integers(1, reference.n_values - 1))
    seed = data.draw(st.integers(0, 2**32 - 1))
    positions = draw_positions(np.random.default_rng(seed), reference.n_values, window, 3)
    null = statistics_for_draws(reference, spec, positions)
    for i, row in enumerate(positions):
        drawn = np.zeros(reference.n_values, dtype=bool)
        drawn[row] = True
        if isinstance(reference, NumericReference):
            pool: Any = reference.values
        else:
            assert isinstance(reference, CategoricalReference)
            codes = np.repeat(np.arange(reference.counts.size), reference.counts)
            pool = reference.categories.take(pa.array(codes)).to_numpy(zero_copy_only=False)
        rest = prepare_column("x", pool[~drawn], kind)  # type: ignore[arg-type]
        window_column = prepare_column("x", pool[drawn], kind)  # type: ignore[arg-type]
        direct = run_test(method, rest, window_column)  # type: ignore[arg-type]
        if math.isinf(direct.statistic):
            assert math.isinf(null.statistics[i])
        else:
            assert math.isclose(null.statistics[i], direct.statistic, rel_tol=1e-9, abs_tol=1e-9)
        if direct.p_value is not None:
            assert null.p_values is not None
            assert math.isclose(null.p_values[i], direct.p_value, rel_tol=1e-9, abs_tol=1e-12)
