"""The point-in-time join on hand-written cases: what is served, what never is, and in
which order and types it comes back."""

from __future__ import annotations

import datetime
import decimal
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from conveyor.features import ViewData, point_in_time_join

# 2024-01-01T00:00:00Z in seconds since 1970.
BASE = 1_704_067_200
PER_SECOND = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}
US = datetime.timedelta(microseconds=1)


def stamps(*seconds: float | None, unit: str = "us", tz: str | None = None) -> pa.Array:
    """Timestamps ``seconds`` after 2024-01-01T00:00:00Z (naive ones read as UTC)."""
    per = PER_SECOND[unit]
    values = [None if s is None else BASE * per + round(s * per) for s in seconds]
    return pa.array(values, pa.int64()).cast(pa.timestamp(unit, tz=tz))


def entities(keys: Sequence[Any], seconds: Sequence[float | None], **more: Any) -> pa.Table:
    return pa.table({"driver": list(keys), "event_timestamp": stamps(*seconds), **more})


def view(
    table: Any,
    *,
    name: str = "stats",
    keys: Sequence[str] = ("driver",),
    features: Sequence[str] = ("rate",),
    ttl: datetime.timedelta | None = None,
    created: str | None = None,
) -> ViewData:
    return ViewData(name, tuple(keys), "ts", tuple(features), ttl, table, created=created)


def rates(keys: Sequence[Any], seconds: Sequence[float | None], values: Sequence[Any]) -> pa.Table:
    return pa.table({"driver": list(keys), "ts": stamps(*seconds), "rate": list(values)})


def served(table: pa.Table, column: str = "rate") -> list[Any]:
    return table.column(column).to_pylist()


def test_the_latest_value_at_or_before_each_row_is_served() -> None:
    source = rates([1, 1, 1, 2], [0, 10, 20, 5], [0.1, 0.2, 0.3, 0.9])
    rows = entities([1, 1, 1, 1, 2, 2], [-1, 0, 5, 10, 4, 100])

    out = point_in_time_join(rows, [view(source)])

    # Before the first value: nothing; exactly at a value's time: that value.
    assert served(out) == [None, 0.1, 0.1, 0.2, None, 0.9]


def test_a_value_one_microsecond_after_the_entity_time_is_never_served() -> None:
    source = rates([1, 1], [0, 10.000001], [1.0, 2.0])

    out = point_in_time_join(entities([1, 1], [10, 10.000001]), [view(source)])

    assert served(out) == [1.0, 2.0]


def test_a_value_exactly_ttl_old_is_served_and_one_microsecond_older_is_not() -> None:
    ttl = datetime.timedelta(hours=1)
    source = rates([1, 2], [0, 0.000001], [1.0, 2.0])
    hour = ttl.total_seconds()
    rows = entities([1, 2, 1], [hour, hour + 0.000001, hour + 0.000001])

    out = point_in_time_join(rows, [view(source, ttl=ttl)])

    assert served(out) == [1.0, 2.0, None]


def test_a_stale_latest_value_is_not_replaced_by_an_older_one() -> None:
    # TTL applies to the as-of value: if the latest is too old, every older one is too.
    source = rates([1, 1], [0, 50], [1.0, 2.0])

    out = point_in_time_join(
        entities([1, 1], [55, 100]), [view(source, ttl=datetime.timedelta(seconds=10))]
    )

    assert served(out) == [2.0, None]


def test_a_zero_ttl_serves_only_values_stamped_at_the_entity_time() -> None:
    source = rates([1, 1], [0, 10], [1.0, 2.0])

    out = point_in_time_join(
        entities([1, 1, 1], [0, 5, 10]), [view(source, ttl=datetime.timedelta(0))]
    )

    assert served(out) == [1.0, None, 2.0]


def test_a_ttl_below_the_timestamps_unit_rounds_as_an_exact_comparison() -> None:
    # Seconds on both sides: a TTL of 1.5 s serves a value 1 s old, not one 2 s old.
    source = pa.table({"driver": [1, 2], "ts": stamps(0, 0, unit="s"), "rate": [1.0, 2.0]})
    rows = pa.table({"driver": [1, 2], "event_timestamp": stamps(1, 2, unit="s")})

    out = point_in_time_join(
        rows, [view(source, ttl=datetime.timedelta(seconds=1, milliseconds=500))]
    )

    assert served(out) == [1.0, None]


def test_ties_go_to_the_last_row_in_source_order() -> None:
    source = rates([1, 1, 1, 2, 2], [5, 5, 5, 5, 5], [1.0, 2.0, 3.0, 4.0, None])

    out = point_in_time_join(entities([1, 2], [5, 6]), [view(source)])

    # The last row wins even when its value is null: rows are chosen, not values.
    assert served(out) == [3.0, None]


