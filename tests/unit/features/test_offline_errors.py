"""Mistakes in a point-in-time join's inputs: one clear error naming the view, the column
and the fix, raised before any SQL runs."""

from __future__ import annotations

import datetime
import sys
from typing import Any

import pyarrow as pa
import pytest

from conveyor.core import ConfigError, InvalidValueError
from conveyor.features import ViewData, point_in_time_join

TS = pa.timestamp("us")


def rows(**columns: Any) -> pa.Table:
    base = {"driver": [1], "event_timestamp": pa.array([0], TS)}
    return pa.table({**base, **columns})


def source(**columns: Any) -> pa.Table:
    base = {"driver": [1], "ts": pa.array([0], TS), "rate": [1.0]}
    return pa.table({**base, **columns})


def view(table: Any = None, **options: Any) -> ViewData:
    fields: dict[str, Any] = {
        "name": "stats",
        "join_keys": ("driver",),
        "timestamp": "ts",
        "features": ("rate",),
        "ttl": None,
        "table": source() if table is None else table,
    }
    return ViewData(**{**fields, **options})


def test_a_missing_entity_timestamp_names_the_option_and_suggests_a_column() -> None:
    table = pa.table({"driver": [1], "event_time": pa.array([0], TS)})

    with pytest.raises(InvalidValueError) as caught:
        point_in_time_join(table, [view()])

    error = caught.value
    assert "no timestamp column 'event_timestamp'" in error.message
    assert "Did you mean 'event_time'?" in error.message
    assert error.hint is not None and "timestamp='<column>'" in error.hint


def test_an_entity_timestamp_that_is_not_a_timestamp_is_refused() -> None:
    table = pa.table({"driver": [1], "event_timestamp": ["2024-01-01"]})

    with pytest.raises(InvalidValueError, match="must be a timestamp. Got string"):
        point_in_time_join(table, [view()])


def test_a_join_key_missing_from_the_entities_names_the_view_and_the_column() -> None:
    table = pa.table({"drivers": [1], "event_timestamp": pa.array([0], TS)})

    with pytest.raises(InvalidValueError) as caught:
        point_in_time_join(table, [view()])

    error = caught.value
    assert "join key 'driver' of feature view 'stats'" in error.message
    assert "entity table" in error.message and "Did you mean 'drivers'?" in error.message
    assert error.fields == {"view": "stats", "column": "driver"}
    assert error.hint is not None and "Add a 'driver' column" in error.hint


def test_a_join_key_missing_from_the_view_names_the_view_and_the_column() -> None:
    table = pa.table({"rider": [1], "ts": pa.array([0], TS), "rate": [1.0]})

    with pytest.raises(InvalidValueError) as caught:
        point_in_time_join(rows(), [view(table)])

    assert "join key 'driver' of feature view 'stats' is not a column of the view's table" in (
        caught.value.message
    )
    assert "'rider'" in caught.value.message


@pytest.mark.parametrize(
    ("entity_key", "view_key"),
    [
        (pa.array([1]), pa.array(["1"])),
        (pa.array(["1"]), pa.array([1], pa.int8())),
        (pa.array([b"1"]), pa.array(["1"])),
        (pa.array([True]), pa.array([1])),
        (pa.array([0], TS), pa.array([1])),
    ],
)
def test_join_keys_that_cannot_be_compared_are_refused(
    entity_key: pa.Array, view_key: pa.Array
) -> None:
    entities = pa.table({"driver": entity_key, "event_timestamp": pa.array([0], TS)})
    table = pa.table({"driver": view_key, "ts": pa.array([0], TS), "rate": [1.0]})

    with pytest.raises(InvalidValueError) as caught:
        point_in_time_join(entities, [view(table)])

    message = caught.value.message
    assert "join key 'driver' of feature view 'stats'" in message
    assert f"is {entity_key.type} in the entity table but {view_key.type}" in message
    assert caught.value.hint is not None and "Cast one side" in caught.value.hint


def test_a_missing_view_timestamp_is_named() -> None:
    with pytest.raises(InvalidValueError, match="timestamp column 'time' of feature view 'stats'"):
        point_in_time_join(rows(), [view(timestamp="time")])


def test_a_view_timestamp_that_is_not_a_timestamp_is_refused() -> None:
    table = source().set_column(1, "ts", pa.array([0]))

    with pytest.raises(InvalidValueError, match="'ts' of feature view 'stats' must be a timestamp"):
        point_in_time_join(rows(), [view(table)])


def test_a_missing_feature_suggests_the_closest_column() -> None:
    with pytest.raises(InvalidValueError) as caught:
        point_in_time_join(rows(), [view(features=("rates",))])

    assert "feature 'rates' of feature view 'stats'" in caught.value.message
    assert "Did you mean 'rate'?" in caught.value.message


def test_a_missing_or_unorderable_created_column_is_refused() -> None:
    with pytest.raises(InvalidValueError, match="created column 'written' of feature view"):
        point_in_time_join(rows(), [view(created="written")])
    with pytest.raises(InvalidValueError, match="must be a timestamp, a date or an integer"):
        point_in_time_join(rows(), [view(source(written=["late"]), created="written")])


