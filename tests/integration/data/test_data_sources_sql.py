"""SQL sources against real databases: SQLite and PostgreSQL (a fresh schema per test).

PostgreSQL cases need ``CONVEYOR_TEST_POSTGRES_URL``; they fail (never skip) if it is set
but the server is unreachable, and are skipped with the reason when it is unset.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from conveyor.core import DataSourceError
from conveyor.data._sources import Source, SqlQuery, make_source, source_from_spec
from conveyor.data._sources_sql import SqlSource
from support.data_sources import sample_table, snapshot_of
from support.pg import PG_ENV, drop_pg_schema, new_pg_schema, postgres_url

pytestmark = pytest.mark.integration


@dataclass
class Database:
    """A throw-away database: its URL for the source, and a way to run SQL on it."""

    backend: str
    url: str

    def execute(self, sql: str, rows: Sequence[Sequence[Any]] = ()) -> None:
        if self.backend == "sqlite":
            with sqlite3.connect(self.url.removeprefix("sqlite:///")) as conn:
                if rows:
                    conn.executemany(sql, rows)
                else:
                    conn.execute(sql)
            return
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            if rows:
                with conn.cursor() as cur:
                    cur.executemany(sql.replace("?", "%s"), rows)
            else:
                conn.execute(sql)

    def add_events(self, start: int, n: int) -> None:
        """Rows ``start`` to ``start + n`` of :func:`events`, as sample_table has them."""
        table = events(n, start=start)
        self.execute(
            "INSERT INTO events (id, amount, city) VALUES (?, ?, ?)",
            list(zip(*(table[c].to_pylist() for c in table.schema.names), strict=True)),
        )


def events(n: int, *, start: int = 0) -> pa.Table:
    return sample_table(n, start=start).select(["id", "amount", "city"])


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty database on each backend, with an ``events`` table."""
    if request.param == "sqlite":
        database = Database("sqlite", f"sqlite:///{tmp_path}/source.db")
        database.execute("CREATE TABLE events (id INTEGER, amount REAL, city TEXT)")
        yield database
        return
    database = pg_database()
    try:
        database.execute("CREATE TABLE events (id BIGINT, amount DOUBLE PRECISION, city TEXT)")
        yield database
    finally:
        drop_pg_schema(database.url.rsplit("%3D", 1)[1])


@pytest.fixture
def pg() -> Iterator[Database]:
    """An empty PostgreSQL schema."""
    database = pg_database()
    try:
        yield database
    finally:
        drop_pg_schema(database.url.rsplit("%3D", 1)[1])


def pg_database() -> Database:
    if postgres_url() is None:
        pytest.skip(f"PostgreSQL tests need {PG_ENV}; run the suite with .ci/run")
    url, _schema = new_pg_schema()
    return Database("postgresql", url)


def read_all(source: Source, batch_rows: int = 65_536) -> pa.Table:
    return pa.Table.from_batches(list(source.iter_batches(batch_rows=batch_rows)))


ORDERED = "SELECT id, amount, city FROM events ORDER BY id"


# -- reading ---------------------------------------------------------------------------------


def test_rows_stream_in_order_in_bounded_batches(db: Database) -> None:
    db.add_events(0, 1000)

    batches = list(make_source(SqlQuery(db.url, ORDERED)).iter_batches(batch_rows=128))

    assert [b.num_rows for b in batches] == [128] * 7 + [104]
    assert pa.Table.from_batches(batches).equals(events(1000))


def test_a_query_is_the_same_snapshot_as_the_same_rows_elsewhere(
    db: Database, tmp_path: Path
) -> None:
    db.add_events(0, 500)

    from_sql = snapshot_of(make_source(SqlQuery(db.url, ORDERED)), tmp_path / "a", batch_rows=64)
    from_table = snapshot_of(make_source(events(500)), tmp_path / "b")

    assert from_sql.digest == from_table.digest
    db.execute("UPDATE events SET amount = amount + 1 WHERE id = 250")
    changed = snapshot_of(make_source(SqlQuery(db.url, ORDERED)), tmp_path / "c")
    assert changed.digest != from_sql.digest


