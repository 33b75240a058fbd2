"""Values written come back exactly, under their declared types, on every backend: ints past
2**53, NaN and infinities, any Unicode, bools, timestamps in every unit and zone, dates,
binary and nulls; composite keys, feature subsets, unknown keys and 100-key reads."""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from typing import Any

import pyarrow as pa
import pytest

from conveyor.features import OnlineRow, OnlineSchema, OnlineStore
from support.online import SCALARS, UTC, at, scalar_rows, table, values_of

pytestmark = pytest.mark.integration


def _round_trip(
    online: OnlineStore, ftype: str, values: list[Any], arrow: pa.DataType
) -> list[Any]:
    schema = OnlineSchema("typed", ("id",), (("value", ftype),))
    rows = table(
        {"id": list(range(len(values))), "ts": [at(1)] * len(values), "value": values},
        {"value": arrow},
    )
    assert online.write(schema, rows, timestamp="ts") == len(values)
    read = online.read(schema, [(i,) for i in range(len(values))])
    assert all(row is not None for row in read)
    return [row.values["value"] for row in read if row is not None]


def _same(a: Any, b: Any) -> bool:
    """Equal, of the same type; NaN equals NaN and -0.0 differs from 0.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (
            a == b and math.copysign(1, a) == math.copysign(1, b)
        )
    if isinstance(a, dt.datetime):
        return (
            a == b and a.utcoffset() == b.utcoffset() and (a.tzinfo is None) == (b.tzinfo is None)
        )
    return bool(a == b)


INTS = [0, 1, -1, 2**53 + 1, -(2**53) - 1, 2**63 - 1, -(2**63), None]
FLOATS = [0.1, -0.0, 0.0, 1e308, 5e-324, -1.5, math.nan, math.inf, -math.inf, 1.0, 2.0**60, None]
STRINGS = ["", "plain", "é", "日本語", "😀 emoji", "a\x00b", "quote \" and \\ backslash",
           "line\nbreak\u2028\u0085", "[\"JFK\",1]", "\ufeffbom", "Ω" * 1000, None]  # fmt: skip


@pytest.mark.parametrize(
    ("ftype", "arrow", "values"),
    [
        ("int64", pa.int64(), INTS),
        ("int32", pa.int32(), [2**31 - 1, -(2**31), 0, None]),
        ("int8", pa.int8(), [127, -128, None]),
        ("uint8", pa.uint8(), [0, 255, None]),
        ("uint32", pa.uint32(), [0, 2**32 - 1, None]),
        ("uint64", pa.uint64(), [0, 2**63 - 1, 2**63, 2**64 - 1, None]),
        ("double", pa.float64(), FLOATS),
        ("string", pa.string(), STRINGS),
        ("large_string", pa.large_string(), STRINGS),
        ("bool", pa.bool_(), [True, False, None]),
        ("binary", pa.binary(), [b"", b"\x00\xff\x80", bytes(range(256)), b"plain", None]),
        ("large_binary", pa.large_binary(), [b"\xc3\x28", None]),
        (
            "date32[day]",
            pa.date32(),
            [
                dt.date(1970, 1, 1),
                dt.date(1, 1, 1),
                dt.date(9999, 12, 31),
                dt.date(1969, 12, 31),
                dt.date(2024, 2, 29),
                None,
            ],
        ),
    ],  # fmt: skip
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_values_come_back_exactly_under_their_declared_type(
    online: OnlineStore, ftype: str, arrow: pa.DataType, values: list[Any]
) -> None:
    got = _round_trip(online, ftype, values, arrow)
    assert all(_same(a, b) for a, b in zip(got, values, strict=True)), (got, values)


def test_float32_and_halffloat_read_back_as_the_python_float_arrow_gives(
    online: OnlineStore,
) -> None:
    for ftype, arrow in (("float", pa.float32()), ("halffloat", pa.float16())):
        import numpy as np

        source = pa.array(
            np.array([0.1, -0.0, 65504.0, np.nan, np.inf, 1 / 3]).astype(arrow.to_pandas_dtype())
        )
        expected = source.to_pylist()
        got = _round_trip(online, ftype, expected, arrow)
        assert all(_same(a, b) for a, b in zip(got, expected, strict=True)), (ftype, got)


@pytest.mark.parametrize("unit", ["s", "ms", "us"])
@pytest.mark.parametrize("tz", ["UTC", None, "+05:30", "America/New_York"])
def test_timestamps_keep_their_unit_and_zone(
    online: OnlineStore, unit: str, tz: str | None
) -> None:
    micro = {"s": 0, "ms": 123000, "us": 123456}[unit]
    instants = [
        dt.datetime(2024, 3, 10, 7, 30, 15, micro, tzinfo=UTC),  # a DST change in New York
        dt.datetime(1969, 12, 31, 23, 59, 59, micro, tzinfo=UTC),
        dt.datetime(1900, 1, 1, tzinfo=UTC),
        dt.datetime(2262, 4, 11, tzinfo=UTC),
    ]
    arrow = pa.timestamp(unit, tz=tz)
    values: list[Any] = [v if tz else v.replace(tzinfo=None) for v in instants] + [None]
    got = _round_trip(online, str(arrow), values, arrow)
    expected = pa.array(values, arrow).to_pylist()  # how Arrow itself reads them back
    for a, b in zip(got, expected, strict=True):
        assert a == b
        if a is not None:
            assert (a.tzinfo is None) == (tz is None)
            assert a.utcoffset() == b.utcoffset()
    if tz == "America/New_York":
        assert got[0].tzinfo == zoneinfo.ZoneInfo("America/New_York")
        assert got[0].utcoffset() == dt.timedelta(hours=-4)  # after the change: EDT


def test_nanosecond_timestamps_read_back_floored_to_microseconds(online: OnlineStore) -> None:
    arrow = pa.timestamp("ns", tz="UTC")
    values = pa.array([1_700_000_000_123_456_789, -1_001, None], arrow)
    schema = OnlineSchema("nanos", ("id",), (("value", "timestamp[ns, tz=UTC]"),))
    rows = pa.table(
        {
            "id": [0, 1, 2],
            "ts": pa.array([at(1)] * 3, pa.timestamp("us", tz="UTC")),
            "value": values,
        }
    )
    online.write(schema, rows, timestamp="ts")
    got = [
        row.values["value"] if row else "missing" for row in online.read(schema, [(0,), (1,), (2,)])
    ]
    epoch = dt.datetime(1970, 1, 1, tzinfo=UTC)
    assert got == [
        epoch + dt.timedelta(microseconds=1_700_000_000_123_456),
        epoch + dt.timedelta(microseconds=-2),  # floored, not truncated toward zero
        None,
    ]


def test_a_row_of_every_type_and_its_event_time(online: OnlineStore) -> None:
    schema = OnlineSchema(
        "mixed",
        ("origin",),
        (
            ("n", "int64"),
            ("x", "double"),
            ("s", "string"),
            ("b", "bool"),
            ("t", "timestamp[us, tz=UTC]"),
            ("d", "date32[day]"),
            ("raw", "binary"),
        ),
    )
    when = dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    rows = table(
        {
            "origin": ["JFK", "LGA"],
            "ts": [when, at(2)],
            "n": [2**62 + 1, None],
            "x": [math.nan, None],
            "s": ["Zürich ☃", None],
            "b": [False, None],
            "t": [when, None],
            "d": [dt.date(2024, 5, 6), None],
            "raw": [b"\x00", None],
        }
    )
    online.write(schema, rows, timestamp="ts")
    jfk, lga = online.read(schema, [("JFK",), ("LGA",)])
    assert isinstance(jfk, OnlineRow) and isinstance(lga, OnlineRow)
    assert jfk.event_time == when and jfk.event_time.tzinfo is not None
    assert jfk.event_time.utcoffset() == dt.timedelta(0)
    assert math.isnan(jfk.values.pop("x"))
    assert jfk.values == {
        "n": 2**62 + 1,
        "s": "Zürich ☃",
        "b": False,
        "t": when,
        "d": dt.date(2024, 5, 6),
        "raw": b"\x00",
    }
    assert type(jfk.values["n"]) is int and type(jfk.values["b"]) is bool
    assert lga.values == dict.fromkeys(schema.feature_names)  # every feature null
    assert lga.event_time == at(2)


def test_unknown_entities_read_as_none_in_order(online: OnlineStore) -> None:
    online.write(SCALARS, scalar_rows(["JFK", "LGA"], [at(1), at(1)], [1, 2]), timestamp="ts")
    got = values_of(online, SCALARS, [("SFO",), ("LGA",), ("nope",), ("JFK",), ("LGA",)])
    assert [None if v is None else v["n_flights"] for v in got] == [None, 2, None, 1, 2]
    assert online.read(SCALARS, []) == []


def test_a_view_never_written_reads_as_none(online: OnlineStore) -> None:
    assert online.read(SCALARS, [("JFK",), ("LGA",)]) == [None, None]


def test_views_are_separate(online: OnlineStore) -> None:
    other = OnlineSchema("other", SCALARS.join_keys, SCALARS.features)
    online.write(SCALARS, scalar_rows(["JFK"], [at(1)], [1]), timestamp="ts")
    online.write(other, scalar_rows(["JFK"], [at(1)], [2]), timestamp="ts")
    assert values_of(online, SCALARS, [("JFK",)])[0]["n_flights"] == 1
    assert values_of(online, other, [("JFK",)])[0]["n_flights"] == 2


def test_string_and_integer_keys_are_different_entities(online: OnlineStore) -> None:
    as_int = OnlineSchema("by-int", ("id",), (("v", "int64"),))
    online.write(as_int, table({"id": [42], "ts": [at(1)], "v": [1]}), timestamp="ts")
    as_str = OnlineSchema("by-str", ("id",), (("v", "int64"),))
    online.write(as_str, table({"id": ["42"], "ts": [at(1)], "v": [2]}), timestamp="ts")
    assert values_of(online, as_int, [(42,), ("42",)]) == [{"v": 1}, None]
    assert values_of(online, as_str, [(42,), ("42",)]) == [None, {"v": 2}]


def test_keys_of_any_integer_width_and_numpy_values_find_the_same_entity(
    online: OnlineStore,
) -> None:
    import numpy as np

    schema = OnlineSchema("widths", ("id",), (("v", "int64"),))
    rows = table(
        {"id": [7, -(2**63), 2**63 - 1], "ts": [at(1)] * 3, "v": [1, 2, 3]}, {"id": pa.int64()}
    )
    online.write(schema, rows, timestamp="ts")
    small = table({"id": [8], "ts": [at(1)], "v": [4]}, {"id": pa.uint8()})
    online.write(schema, small, timestamp="ts")
    keys = [(np.int64(7),), (-(2**63),), (2**63 - 1,), (np.uint8(8),), (np.int32(8),)]
    assert [v["v"] for v in values_of(online, schema, keys)] == [1, 2, 3, 4, 4]


@pytest.mark.parametrize(
    "parts",
    [
        (("a,b", "c"), ("a", "b,c")),
        (('a"', "b"), ("a", '"b')),
        (("a\\", "b"), ("a", "\\b")),
        (("a:b", "c"), ("a", "b:c")),
        (("a", "1"), ("a", 1)),
        (("", "ab"), ("a", "b")),
        (("a", ""), ("", "a")),
        (('["a"', "b"), ("a", '"b"]')),
    ],
)
def test_composite_keys_whose_values_hold_separators_do_not_collide(
    online: OnlineStore, parts: tuple[tuple[Any, ...], tuple[Any, ...]]
) -> None:
    schema = OnlineSchema("pairs", ("origin", "carrier"), (("v", "int64"),))
    first, second = parts
    for key, value in ((first, 1), (second, 2)):
        columns = {"origin": [key[0]], "carrier": [key[1]], "ts": [at(1)], "v": [value]}
        assert online.write(schema, table(columns), timestamp="ts") == 1
    assert values_of(online, schema, [first, second]) == [{"v": 1}, {"v": 2}]


def test_composite_keys_read_in_order(online: OnlineStore) -> None:
    schema = OnlineSchema("routes", ("origin", "dest"), (("minutes", "int64"),))
    rows = table(
        {
            "origin": ["JFK", "JFK", "LGA"],
            "dest": ["LAX", "SFO", "LAX"],
            "ts": [at(1)] * 3,
            "minutes": [330, 345, 320],
        }
    )
    assert online.write(schema, rows, timestamp="ts") == 3
    keys = [("LGA", "LAX"), ("JFK", "SFO"), ("SFO", "JFK"), ("JFK", "LAX")]
    got = values_of(online, schema, keys)
    assert got == [{"minutes": 320}, {"minutes": 345}, None, {"minutes": 330}]


def test_a_feature_subset_is_returned_in_the_order_asked(online: OnlineStore) -> None:
    online.write(SCALARS, scalar_rows(["JFK"], [at(1)], [8]), timestamp="ts")
    (row,) = online.read(SCALARS, [("JFK",)], features=["carrier", "n_flights"])
    assert row is not None and list(row.values.items()) == [("carrier", "c8"), ("n_flights", 8)]
    (row,) = online.read(SCALARS, [("JFK",)], features=["delay"])
    assert row is not None and row.values == {"delay": 2.0}
    (row,) = online.read(SCALARS, [("JFK",)], features=[])
    assert row is not None and row.values == {} and row.event_time == at(1)
    (row,) = online.read(SCALARS, [("JFK",)], features=("n_flights",))
    assert row is not None and row.values == {"n_flights": 8}


def test_a_view_without_features_stores_event_times(online: OnlineStore) -> None:
    schema = OnlineSchema("bare", ("id",), ())
    online.write(schema, table({"id": ["a", "b"], "ts": [at(1), at(2)]}), timestamp="ts")
    got = online.read(schema, [("a",), ("b",), ("c",)])
    assert [(r.values, r.event_time) if r else None for r in got] == [
        ({}, at(1)),
        ({}, at(2)),
        None,
    ]


def test_a_hundred_keys_in_one_read(online: OnlineStore) -> None:
    n = 1_000
    origins = [f"E{i:05d}" for i in range(n)]
    online.write(SCALARS, scalar_rows(origins, [at(1)] * n, list(range(n))), timestamp="ts")
    keys = [(f"E{i:05d}",) for i in range(0, 2 * n, 20)]  # half unknown
    got = values_of(online, SCALARS, keys)
    assert len(got) == 100
    assert got == [
        None if i >= n else {"n_flights": i, "delay": i / 4, "carrier": f"c{i}"}
        for i in range(0, 2 * n, 20)
    ]


def test_thousands_of_keys_with_repeats_in_one_read(online: OnlineStore) -> None:
    n = 2_500
    origins = [f"E{i}" for i in range(n)]
    online.write(SCALARS, scalar_rows(origins, [at(1)] * n, list(range(n))), timestamp="ts")
    keys = [(f"E{i % (n + 10)}",) for i in range(3 * n)]
    got = values_of(online, SCALARS, keys)
    assert [None if v is None else v["n_flights"] for v in got] == [
        None if i % (n + 10) >= n else i % (n + 10) for i in range(3 * n)
    ]


def test_a_record_batch_and_extra_columns_are_accepted(online: OnlineStore) -> None:
    rows = scalar_rows(["JFK"], [at(1)], [3]).append_column("ignored", pa.array(["x"]))
    assert online.write(SCALARS, rows.to_batches()[0], timestamp="ts") == 1
    assert values_of(online, SCALARS, [("JFK",)]) == [
        {"n_flights": 3, "delay": 0.75, "carrier": "c3"}
    ]


def test_columns_are_cast_to_the_declared_type(online: OnlineStore) -> None:
    rows = pa.table(
        {
            "origin": pa.array(["JFK", "LGA"]).dictionary_encode(),
            "ts": pa.array([at(1), at(1)], pa.timestamp("ns", tz="Europe/Paris")),
            "n_flights": pa.array([1, 2], pa.int8()),
            "delay": pa.array([1, 2], pa.int32()),
            "carrier": pa.array(["a", "b"], pa.large_string()),
        }
    )
    online.write(SCALARS, rows, timestamp="ts")
    (jfk,) = online.read(SCALARS, [("JFK",)])
    assert jfk is not None and jfk.values == {"n_flights": 1, "delay": 1.0, "carrier": "a"}
    assert type(jfk.values["delay"]) is float and jfk.event_time == at(1)


def test_the_store_is_a_context_manager_and_reopens_on_the_same_data(backend: Any) -> None:
    with backend.open() as store:
        store.write(SCALARS, scalar_rows(["JFK"], [at(1)], [5]), timestamp="ts")
        assert backend.url.split(":")[0] in repr(store)
    with backend.open() as again:
        assert values_of(again, SCALARS, [("JFK",)]) == [
            {"n_flights": 5, "delay": 1.25, "carrier": "c5"}
        ]
