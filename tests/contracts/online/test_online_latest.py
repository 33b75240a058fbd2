"""The latest row per entity wins: within one batch and across batches; a newer or equal
event time replaces the stored row, an older one is ignored; the count returned is the
entities stored."""

from __future__ import annotations

import datetime as dt
import random

import pyarrow as pa
import pytest

from conveyor.features import OnlineSchema, OnlineStore
from support.online import SCALARS, UTC, at, scalar_rows, table, values_of

pytestmark = pytest.mark.integration


def _n(online: OnlineStore, *origins: str) -> list[int | None]:
    return [
        None if v is None else v["n_flights"]
        for v in values_of(online, SCALARS, [(o,) for o in origins])
    ]


def test_in_one_batch_the_latest_row_per_key_wins(online: OnlineStore) -> None:
    rows = scalar_rows(
        ["JFK", "LGA", "JFK", "JFK", "LGA"],
        [at(2), at(5), at(3), at(1), at(4)],
        [2, 5, 3, 1, 4],
    )
    assert online.write(SCALARS, rows, timestamp="ts") == 2  # two entities, not five rows
    assert _n(online, "JFK", "LGA") == [3, 5]
    (jfk,) = online.read(SCALARS, [("JFK",)])
    assert jfk is not None and jfk.event_time == at(3)


def test_in_one_batch_the_later_of_two_rows_with_one_event_time_wins(online: OnlineStore) -> None:
    rows = scalar_rows(["JFK", "JFK", "JFK", "JFK"], [at(1), at(2), at(2), at(1)], [1, 2, 3, 4])
    assert online.write(SCALARS, rows, timestamp="ts") == 1
    assert _n(online, "JFK") == [3]


def test_a_newer_row_replaces_the_stored_one(online: OnlineStore) -> None:
    online.write(SCALARS, scalar_rows(["JFK"], [at(1)], [1]), timestamp="ts")
    assert online.write(SCALARS, scalar_rows(["JFK"], [at(1, micro=1)], [2]), timestamp="ts") == 1
    assert _n(online, "JFK") == [2]


def test_an_equal_event_time_replaces_the_stored_row(online: OnlineStore) -> None:
    online.write(SCALARS, scalar_rows(["JFK"], [at(2)], [1]), timestamp="ts")
    assert online.write(SCALARS, scalar_rows(["JFK"], [at(2)], [2]), timestamp="ts") == 1
    assert _n(online, "JFK") == [2]


def test_an_older_row_is_ignored_and_not_counted(online: OnlineStore) -> None:
    online.write(SCALARS, scalar_rows(["JFK", "LGA"], [at(5), at(5)], [5, 5]), timestamp="ts")
    rows = scalar_rows(["JFK", "LGA", "SFO"], [at(5, micro=-1), at(6), at(1)], [1, 6, 1])
    assert online.write(SCALARS, rows, timestamp="ts") == 2  # LGA replaced, SFO inserted
    assert _n(online, "JFK", "LGA", "SFO") == [5, 6, 1]
    (jfk,) = online.read(SCALARS, [("JFK",)])
    assert jfk is not None and jfk.event_time == at(5)


def test_a_newer_row_with_nulls_replaces_every_value(online: OnlineStore) -> None:
    online.write(SCALARS, scalar_rows(["JFK"], [at(1)], [7]), timestamp="ts")
    online.write(SCALARS, scalar_rows(["JFK"], [at(2)], [None]), timestamp="ts")
    assert values_of(online, SCALARS, [("JFK",)]) == [dict.fromkeys(SCALARS.feature_names)]


def test_an_empty_batch_writes_nothing(online: OnlineStore) -> None:
    assert online.write(SCALARS, scalar_rows([], [], []), timestamp="ts") == 0
    assert online.read(SCALARS, [("JFK",)]) == [None]


def test_the_newest_survives_any_order_of_batches(online: OnlineStore) -> None:
    rng = random.Random(7)
    versions = list(range(1, 21))
    rng.shuffle(versions)
    origins = [f"O{i}" for i in range(30)]
    for version in versions:
        n = len(origins)
        online.write(
            SCALARS, scalar_rows(origins, [at(1, micro=version)] * n, [version] * n), timestamp="ts"
        )
    assert _n(online, *origins) == [20] * len(origins)


def _ns(moment: dt.datetime) -> int:
    return int((moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)).total_seconds()) * 10**9


