"""Column and table profiles: exact statistics against numpy/pandas on known data, merges,
the JSON round trip, degraded category counts, and what errors say."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import subprocess
import sys
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from conveyor.core import InvalidValueError, NotFoundError
from conveyor.data import ColumnProfile, Profiler, TableProfile, profile_table


def values_of(column: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    return column[~np.isnan(column)]


def strict_json(data: Any) -> Any:
    return json.loads(json.dumps(data, allow_nan=False))


def rank_bracket(data: np.ndarray[Any, Any], value: float) -> tuple[float, float]:
    """Shares of ``data`` strictly below and at most ``value``."""
    return float(np.mean(data < value)), float(np.mean(data <= value))


# ------------------------------------------------------------------------- numbers ---


def test_floats_with_nulls_and_nans_match_numpy() -> None:
    raw = [1.5, None, float("nan"), -2.0, 7.25, None, 3.0, float("nan"), 0.5, 10.0]
    column = profile_table(pa.table({"x": pa.array(raw, type=pa.float64())}))["x"]
    values = np.array([v for v in raw if v is not None and not math.isnan(v)])

    assert (column.kind, column.arrow_type) == ("numeric", "double")
    assert (column.n_rows, column.n_null, column.n_nan, column.n_values) == (10, 2, 2, 6)
    assert column.null_rate == pytest.approx(0.2) and column.nan_rate == pytest.approx(0.2)
    assert (column.min, column.max) == (values.min(), values.max())
    assert column.mean == pytest.approx(values.mean(), rel=1e-12)
    assert column.variance == pytest.approx(values.var(), rel=1e-12)
    assert column.std == pytest.approx(values.std(), rel=1e-12)
    assert column.distinct_estimate == 6 and column.distinct_exact
    assert column.distinct_error == 0.0


def test_ints_keep_exact_python_int_extremes() -> None:
    big = 2**62 + 1
    column = profile_table(pa.table({"x": pa.array([big, -5, 3, None, big], pa.int64())}))["x"]
    assert (column.min, column.max) == (-5, big)
    assert isinstance(column.min, int) and isinstance(column.max, int)
    assert column.n_null == 1 and column.n_nan == 0
    assert column.mean == pytest.approx(np.mean([big, -5, 3, big], dtype=np.float64))
    # 2**62 + 1 has no float64; it is hashed by its own bits, and counted once.
    assert column.distinct_estimate == 3


def test_unsigned_and_small_types_are_numeric() -> None:
    table = pa.table(
        {
            "u64": pa.array([0, 2**64 - 1, 7], pa.uint64()),
            "i8": pa.array([-128, 127, 0], pa.int8()),
            "f16": pa.array(np.array([0.5, 1.5, -2.0], dtype=np.float16)),
            "f32": pa.array(np.array([0.25, float("nan"), 3.5], dtype=np.float32)),
        }
    )
    profile = profile_table(table)
    assert (profile["u64"].min, profile["u64"].max) == (0, 2**64 - 1)
    assert (profile["i8"].min, profile["i8"].max) == (-128, 127)
    assert (profile["f16"].min, profile["f16"].max) == (-2.0, 1.5)
    assert (profile["f32"].n_nan, profile["f32"].max) == (1, 3.5)
    assert {c.kind for c in profile} == {"numeric"}


def test_decimals_are_profiled_as_floats() -> None:
    raw = [decimal.Decimal("1.25"), decimal.Decimal("-3.50"), None, decimal.Decimal("10.00")]
    column = profile_table(pa.table({"d": pa.array(raw, pa.decimal128(10, 2))}))["d"]
    assert column.kind == "numeric" and column.arrow_type == "decimal128(10, 2)"
    assert (column.min, column.max, column.n_null) == (-3.5, 10.0, 1)
    assert column.mean == pytest.approx((1.25 - 3.5 + 10.0) / 3)


def test_negative_zero_and_zero_count_as_one_value() -> None:
    column = profile_table(pa.table({"x": [0.0, -0.0, 1.0, 1.0]}))["x"]
    assert column.distinct_estimate == 2


def test_an_int_column_and_a_float_column_of_the_same_values_hash_alike() -> None:
    ints = profile_table(pa.table({"x": pa.array([1, 2, 3, 2**40], pa.int64())}))["x"]
    floats = profile_table(pa.table({"x": pa.array([1.0, 2.0, 3.0, 2.0**40])}))["x"]
    assert ints.distinct_sketch == floats.distinct_sketch
    assert ints.merge(floats).distinct_estimate == 4
    assert ints.merge(floats).arrow_type == "double | int64"


def test_infinities_stay_in_extremes_and_make_moments_non_finite() -> None:
    column = profile_table(pa.table({"x": [1.0, float("inf"), -1.0, float("-inf")]}))["x"]
    assert (column.min, column.max) == (-math.inf, math.inf)
    assert column.mean is not None and math.isnan(column.mean)
    edges, counts = column.histogram(4)
    assert (edges[0], edges[-1]) == (-math.inf, math.inf) and sum(counts) == 4
    assert all(math.isfinite(e) for e in edges[1:-1])
    json.dumps(column.to_dict(), allow_nan=False)  # strict JSON despite inf and NaN


def test_merging_a_part_with_infinite_values_keeps_them() -> None:
    a = profile_table(pa.table({"x": [1.0, float("inf")]}))["x"]
    b = profile_table(pa.table({"x": [2.0, 3.0]}))["x"]
    merged = a.merge(b)
    assert merged.mean == math.inf and merged.max == math.inf and merged.n_values == 4
    assert merged.quantile(0.5) in (2.0, 3.0)


def test_quantiles_cdf_and_histogram_of_an_exact_sketch_match_numpy() -> None:
    rng = np.random.default_rng(7)
    data = np.round(rng.normal(50, 10, 400), 1)
    column = profile_table(pa.table({"x": data}), k=1000)["x"]
    assert column.rank_error == pytest.approx(1 / 400)  # every value kept: one value of slack
    for q in np.linspace(0, 1, 41):
        low, high = rank_bracket(data, column.quantile(q))
        assert low - 1 / 400 <= q <= high + 1 / 400
    assert column.quantiles([0.0, 1.0]) == [data.min(), data.max()]

    points = [-1e9, data.min(), 40.0, 50.05, 63.3, data.max(), 1e9]
    assert column.cdf(points) == pytest.approx([np.mean(data <= p) for p in points])
    assert column.cdf(points, strict=True) == pytest.approx([np.mean(data < p) for p in points])
    # Unsorted and repeated points come back in the order asked.
    assert column.cdf([63.3, 40.0, 63.3]) == pytest.approx(
        [np.mean(data <= p) for p in (63.3, 40, 63.3)]
    )

    edges, counts = column.histogram(12)
    expected, expected_edges = np.histogram(data, bins=12, range=(data.min(), data.max()))
    assert edges == pytest.approx(expected_edges.tolist())
    assert counts == expected.tolist()


def test_histogram_counts_sum_to_the_values_when_the_sketch_estimates() -> None:
    data = np.random.default_rng(1).exponential(2.0, 50_000)
    column = profile_table(pa.table({"x": data}))["x"]
    edges, counts = column.histogram(20)
    assert len(edges) == 21 and len(counts) == 20 and sum(counts) == 50_000
    exact, _ = np.histogram(data, bins=edges)
    tolerance = 2 * column.rank_error * 50_000
    assert np.all(np.abs(np.cumsum(counts) - np.cumsum(exact)) <= tolerance)


def test_a_constant_column_has_one_bin() -> None:
    column = profile_table(pa.table({"x": [4, 4, 4]}))["x"]
    assert column.histogram() == ([4.0, 4.0], [3])
    assert column.variance == 0.0 and column.distinct_estimate == 1


def test_temporal_columns_are_numbers_in_their_unit() -> None:
    stamps = [dt.datetime(2024, 1, 1, tzinfo=dt.UTC), None, dt.datetime(2024, 1, 2, tzinfo=dt.UTC)]
    table = pa.table(
        {
            "ts": pa.array(stamps, pa.timestamp("s", tz="UTC")),
            "day": pa.array([dt.date(1970, 1, 2), dt.date(1970, 1, 11), None], pa.date32()),
            "wait": pa.array([5, 10, 15], pa.duration("ms")),
        }
    )
    profile = profile_table(table)
    ts = profile["ts"]
    assert (ts.kind, ts.arrow_type) == ("temporal", "timestamp[s, tz=UTC]")
    assert (ts.min, ts.max, ts.n_null) == (1_704_067_200, 1_704_153_600, 1)
    assert (profile["day"].min, profile["day"].max) == (1, 10)
    assert profile["wait"].mean == pytest.approx(10.0)
    assert profile["wait"].quantile(0.5) == 10.0


def test_all_null_columns_have_counts_and_no_values() -> None:
    table = pa.table(
        {
            "f": pa.array([None, None, None], pa.float64()),
            "s": pa.array([None, None, None], pa.string()),
            "b": pa.array([None, None, None], pa.bool_()),
            "n": pa.nulls(3),
        }
    )
    profile = profile_table(table)
    f = profile["f"]
    assert (f.n_null, f.n_values, f.min, f.mean, f.variance) == (3, 0, None, None, None)
    assert math.isnan(f.quantile(0.5)) and math.isnan(f.cdf([1.0])[0])
    assert f.histogram() == ([], []) and f.distinct_estimate == 0 and f.rank_error == 0.0
    assert (profile["s"].n_null, profile["s"].top(), profile["s"].distinct_estimate) == (3, [], 0)
    assert (profile["b"].n_null, profile["b"].top()) == (3, [])
    assert (profile["n"].kind, profile["n"].n_null, profile["n"].distinct_estimate) == (
        "other",
        3,
        None,
    )
    summary = strict_json(profile.summary())
    assert (
        summary["columns"][0]["p50"] is None and summary["columns"][0]["histogram"]["counts"] == []
    )


# ---------------------------------------------------------------------- categories ---


def test_strings_count_exactly_like_pandas() -> None:
    raw = ["b", "a", None, "c", "a", "b", "a", "", None, "ü"]
    column = profile_table(pa.table({"s": pa.array(raw)}))["s"]
    expected = pd.Series(raw).value_counts(dropna=True)
    assert column.kind == "categorical" and column.n_null == 2
    assert dict(column.top(100)) == expected.to_dict()
    # Most frequent first; ties by value.
    assert column.top(3) == [("a", 3), ("b", 2), ("", 1)]
    assert column.distinct_estimate == 5 and column.counts_exact


@pytest.mark.parametrize("string_type", [pa.large_string(), pa.string_view()])
def test_other_string_types_are_categorical(string_type: pa.DataType) -> None:
    column = profile_table(pa.table({"s": pa.array(["x", "y", "x", None], string_type)}))["s"]
    assert column.kind == "categorical" and column.top() == [("x", 2), ("y", 1)]


def test_dictionary_arrays_count_through_their_indices() -> None:
    # A dictionary with a repeated value, an unused entry and a null entry.
    dictionary = pa.array(["red", "blue", "red", "unused", None])
    indices = pa.array([0, 1, 2, None, 4, 1, 0], pa.int32())
    array = pa.DictionaryArray.from_arrays(indices, dictionary)
    column = profile_table(pa.table({"c": array}))["c"]
    assert column.kind == "categorical"
    assert column.n_null == 2  # a null index and an index to the null entry
    assert column.top() == [("red", 3), ("blue", 2)]
    assert column.distinct_estimate == 2


def test_integer_dictionaries_keep_their_values_as_strings() -> None:
    array = pa.array([3, 1, 3, 3]).dictionary_encode()
    column = profile_table(pa.table({"c": array}))["c"]
    assert column.top() == [("3", 3), ("1", 1)]


def test_booleans_count_true_and_false() -> None:
    column = profile_table(pa.table({"b": [True, False, None, True, True]}))["b"]
    assert (column.kind, column.n_null) == ("boolean", 1)
    assert column.top() == [(True, 3), (False, 1)]
    assert column.distinct_estimate == 2 and column.distinct_exact


def test_categories_beyond_the_cap_degrade_with_the_stated_bound() -> None:
    rng = np.random.default_rng(5)
    heavy = ["alpha"] * 3000 + ["beta"] * 2000 + ["gamma"] * 1200
    tail = [f"rare{i}" for i in rng.integers(0, 400, 4000)]
    data = np.array(heavy + tail, dtype=object)
    rng.shuffle(data)
    truth = pd.Series(data).value_counts().to_dict()
    profiler = Profiler(max_categories=20)
    for part in np.array_split(data, 9):  # degraded summaries merging batch by batch
        profiler.update(pa.table({"s": pa.array(part.tolist())}))
    column = profiler.result()["s"]

    assert not column.counts_exact and column.count_error > 0
    assert len(column.values) <= 20
    listed = dict(column.top(100))
    for value, count in listed.items():
        assert count <= truth[value] <= count + column.count_error
    for value, count in truth.items():
        if value not in listed:
            assert count <= column.count_error
    # Misra-Gries: the error never exceeds (n - kept) / (capacity + 1).
    assert column.count_error <= (len(data) - sum(column.counts)) / 21
    assert [v for v, _ in column.top(3)] == ["alpha", "beta", "gamma"]
    # Past the cap, distinct values come from the KMV sketch (exact below distinct_k).
    assert column.distinct_estimate == len(truth) and column.distinct_exact


def test_merging_two_degraded_summaries_keeps_the_bound() -> None:
    def counts(seed: int) -> list[str]:
        rng = np.random.default_rng(seed)
        return [f"v{i}" for i in rng.zipf(1.6, 5000) % 300]

    left, right = counts(1), counts(2)
    a = profile_table(pa.table({"s": left}), max_categories=15)["s"]
    b = profile_table(pa.table({"s": right}), max_categories=15)["s"]
    merged = a.merge(b)
    truth = pd.Series(left + right).value_counts().to_dict()
    for value, count in merged.top(100):
        assert count <= truth[value] <= count + merged.count_error
    assert max(truth.values()) - merged.count_error <= merged.counts[0]
    assert merged.count_error <= (len(left) + len(right) - sum(merged.counts)) / 16


# --------------------------------------------------------------------------- merges ---


def mixed_table(n: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    floats = rng.normal(3, 2, n)
    floats[rng.random(n) < 0.1] = np.nan
    return pa.table(
        {
            "f": pa.array(floats, mask=rng.random(n) < 0.05),
            "i": pa.array(rng.integers(-50, 50, n), mask=rng.random(n) < 0.05),
            "s": pa.array(rng.choice(["a", "b", "c", "d"], n).tolist(), pa.string()),
            "b": pa.array(rng.random(n) < 0.3),
        }
    )


def assert_same_statistics(a: TableProfile, b: TableProfile, *, exact: bool = True) -> None:
    """Equal counts, extremes, categories and distinct sketches; moments within 1e-9;
    quantiles equal (``exact``) or within both sketches' rank errors."""
    assert a.n_rows == b.n_rows and a.names == b.names
    for x, y in zip(a, b, strict=True):
        assert (x.kind, x.n_rows, x.n_null, x.n_nan) == (y.kind, y.n_rows, y.n_null, y.n_nan)
        assert (x.min, x.max, x.values, x.counts) == (y.min, y.max, y.values, y.counts)
        assert x.distinct_sketch == y.distinct_sketch
        if x.mean is not None:
            assert y.mean == pytest.approx(x.mean, rel=1e-9)
            assert y.m2 == pytest.approx(x.m2, rel=1e-9)
        if x.quantile_sketch is not None and x.n_values:
            if exact:
                assert x.quantiles([0.1, 0.5, 0.9]) == y.quantiles([0.1, 0.5, 0.9])
            else:
                gaps = np.subtract(y.cdf(x.quantiles([0.1, 0.5, 0.9])), [0.1, 0.5, 0.9])
                assert np.all(np.abs(gaps) <= x.rank_error + y.rank_error)


