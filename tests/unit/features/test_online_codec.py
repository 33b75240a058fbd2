"""The online store's encodings, without a backend: entity keys (unambiguous, the same from
a request as from a materialised column), type strings, schema fingerprints, integer
decoders, the latest-row reduction, and each backend's stored values."""

from __future__ import annotations

import datetime as dt
import json
import math
import zoneinfo
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.core import InvalidValueError
from conveyor.features import OnlineSchema, OnlineSchemaMismatchError
from conveyor.features._online import prepare_batch
from conveyor.features._online_redis import _TIME_OFFSET, _encode_values
from conveyor.features._online_redis import _decoder as redis_decoder
from conveyor.features._online_schema import (
    FeatureType,
    encode_key,
    encode_key_part,
    from_micros,
    int_decoder,
    parse_feature_type,
    stored_positions,
)
from conveyor.features._online_sqlite import _column_values as sqlite_values
from conveyor.features._online_sqlite import _decoder as sqlite_decoder

UTC = dt.UTC
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
KEY_PART = st.one_of(st.text(), INT64)


# -- entity keys ----------------------------------------------------------------------------


@given(st.lists(KEY_PART, min_size=1, max_size=4))
def test_a_key_decodes_back_to_its_values_so_no_two_keys_collide(parts: list[Any]) -> None:
    text = encode_key(tuple(parts), len(parts))
    assert text.isascii()
    decoded = json.loads(text)
    assert decoded == parts
    assert [type(v) for v in decoded] == [type(v) for v in parts]


@given(st.lists(KEY_PART, min_size=2, max_size=3), st.lists(KEY_PART, min_size=2, max_size=3))
def test_different_keys_encode_differently(a: list[Any], b: list[Any]) -> None:
    if a != b or [type(v) for v in a] != [type(v) for v in b]:
        assert encode_key(a, len(a)) != encode_key(b, len(b)) or len(a) != len(b)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.text(), INT64), min_size=1, max_size=20),
    st.sampled_from([pa.int64(), pa.int32(), pa.uint64(), pa.int8()]),
)
def test_a_materialised_key_column_encodes_as_a_request_key(
    pairs: list[tuple[str, int]], int_type: pa.DataType
) -> None:
    lo, hi = (0, 2**63 - 1) if int_type == pa.uint64() else (-(2**63), 2**63 - 1)
    if int_type == pa.int32():
        lo, hi = -(2**31), 2**31 - 1
    if int_type == pa.int8():
        lo, hi = -128, 127
    pairs = [(s, min(max(i, lo), hi)) for s, i in pairs]
    schema = OnlineSchema("keys", ("name", "number"), ())
    rows = pa.table(
        {
            "name": pa.array([s for s, _ in pairs], pa.large_string()),
            "number": pa.array([i for _, i in pairs], int_type),
            "ts": pa.array(list(range(len(pairs))), pa.timestamp("us")),
        }
    )
    batch = prepare_batch(schema, rows, "ts")
    expected = list(dict.fromkeys(encode_key(pair, 2) for pair in pairs))
    assert sorted(batch.keys) == sorted(expected)


def test_key_values_from_numpy_and_str_subclasses_encode_as_plain_values() -> None:
    assert encode_key((np.int64(5), np.str_("a")), 2) == encode_key((5, "a"), 2) == '[5,"a"]'
    assert encode_key_part(np.uint64(2**64 - 1)) == str(2**64 - 1)

    class Code(str):
        pass

    assert encode_key_part(Code("JFK")) == '"JFK"'
    assert encode_key(["JFK"], 1) == '["JFK"]'  # a list is a sequence too


@pytest.mark.parametrize("value", [True, False, None, 1.0, math.nan, b"x", dt.date(2024, 1, 1)])
def test_only_strings_and_integers_are_key_values(value: Any) -> None:
    with pytest.raises(InvalidValueError, match="string or an integer"):
        encode_key_part(value)


def test_keys_escape_what_would_be_ambiguous() -> None:
    assert encode_key(("a,b", "c"), 2) == '["a,b","c"]'
    assert encode_key(('a"', "b"), 2) == '["a\\"","b"]'
    assert encode_key(("é\x00",), 1) == '["\\u00e9\\u0000"]'
    assert encode_key(("1",), 1) != encode_key((1,), 1)


# -- feature types --------------------------------------------------------------------------