def test_an_empty_result_yields_its_columns(db: Database) -> None:
    (batch,) = list(make_source(SqlQuery(db.url, ORDERED)).iter_batches())

    assert batch.num_rows == 0
    assert batch.schema.names == ["id", "amount", "city"]


def test_a_trailing_semicolon_is_fine(db: Database) -> None:
    db.add_events(0, 3)

    source = make_source(SqlQuery(db.url, ORDERED + " ;\n"), watermark="id")

    assert read_all(source).num_rows == 3
    assert source.scan().detail["n_rows"] == 3


def test_postgresql_streams_through_a_server_side_cursor(pg: Database) -> None:
    import psycopg

    pg.execute("CREATE TABLE big AS SELECT i AS id FROM generate_series(1, 5000) AS i")
    name = f"conveyor-test-{uuid.uuid4().hex[:8]}"
    source = make_source(SqlQuery(f"{pg.url}&application_name={name}", "SELECT id FROM big"))

    batches = source.iter_batches(batch_rows=500)
    first = next(batches)  # the query is open, paused between fetches
    with psycopg.connect(pg.url, autocommit=True) as admin:
        (query,) = admin.execute(
            "SELECT query FROM pg_stat_activity WHERE application_name = %s", [name]
        ).fetchone() or ("",)
    rest = list(batches)

    assert first.num_rows == 500 and sum(b.num_rows for b in rest) == 4500
    assert query.upper().startswith(("FETCH", "DECLARE")), query


def test_a_reader_that_stops_early_closes_the_cursor(db: Database) -> None:
    db.add_events(0, 300)
    source = make_source(SqlQuery(db.url, ORDERED))

    batches = source.iter_batches(batch_rows=100)
    assert next(batches).num_rows == 100
    batches.close()  # an unclosed server-side cursor would warn, and warnings are errors

    assert read_all(source).num_rows == 300  # and the database is not left locked


def test_postgresql_types_become_arrow_types(pg: Database, tmp_path: Path) -> None:
    pg.execute(
        "CREATE TABLE typed (n NUMERIC(10, 2), at TIMESTAMPTZ, day DATE, ok BOOLEAN, raw BYTEA)"
    )
    pg.execute(
        "INSERT INTO typed VALUES (12.50, '2024-03-01 12:00:00+02', '2024-03-01', true, "
        "'\\x0102'), (NULL, NULL, NULL, NULL, NULL)"
    )
    source = make_source(SqlQuery(pg.url, "SELECT * FROM typed ORDER BY n NULLS LAST"))

    table = read_all(source)

    assert table.schema.field("n").type == pa.decimal128(38, 2)
    assert table.schema.field("at").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("day").type == pa.date32()
    assert table.schema.field("ok").type == pa.bool_()
    assert table.schema.field("raw").type == pa.binary()
    assert table.column("n").to_pylist() == [decimal.Decimal("12.50"), None]
    assert table.column("at")[0].as_py() == dt.datetime(2024, 3, 1, 10, tzinfo=dt.UTC)
    assert snapshot_of(source, tmp_path / "typed.parquet").n_rows == 2


def test_the_session_time_zone_does_not_change_the_snapshot(pg: Database, tmp_path: Path) -> None:
    pg.execute("CREATE TABLE t (at TIMESTAMPTZ)")
    pg.execute("INSERT INTO t VALUES ('2024-03-01 12:00:00+00'), ('2024-06-01 12:00:00+00')")
    query = "SELECT at FROM t ORDER BY at"
    in_utc = make_source(SqlQuery(f"{pg.url}%20-cTimeZone%3DUTC", query))
    in_tokyo = make_source(SqlQuery(f"{pg.url}%20-cTimeZone%3DAsia/Tokyo", query))

    assert (
        snapshot_of(in_utc, tmp_path / "a").digest == snapshot_of(in_tokyo, tmp_path / "b").digest
    )


# -- new data --------------------------------------------------------------------------------


