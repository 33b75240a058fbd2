"""The point-in-time join over Parquet files that DuckDB reads in place: paths, globs,
source order across files, types restored, and unreadable files."""

from __future__ import annotations

import datetime
import decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conveyor.core import DataSourceError, InvalidValueError
from conveyor.features import ViewData, point_in_time_join

BASE = 1_704_067_200  # 2024-01-01T00:00:00Z


def stamps(*seconds: float | None, unit: str = "us", tz: str | None = None) -> pa.Array:
    per = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[unit]
    values = [None if s is None else BASE * per + round(s * per) for s in seconds]
    return pa.array(values, pa.int64()).cast(pa.timestamp(unit, tz=tz))


def entities(keys: list[Any], seconds: list[float], unit: str = "us") -> pa.Table:
    return pa.table({"driver": keys, "event_timestamp": stamps(*seconds, unit=unit)})


def view(table: Any, **options: Any) -> ViewData:
    fields: dict[str, Any] = {
        "name": "stats",
        "join_keys": ("driver",),
        "timestamp": "ts",
        "features": ("rate",),
        "ttl": None,
        "table": table,
    }
    return ViewData(**{**fields, **options})


def write(path: Path, **columns: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)
    return path


def test_a_parquet_path_is_joined_as_of_each_row(tmp_path: Path) -> None:
    path = write(
        tmp_path / "stats.parquet",
        driver=[1, 1, 2],
        ts=stamps(0, 10, 0),
        rate=[1.0, 2.0, 3.0],
    )
    rows = entities([1, 1, 1, 2, 3], [-1, 0, 10, 10, 10])

    out = point_in_time_join(rows, [view(str(path))])

    assert out.column("rate").to_pylist() == [None, 1.0, 2.0, 3.0, None]
    assert out.select(rows.column_names).equals(rows)


def test_a_path_object_works_like_a_string(tmp_path: Path) -> None:
    path = write(tmp_path / "stats.parquet", driver=[1], ts=stamps(0), rate=[1.0])

    out = point_in_time_join(entities([1], [0]), [view(path)])

    assert out.column("rate").to_pylist() == [1.0]


def test_a_glob_reads_every_file_and_ties_go_to_the_last_file_in_path_order(
    tmp_path: Path,
) -> None:
    # Written in reverse so file creation order and path order disagree.
    write(tmp_path / "part-2.parquet", driver=[1, 2], ts=stamps(5, 5), rate=[2.0, 20.0])
    write(tmp_path / "part-1.parquet", driver=[1, 2, 2], ts=stamps(5, 5, 9), rate=[1.0, 10.0, 9.0])
    write(tmp_path / "part-3.parquet", driver=[3], ts=stamps(1), rate=[3.0])

    out = point_in_time_join(
        entities([1, 2, 2, 3], [5, 5, 9, 9]), [view(str(tmp_path / "part-*.parquet"))]
    )

    assert out.column("rate").to_pylist() == [2.0, 20.0, 9.0, 3.0]


def test_within_a_file_ties_go_to_the_last_row(tmp_path: Path) -> None:
    path = write(tmp_path / "a.parquet", driver=[1, 1, 1], ts=stamps(5, 5, 5), rate=[1.0, 3.0, 2.0])

    out = point_in_time_join(entities([1], [6]), [view(str(path))])

    assert out.column("rate").to_pylist() == [2.0]


def test_a_created_column_breaks_ties_across_files(tmp_path: Path) -> None:
    write(tmp_path / "a.parquet", driver=[1, 2], ts=stamps(5, 5), rate=[1.0, 3.0],
          written=stamps(9, None, unit="ns"))  # fmt: skip
    write(tmp_path / "b.parquet", driver=[1, 2], ts=stamps(5, 5), rate=[2.0, 4.0],
          written=stamps(8, None, unit="ns"))  # fmt: skip

    out = point_in_time_join(
        entities([1, 2], [5, 5]), [view(str(tmp_path / "*.parquet"), created="written")]
    )

    # 1: the greater created wins though its file comes first; 2: no created, last file.
    assert out.column("rate").to_pylist() == [1.0, 4.0]


