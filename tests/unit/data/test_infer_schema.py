"""Schema inference: known data gives the expected YAML, in one streaming pass over any input."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from conveyor.core import InvalidNameError, InvalidValueError
from conveyor.data import DataSchema, infer_schema, load_schema, save_schema, validate_data
from conveyor.data._infer import MAX_CATEGORIES


def flights(n: int = 200) -> pd.DataFrame:
    """Reference data whose every inferred rule is known in advance."""
    rng = np.random.default_rng(7)
    delay = rng.uniform(-30, 300, n).round(1)
    delay[[0, 1]] = [-60.0, 1500.0]
    delay[5::20] = np.nan
    return pd.DataFrame(
        {
            "dep_delay": delay,
            "carrier": pd.Series(np.array(["AA", "DL", "UA"])[np.arange(n) % 3], dtype="str"),
            "flight_id": np.arange(1000, 1000 + n, dtype=np.int64),
            "seats": pd.array([None if i % 50 == 0 else 100 + i % 7 for i in range(n)], "Int16"),
            "origin": pd.Categorical(np.array(["JFK", "LAX"])[np.arange(n) % 2]),
            "tail": [f"N{i:04d}" for i in range(n)],
            "cancelled": np.arange(n) % 10 == 0,
            "departed": pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC", unit="us"),
            "day": [datetime.date(2024, 1, 1 + i % 28) for i in range(n)],
        }
    )


EXPECTED = """\
# inferred
dataset: flights
default_severity: {min: warning, max: warning, categories: warning}
rows: {min: 1}
extra_columns: warn
columns:
  dep_delay: {type: float64, nullable: true, min: -60.0, max: 1500.0}
  carrier: {type: string, nullable: false, categories: [AA, DL, UA]}
  flight_id: {type: int64, nullable: false, min: 1000, max: 1199, unique: true}
  seats: {type: int16, nullable: true, min: 100, max: 106}
  origin: {type: string, nullable: false, categories: [JFK, LAX]}
  tail: {type: string, nullable: false, unique: true}
  cancelled: {type: bool, nullable: false}
  departed: {type: 'timestamp[us, UTC]', nullable: false}
  day: {type: date, nullable: false}