def test_ties_go_to_the_greatest_created_then_the_last_row() -> None:
    source = rates([1, 1, 1, 2, 2, 3, 3], [5] * 7, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])
    source = source.append_column("written", stamps(9, 8, 9, None, 1, 3, 3, tz="Europe/Paris"))

    out = point_in_time_join(entities([1, 2, 3], [5, 5, 5]), [view(source, created="written")])

    # 1: created 9 twice, the later row; 2: a row without created loses; 3: equal, later.
    assert served(out) == [3.0, 5.0, 7.0]


@pytest.mark.parametrize(
    "kind", [pa.int64(), pa.uint8(), pa.date32(), pa.timestamp("ns"), pa.timestamp("s", "UTC")]
)
def test_created_may_be_an_integer_a_date_or_a_timestamp(kind: pa.DataType) -> None:
    source = rates([1, 1, 1], [5, 5, 5], [1.0, 2.0, 3.0])
    written = pa.array([2, 3, 1], pa.int32() if kind == pa.date32() else pa.int64())
    source = source.append_column("written", written.cast(kind))

    out = point_in_time_join(entities([1], [5]), [view(source, created="written")])

    assert served(out) == [2.0]


def test_created_only_breaks_ties_and_never_beats_a_later_event_time() -> None:
    source = rates([1, 1], [4, 5], [1.0, 2.0]).append_column("written", pa.array([100, 1]))

    out = point_in_time_join(entities([1], [5]), [view(source, created="written")])

    assert served(out) == [2.0]


def test_late_rows_are_ordered_by_event_time_not_arrival() -> None:
    # Arrival order: 30, 10, 20; the row for 20 arrived last but is not the latest.
    source = rates([1, 1, 1], [30, 10, 20], [3.0, 1.0, 2.0])

    out = point_in_time_join(entities([1, 1, 1], [15, 25, 35]), [view(source)])

    assert served(out) == [1.0, 2.0, 3.0]


def test_duplicate_entity_rows_each_come_back_once_in_input_order() -> None:
    source = rates([1, 2], [0, 0], [1.0, 2.0])
    rows = entities([2, 1, 2, 2, 1], [5, 5, 5, -5, 5], label=["a", "b", "c", "d", "e"])

    out = point_in_time_join(rows, [view(source)])

    assert out.column("label").to_pylist() == ["a", "b", "c", "d", "e"]
    assert served(out) == [2.0, 1.0, 2.0, None, 1.0]


def test_rows_come_back_in_input_order_however_shuffled() -> None:
    n = 5000
    order = [(i * 7919) % n for i in range(n)]  # a permutation of range(n)
    rows = entities([i % 13 for i in order], [float(i) for i in order], id=order)
    source = rates([k for k in range(13)], [0.0] * 13, [float(k) for k in range(13)])

    out = point_in_time_join(rows, [view(source)])

    assert out.column("id").to_pylist() == order
    assert served(out) == [float(i % 13) for i in order]


def test_multiple_join_keys_must_all_match() -> None:
    source = pa.table(
        {
            "origin": ["JFK", "JFK", "LAX"],
            "carrier": ["AA", "DL", "AA"],
            "ts": stamps(0, 0, 0),
            "delay": [1, 2, 3],
        }
    )
    rows = pa.table(
        {
            "carrier": ["DL", "AA", "AA", "UA"],
            "origin": ["JFK", "LAX", "JFK", "JFK"],
            "event_timestamp": stamps(1, 1, 1, 1),
        }
    )

    out = point_in_time_join(rows, [view(source, keys=("origin", "carrier"), features=("delay",))])

    assert served(out, "delay") == [2, 3, 1, None]


def test_a_view_without_join_keys_joins_on_time_alone() -> None:
    source = pa.table({"ts": stamps(0, 10), "holiday": [False, True]})

    out = point_in_time_join(
        entities([1, 2, 3], [-1, 5, 10]), [view(source, keys=(), features=("holiday",))]
    )

    assert served(out, "holiday") == [None, False, True]


def test_an_all_null_key_column_joins_nothing_whatever_its_type() -> None:
    rows = entities([None, None], [1, 1])
    assert rows.schema.field("driver").type == pa.null()

    out = point_in_time_join(rows, [view(rates([1], [0], [1.0]))])

    assert served(out) == [None, None]


def test_null_keys_and_null_times_never_match() -> None:
    source = pa.table({"driver": [1, None, 2], "ts": stamps(0, 0, None), "rate": [1.0, 2.0, 3.0]})
    rows = entities([1, None, 2, 1], [5, 5, 5, None])

    out = point_in_time_join(rows, [view(source)])

    assert served(out) == [1.0, None, None, None]