def test_rows_past_the_watermark_are_the_new_part(db: Database) -> None:
    db.add_events(0, 10)
    source = make_source(SqlQuery(db.url, ORDERED, watermark="id"))

    first = source.changes(None)
    assert first.has_new and first.state.detail["n_rows"] == 10
    assert first.state.detail["watermark"] == {"type": "int", "value": 9}
    assert read_all(first.new_part()).column("id").to_pylist() == list(range(10))

    assert not source.changes(first.state).has_new  # nothing new twice: nothing
    assert not source.changes(first.state).has_new

    db.add_events(10, 5)
    stored = json.loads(json.dumps(first.state.to_dict()))
    second = source.changes(stored)

    assert second.has_new
    assert "id > 9 up to 14" in second.summary
    assert read_all(second.new_part()).column("id").to_pylist() == [10, 11, 12, 13, 14]
    assert read_all(source).num_rows == 15  # the source stays cumulative
    assert not source.changes(second.state).has_new


def test_rows_added_after_the_scan_wait_for_the_next_scan(db: Database) -> None:
    db.add_events(0, 3)
    source = make_source(SqlQuery(db.url, ORDERED, watermark="id"))
    state = source.scan()
    db.add_events(3, 2)
    changes = source.changes(state)
    db.add_events(5, 2)  # after the scan: beyond the new part's upper bound

    assert read_all(changes.new_part()).column("id").to_pylist() == [3, 4]
    assert read_all(source.changes(changes.state).new_part()).column("id").to_pylist() == [5, 6]


def test_the_new_part_rebuilds_from_its_spec(db: Database) -> None:
    db.add_events(0, 4)
    source = make_source(SqlQuery(db.url, ORDERED, watermark="id"))
    state = source.scan()
    db.add_events(4, 2)

    new = source.changes(state).new_part()
    rebuilt = source_from_spec(json.loads(json.dumps(new.spec())))

    assert isinstance(rebuilt, SqlSource) and rebuilt.after == {"type": "int", "value": 3}
    assert read_all(rebuilt).column("id").to_pylist() == [4, 5]
    assert "'id' > 3 <= 5" in rebuilt.describe()


def test_a_timestamp_watermark(pg: Database) -> None:
    pg.execute("CREATE TABLE log (at TIMESTAMPTZ, msg TEXT)")
    pg.execute("INSERT INTO log VALUES ('2024-01-01 00:00+00', 'a'), ('2024-01-02 00:00+00', 'b')")
    source = make_source(SqlQuery(pg.url, "SELECT * FROM log ORDER BY at"), watermark="at")
    state = json.loads(json.dumps(source.scan().to_dict()))
    assert state["watermark"]["type"] == "datetime"

    pg.execute("INSERT INTO log VALUES ('2024-01-03 00:00+00', 'c')")
    changes = source.changes(state)

    assert changes.has_new
    assert read_all(changes.new_part()).column("msg").to_pylist() == ["c"]


def test_a_text_watermark_on_sqlite(tmp_path: Path) -> None:
    db = Database("sqlite", f"sqlite:///{tmp_path}/log.db")
    db.execute("CREATE TABLE log (at TEXT, msg TEXT)")
    db.execute("INSERT INTO log VALUES ('2024-01-01 00:00:00', 'a')")
    source = make_source(SqlQuery(db.url, "SELECT * FROM log ORDER BY at", watermark="at"))
    state = source.scan()

    db.execute("INSERT INTO log VALUES ('2024-01-02 00:00:00', 'b')")
    changes = source.changes(state)

    assert state.detail["watermark"] == {"type": "str", "value": "2024-01-01 00:00:00"}
    assert read_all(changes.new_part()).column("msg").to_pylist() == ["b"]


def test_without_a_watermark_the_row_count_tells(db: Database) -> None:
    db.add_events(0, 3)
    source = make_source(SqlQuery(db.url, ORDERED))
    state = source.scan()
    assert not source.changes(state).has_new

    db.add_events(3, 1)
    changes = source.changes(state)

    assert changes.has_new and "no watermark column" in changes.summary
    assert changes.new_part() is source  # the whole query: nothing isolates the new rows