# KLL sketches with k=1000 keep every value of these tables, so their quantiles agree exactly
# (the property tests check merged estimates against the stated error).
EXACT = {"k": 1000}


def test_batches_merge_into_the_profile_of_the_whole() -> None:
    table = mixed_table(500, seed=3)
    whole = profile_table(table, **EXACT)
    profiler = Profiler(**EXACT)
    for batch in table.to_batches(max_chunksize=37):
        profiler.update(batch)
    assert_same_statistics(whole, profiler.result())
    halves = profile_table(table.slice(0, 200), **EXACT).merge(
        profile_table(table.slice(200), **EXACT)
    )
    assert_same_statistics(whole, halves)


def test_merge_is_associative() -> None:
    a, b, c = (
        profile_table(mixed_table(n, seed), **EXACT) for n, seed in ((100, 1), (7, 2), (250, 3))
    )
    assert_same_statistics(a.merge(b).merge(c), a.merge(b.merge(c)))
    empty = profile_table(mixed_table(0, 4), **EXACT)
    assert_same_statistics(a.merge(b), b.merge(a).merge(empty))


def test_empty_and_one_row_batches() -> None:
    table = mixed_table(40, seed=9)
    profiler = Profiler()
    profiler.update(table.slice(0, 0))
    empty = profiler.result()
    assert empty.n_rows == 0 and empty.names == ["f", "i", "s", "b"]
    assert all(c.n_rows == 0 and c.n_values == 0 for c in empty)
    profiler.update(table.slice(0, 1))
    for offset in range(1, 40):
        profiler.update(table.slice(offset, 1))
    assert_same_statistics(profile_table(table), profiler.result())
    assert_same_statistics(profile_table(table), empty.merge(profile_table(table)))