ARROW_TYPES = [
    pa.bool_(),
    pa.int8(),
    pa.int16(),
    pa.int32(),
    pa.int64(),
    pa.uint8(),
    pa.uint16(),
    pa.uint32(),
    pa.uint64(),
    pa.float16(),
    pa.float32(),
    pa.float64(),
    pa.string(),
    pa.large_string(),
    pa.binary(),
    pa.large_binary(),
    pa.date32(),
    pa.date64(),
    pa.timestamp("s"),
    pa.timestamp("ms", tz="UTC"),
    pa.timestamp("us", tz="+05:30"),
    pa.timestamp("ns", tz="Europe/Paris"),
]


@pytest.mark.parametrize("arrow", ARROW_TYPES, ids=str)
def test_pyarrow_spelling_is_canonical_and_round_trips(arrow: pa.DataType) -> None:
    ftype = parse_feature_type(str(arrow))
    assert ftype.arrow == str(arrow)
    assert ftype.to_arrow() == arrow


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("float64", "double"),
        ("float32", "float"),
        ("float16", "halffloat"),
        ("utf8", "string"),
        ("str", "string"),
        ("large_utf8", "large_string"),
        ("boolean", "bool"),
        ("date32", "date32[day]"),
        ("date64", "date64[ms]"),
        ("timestamp[us,tz=UTC]", "timestamp[us, tz=UTC]"),
        ("timestamp[ms,  tz=America/New_York]", "timestamp[ms, tz=America/New_York]"),
    ],
)
def test_aliases_parse_to_the_canonical_spelling(alias: str, canonical: str) -> None:
    assert parse_feature_type(alias).arrow == canonical


def test_a_schema_keeps_canonical_types_so_aliases_share_a_fingerprint() -> None:
    a = OnlineSchema("v", ("id",), (("x", "float64"), ("t", "timestamp[us,tz=UTC]")))
    b = OnlineSchema("v", ["id"], [("x", "double"), ("t", "timestamp[us, tz=UTC]")])  # type: ignore[arg-type]
    assert a == b and hash(a) == hash(b) and a.fingerprint == b.fingerprint
    assert a.features == (("x", "double"), ("t", "timestamp[us, tz=UTC]"))
    assert a.join_keys == ("id",) and isinstance(b.join_keys, tuple)


@pytest.mark.parametrize(
    "text", ["int", "decimal128(10, 2)", "timestamp[m]", "null", "", "INT64", 64]
)
def test_unsupported_types_list_what_is_supported(text: Any) -> None:
    with pytest.raises(InvalidValueError) as caught:
        parse_feature_type(text, feature="x")
    assert "int8-int64" in str(caught.value) and caught.value.feature == "x"


# -- fingerprints ---------------------------------------------------------------------------

BASE = OnlineSchema("flights", ("origin",), (("n", "int64"), ("x", "double")))


def test_the_fingerprint_is_pinned() -> None:
    # Changing it makes every store drop its views on the next write: only on purpose.
    assert BASE.to_json() == ('{"features":[["n","int64"],["x","double"]],"join_keys":["origin"]}')
    assert BASE.fingerprint == "2060f0bf13918be0"


@pytest.mark.parametrize(
    "other",
    [
        OnlineSchema("flights", ("origin",), (("n", "int32"), ("x", "double"))),
        OnlineSchema("flights", ("origin",), (("x", "double"), ("n", "int64"))),
        OnlineSchema("flights", ("origin",), (("n", "int64"),)),
        OnlineSchema("flights", ("dest",), (("n", "int64"), ("x", "double"))),
        OnlineSchema("flights", ("origin", "dest"), (("n", "int64"), ("x", "double"))),
        OnlineSchema("flights", ("origin",), (("n", "int64"), ("y", "double"))),
    ],
)
def test_any_change_of_layout_changes_the_fingerprint(other: OnlineSchema) -> None:
    assert other.fingerprint != BASE.fingerprint


def test_the_view_name_is_not_in_the_fingerprint_and_json_round_trips() -> None:
    renamed = OnlineSchema("renamed", BASE.join_keys, BASE.features)
    assert renamed.fingerprint == BASE.fingerprint
    assert OnlineSchema.from_json("flights", BASE.to_json()) == BASE
    assert OnlineSchema.from_json("flights", BASE.to_json().encode()) == BASE


def test_select_checks_names_and_keeps_their_order() -> None:
    assert BASE.select(None) == ("n", "x")
    assert BASE.select(["x", "n"]) == ("x", "n")
    assert BASE.select("x") == ("x",)
    with pytest.raises(InvalidValueError, match="no feature 'X'; it has 'n', 'x'"):
        BASE.select(["x", "X"])


