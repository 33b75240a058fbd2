"""The shapes data arrives in: chunked and dictionary arrays, Arrow's other number and
string types, numpy and pandas inputs, the inference boundary; and the internals that the
other tests reach only through results (merged CDFs with ties, aligned counts, chunked
draws)."""

from __future__ import annotations

import decimal
import sys
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats

from conveyor.core import ConfigError
from conveyor.monitor import _drift_null
from conveyor.monitor._drift import column_drift, detect_drift
from conveyor.monitor._drift_null import draw_positions, null_statistics, statistics_for_draws
from conveyor.monitor._drift_reference import (
    INTEGER_CARDINALITY_LIMIT,
    CategoricalReference,
    DriftReference,
    NumericReference,
    prepare_column,
    prepare_reference,
)
from conveyor.monitor._drift_stats import METHODS, aligned_counts, merged_cdfs, union_size


def normal(n: int, seed: int, shift: float = 0.0) -> Any:
    return np.random.default_rng(seed).normal(shift, 1.0, n)


# ------------------------------------------------------------------ arrow shapes --------


def test_chunked_columns_give_the_same_result_as_contiguous_ones() -> None:
    ref, cur = normal(3000, 1), normal(2000, 2, 0.1)
    chunked_ref = pa.chunked_array([ref[:1000], ref[1000:2500], ref[2500:]])
    chunked_cur = pa.chunked_array([cur[:7], cur[7:]])
    a = column_drift(prepare_column("x", chunked_ref, "numeric"), chunked_cur)
    b = column_drift(prepare_column("x", ref, "numeric"), cur)
    assert a == b


def test_a_table_read_in_batches_prepares_like_one_batch() -> None:
    table = pa.table({"x": normal(5000, 3), "c": np.random.default_rng(4).choice(list("ab"), 5000)})
    batches = pa.Table.from_batches(table.to_batches(max_chunksize=777))
    assert batches.column("x").num_chunks > 1
    one, many = prepare_reference(table), prepare_reference(batches)
    assert one.to_bytes() == many.to_bytes()
    assert prepare_reference(table.to_batches()[0]).names == ["x", "c"]


@pytest.mark.parametrize(
    "arrow_type", [pa.int8(), pa.int32(), pa.uint16(), pa.uint64(), pa.float32(), pa.float16()]
)
def test_every_arrow_number_type_reads_as_float64(arrow_type: pa.DataType) -> None:
    values = np.arange(40) % 30
    if pa.types.is_floating(arrow_type):
        array = pa.array(values.astype(arrow_type.to_pandas_dtype()))
    else:
        array = pa.array(values, arrow_type)
    col = prepare_column("x", array, "numeric")
    assert isinstance(col, NumericReference)
    assert col.values.dtype == np.float64
    assert col.values.tolist() == sorted(float(v) for v in values)
    assert col.is_integer == pa.types.is_integer(arrow_type)


def test_decimals_are_numeric() -> None:
    array = pa.array([decimal.Decimal(f"{i}.25") for i in range(20)], pa.decimal128(6, 2))
    ref = prepare_reference(pa.table({"d": array}))
    assert ref["d"].kind == "numeric"
    result = column_drift(ref["d"], array)
    assert (result.method, result.statistic, result.drifted) == ("ks", 0.0, False)


def test_a_numeric_reference_takes_integer_or_boolean_windows() -> None:
    ref = prepare_column("x", np.arange(3000.0) % 100, "numeric")
    as_ints = column_drift(ref, pa.array(np.arange(500) % 100, pa.int16()))
    as_floats = column_drift(ref, np.arange(500.0) % 100)
    assert as_ints.statistic == as_floats.statistic
    flags = prepare_column("f", [True, False, False] * 400, "numeric")
    assert column_drift(flags, [True, True, False]).method == "jensenshannon"


def test_large_strings_and_dictionaries_compare_with_strings() -> None:
    words = np.random.default_rng(5).choice(["a", "b", "c"], 2000)
    ref = prepare_column("w", pa.array(words, pa.large_string()), "categorical")
    assert isinstance(ref, CategoricalReference)
    cur = pa.array(words[:300]).dictionary_encode()
    result = column_drift(ref, cur)
    plain = column_drift(ref, pa.array(words[:300], pa.large_string()))
    assert result == plain


def test_pandas_windows_with_missing_values() -> None:
    pd = pytest.importorskip("pandas")
    ref = prepare_reference(pd.DataFrame({"x": normal(2000, 6), "c": ["u", "v"] * 1000}))
    window = pd.DataFrame({"x": [0.1, None, 0.3, float("nan")], "c": ["u", None, "v", "v"]})
    report = detect_drift(ref, window)
    assert report["x"].n_current == 2
    assert report["x"].null_rate == 0.5
    assert report["c"].null_rate == 0.25


@pytest.mark.parametrize(
    ("n_distinct", "kind"),
    [(INTEGER_CARDINALITY_LIMIT, "categorical"), (INTEGER_CARDINALITY_LIMIT + 1, "numeric")],
)
def test_integer_kind_switches_past_10_distinct_values(n_distinct: int, kind: str) -> None:
    values = pa.array(np.arange(500) % n_distinct)
    assert prepare_reference({"n": values})["n"].kind == kind
    with_nulls = pa.array([*(np.arange(500) % n_distinct).tolist(), None])
    assert prepare_reference({"n": with_nulls})["n"].kind == kind  # nulls are not a value