def test_a_schema_given_up_front_profiles_no_rows() -> None:
    schema = pa.schema({"x": pa.int32(), "y": pa.string()})
    profile = Profiler(schema).result()
    assert profile.n_rows == 0 and [c.kind for c in profile] == ["numeric", "categorical"]
    assert TableProfile.from_dict(strict_json(profile.to_dict())) == profile
    assert Profiler().result() == TableProfile(n_rows=0)


def test_profile_table_takes_tables_batches_and_readers() -> None:
    table = mixed_table(120, seed=11)
    batches = table.to_batches(max_chunksize=50)
    reader = pa.RecordBatchReader.from_batches(table.schema, batches)
    for data in (table, table.combine_chunks().to_batches()[0], iter(batches), reader):
        assert profile_table(data).n_rows == 120


def test_chunked_table_columns_are_all_profiled() -> None:
    table = pa.concat_tables([mixed_table(30, 1), mixed_table(45, 2)])
    assert table.column("f").num_chunks == 2
    assert_same_statistics(profile_table(table), profile_table(table.combine_chunks()))


def test_merging_different_kinds_or_columns_is_refused() -> None:
    numbers = profile_table(pa.table({"x": [1.0, 2.0]}))["x"]
    strings = profile_table(pa.table({"x": ["a"]}))["x"]
    with pytest.raises(
        InvalidValueError, match=r"column 'x' \(numeric\).*column 'x' \(categorical\)"
    ):
        numbers.merge(strings)
    other = profile_table(pa.table({"y": [1.0]}))["y"]
    with pytest.raises(InvalidValueError, match="'x'.*'y'"):
        numbers.merge(other)
    with pytest.raises(
        InvalidValueError, match=r"only in the first \['x'\], only in the second \['y'\]"
    ):
        profile_table(pa.table({"x": [1.0]})).merge(profile_table(pa.table({"y": [1.0]})))