@pytest.mark.parametrize("kind", [pa.int32(), pa.date32()])
def test_an_integer_or_date_created_column_is_read_from_parquet(
    tmp_path: Path, kind: pa.DataType
) -> None:
    written = pa.array([3, 1, 2], pa.int32()).cast(kind)
    path = write(
        tmp_path / "a.parquet", driver=[1, 1, 1], ts=stamps(5, 5, 5), rate=[1.0, 2.0, 3.0],
        written=written,
    )  # fmt: skip

    out = point_in_time_join(entities([1], [5]), [view(str(path), created="written")])

    assert out.column("rate").to_pylist() == [1.0]


def test_ttl_applies_to_parquet_sources(tmp_path: Path) -> None:
    path = write(tmp_path / "a.parquet", driver=[1, 2], ts=stamps(0, 0.000001), rate=[1.0, 2.0])

    out = point_in_time_join(
        entities([1, 2, 1], [60, 60.000001, 60.000001]),
        [view(str(path), ttl=datetime.timedelta(minutes=1))],
    )

    assert out.column("rate").to_pylist() == [1.0, 2.0, None]


@pytest.mark.parametrize(
    ("entity_unit", "view_unit", "view_tz"),
    [("ns", "us", None), ("s", "ns", "Asia/Tokyo"), ("ms", "ms", "UTC"), ("us", "ns", None)],
)
def test_parquet_times_compare_as_instants(
    tmp_path: Path, entity_unit: str, view_unit: str, view_tz: str | None
) -> None:
    path = write(
        tmp_path / "a.parquet", driver=[1, 1], ts=stamps(0, 10, unit=view_unit, tz=view_tz),
        rate=[1.0, 2.0],
    )  # fmt: skip

    out = point_in_time_join(entities([1, 1, 1], [9, 10, 11], unit=entity_unit), [view(str(path))])

    assert out.column("rate").to_pylist() == [1.0, 2.0, 2.0]


def test_parquet_features_keep_the_files_arrow_types(tmp_path: Path) -> None:
    columns = {
        "count": pa.array([None, 7], pa.int64()),
        "seen": pa.array([1, 2], pa.timestamp("ns", tz="America/New_York")),
        "at": pa.array([1, 2], pa.timestamp("ms", tz="Europe/Paris")),
        "name": pa.array(["a", None], pa.large_string()),
        "flag": pa.array([True, None]),
        "price": pa.array([decimal.Decimal("1.25"), None], pa.decimal128(10, 2)),
        "colour": pa.array(["red", "blue"]).dictionary_encode(),
        "small": pa.array([1, None], pa.uint16()),
        "tags": pa.array([["x"], []], pa.list_(pa.string())),
    }
    path = write(tmp_path / "a.parquet", driver=[1, 2], ts=stamps(0, 0), **columns)

    out = point_in_time_join(
        entities([2, 1, 3], [1, 1, 1]), [view(str(path), features=tuple(columns))]
    )

    for name, values in columns.items():
        assert out.schema.field(name).type == values.type, name
        assert out.column(name).to_pylist() == [values[1].as_py(), values[0].as_py(), None]


def test_an_empty_entity_table_gets_the_files_types(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.parquet", driver=[1], ts=stamps(0),
        rate=pa.array(["x"], pa.large_string()),
    )  # fmt: skip

    out = point_in_time_join(entities(pa.array([], pa.int64()), []), [view(str(path))])

    assert out.num_rows == 0
    assert out.schema.field("rate").type == pa.large_string()


def test_parquet_columns_named_like_duckdbs_own_do_not_get_in_the_way(tmp_path: Path) -> None:
    for part in (1, 2):
        write(
            tmp_path / f"p{part}.parquet", driver=[1], ts=stamps(part), rate=[float(part)],
            filename=["mine"], ord=[0], o=[0], r=[0],
        )  # fmt: skip

    out = point_in_time_join(
        entities([1, 1], [1, 2]),
        [view(str(tmp_path / "*.parquet"), features=("rate", "filename", "o", "r"))],
    )

    assert out.column("rate").to_pylist() == [1.0, 2.0]
    assert out.column("filename").to_pylist() == ["mine", "mine"]