def test_a_created_column_beyond_64_bits_is_refused() -> None:
    table = source(written=pa.array([2**64 - 1], pa.uint64()))

    with pytest.raises(InvalidValueError, match="too large for 64 bits"):
        point_in_time_join(rows(), [view(table, created="written")])


def test_times_too_far_apart_for_a_common_unit_are_refused() -> None:
    # Year 3000 in microseconds cannot be written in nanoseconds, which the view needs.
    far = pa.table({"driver": [1], "event_timestamp": pa.array([32_503_680_000 * 10**6], TS)})
    table = source().set_column(1, "ts", pa.array([0], pa.timestamp("ns")))

    with pytest.raises(InvalidValueError) as caught:
        point_in_time_join(far, [view(table)])

    assert "entity table's timestamp column" in caught.value.message
    assert "1677 to 2262" in caught.value.message


def test_features_sharing_a_name_across_views_name_both_views() -> None:
    with pytest.raises(InvalidValueError) as caught:
        point_in_time_join(rows(), [view(), view(name="other")])

    error = caught.value
    assert "'rate' would come from both feature view 'stats' and feature view 'other'" in (
        error.message
    )
    assert error.hint is not None and "full_names=True" in error.hint


def test_full_names_lift_the_clash() -> None:
    out = point_in_time_join(rows(), [view(), view(name="other")], full_names=True)

    assert out.column_names[-2:] == ["stats__rate", "other__rate"]


def test_a_feature_named_like_an_entity_column_is_a_clash() -> None:
    with pytest.raises(InvalidValueError, match="from both the entity table and feature view"):
        point_in_time_join(rows(rate=[0.0]), [view()])


def test_a_full_name_can_still_clash_with_an_entity_column() -> None:
    with pytest.raises(InvalidValueError) as caught:
        point_in_time_join(rows(stats__rate=[0.0]), [view()], full_names=True)

    assert caught.value.hint == "Rename the entity table's column or the view."


def test_a_view_given_twice_is_refused() -> None:
    with pytest.raises(InvalidValueError, match="'stats' is given twice"):
        point_in_time_join(rows(), [view(), view()], full_names=True)


def test_something_that_is_not_a_view_is_refused() -> None:
    with pytest.raises(InvalidValueError, match="must be a ViewData. Got dict"):
        point_in_time_join(rows(), [{"name": "stats"}])  # type: ignore[list-item]


def test_an_entity_table_of_the_wrong_kind_is_refused() -> None:
    with pytest.raises(InvalidValueError, match="pyarrow.Table or a pandas.DataFrame. Got list"):
        point_in_time_join([{"driver": 1}], [view()])


def test_a_view_table_of_the_wrong_kind_is_refused() -> None:
    with pytest.raises(InvalidValueError) as caught:
        point_in_time_join(rows(), [view({"driver": [1]})])

    assert "table of feature view 'stats' must be" in caught.value.message
    assert "Got dict" in caught.value.message


def test_a_dataframe_arrow_cannot_hold_is_refused() -> None:
    import pandas as pd

    frame = pd.DataFrame({"driver": [1, "x"], "event_timestamp": pd.to_datetime([0, 0])})

    with pytest.raises(InvalidValueError, match="The entity table cannot be converted to Arrow"):
        point_in_time_join(frame, [view()])


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"name": ""}, "name must be a non-empty string"),
        ({"join_keys": "driver"}, "sequence of column names"),
        ({"features": ["rate", "rate"]}, "name 'rate' twice"),
        ({"features": ["rate", ""]}, "non-empty column names"),
        ({"timestamp": None}, "'timestamp' of feature view 'stats' must be a column name"),
        ({"created": 3}, "'created' of feature view 'stats' must be a column name"),
        ({"ttl": datetime.timedelta(seconds=-1)}, "non-negative"),
        ({"ttl": 3600}, "datetime.timedelta or None"),
    ],
)
def test_view_data_checks_its_own_fields(options: dict[str, Any], expected: str) -> None:
    with pytest.raises(InvalidValueError, match=expected):
        view(**options)


def test_a_single_join_key_given_as_a_string_gets_a_hint() -> None:
    with pytest.raises(InvalidValueError) as caught:
        view(join_keys="driver")

    assert caught.value.hint == "Write join_keys=('driver',) for a single column."


def test_view_data_keeps_sequences_as_tuples() -> None:
    data = view(join_keys=["driver"], features=["rate"])

    assert data.join_keys == ("driver",)
    assert data.features == ("rate",)


def test_a_missing_duckdb_names_the_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes the next import raise ImportError, as if not installed.
    monkeypatch.setitem(sys.modules, "duckdb", None)

    with pytest.raises(ConfigError) as caught:
        point_in_time_join(rows(), [view()])

    assert "needs duckdb, which is not installed" in caught.value.message
    assert caught.value.hint == "Install the features extra with: pip install 'conveyor[features]'"
