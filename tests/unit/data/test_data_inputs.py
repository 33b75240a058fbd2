"""Canonical batches: every accepted input read in bounded batches, one Arrow type per logical
type, row positions counted across the whole data."""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.core import InvalidValueError
from conveyor.data._canonical import (
    Batch,
    arrow_type,
    canonical_array,
    canonical_batches,
    describe_type,
    logical_type,
)
from conveyor.data._schema import PLAIN_TYPES


def read(data: object, rows: int = 4, **expected: pa.DataType) -> list[Batch]:
    return list(canonical_batches(data, rows=rows, expected=expected))


def sizes(batches: list[Batch]) -> list[int]:
    return [b.n_rows for b in batches]


def test_small_batches_are_joined_up_to_the_limit_and_large_ones_split() -> None:
    small = [pa.record_batch({"a": [i]}) for i in range(10)]
    assert sizes(read(small)) == [4, 4, 2]
    assert sizes(read(pa.record_batch({"a": range(10)}))) == [4, 4, 2]
    mixed_sizes = [
        pa.record_batch({"a": pa.array(range(n), pa.int64())}) for n in (3, 3, 9, 1, 0, 3)
    ]
    batches = read(mixed_sizes)
    assert sizes(batches) == [4, 4, 4, 4, 3]
    values = [v for b in batches for v in b.arrow.column("a").to_pylist()]
    assert values == [*range(3), *range(3), *range(9), 0, *range(3)]


def test_offsets_count_rows_across_batches() -> None:
    batches = read(pa.table({"a": range(10)}), rows=3)
    assert [b.offset for b in batches] == [0, 3, 6, 9]
    frames = read(pd.DataFrame({"a": range(10)}, index=range(100, 110)), rows=3)
    assert [b.offset for b in frames] == [0, 3, 6, 9]


def test_a_change_of_schema_starts_a_new_batch() -> None:
    parts = [pa.record_batch({"a": [1]}), pa.record_batch({"a": [2]}), pa.record_batch({"b": [3]})]
    batches = read(parts)
    assert [b.names for b in batches] == [("a",), ("b",)]
    assert sizes(batches) == [2, 1]


def test_dataframes_in_a_stream_are_sliced_not_joined() -> None:
    def stream() -> Iterator[object]:
        yield pa.record_batch({"a": [1, 2]})
        yield pd.DataFrame({"a": range(5)})
        yield pa.table({"a": [9]})

    batches = read(stream(), rows=2)
    assert sizes(batches) == [2, 2, 2, 1, 1]
    assert [b.offset for b in batches] == [0, 2, 4, 6, 7]


def test_empty_tables_and_frames_still_show_their_columns() -> None:
    for data in (
        pa.table({"a": pa.array([], pa.int64())}),
        pd.DataFrame({"a": pd.Series([], dtype="int64")}),
        [pa.record_batch({"a": pa.array([], pa.int64())})],
    ):
        (batch,) = read(data)
        assert batch.names == ("a",) and batch.n_rows == 0
        assert batch.arrow.schema.field("a").type == pa.int64()
    assert read(iter([])) == []


def test_canonical_types() -> None:
    table = pa.table(
        {
            "dict": pa.array(["a", None, "b"]).dictionary_encode(),
            "large": pa.array(["a", "b", None], pa.large_string()),
            "date64": pa.array([datetime.date(2024, 1, d) for d in (1, 2, 3)], pa.date64()),
            "nan": pa.array([1.0, float("nan"), None]),
            "f32": pa.array([float("nan"), 1.0, 2.0], pa.float32()),
        }
    )
    (batch,) = read(table)
    arrow = batch.arrow
    assert arrow.schema.field("dict").type == pa.string()
    assert arrow.column("dict").to_pylist() == ["a", None, "b"]
    assert arrow.schema.field("large").type == pa.string()
    assert arrow.schema.field("date64").type == pa.date32()
    assert arrow.column("date64").to_pylist()[2] == datetime.date(2024, 1, 3)
    assert arrow.column("nan").to_pylist() == [1.0, None, None]
    assert arrow.column("f32").null_count == 1 and arrow.schema.field("f32").type == pa.float32()


def test_all_null_columns_take_the_expected_type_only() -> None:
    (batch,) = read(pa.table({"x": pa.nulls(2), "y": pa.nulls(2)}), x=pa.string())
    assert batch.arrow.schema.field("x").type == pa.string()
    assert batch.arrow.schema.field("y").type == pa.null()


def test_a_present_type_is_never_coerced_to_the_expected_one() -> None:
    (batch,) = read(pa.table({"x": [1.0, 2.0]}), x=pa.int64())
    assert batch.arrow.schema.field("x").type == pa.float64()


