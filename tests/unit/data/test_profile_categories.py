"""Categorical columns: any text, dictionaries that change between batches, and columns
with far more distinct values than the cap."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conveyor.core import InvalidValueError
from conveyor.data import ColumnProfile, Profiler, profile_table

texts = st.lists(st.one_of(st.none(), st.text(max_size=12)), max_size=300)


@given(left=texts, right=texts)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_text_counts_exactly_and_round_trips(
    left: list[str | None], right: list[str | None]
) -> None:
    merged = profile_table(pa.table({"s": pa.array(left, pa.string())}))["s"].merge(
        profile_table(pa.table({"s": pa.array(right, pa.string())}))["s"]
    )
    values = [v for v in left + right if v is not None]
    truth = Counter(values)
    assert merged.n_null == len(left) + len(right) - len(values)
    assert dict(merged.top(10_000)) == dict(truth)
    # Exact here, and the KMV sketch agrees: distinct strings never share a hash.
    assert merged.distinct_estimate == len(truth)
    assert len(merged.distinct_sketch or b"") == 8 * len(truth)
    restored = ColumnProfile.from_dict(json.loads(json.dumps(merged.to_dict())))
    assert restored == merged


def test_dictionaries_may_change_from_batch_to_batch() -> None:
    dtype = pa.dictionary(pa.int32(), pa.string())
    first = pa.DictionaryArray.from_arrays(pa.array([0, 1, 1], pa.int32()), pa.array(["a", "b"]))
    second = pa.DictionaryArray.from_arrays(
        pa.array([0, 0, 2, None], pa.int32()), pa.array(["b", "z", "a"])
    )
    schema = pa.schema({"c": dtype})
    profiler = Profiler(schema)
    profiler.update(pa.record_batch([first], schema=schema))
    profiler.update(pa.record_batch([second], schema=schema))
    column = profiler.result()["c"]
    assert column.top() == [("b", 4), ("a", 2)] and column.n_null == 1
    # A chunked column whose chunks carry different dictionaries profiles the same.
    table = pa.Table.from_batches(
        [pa.record_batch([first], schema=schema), pa.record_batch([second], schema=schema)]
    )
    assert profile_table(table)["c"].top() == column.top()


def test_a_plain_string_batch_after_dictionary_ones_is_refused() -> None:
    profiler = Profiler()
    profiler.update(pa.table({"c": pa.array(["a"]).dictionary_encode()}))
    with pytest.raises(InvalidValueError, match="has type string; the profile's schema has dict"):
        profiler.update(pa.table({"c": pa.array(["a"])}))


def test_a_given_schema_is_enforced_from_the_first_batch() -> None:
    profiler = Profiler(pa.schema({"x": pa.int64()}))
    with pytest.raises(InvalidValueError, match="Column 'x' of a batch has type int32"):
        profiler.update(pa.table({"x": pa.array([1], pa.int32())}))


def test_high_cardinality_strings_stay_bounded() -> None:
    rng = np.random.default_rng(17)
    ids = [f"user-{i}" for i in rng.permutation(200_000)]
    hot = ["admin"] * 20_000
    data = ids + hot
    profiler = Profiler(max_categories=100)
    for start in range(0, len(data), 50_000):
        profiler.update(pa.table({"s": data[start : start + 50_000]}))
    column = profiler.result()["s"]
    assert len(column.values) <= 100 and not column.counts_exact
    # The one heavy hitter survives with a count within the error bound.
    assert column.top(1)[0][0] == "admin"
    assert column.top(1)[0][1] <= 20_000 <= column.top(1)[0][1] + column.count_error
    estimate = column.distinct_estimate or 0
    assert not column.distinct_exact
    assert abs(estimate - 200_001) <= 5 * column.distinct_error * 200_001
    assert len(json.dumps(column.to_dict())) < 20_000


def test_empty_strings_and_whitespace_are_categories() -> None:
    column = profile_table(pa.table({"s": ["", " ", "", "\t", None]}))["s"]
    assert column.top() == [("", 2), ("\t", 1), (" ", 1)]
    assert column.distinct_estimate == 3


def test_boolean_profiles_merge_and_round_trip() -> None:
    a = profile_table(pa.table({"b": [True, True, None]}))["b"]
    b = profile_table(pa.table({"b": [False, None, None]}))["b"]
    merged = a.merge(b)
    assert merged.top() == [(True, 2), (False, 1)] and merged.n_null == 3
    assert ColumnProfile.from_dict(json.loads(json.dumps(merged.to_dict()))) == merged
    data = merged.to_dict()
    data["categories"]["values"] = ["True", "False"]
    with pytest.raises(InvalidValueError, match=r"category values \(bool\)"):
        ColumnProfile.from_dict(data)