# -------------------------------------------------------------------------- JSON ------


def test_to_dict_round_trips_through_strict_json() -> None:
    table = mixed_table(3000, seed=21).append_column(
        "t", pa.array(np.arange(3000).astype("datetime64[ms]"))
    )
    profile = profile_table(table, max_categories=3)
    data = strict_json(profile.to_dict())
    assert data["format"] == 1 and data["columns"][0]["format"] == 1
    restored = TableProfile.from_dict(data)
    assert restored == profile
    assert restored.to_dict() == profile.to_dict()
    assert restored["f"].quantiles([0.25, 0.75]) == profile["f"].quantiles([0.25, 0.75])
    # A profile read back merges like the original.
    assert_same_statistics(restored.merge(profile), profile.merge(profile), exact=False)


def test_a_profile_is_compact() -> None:
    profile = profile_table(mixed_table(100_000, seed=2))
    size = len(json.dumps(profile.to_dict()))
    # Two sketched numeric columns (~5 KB KLL + 8 KB KMV each, base64) and two small ones.
    assert size < 40_000


def column_dict() -> dict[str, Any]:
    return profile_table(pa.table({"x": [1.0, 2.0, None]}))["x"].to_dict()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("n_rows"), r"profile of column 'x' has no 'n_rows' field"),
        (lambda d: d.update(format=2), "has format 2; this conveyor reads formats 1 to 1"),
        (lambda d: d.update(format="1"), "field 'format' must be int"),
        (lambda d: d.update(kind="numerc"), "Did you mean 'numeric'"),
        (lambda d: d.update(n_rows=-1), "'n_rows' must be >= 0"),
        (lambda d: d.update(n_null=True), "'n_null' must be int"),
        (lambda d: d.update(n_null=5), r"more nulls and NaNs \(5\) than rows \(3\)"),
        (lambda d: d["numbers"].update(sketch="***"), "numbers.sketch is not valid base64"),
        (lambda d: d["numbers"].update(sketch="AAAA"), "not a serialized KLL doubles sketch"),
        (lambda d: d["numbers"].update(min="big"), "numbers.min must be a number"),
        (lambda d: d.update(n_rows=4), "quantile sketch of 2 values but counts 3 values"),
        (lambda d: d["distinct"].update(hashes="AAAA"), "must hold 8-byte hashes"),
        (lambda d: d["distinct"].update(k=1), "keeps more than k=1 distinct hashes"),
        (lambda d: d.pop("numbers"), "has no 'numbers' field"),
    ],
)
def test_from_dict_says_what_is_wrong(change: Any, message: str) -> None:
    data = column_dict()
    change(data)
    with pytest.raises(InvalidValueError, match=message):
        ColumnProfile.from_dict(data)