"""


def test_known_data_gives_the_expected_schema_file(tmp_path: Path) -> None:
    schema = infer_schema(flights(), dataset="flights")
    path = save_schema(schema, tmp_path / "flights.yaml", header_comment="inferred")
    assert path.read_text() == EXPECTED
    assert load_schema(path) == schema


def test_ranges_and_categories_warn_the_rest_are_errors() -> None:
    schema = infer_schema(flights())
    assert schema.severity("dep_delay", "min") == "warning"
    assert schema.severity("carrier", "categories") == "warning"
    for rule in ("type", "required", "nullable", "unique"):
        assert schema.severity("flight_id", rule) == "error"
    assert schema.rows.severity_of("min") == "error"


def test_the_reference_passes_its_own_schema_with_nothing_to_report() -> None:
    data = flights()
    report = validate_data(data, infer_schema(data))
    assert report.passed and report.violations == () and report.n_rows == len(data)


def test_every_input_kind_gives_the_same_schema() -> None:
    data = flights()
    table = pa.Table.from_pandas(data, preserve_index=False)
    small = table.to_batches(max_chunksize=7)  # ranges, categories, uniqueness across batches
    expected = infer_schema(data)
    assert infer_schema(table) == expected
    assert infer_schema(iter(small)) == expected
    assert infer_schema(pa.RecordBatchReader.from_batches(table.schema, small)) == expected
    assert infer_schema(data.iloc[i : i + 13] for i in range(0, len(data), 13)) == expected


def test_a_repeat_in_a_later_batch_means_not_unique() -> None:
    batches = [pa.record_batch({"id": [1, 2, 3]}), pa.record_batch({"id": [4, 2]})]
    assert infer_schema(batches).columns["id"].unique is None
    batches = [pa.record_batch({"id": [1, 2, 3]}), pa.record_batch({"id": [4, 5]})]
    assert infer_schema(batches).columns["id"].unique is not None


def test_unique_needs_two_values_and_ignores_nulls() -> None:
    assert infer_schema(pa.table({"one": [7]})).columns["one"].unique is None
    assert infer_schema(pa.table({"two": [7, None, None]})).columns["two"].unique is None
    sparse = infer_schema(pa.table({"sparse": pa.array([1, None, 2, None])})).columns["sparse"]
    assert sparse.unique is not None


def test_floats_are_never_unique_and_floats_get_ranges() -> None:
    spec = infer_schema(pa.table({"x": [0.5, 1.5, 2.5]})).columns["x"]
    assert spec.unique is None and spec.min is not None and spec.min.value == 0.5


def test_categories_stop_at_fifty_values() -> None:
    def column(n_distinct: int) -> pa.Table:
        return pa.table({"c": [f"v{i % n_distinct}" for i in range(4 * n_distinct)]})

    at_limit = infer_schema(column(MAX_CATEGORIES)).columns["c"].categories
    assert at_limit is not None and len(at_limit.value) == MAX_CATEGORIES
    assert infer_schema(column(MAX_CATEGORIES + 1)).columns["c"].categories is None


def test_categories_need_fewer_values_than_half_the_rows() -> None:
    # 3 distinct in 6 values is half: names, not categories; in 7 values it is fewer.
    assert infer_schema(pa.table({"c": list("abcabc")})).columns["c"].categories is None
    spec = infer_schema(pa.table({"c": list("abcabca")})).columns["c"]
    assert spec.categories is not None and spec.categories.value == ("a", "b", "c")


def test_categories_ignore_nulls_and_span_batches() -> None:
    batches = [pa.record_batch({"c": ["b", None, "b", "b"]}), pa.record_batch({"c": ["a"] * 4})]
    spec = infer_schema(batches).columns["c"]
    assert spec.categories is not None and spec.categories.value == ("a", "b")
    assert spec.nullable is not None and spec.nullable.value is True


def test_nan_counts_as_null() -> None:
    spec = infer_schema(pa.table({"x": [1.0, float("nan"), 3.0]})).columns["x"]
    assert spec.nullable is not None and spec.nullable.value is True
    assert spec.min is not None and spec.max is not None
    assert (spec.min.value, spec.max.value) == (1.0, 3.0)


def test_a_column_missing_from_some_batches_is_not_required() -> None:
    batches = [pa.record_batch({"a": [1], "b": [2]}), pa.record_batch({"a": [3]})]
    schema = infer_schema(batches)
    assert schema.columns["a"].is_required and not schema.columns["b"].is_required


def test_columns_without_a_logical_type_get_presence_and_nullability_only() -> None:
    table = pa.table(
        {
            "tags": pa.array([["a"], None, ["b", "c"]]),
            "empty": pa.nulls(3),
            "mixed": pa.array([1, 2, 3]),
        }
    )
    batches = [
        *table.to_batches(),
        pa.record_batch({"tags": [["d"]], "empty": [None], "mixed": ["x"]}),
    ]
    schema = infer_schema(batches)
    for name in ("tags", "empty", "mixed"):
        spec = schema.columns[name]
        assert spec.type is None and spec.min is None and spec.unique is None
        assert spec.is_required
    assert schema.columns["tags"].nullable is not None and schema.columns["tags"].nullable.value


def test_a_pandas_column_of_mixed_objects_gets_no_type() -> None:
    frame = pd.DataFrame({"mixed": [1, "two", None, 4.5], "ok": [1, 2, 3, 4]})
    schema = infer_schema(frame)
    mixed = schema.columns["mixed"]
    assert mixed.type is None and mixed.nullable is not None and mixed.nullable.value
    assert schema.columns["ok"].logical_type == "int64"


def test_a_type_that_changes_between_batches_is_left_open() -> None:
    batches = [pa.record_batch({"x": [1, 2]}), pa.record_batch({"x": [1.5, 2.5]})]
    spec = infer_schema(batches).columns["x"]
    assert spec.type is None and spec.min is None


def test_all_null_batches_do_not_decide_the_type() -> None:
    batches = [pa.record_batch({"x": pa.nulls(2)}), pa.record_batch({"x": [5, 9]})]
    spec = infer_schema(batches).columns["x"]
    assert spec.logical_type == "int64"
    assert spec.min is not None and spec.min.value == 5
    assert spec.nullable is not None and spec.nullable.value is True


@pytest.mark.parametrize("kind", ["int8", "uint32", "float32", "date", "timestamp[ns]"])
def test_arrow_types_map_to_logical_types(kind: str) -> None:
    arrow = {
        "int8": pa.int8(),
        "uint32": pa.uint32(),
        "float32": pa.float32(),
        "date": pa.date64(),  # canonical: date32
        "timestamp[ns]": pa.timestamp("ns"),
    }[kind]
    table = pa.table({"x": pa.array([0, 1], type=pa.int64()).cast(arrow)})
    assert infer_schema(table).columns["x"].logical_type == kind


def test_dictionary_and_large_string_columns_are_strings() -> None:
    table = pa.table(
        {
            "d": pa.array(["a", "b", "a", "a", "b"]).dictionary_encode(),
            "l": pa.array(["x", "y", "x", "x", "y"], type=pa.large_string()),
        }
    )
    schema = infer_schema(table)
    assert schema.columns["d"].logical_type == "string"
    assert schema.columns["l"].logical_type == "string"


def test_an_empty_table_gives_its_columns() -> None:
    schema = infer_schema(pa.table({"a": pa.array([], pa.int64())}))
    assert schema.columns["a"].logical_type == "int64" and schema.columns["a"].min is None


def test_inference_and_a_bad_dataset_name() -> None:
    with pytest.raises(InvalidNameError, match="dataset name"):
        infer_schema(pa.table({"a": [1]}), dataset="my flights")


@pytest.mark.parametrize("data", [[1, 2, 3], "a,b\n1,2", {"a": [1]}, 42])
def test_other_kinds_of_data_are_refused(data: object) -> None:
    with pytest.raises(InvalidValueError, match="pyarrow Table"):
        infer_schema(data)


def test_two_columns_with_one_name_are_refused() -> None:
    frame = pd.DataFrame([[1, 2]], columns=["a", "a"])
    with pytest.raises(InvalidValueError, match="two columns named 'a'"):
        infer_schema(frame)


def stream(n_batches: int) -> Iterator[pa.RecordBatch]:
    for i in range(n_batches):
        yield pa.record_batch({"id": np.arange(i * 100, (i + 1) * 100)})


def test_a_generator_is_read_once_in_order() -> None:
    spec = infer_schema(stream(30)).columns["id"]
    assert spec.unique is not None and spec.min is not None and spec.max is not None
    assert (spec.min.value, spec.max.value) == (0, 2999)


def test_the_inferred_schema_is_a_data_schema() -> None:
    assert isinstance(infer_schema(pa.table({"a": [1]})), DataSchema)