# --------------------------------------------------------------------- internals --------


@pytest.mark.parametrize("seed", range(5))
def test_merged_cdfs_equal_searchsorted_on_every_distinct_value(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ref = np.sort(rng.integers(0, 15, int(rng.integers(1, 300))).astype(float))
    cur = np.sort(rng.integers(5, 25, int(rng.integers(1, 300))).astype(float))
    x, f_ref, f_cur = merged_cdfs(ref, cur)
    assert np.array_equal(x, np.union1d(ref, cur))
    assert np.array_equal(f_ref, np.searchsorted(ref, x, side="right") / ref.size)
    assert np.array_equal(f_cur, np.searchsorted(cur, x, side="right") / cur.size)


def test_ks_and_wasserstein_of_identical_samples_are_zero() -> None:
    ref = prepare_column("x", normal(1500, 7), "numeric")
    assert isinstance(ref, NumericReference)
    for method in ("ks", "wasserstein", "psi", "jensenshannon"):
        result = column_drift(ref, ref.values, method=method)
        assert result.statistic == pytest.approx(0.0, abs=1e-12)
        assert not result.drifted
    assert column_drift(ref, ref.values, method="ks").p_value == 1.0


def test_aligned_counts_cover_both_sides_sorted() -> None:
    ref = prepare_column("c", ["b", "a", "b", "d"], "categorical")
    cur = prepare_column("c", ["c", "a", "a"], "categorical")
    r, c = aligned_counts(ref, cur)
    assert r.tolist() == [1.0, 2.0, 0.0, 1.0]  # a, b, c, d
    assert c.tolist() == [2.0, 0.0, 1.0, 0.0]
    assert union_size(ref, cur) == 4
    nums = aligned_counts(
        prepare_column("x", [3.0, 1.0, 1.0], "numeric"), prepare_column("x", [2.0], "numeric")
    )
    assert [v.tolist() for v in nums] == [[2.0, 0.0, 1.0], [0.0, 1.0, 0.0]]


def test_chunks_of_draws_give_the_same_statistics_as_one_block(monkeypatch: Any) -> None:
    reference = prepare_column("x", normal(4000, 8), "numeric")
    positions = draw_positions(np.random.default_rng(9), 4000, 300, 40)
    whole = statistics_for_draws(reference, METHODS["wasserstein"], positions)
    monkeypatch.setattr(_drift_null, "_CHUNK_CELLS", 1000)  # 3 draws a chunk
    chunked = statistics_for_draws(reference, METHODS["wasserstein"], positions)
    assert np.array_equal(whole.statistics, chunked.statistics)
    assert whole.raw_statistics is not None and chunked.raw_statistics is not None
    assert np.array_equal(whole.raw_statistics, chunked.raw_statistics)


def test_a_generator_as_random_state_is_used_as_is() -> None:
    reference = prepare_column("x", normal(2000, 10), "numeric")
    first = null_statistics(reference, 50, 20, np.random.default_rng(11))
    again = null_statistics(reference, 50, 20, np.random.default_rng(11))
    assert np.array_equal(first.statistics, again.statistics)


def test_the_null_of_ks_on_a_large_reference_matches_scipy_on_one_split() -> None:
    data = normal(20_000, 12)
    reference = prepare_column("x", data, "numeric")
    assert isinstance(reference, NumericReference)
    positions = draw_positions(np.random.default_rng(13), 20_000, 1000, 1)
    null = statistics_for_draws(reference, METHODS["ks"], positions)
    drawn = np.zeros(20_000, dtype=bool)
    drawn[positions[0]] = True
    expected = stats.ks_2samp(reference.values[~drawn], reference.values[drawn])
    assert null.statistics[0] == pytest.approx(expected.statistic, abs=1e-12)
    assert null.p_values is not None
    assert null.p_values[0] == pytest.approx(expected.pvalue, rel=1e-9)


@pytest.mark.parametrize("library", ["scipy", "pyarrow"])
def test_a_missing_library_names_the_extra_to_install(
    monkeypatch: pytest.MonkeyPatch, library: str
) -> None:
    reference = prepare_reference({"x": normal(100, 14)})
    # None in sys.modules makes the next import raise ImportError, as if not installed.
    monkeypatch.setitem(sys.modules, library, None)
    calls = [
        lambda: prepare_reference({"x": [1.0]}),
        lambda: detect_drift(reference, {"x": [1.0]}),
        lambda: column_drift(reference["x"], [1.0]),
        lambda: null_statistics(reference["x"], 10),
        lambda: DriftReference.from_bytes(b""),
    ]
    for call in calls:
        with pytest.raises(ConfigError) as caught:
            call()
        assert caught.value.message == f"Drift statistics need {library}, which is not installed."
        assert caught.value.hint == "Install the ml extra with: pip install 'conveyor[ml]'"