@pytest.mark.parametrize("column", ["file_row_number", "file_index"])
def test_a_column_named_like_duckdbs_row_position_is_refused(tmp_path: Path, column: str) -> None:
    path = write(tmp_path / "a.parquet", driver=[1], ts=stamps(0), rate=[1.0], **{column: [0]})

    with pytest.raises(InvalidValueError) as caught:
        point_in_time_join(entities([1], [0]), [view(str(path))])

    assert f"column {column!r}, a name DuckDB gives each row's position" in caught.value.message
    assert caught.value.hint is not None and "pyarrow table" in caught.value.hint


def test_quotes_in_paths_and_column_names_are_safe(tmp_path: Path) -> None:
    path = write(
        tmp_path / "it's" / "a.parquet", **{'dri"ver': [1], "ts": stamps(0), "ra'te": [1.0]}
    )
    rows = pa.table({'dri"ver': [1], "event_timestamp": stamps(0)})

    out = point_in_time_join(rows, [view(str(path), join_keys=('dri"ver',), features=("ra'te",))])

    assert out.column("ra'te").to_pylist() == [1.0]


def test_a_path_matching_nothing_is_a_data_source_error(tmp_path: Path) -> None:
    with pytest.raises(DataSourceError) as caught:
        point_in_time_join(entities([1], [0]), [view(str(tmp_path / "none-*.parquet"))])

    error = caught.value
    assert "No file matches" in error.message and "feature view 'stats'" in error.message
    assert error.fields["view"] == "stats"


def test_a_file_that_is_not_parquet_is_a_data_source_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    path.write_text("not parquet")

    with pytest.raises(DataSourceError, match="of feature view 'stats' cannot be read"):
        point_in_time_join(entities([1], [0]), [view(str(path))])


def test_files_that_disagree_on_a_column_are_a_data_source_error(tmp_path: Path) -> None:
    write(tmp_path / "a.parquet", driver=[1], ts=stamps(0), rate=[1.0])
    write(tmp_path / "b.parquet", driver=[1], ts=stamps(1), other=[1.0])

    with pytest.raises(DataSourceError, match="feature view 'stats'"):
        point_in_time_join(entities([1], [5]), [view(str(tmp_path / "*.parquet"))])


def test_a_join_failing_inside_duckdb_leaves_the_next_one_unharmed(tmp_path: Path) -> None:
    write(tmp_path / "bad" / "a.parquet", driver=[1], ts=stamps(0), rate=[1.0])
    write(tmp_path / "bad" / "b.parquet", driver=["x"], ts=stamps(1), rate=[2.0])
    good = write(tmp_path / "good.parquet", driver=[1], ts=stamps(0), rate=[3.0])
    with pytest.raises(DataSourceError):
        point_in_time_join(entities([1], [5]), [view(str(tmp_path / "bad" / "*.parquet"))])

    out = point_in_time_join(entities([1], [5]), [view(str(good))])

    assert out.column("rate").to_pylist() == [3.0]


def test_a_missing_parquet_column_is_named_like_an_arrow_one(tmp_path: Path) -> None:
    path = write(tmp_path / "a.parquet", driver=[1], ts=stamps(0), rate=[1.0])

    with pytest.raises(InvalidValueError) as caught:
        point_in_time_join(entities([1], [0]), [view(str(path), features=("rates",))])

    assert "feature 'rates' of feature view 'stats'" in caught.value.message
    assert "Did you mean 'rate'?" in caught.value.message


def test_parquet_and_arrow_views_join_side_by_side(tmp_path: Path) -> None:
    path = write(tmp_path / "a.parquet", driver=[1, 2], ts=stamps(0, 0), rate=[1.0, 2.0])
    trips = pa.table({"driver": [2], "ts": stamps(3), "trips": [5]})

    out = point_in_time_join(
        entities([1, 2], [5, 5]),
        [view(str(path)), view(trips, name="activity", features=("trips",))],
    )

    assert out.column("rate").to_pylist() == [1.0, 2.0]
    assert out.column("trips").to_pylist() == [None, 5]