def test_pandas_columns_become_their_arrow_types() -> None:
    frame = pd.DataFrame(
        {
            "i": np.array([1, 2], dtype=np.int32),
            "ni": pd.array([1, None], dtype="Int64"),
            "b": pd.array([True, None], dtype="boolean"),
            "s": pd.Series(["x", None], dtype="str"),
            "o": pd.Series(["x", None], dtype=object),
            "cat": pd.Categorical(["x", "y"]),
            "t": pd.to_datetime(["2024-01-01", "2024-01-02"]).tz_localize("Europe/Paris"),
            "arrow": pd.Series([1.5, None], dtype=pd.ArrowDtype(pa.float32())),
            "day": [datetime.date(2024, 1, 1), None],
        }
    )
    (batch,) = read(frame)
    got = {name: describe_type(batch.arrow.schema.field(name).type) for name in frame.columns}
    unit = frame["t"].dtype.unit  # pandas chooses the unit; Arrow keeps it
    assert got == {
        "i": "int32",
        "ni": "int64",
        "b": "bool",
        "s": "string",
        "o": "string",
        "cat": "string",
        "t": f"timestamp[{unit}, Europe/Paris]",
        "arrow": "float32",
        "day": "date",
    }
    assert batch.arrow.column("ni").null_count == 1 and batch.arrow.column("b").null_count == 1


def test_a_pandas_column_of_mixed_objects_is_set_aside_with_what_it_holds() -> None:
    frame = pd.DataFrame({"m": [None, 1, "a", 2.5, None, b"x", 7], "ok": range(7)})
    (batch,) = read(pd.concat([frame.iloc[:0], frame]), rows=10)
    assert batch.names == ("m", "ok") and batch.arrow.schema.names == ["ok"]
    mixed = batch.mixed["m"]
    assert mixed.description == "object holding bytes, float, int, str"
    assert mixed.n_null == 2
    assert mixed.examples == [(1, 1), (2, "a"), (3, 2.5), (5, b"x"), (6, 7)]


def test_a_slice_of_mixed_objects_counts_rows_from_the_start() -> None:
    frame = pd.DataFrame({"m": [1, "a"] * 3})
    batches = read(frame, rows=4)
    assert batches[1].mixed["m"].examples == [(4, 1), (5, "a")]


def test_a_frame_with_only_mixed_columns_keeps_its_rows() -> None:
    (batch,) = read(pd.DataFrame({"m": [1, "a", None]}))
    assert batch.n_rows == 3 and batch.arrow.num_columns == 0 and batch.names == ("m",)


def test_column_names_are_text() -> None:
    (batch,) = read(pd.DataFrame({1: [1], "b": [2]}))
    assert batch.names == ("1", "b")


def test_two_columns_of_one_name_are_refused_in_arrow_too() -> None:
    table = pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["a", "a"])
    with pytest.raises(InvalidValueError, match="two columns named 'a'") as info:
        read(table)
    assert info.value.column == "a"  # type: ignore[attr-defined]


@pytest.mark.parametrize("item", [1, "text", [1, 2], {"a": [1]}])
def test_an_iterable_of_something_else_is_refused(item: object) -> None:
    with pytest.raises(InvalidValueError, match="must yield pyarrow RecordBatches") as info:
        read([pa.record_batch({"a": [1]}), item])
    assert type(item).__name__ in str(info.value)


@pytest.mark.parametrize("logical", [*PLAIN_TYPES, "timestamp[s]", "timestamp[ns, Asia/Tokyo]"])
def test_every_logical_type_has_one_arrow_type_and_back(logical: str) -> None:
    arrow = arrow_type(logical)
    assert logical_type(arrow) == logical
    assert logical_type(canonical_array(pa.nulls(1, arrow)).type) == logical


@pytest.mark.parametrize(
    "arrow",
    [pa.list_(pa.int64()), pa.decimal128(10, 2), pa.binary(), pa.float16(), pa.null()],
)
def test_types_without_a_logical_name_are_described_by_arrow(arrow: pa.DataType) -> None:
    assert logical_type(arrow) is None and describe_type(arrow) == str(arrow)


def test_decimals_from_pandas_keep_their_arrow_type() -> None:
    (batch,) = read(pd.DataFrame({"d": [decimal.Decimal("1.25"), None]}))
    assert pa.types.is_decimal(batch.arrow.schema.field("d").type)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(0, 9), max_size=12), st.integers(1, 7))
def test_batches_are_full_but_the_last_and_keep_every_row_in_order(
    lengths: list[int], rows: int
) -> None:
    starts = [sum(lengths[:i]) for i in range(len(lengths))]
    parts = [
        pa.record_batch({"a": pa.array(range(s, s + n), pa.int64())})
        for s, n in zip(starts, lengths, strict=True)
    ]
    batches = read(parts, rows=rows)
    total = sum(lengths)
    assert all(b.n_rows == rows for b in batches[:-1])
    assert [v for b in batches for v in b.arrow.column("a").to_pylist()] == list(range(total))
    assert [b.offset for b in batches] == [i * rows for i in range(len(batches))]
    # An all-empty stream still shows its columns; rows, when any, fill whole batches.
    assert len(batches) == (max(1, -(-total // rows)) if parts else 0)