def test_a_changed_query_starts_over(db: Database) -> None:
    db.add_events(0, 3)
    state = make_source(SqlQuery(db.url, ORDERED, watermark="id")).scan()

    other = make_source(SqlQuery(db.url, "SELECT id FROM events WHERE id > 0", watermark="id"))
    changes = other.changes(state)

    assert changes.previous is None and changes.has_new


# -- specs and secrets -----------------------------------------------------------------------


def test_the_spec_keeps_no_password_and_rebuilds(db: Database) -> None:
    db.add_events(0, 2)
    if db.backend == "sqlite":
        url = db.url
    else:  # trust authentication ignores the password: it is only carried
        url = db.url.replace("postgresql://postgres@", "postgresql://postgres:s3cret@")
    source = make_source(SqlQuery(url, ORDERED, watermark="id"))

    spec = json.loads(json.dumps(source.spec()))

    assert "s3cret" not in json.dumps(spec) and "s3cret" not in source.describe()
    assert spec["query"] == ORDERED and spec["watermark"] == "id"
    assert read_all(source_from_spec(spec)).num_rows == 2
    assert read_all(source_from_spec(spec, url=url)).num_rows == 2
    assert spec.get("secrets_omitted", False) is (db.backend == "postgresql")


# -- errors ----------------------------------------------------------------------------------


def test_a_failing_query_is_one_clear_error(db: Database) -> None:
    source = make_source(SqlQuery(db.url, "SELECT * FROM no_such_table"))

    with pytest.raises(DataSourceError) as caught:
        list(source.iter_batches())

    error = caught.value
    assert error.message.startswith(f"The query of the data source {source.describe()} failed: ")
    assert "no_such_table" in error.message
    assert "sqlalche.me" not in error.message and "[SQL:" not in error.message
    assert "table and column names" in (error.hint or "")
    assert error.__cause__ is not None


def test_an_unreachable_database_is_one_clear_error() -> None:
    source = make_source(SqlQuery("postgresql://app:s3cret@127.0.0.1:1/db", "SELECT 1"))

    with pytest.raises(DataSourceError) as caught:
        list(source.iter_batches())

    error = caught.value
    assert error.message.startswith("Cannot connect to the database of the data source")
    assert "app:***@127.0.0.1:1" in error.message
    assert "s3cret" not in str(error)
    assert "server is running" in (error.hint or "")


def test_an_unopenable_sqlite_file_is_one_clear_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/no/such/folder/x.db"

    with pytest.raises(DataSourceError, match="Cannot connect to the database"):
        make_source(SqlQuery(url, "SELECT 1")).scan()


def test_credentials_the_server_refuses(pg: Database) -> None:
    url = pg.url.replace("postgresql://postgres@", "postgresql://no_such_role:pw@")
    source = make_source(SqlQuery(url, "SELECT 1"))

    with pytest.raises(DataSourceError) as caught:
        source.scan()

    assert "no_such_role" in caught.value.message
    assert ":pw@" not in str(caught.value)
    assert "user and password" in (caught.value.hint or "")


def test_a_missing_driver_names_what_to_install() -> None:
    source = make_source(SqlQuery("mysql://user@host/db", "SELECT 1"))

    with pytest.raises(DataSourceError) as caught:
        list(source.iter_batches())

    assert "database driver for 'mysql'" in caught.value.message
    assert "Install" in (caught.value.hint or "")


def test_a_malformed_url_is_one_clear_error() -> None:
    with pytest.raises(DataSourceError) as caught:
        make_source(SqlQuery("not a url", "SELECT 1")).scan()

    assert "no valid database URL" in caught.value.message
    assert "sqlite:///" in (caught.value.hint or "")


def test_an_unknown_watermark_column_suggests_one(db: Database) -> None:
    db.add_events(0, 1)
    source = make_source(SqlQuery(db.url, ORDERED, watermark="idd"))

    with pytest.raises(DataSourceError) as caught:
        source.changes(None)

    assert "'idd'" in caught.value.message and "(id, amount, city)" in caught.value.message
    assert (caught.value.hint or "").startswith("Did you mean 'id'?")