def test_event_times_of_other_units_zones_and_dates_order_rows(online: OnlineStore) -> None:
    paris = dt.timezone(dt.timedelta(hours=1))
    first = pa.table(
        {
            "origin": ["JFK", "LGA"],
            # From epoch nanoseconds, not Python datetimes: with pandera imported (as the
            # data layer does), pyarrow 26 converts fixed-offset datetimes wrongly.
            "ts": pa.array([_ns(dt.datetime(2024, 1, 2, 1, 0, tzinfo=paris))] * 2, pa.int64()).cast(
                pa.timestamp("ns", tz="+01:00")
            ),
            "n_flights": [1, 1],
            "delay": [0.0, 0.0],
            "carrier": ["a", "a"],
        }
    )
    online.write(SCALARS, first, timestamp="ts")  # 2024-01-02 00:00 UTC
    naive = pa.table(
        {
            "origin": ["JFK", "LGA"],
            "when": pa.array(
                [dt.datetime(2024, 1, 1, 23, 59), dt.datetime(2024, 1, 2, 0, 1)], pa.timestamp("s")
            ),
            "n_flights": [2, 2],
            "delay": [0.0, 0.0],
            "carrier": ["b", "b"],
        }
    )
    assert online.write(SCALARS, naive, timestamp="when") == 1  # naive is UTC: LGA only
    assert _n(online, "JFK", "LGA") == [1, 2]
    dates = pa.table(
        {
            "origin": ["JFK"],
            "day": pa.array([dt.date(2024, 1, 2)], pa.date32()),
            "n_flights": [3],
            "delay": [0.0],
            "carrier": ["c"],
        }
    )
    assert online.write(SCALARS, dates, timestamp="day") == 1  # midnight UTC equals JFK's
    (jfk,) = online.read(SCALARS, [("JFK",)])
    assert jfk is not None and jfk.values["n_flights"] == 3
    assert jfk.event_time == dt.datetime(2024, 1, 2, tzinfo=UTC)


def test_event_times_far_from_the_epoch_order_exactly(online: OnlineStore) -> None:
    # Past 2**53 microseconds a double can no longer tell these apart.
    late = dt.datetime(9999, 12, 31, 23, 59, 59, 999998, tzinfo=UTC)
    early = dt.datetime(1, 1, 1, 0, 0, 0, 1, tzinfo=UTC)
    online.write(SCALARS, scalar_rows(["JFK", "LGA"], [late, early], [1, 1]), timestamp="ts")
    later = late + dt.timedelta(microseconds=1)
    earlier = early - dt.timedelta(microseconds=1)
    assert (
        online.write(SCALARS, scalar_rows(["JFK", "LGA"], [later, earlier], [2, 2]), timestamp="ts")
        == 1
    )
    assert _n(online, "JFK", "LGA") == [2, 1]
    jfk, lga = online.read(SCALARS, [("JFK",), ("LGA",)])
    assert jfk is not None and jfk.event_time == later
    assert lga is not None and lga.event_time == early
    assert online.write(SCALARS, scalar_rows(["JFK"], [late], [3]), timestamp="ts") == 0


def test_a_large_batch_with_duplicates_keeps_the_latest_of_each(online: OnlineStore) -> None:
    rng = random.Random(3)
    n_entities, n_rows = 2_000, 10_000
    origins = [f"E{rng.randrange(n_entities)}" for _ in range(n_rows)]
    micros = [rng.randrange(1_000_000) for _ in range(n_rows)]
    latest: dict[str, tuple[int, int]] = {}
    for i, (origin, micro) in enumerate(zip(origins, micros, strict=True)):
        if origin not in latest or micro >= latest[origin][0]:
            latest[origin] = (micro, i)
    rows = scalar_rows(origins, [at(1, micro=m) for m in micros], list(range(n_rows)))
    assert online.write(SCALARS, rows, timestamp="ts") == len(latest)
    keys = sorted(latest)
    assert _n(online, *keys) == [latest[k][1] for k in keys]
    got = online.read(SCALARS, [(k,) for k in keys])
    assert [r.event_time if r else None for r in got] == [at(1, micro=latest[k][0]) for k in keys]


def test_integer_and_composite_keys_dedupe_by_value(online: OnlineStore) -> None:
    schema = OnlineSchema("routes", ("origin", "dest"), (("v", "int64"),))
    rows = table(
        {
            "origin": ["A", "A", "A", "B"],
            "dest": ["B", "B", "C", "A"],
            "ts": [at(2), at(1), at(1), at(1)],
            "v": [1, 2, 3, 4],
        }
    )
    assert online.write(schema, rows, timestamp="ts") == 3
    assert values_of(online, schema, [("A", "B"), ("A", "C"), ("B", "A")]) == [
        {"v": 1},
        {"v": 3},
        {"v": 4},
    ]