def test_from_dict_checks_categories_and_tables() -> None:
    data = profile_table(pa.table({"s": ["a", "b", "a"]}))["s"].to_dict()
    data["categories"]["counts"] = [2]
    with pytest.raises(InvalidValueError, match="as many category values"):
        ColumnProfile.from_dict(data)
    with pytest.raises(InvalidValueError, match="must be a dict from to_dict"):
        TableProfile.from_dict([])  # type: ignore[arg-type]
    table = profile_table(pa.table({"x": [1, 2]})).to_dict()
    table["n_rows"] = 3
    with pytest.raises(InvalidValueError, match="counts 2 rows; the table counts 3"):
        TableProfile.from_dict(table)
    table["n_rows"] = 2
    table["columns"] = table["columns"] * 2
    with pytest.raises(InvalidValueError, match="names a column twice"):
        TableProfile.from_dict(table)


# --------------------------------------------------------------- errors and views ------


def test_profiler_refuses_a_batch_of_another_schema() -> None:
    profiler = Profiler()
    profiler.update(pa.table({"a": [1, 2], "b": ["x", "y"]}))
    with pytest.raises(InvalidValueError, match=r"Column 'a' of a batch has type double.*int64"):
        profiler.update(pa.table({"a": [1.0], "b": ["x"]}))
    with pytest.raises(
        InvalidValueError, match="has column 'c' where the profile's schema has 'b'"
    ):
        profiler.update(pa.table({"a": [1], "c": ["x"]}))
    with pytest.raises(InvalidValueError, match="no column 'b'"):
        profiler.update(pa.table({"a": [1]}))
    with pytest.raises(InvalidValueError, match=r"columns \['z'\] that the profile's schema"):
        profiler.update(pa.table({"a": [1], "b": ["x"], "z": [0]}))
    with pytest.raises(InvalidValueError, match="RecordBatch or Table. Got list"):
        profiler.update([1, 2])  # type: ignore[arg-type]
    assert profiler.result().n_rows == 2  # refused batches left no trace