def test_stored_positions_serve_compatible_readers_only() -> None:
    wider = OnlineSchema("flights", ("origin",), (("y", "string"), ("x", "double"), ("n", "int64")))
    assert stored_positions(BASE, ("n", "x"), wider) == [2, 1]
    assert stored_positions(wider, ("x",), BASE) == [1]
    with pytest.raises(OnlineSchemaMismatchError, match="'y' is not stored"):
        stored_positions(wider, ("y", "x"), BASE)
    retyped = OnlineSchema("flights", ("origin",), (("n", "string"), ("x", "double")))
    with pytest.raises(OnlineSchemaMismatchError, match="'n' is stored as string, asked as int64"):
        stored_positions(BASE, ("n",), retyped)
    rekeyed = OnlineSchema("flights", ("dest",), BASE.features)
    with pytest.raises(OnlineSchemaMismatchError, match="join keys"):
        stored_positions(BASE, ("x",), rekeyed)


# -- integers to values ---------------------------------------------------------------------


@given(st.datetimes(timezones=st.just(UTC)))
def test_microseconds_decode_exactly_over_the_whole_datetime_range(when: dt.datetime) -> None:
    micros = (when - dt.datetime(1970, 1, 1, tzinfo=UTC)) // dt.timedelta(microseconds=1)
    assert from_micros(micros) == when


@given(st.datetimes(), st.datetimes())
def test_padded_event_times_compare_as_strings_as_they_do_as_numbers(
    a: dt.datetime, b: dt.datetime
) -> None:
    def padded(when: dt.datetime) -> str:
        micros = (when - dt.datetime(1970, 1, 1)) // dt.timedelta(microseconds=1)
        text = f"{micros + _TIME_OFFSET:019d}"
        assert len(text) == 19
        return text

    assert (padded(a) <= padded(b)) == (a <= b)


@pytest.mark.parametrize(
    ("arrow", "stored", "expected"),
    [
        ("timestamp[s]", 86_400, dt.datetime(1970, 1, 2)),
        ("timestamp[ms, tz=UTC]", -1, dt.datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)),
        ("timestamp[us, tz=UTC]", 2**53 + 1, EPOCH + dt.timedelta(microseconds=2**53 + 1)),
        ("timestamp[ns, tz=UTC]", -1, dt.datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
        ("timestamp[ns]", 1_999, dt.datetime(1970, 1, 1, 0, 0, 0, 1)),
        ("timestamp[s, tz=+05:30]", 0, EPOCH.astimezone(dt.timezone(dt.timedelta(minutes=330)))),
        ("date32[day]", -719162, dt.date(1, 1, 1)),
        ("date64[ms]", 19_782, dt.date(2024, 2, 29)),
    ],
)  # fmt: skip
def test_integers_decode_in_their_declared_unit_and_zone(
    arrow: str, stored: int, expected: Any
) -> None:
    decode = int_decoder(parse_feature_type(arrow))
    assert decode is not None
    value = decode(stored)
    assert value == expected and type(value) is type(expected)
    if isinstance(value, dt.datetime):
        assert value.utcoffset() == expected.utcoffset()


def test_a_named_zone_decodes_to_that_zone() -> None:
    decode = int_decoder(parse_feature_type("timestamp[s, tz=Europe/Paris]"))
    assert decode is not None
    value = decode(1_719_792_000)  # 2024-07-01 00:00 UTC
    assert value.tzinfo == zoneinfo.ZoneInfo("Europe/Paris") and value.hour == 2


def test_integers_and_strings_need_no_decoder() -> None:
    assert int_decoder(FeatureType("int64", "int")) is None
    assert int_decoder(FeatureType("string", "string")) is None