def test_a_column_null_in_the_first_batch_asks_for_a_cast(db: Database) -> None:
    db.execute("CREATE TABLE sparse (id INTEGER, note TEXT)")
    db.execute("INSERT INTO sparse VALUES (1, NULL), (2, NULL), (3, 'late')")
    source = make_source(SqlQuery(db.url, "SELECT id, note FROM sparse ORDER BY id"))

    assert read_all(source, batch_rows=3).column("note").to_pylist() == [None, None, "late"]
    with pytest.raises(DataSourceError) as caught:
        list(source.iter_batches(batch_rows=2))

    assert caught.value.column == "note"
    assert "NULL throughout the first batch" in caught.value.message
    assert "CAST(note AS" in (caught.value.hint or "")


def test_a_sqlite_column_of_mixed_types_asks_for_a_cast(tmp_path: Path) -> None:
    db = Database("sqlite", f"sqlite:///{tmp_path}/mixed.db")
    db.execute("CREATE TABLE m (v)")
    db.execute("INSERT INTO m VALUES (1), ('two')")

    with pytest.raises(DataSourceError) as caught:
        list(make_source(SqlQuery(db.url, "SELECT v FROM m")).iter_batches())
    assert caught.value.column == "v" and "mixes types" in caught.value.message

    with pytest.raises(DataSourceError) as later:
        list(make_source(SqlQuery(db.url, "SELECT v FROM m")).iter_batches(batch_rows=1))
    assert "held int64 values in the first batch" in later.value.message
    assert "CAST(v AS" in (later.value.hint or "")


def test_a_bounded_source_needs_its_watermark() -> None:
    with pytest.raises(DataSourceError, match="names no watermark column"):
        SqlSource("sqlite://", "SELECT 1", after={"type": "int", "value": 1})


def test_numbers_without_a_declared_scale_need_a_cast_to_stream(pg: Database) -> None:
    pg.execute("CREATE TABLE prices (id INT, p NUMERIC)")
    pg.execute("INSERT INTO prices VALUES (1, 1.5), (2, 1.25)")
    loose = make_source(SqlQuery(pg.url, "SELECT p FROM prices ORDER BY id"))
    fixed = make_source(SqlQuery(pg.url, "SELECT CAST(p AS NUMERIC(18, 4)) AS p FROM prices"))

    with pytest.raises(DataSourceError) as caught:
        list(loose.iter_batches(batch_rows=1))

    assert "CAST(p AS" in (caught.value.hint or "")
    assert read_all(fixed, batch_rows=1).column("p").to_pylist() == [
        decimal.Decimal("1.5000"),
        decimal.Decimal("1.2500"),
    ]


def test_sqlite_booleans_are_integers(tmp_path: Path) -> None:
    db = Database("sqlite", f"sqlite:///{tmp_path}/flags.db")
    db.execute("CREATE TABLE f (id INTEGER, ok BOOLEAN)")
    db.execute("INSERT INTO f VALUES (1, 1), (2, 0)")

    table = read_all(make_source(SqlQuery(db.url, "SELECT * FROM f ORDER BY id")))

    assert table.schema.field("ok").type == pa.int64()  # SQLite stores no booleans
    assert table.column("ok").to_pylist() == [1, 0]


def test_percent_signs_in_the_query_are_not_placeholders(db: Database) -> None:
    db.add_events(0, 5)
    query = "SELECT id FROM events WHERE city LIKE 'pa%' ORDER BY id"

    assert read_all(make_source(SqlQuery(db.url, query))).column("id").to_pylist() == [0, 4]


def test_colons_in_the_query_reach_the_database_as_written(db: Database) -> None:
    db.add_events(0, 3)
    cast = "CAST(id AS TEXT)" if db.backend == "sqlite" else "id::text"
    query = f"SELECT {cast} || ' :at 10:30' AS label FROM events ORDER BY id"
    source = make_source(SqlQuery(db.url, query, watermark="label"))

    assert read_all(source).column("label").to_pylist() == [
        "0 :at 10:30",
        "1 :at 10:30",
        "2 :at 10:30",
    ]
    assert source.scan().detail["watermark"]["value"] == "2 :at 10:30"