@pytest.mark.parametrize(
    ("option", "value"),
    [("k", 4), ("max_categories", 0), ("distinct_k", 8), ("quantile_sample", 0), ("k", True)],
)
def test_profiler_options_are_checked(option: str, value: Any) -> None:
    with pytest.raises(InvalidValueError, match=f"option '{option}' must be an integer"):
        Profiler(**{option: value})


def test_views_refuse_what_a_column_cannot_answer() -> None:
    profile = profile_table(pa.table({"s": ["a"], "x": [1.0]}))
    with pytest.raises(InvalidValueError, match="Column 's' is categorical .* no quantiles"):
        profile["s"].quantile(0.5)
    with pytest.raises(
        InvalidValueError, match=r"'s' is categorical \(string\): it has no histogram"
    ):
        profile["s"].histogram()
    with pytest.raises(InvalidValueError, match="it has no CDF; only numeric and temporal"):
        profile["s"].cdf([1.0])
    with pytest.raises(InvalidValueError, match=r"must be in \[0, 1\]. Got 1.5"):
        profile["x"].quantile(1.5)
    with pytest.raises(InvalidValueError, match="n_bins >= 1"):
        profile["x"].histogram(0)
    with pytest.raises(InvalidValueError, match="must not be NaN"):
        profile["x"].cdf([math.nan])
    with pytest.raises(NotFoundError, match="no column 'z'.*Did you mean"):
        profile_table(pa.table({"zz": [1]}))["z"]
    assert "x" in profile and "q" not in profile