# -- the latest row per key -----------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abcde"), st.integers(0, 5)), min_size=1, max_size=40))
def test_the_batch_keeps_the_last_row_of_the_latest_event_time(rows: list[tuple[str, int]]) -> None:
    schema = OnlineSchema("v", ("k",), (("i", "int64"),))
    table = pa.table(
        {
            "k": [k for k, _ in rows],
            "ts": pa.array([t for _, t in rows], pa.timestamp("s")),
            "i": list(range(len(rows))),
        }
    )
    batch = prepare_batch(schema, table, "ts")
    expected: dict[str, tuple[int, int]] = {}
    for i, (k, t) in enumerate(rows):
        if k not in expected or t >= expected[k][0]:
            expected[k] = (t, i)
    got = {
        json.loads(key)[0]: (micros // 1_000_000, index)
        for key, micros, index in zip(
            batch.keys, batch.event_micros, batch.columns[0].to_pylist(), strict=True
        )
    }
    assert got == expected


def test_event_times_of_every_unit_become_utc_microseconds() -> None:
    schema = OnlineSchema("v", ("k",), ())
    cases = [
        (pa.array([1], pa.timestamp("s", tz="+01:00")), 1_000_000),
        (pa.array([1], pa.timestamp("ms")), 1_000),
        (pa.array([1_999], pa.timestamp("ns", tz="UTC")), 1),
        (pa.array([1], pa.date32()), 86_400_000_000),
        (pa.array([86_400_000], pa.date64()), 86_400_000_000),
    ]
    for column, micros in cases:
        batch = prepare_batch(schema, pa.table({"k": ["a"], "ts": column}), "ts")
        assert batch.event_micros == [micros], column.type


# -- stored values --------------------------------------------------------------------------


def test_sqlite_stores_nan_as_text_and_large_uint64_as_text() -> None:
    floats = pa.chunked_array([pa.array([1.5, math.nan, None, -0.0])])
    values = sqlite_values(parse_feature_type("double"), floats)
    assert values[0] == 1.5 and values[1] == "NaN" and values[2] is None
    assert math.copysign(1, values[3]) == -1
    decode = sqlite_decoder(parse_feature_type("double"))
    assert decode is not None and math.isnan(decode("NaN")) and decode(2.5) == 2.5
    big = pa.chunked_array([pa.array([2**64 - 1, 5, None], pa.uint64())])
    assert sqlite_values(parse_feature_type("uint64"), big) == [str(2**64 - 1), 5, None]
    decode = sqlite_decoder(parse_feature_type("uint64"))
    assert decode is not None and decode(str(2**64 - 1)) == 2**64 - 1
    small = pa.chunked_array([pa.array([5, None], pa.uint64())])
    assert sqlite_values(parse_feature_type("uint64"), small) == [5, None]
    bools = sqlite_decoder(parse_feature_type("bool"))
    assert bools is not None and bools(1) is True and bools(0) is False


def test_redis_values_are_an_event_time_then_a_json_array() -> None:
    schema = OnlineSchema(
        "v",
        ("k",),
        (("n", "int64"), ("x", "double"), ("s", "string"), ("b", "bool"), ("raw", "binary"),
         ("t", "timestamp[ms, tz=UTC]"), ("d", "date32[day]")),
    )  # fmt: skip
    rows = pa.table(
        {
            "k": ["a", "b"],
            "ts": pa.array([0, 1], pa.timestamp("us", tz="UTC")),
            "n": [2**63 - 1, None],
            "x": [math.nan, -0.0],
            "s": ['é"\x00', None],
            "b": [True, None],
            "raw": [b"\x00\xff", None],
            "t": pa.array([1, None], pa.timestamp("ms", tz="UTC")),
            "d": pa.array([1, None], pa.date32()),
        }
    )
    batch = prepare_batch(schema, rows, "ts")
    a, b = _encode_values(schema, batch)
    assert (
        a == f"{_TIME_OFFSET:019d}" + '[9223372036854775807,NaN,"é\\"\\u0000",true,"\\u0000ÿ",1,1]'
    )
    assert b == f"{_TIME_OFFSET + 1:019d}" + "[null,-0.0,null,null,null,null,null]"
    stored = json.loads(a[19:])
    decoded = [
        value if decode is None else decode(value)
        for value, decode in zip(
            stored, (redis_decoder(t) for t in schema.types.values()), strict=True
        )
    ]
    assert decoded[0] == 2**63 - 1 and math.isnan(decoded[1]) and decoded[2] == 'é"\x00'
    assert decoded[3] is True and decoded[4] == b"\x00\xff"
    assert decoded[5] == dt.datetime(1970, 1, 1, 0, 0, 0, 1000, tzinfo=UTC)
    assert decoded[6] == dt.date(1970, 1, 2)


def test_redis_values_of_a_view_without_features_are_an_event_time_and_an_empty_array() -> None:
    schema = OnlineSchema("v", ("k",), ())
    batch = prepare_batch(
        schema, pa.table({"k": ["a"], "ts": pa.array([5], pa.timestamp("us"))}), "ts"
    )
    assert _encode_values(schema, batch) == [f"{_TIME_OFFSET + 5:019d}[]"]
