"""SQL sources without a server: watermark values as JSON, descriptions, specs, and rows
typed into Arrow (on an in-memory SQLite database)."""

from __future__ import annotations

import datetime as dt
import decimal
import json
from typing import Any

import pyarrow as pa
import pytest

from conveyor.core import DataSourceError
from conveyor.data._sources import SqlQuery, make_source
from conveyor.data._sources_sql import SqlSource, _decode, _encode, _to_batch

SOURCE = SqlSource("sqlite://", "SELECT 1 AS n", watermark="n")


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (7, "int"),
        (2.5, "float"),
        (decimal.Decimal("10.125"), "decimal"),
        (dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.UTC), "datetime"),
        (dt.datetime(2024, 5, 1, 12, 30, 0, 123456), "datetime"),
        (dt.date(2024, 5, 1), "date"),
        ("2024-05-01 12:30:00", "str"),
        (True, "bool"),
    ],
)
def test_watermarks_survive_json_exactly(value: Any, kind: str) -> None:
    encoded = _encode(value, SOURCE)

    assert encoded is not None and encoded["type"] == kind
    back = _decode(json.loads(json.dumps(encoded)))
    assert back == value and type(back) is type(value)


def test_no_watermark_is_none() -> None:
    assert _encode(None, SOURCE) is None


def test_a_watermark_of_another_type_is_refused() -> None:
    with pytest.raises(DataSourceError) as caught:
        _encode(b"\x00", SOURCE)

    assert "holds bytes values" in caught.value.message
    assert "insertion-time" in (caught.value.hint or "")


def test_the_description_is_one_short_line_without_password() -> None:
    query = "SELECT *\n  FROM events\n WHERE kind = 'click'\n" + " AND x = 1" * 20
    source = SqlSource("postgresql://app:pw@db/prod", query, watermark="id")

    shown = source.describe()

    assert "\n" not in shown and "pw" not in shown
    assert shown.startswith("SQL query \"SELECT * FROM events WHERE kind = 'click' AND x = 1")
    assert shown.endswith("...\" on postgresql://app:***@db/prod (watermark 'id')")
    assert len(shown) < 140


def test_the_spec_of_a_bounded_source() -> None:
    source = SqlSource(
        "sqlite:///x.db",
        "SELECT * FROM t;",
        watermark="id",
        after={"type": "int", "value": 3},
        until={"type": "int", "value": 9},
    )

    assert source.spec() == {
        "kind": "sql",
        "url": "sqlite:///x.db",
        "query": "SELECT * FROM t",
        "watermark": "id",
        "after": {"type": "int", "value": 3},
        "until": {"type": "int", "value": 9},
    }
    assert source.describe().endswith("(watermark 'id' > 3 <= 9)")


def test_rows_take_the_first_batchs_types() -> None:
    names = ["n", "price", "at", "label"]
    first = [
        (
            1,
            decimal.Decimal("1.50"),
            dt.datetime(2024, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "a",
        ),
        (2, None, None, None),
    ]

    batch, schema = _to_batch(names, first, None, SOURCE)
    later, same = _to_batch(
        names, [(2**40, decimal.Decimal("12345678.25"), None, "b")], schema, SOURCE
    )

    assert schema.field("price").type == pa.decimal128(38, 2)  # room for bigger values later
    assert schema.field("at").type == pa.timestamp("us", tz="UTC")
    assert batch.column(2)[0].as_py() == dt.datetime(2023, 12, 31, 22, tzinfo=dt.UTC)
    assert same is schema and later.schema == schema
    assert later.column(1)[0].as_py() == decimal.Decimal("12345678.25")


def test_a_finer_decimal_later_asks_for_a_cast() -> None:
    names = ["price"]
    _, schema = _to_batch(names, [(decimal.Decimal("1.5"),)], None, SOURCE)

    with pytest.raises(DataSourceError) as caught:
        _to_batch(names, [(decimal.Decimal("1.25"),)], schema, SOURCE)

    assert "held decimal128(38, 1) values in the first batch" in caught.value.message
    assert "NUMERIC(18, 4)" in (caught.value.hint or "")


def test_an_integer_too_big_for_arrow_asks_for_a_cast() -> None:
    with pytest.raises(DataSourceError) as caught:
        _to_batch(["n"], [(2**70,)], None, SOURCE)

    assert caught.value.column == "n"


def test_an_in_memory_sqlite_query_reads() -> None:
    source = make_source(SqlQuery("sqlite://", "SELECT 1 AS a, 'x' AS b UNION ALL SELECT 2, NULL"))

    batches = list(source.iter_batches())

    assert pa.Table.from_batches(batches).to_pydict() == {"a": [1, 2], "b": ["x", None]}
    assert source.scan().detail == {"n_rows": 2, "watermark": None}


def test_aware_times_are_right_even_with_pandera_imported() -> None:
    import pandera.pandas  # noqa: F401 - with it imported, pyarrow misconverted offsets

    at = dt.datetime(2024, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    batch, schema = _to_batch(["at"], [(at,), (None,)], None, SOURCE)
    assert schema.field("at").type == pa.timestamp("us", tz="UTC")
    assert batch.column(0)[0].as_py() == dt.datetime(2023, 12, 31, 22, tzinfo=dt.UTC)
    later, _ = _to_batch(["at"], [(at,)], schema, SOURCE)
    assert later.column(0)[0].as_py() == dt.datetime(2023, 12, 31, 22, tzinfo=dt.UTC)