def test_summary_is_compact_json_for_display() -> None:
    rng = np.random.default_rng(0)
    n = 2000
    table = pa.table(
        {
            "x": rng.normal(10, 3, n),
            "c": rng.choice([f"k{i}" for i in range(15)], n).tolist(),
            "b": rng.random(n) < 0.5,
        }
    )
    profile = profile_table(table)
    summary = strict_json(profile.summary())
    x, c, b = summary["columns"]
    assert summary["n_rows"] == n
    assert set(x) >= {"min", "p5", "p25", "p50", "p75", "p95", "max", "mean", "std", "histogram"}
    assert x["p50"] == profile["x"].quantile(0.5) and x["std"] == profile["x"].std
    assert sum(x["histogram"]["counts"]) == n and len(x["histogram"]["edges"]) == 21
    assert len(c["top"]) == 10 and c["top"][0] == list(profile["c"].top(1)[0]) and c["top_exact"]
    assert c["distinct"] == 15 and b["kind"] == "boolean" and len(b["top"]) == 2
    assert "p50" not in c


def test_importing_conveyor_data_loads_no_heavy_library() -> None:
    code = (
        "import sys, conveyor.data\n"
        "print(','.join(m for m in ('numpy', 'pyarrow', 'pandas', 'datasketches') "
        "if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