def test_two_views_are_joined_independently() -> None:
    first = rates([1, 2], [0, 0], [1.0, 2.0])
    second = pa.table({"driver": [2, 1], "ts": stamps(3, 9), "trips": [20, 10]})
    rows = entities([1, 2, 1], [5, 5, 10])

    out = point_in_time_join(
        rows, [view(first), view(second, name="activity", features=("trips",))]
    )

    assert out.column_names == ["driver", "event_timestamp", "rate", "trips"]
    assert served(out) == [1.0, 2.0, 1.0]
    assert served(out, "trips") == [None, 20, 10]


def test_feature_types_come_back_as_they_went_in() -> None:
    columns = {
        "count": pa.array([None, 7], pa.int64()),
        "small": pa.array([1, None], pa.int8()),
        "seen": pa.array([1, 2], pa.timestamp("ns", tz="America/New_York")),
        "day": pa.array([19000, None], pa.date32()),
        "name": pa.array(["a", None], pa.string()),
        "long_name": pa.array(["b", "c"], pa.large_string()),
        "flag": pa.array([True, None], pa.bool_()),
        "price": pa.array([decimal.Decimal("1.25"), None], pa.decimal128(10, 2)),
        "tags": pa.array([["x"], []], pa.list_(pa.string())),
        "colour": pa.array(["red", "red"]).dictionary_encode(),
        "blob": pa.array([b"\x00", None], pa.binary()),
    }
    source = pa.table({"driver": [1, 2], "ts": stamps(0, 0), **columns})

    out = point_in_time_join(
        entities([2, 1, 3], [1, 1, 1]), [view(source, features=tuple(columns))]
    )

    for name, values in columns.items():
        assert out.schema.field(name).type == values.type, name
        expected = [values[1].as_py(), values[0].as_py(), None]
        assert out.column(name).to_pylist() == expected, name


def test_the_entity_table_comes_back_untouched_and_first() -> None:
    rows = entities([1, 2], [0, 0], weight=pa.array([0.5, None], pa.float32()))
    rows = rows.replace_schema_metadata({"owner": "fraud-team"})

    out = point_in_time_join(rows, [view(rates([1], [0], [1.0]))])

    assert out.select(rows.column_names).equals(rows)
    assert out.schema.metadata == {b"owner": b"fraud-team"}
    assert out.column_names == [*rows.column_names, "rate"]


@pytest.mark.parametrize(
    ("entity", "source"),
    [
        ((None, "us"), ("Asia/Tokyo", "us")),
        (("America/New_York", "ms"), (None, "ns")),
        (("UTC", "s"), ("Europe/Paris", "ns")),
        (("Asia/Kolkata", "ns"), ("America/Los_Angeles", "s")),
    ],
)
def test_times_compare_as_instants_across_zones_and_units(
    entity: tuple[str | None, str], source: tuple[str | None, str]
) -> None:
    (entity_tz, entity_unit), (view_tz, view_unit) = entity, source
    table = pa.table(
        {"driver": [1, 1], "ts": stamps(0, 10, unit=view_unit, tz=view_tz), "rate": [1.0, 2.0]}
    )
    rows = pa.table(
        {"driver": [1, 1, 1], "event_timestamp": stamps(9, 10, 11, unit=entity_unit, tz=entity_tz)}
    )

    out = point_in_time_join(rows, [view(table)])

    assert served(out) == [1.0, 2.0, 2.0]


def test_a_nanosecond_after_is_not_served_when_both_sides_have_nanoseconds() -> None:
    table = pa.table(
        {"driver": [1], "ts": pa.array([BASE * 10**9 + 1], pa.int64()).cast(pa.timestamp("ns"))}
    ).append_column("rate", pa.array([1.0]))
    rows = pa.table(
        {
            "driver": [1, 1],
            "event_timestamp": pa.array([BASE * 10**9, BASE * 10**9 + 1]).cast(
                pa.timestamp("ns", tz="UTC")
            ),
        }
    )

    assert served(point_in_time_join(rows, [view(table)])) == [None, 1.0]


def test_compatible_key_types_join() -> None:
    table = pa.table(
        {"driver": pa.array([1, 2], pa.int32()), "ts": stamps(0, 0), "rate": [1.0, 2.0]}
    )
    rows = entities(pa.array([2, 1], pa.uint64()), [1, 1])

    assert served(point_in_time_join(rows, [view(table)])) == [2.0, 1.0]


def test_string_keys_join_across_string_types() -> None:
    table = pa.table(
        {
            "driver": pa.array(["a", "b"], pa.large_string()),
            "ts": stamps(0, 0),
            "rate": [1.0, 2.0],
        }
    )
    rows = entities(pa.array(["b", "a", "c"]).dictionary_encode(), [1, 1, 1])

    assert served(point_in_time_join(rows, [view(table)])) == [2.0, 1.0, None]


def test_pandas_entities_and_views_are_welcome() -> None:
    frame = pd.DataFrame(
        {
            "driver": [2, 1],
            "event_timestamp": pd.to_datetime(["2024-01-01 00:00:05", "2024-01-01 00:00:05"]),
        },
        index=[10, 20],
    )
    source = pd.DataFrame(
        {
            "driver": [1, 2],
            "ts": pd.to_datetime(["2024-01-01", "2024-01-01"]).tz_localize("UTC"),
            "rate": [1.0, 2.0],
        }
    )

    out = point_in_time_join(frame, [view(source)])

    assert out.column_names == ["driver", "event_timestamp", "rate"]
    assert served(out) == [2.0, 1.0]
    back = out.to_pandas()
    assert list(back["rate"]) == [2.0, 1.0]
    assert list(back.index) == [0, 1]


def test_a_record_batch_reader_and_a_chunked_table_are_read() -> None:
    parts = [rates([1], [0], [1.0]), rates([1, 2], [10, 0], [2.0, 3.0])]
    parts.append(parts[0].slice(0, 0))
    chunked = pa.concat_tables(parts)
    assert chunked.column("rate").num_chunks > 1
    rows = entities([1, 2, 1], [5, 5, 10])

    from_reader = point_in_time_join(
        rows, [view(pa.RecordBatchReader.from_batches(chunked.schema, chunked.to_batches()))]
    )
    from_chunks = point_in_time_join(rows, [view(chunked)])

    assert served(from_reader) == served(from_chunks) == [1.0, 3.0, 2.0]


def test_full_names_prefix_each_feature_with_its_view() -> None:
    first = rates([1], [0], [1.0])
    second = rates([1], [0], [2.0])

    out = point_in_time_join(
        entities([1], [1]), [view(first, name="today"), view(second, name="week")], full_names=True
    )

    assert out.column_names == ["driver", "event_timestamp", "today__rate", "week__rate"]
    assert out.column("week__rate").to_pylist() == [2.0]


def test_a_feature_may_be_a_join_key_or_the_event_time() -> None:
    source = rates([1], [3], [1.0])

    out = point_in_time_join(
        entities([1, 2], [5, 5]), [view(source, features=("driver", "ts"))], full_names=True
    )

    assert out.column("stats__driver").to_pylist() == [1, None]
    assert out.column("stats__ts").to_pylist()[1] is None
    assert out.column("stats__ts").type == pa.timestamp("us")


def test_an_empty_entity_table_gives_an_empty_table_with_every_column() -> None:
    rows = entities(pa.array([], pa.int64()), [])
    source = pa.table({"driver": [1], "ts": stamps(0), "price": pa.array([1], pa.decimal128(5, 1))})

    out = point_in_time_join(rows, [view(source, features=("price",))])

    assert out.num_rows == 0
    assert out.schema == pa.schema([*rows.schema, pa.field("price", pa.decimal128(5, 1))])


def test_an_empty_view_serves_nothing() -> None:
    source = pa.table(
        {"driver": pa.array([], pa.int64()), "ts": stamps(), "rate": pa.array([], pa.int16())}
    )

    out = point_in_time_join(entities([1, 2], [0, 0]), [view(source)])

    assert served(out) == [None, None]
    assert out.schema.field("rate").type == pa.int16()


def test_no_views_gives_the_entity_table_back() -> None:
    rows = entities([1], [0])

    assert point_in_time_join(rows, []).equals(rows)


def test_a_view_without_features_adds_no_column() -> None:
    rows = entities([1], [0])

    assert point_in_time_join(rows, [view(rates([1], [0], [1.0]), features=())]).equals(rows)


def test_the_entity_timestamp_column_can_be_named() -> None:
    rows = pa.table({"driver": [1], "asked_at": stamps(5)})

    out = point_in_time_join(rows, [view(rates([1], [0], [1.0]))], timestamp="asked_at")

    assert served(out) == [1.0]


def test_importing_the_package_loads_neither_duckdb_nor_pyarrow() -> None:
    code = (
        "import sys, conveyor.features; "
        "print(sorted(m for m in ('duckdb', 'pyarrow', 'pandas', 'numpy') if m in sys.modules))"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "[]"


def test_joins_in_many_threads_at_once_keep_to_their_own_tables() -> None:
    from concurrent.futures import ThreadPoolExecutor

    def one(offset: int) -> list[Any]:
        # Each thread's tables are registered under the same names in DuckDB.
        source = rates([1, 2], [0, 0], [float(offset), float(offset + 1)])
        return served(point_in_time_join(entities([2, 1, 3], [1, 1, 1]), [view(source)]))

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(one, range(0, 40, 2)))

    assert results == [[float(o + 1), float(o), None] for o in range(0, 40, 2)]
