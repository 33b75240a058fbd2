"""In-memory sources, make_source's dispatch, specs, states and URL masking."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from conveyor.core import DataSourceError, InvalidValueError
from conveyor.data._sources import (
    Changes,
    Source,
    SourceState,
    SqlQuery,
    make_source,
    mask_url,
    public_options,
    source_from_spec,
    strip_password,
)
from conveyor.data._sources_memory import DataFrameSource, ReaderSource, TableSource
from support.data_sources import sample_table, snapshot_of


def read_all(source: Source, batch_rows: int = 65_536) -> pa.Table:
    return pa.Table.from_batches(list(source.iter_batches(batch_rows=batch_rows)))


# -- DataFrames ------------------------------------------------------------------------------


def test_a_dataframe_streams_in_slices_with_one_schema() -> None:
    frame = pd.DataFrame({"id": range(1000), "note": [None] * 500 + ["x"] * 500})

    batches = list(make_source(frame).iter_batches(batch_rows=300))

    assert [b.num_rows for b in batches] == [300, 300, 300, 100]
    # The first slice holds only missing notes, yet every batch has the whole frame's type.
    assert {str(b.schema.field("note").type) for b in batches} == {"large_string"}
    assert read_all(make_source(frame)).column("note").to_pylist() == [None] * 500 + ["x"] * 500


def test_an_unnamed_index_is_not_data_a_named_one_is() -> None:
    frame = pd.DataFrame({"v": [1.0, 2.0, 3.0]})
    filtered = frame[frame["v"] > 1.0]  # index 1, 2: not a RangeIndex from 0
    keyed = frame.assign(key=["a", "b", "c"]).set_index("key")

    assert read_all(make_source(filtered)).schema.names == ["v"]
    keyed_table = read_all(make_source(keyed))
    assert keyed_table.schema.names == ["v", "key"]
    assert keyed_table.column("key").to_pylist() == ["a", "b", "c"]


def test_pandas_strings_and_arrow_strings_are_one_snapshot(tmp_path: Path) -> None:
    table = sample_table(700)
    frame = table.to_pandas()

    from_frame = snapshot_of(make_source(frame), tmp_path / "f.snap", batch_rows=64)
    from_table = snapshot_of(make_source(table), tmp_path / "t.snap")

    assert from_frame.digest == from_table.digest


def test_a_column_of_mixed_objects_is_one_clear_error() -> None:
    frame = pd.DataFrame({"mixed": pd.Series([1, "two", 3.0], dtype=object)})
    source = make_source(frame)

    with pytest.raises(DataSourceError) as caught:
        list(source.iter_batches())

    assert caught.value.message.startswith(
        "The column 'mixed' of the data source in-memory pandas DataFrame (3 rows x 1 columns; "
        "not re-readable later) cannot be converted to Arrow: "
    )
    assert caught.value.column == "mixed"
    assert "df['mixed'].astype('string')" in (caught.value.hint or "")
    assert isinstance(caught.value.__cause__, pa.ArrowInvalid | pa.ArrowTypeError)


def test_an_empty_dataframe_yields_its_columns() -> None:
    (batch,) = list(make_source(pd.DataFrame({"a": pd.Series([], dtype="int64")})).iter_batches())

    assert batch.num_rows == 0 and batch.schema.names == ["a"]


def test_a_dataframe_can_be_read_twice_in_this_process() -> None:
    source = make_source(pd.DataFrame({"a": [1, 2]}))

    assert read_all(source).equals(read_all(source))


# -- Arrow ---------------------------------------------------------------------------------


def test_a_table_is_sliced_not_copied() -> None:
    table = sample_table(1000)

    batches = list(make_source(table).iter_batches(batch_rows=256))

    assert [b.num_rows for b in batches] == [256, 256, 256, 232]
    amounts = table.column("amount").chunks[0]
    assert batches[1].column(1).buffers()[1].address == amounts.buffers()[1].address


def test_big_batches_are_cut_to_batch_rows() -> None:
    batch = sample_table(1000).to_batches()[0]

    source = make_source(batch)

    assert isinstance(source, TableSource) and "RecordBatch" in source.describe()
    assert [b.num_rows for b in source.iter_batches(batch_rows=400)] == [400, 400, 200]


def test_an_empty_table_yields_one_empty_batch() -> None:
    (batch,) = list(make_source(sample_table(0)).iter_batches())

    assert batch.num_rows == 0 and batch.schema == sample_table(0).schema


def test_a_reader_streams_once() -> None:
    table = sample_table(100)
    reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=30))
    source = make_source(reader)

    assert isinstance(source, ReaderSource)
    assert read_all(source, batch_rows=20).equals(table)
    with pytest.raises(DataSourceError) as caught:
        list(source.iter_batches())
    assert "was read already" in caught.value.message
    assert "Table" in (caught.value.hint or "")


def test_an_empty_reader_yields_its_columns() -> None:
    schema = sample_table(0).schema
    reader = pa.RecordBatchReader.from_batches(schema, [])

    (batch,) = list(make_source(reader).iter_batches())

    assert batch.num_rows == 0 and batch.schema == schema


def test_memory_sources_cannot_be_read_again_later() -> None:
    source = make_source(pd.DataFrame({"a": [1]}))
    spec = json.loads(json.dumps(source.spec()))

    assert spec["kind"] == "memory" and spec["rereadable"] is False
    assert "not re-readable" in source.describe()
    with pytest.raises(DataSourceError) as caught:
        source_from_spec(spec)
    assert "cannot be read again" in caught.value.message
    assert "file or SQL source" in (caught.value.hint or "")


def test_memory_sources_count_as_new_every_time() -> None:
    source = make_source(sample_table(12))

    first = source.changes(None)
    again = source.changes(first.state)

    assert first.has_new and again.has_new
    assert again.new_part() is source
    assert "all 12 rows" in again.summary
    assert make_source(pa.RecordBatchReader.from_batches(sample_table(0).schema, [])).scan()


# -- make_source -----------------------------------------------------------------------------


def test_make_source_dispatches_on_the_object(tmp_path: Path) -> None:
    from conveyor.data._sources_files import FilesSource
    from conveyor.data._sources_sql import SqlSource

    table = sample_table(2)
    assert isinstance(make_source(table.to_pandas()), DataFrameSource)
    assert isinstance(make_source(table), TableSource)
    assert isinstance(make_source(str(tmp_path)), FilesSource)
    assert isinstance(make_source(tmp_path), FilesSource)
    assert isinstance(make_source([tmp_path, str(tmp_path)]), FilesSource)
    sql = make_source(SqlQuery("sqlite://", "SELECT 1 AS n"), watermark="n")
    assert isinstance(sql, SqlSource) and sql.watermark == "n"
    source = make_source(table)
    assert make_source(source) is source


def test_make_source_refuses_what_it_cannot_read() -> None:
    with pytest.raises(InvalidValueError) as caught:
        make_source({"a": [1, 2]})
    assert "cannot read data from a builtins.dict" in caught.value.message
    assert "make_source('data/*.parquet')" in (caught.value.hint or "")
    with pytest.raises(InvalidValueError):
        make_source([])
    with pytest.raises(InvalidValueError):
        make_source(42)


@pytest.mark.parametrize(
    "url", ["postgresql://app:pw@db/prod", "sqlite:///x.db", "mysql+pymysql://h/d"]
)
def test_a_database_url_is_not_files(url: str) -> None:
    with pytest.raises(InvalidValueError) as caught:
        make_source(url)

    assert "is a database URL, not files" in caught.value.message
    assert "SqlQuery(url" in (caught.value.hint or "")
    assert ":pw@" not in str(caught.value)


def test_options_that_do_not_apply_are_refused(tmp_path: Path) -> None:
    table = sample_table(2)
    with pytest.raises(InvalidValueError, match="'watermark' option applies to a SqlQuery"):
        make_source(tmp_path, watermark="id")
    with pytest.raises(InvalidValueError, match="'format' option applies to files"):
        make_source(table, format="csv")
    with pytest.raises(InvalidValueError, match="'storage_options' option applies to files"):
        make_source(SqlQuery("sqlite://", "SELECT 1"), storage_options={"anon": True})
    with pytest.raises(InvalidValueError, match="'format'"):
        make_source(make_source(table), format="csv")


def test_sql_query_never_shows_its_password() -> None:
    query = SqlQuery("postgresql://app:s3cret@db:5432/prod", "SELECT 1", watermark="id")

    assert "s3cret" not in repr(query)
    assert "app:***@db" in repr(query)


# -- states, changes, specs -----------------------------------------------------------------


def test_a_state_round_trips_through_a_dict() -> None:
    state = SourceState(kind="files", source_id="abc", detail={"files": []})

    assert SourceState.from_dict(state.to_dict()) == state
    assert state.to_dict() == {"kind": "files", "source_id": "abc", "files": []}


@pytest.mark.parametrize("bad", [{}, {"kind": "files"}, ["kind", "source_id"], "state"])
def test_a_malformed_state_is_refused(bad: object) -> None:
    with pytest.raises(InvalidValueError, match="must be a dict with 'kind' and 'source_id'"):
        SourceState.from_dict(bad)  # type: ignore[arg-type]


def test_changes_refuse_a_new_part_without_one() -> None:
    source = make_source(sample_table(1))
    state = source.scan()
    changes = Changes(source=source, state=state, previous=state, has_new=False, summary="x")

    with pytest.raises(InvalidValueError, match="Nothing is new"):
        changes.new_part()


@pytest.mark.parametrize("spec", [{"kind": "kafka"}, {}, "files"])
def test_an_unknown_spec_is_refused(spec: object) -> None:
    with pytest.raises(DataSourceError, match="Cannot rebuild a data source"):
        source_from_spec(spec)  # type: ignore[arg-type]


# -- URLs and options without secrets ---------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "masked", "stripped"),
    [
        ("sqlite:///db.sqlite", "sqlite:///db.sqlite", "sqlite:///db.sqlite"),
        (
            "postgresql://u:p4ss@h:5/db?sslmode=require&password=p4ss",
            "postgresql://u:***@h:5/db?sslmode=require&password=***",
            "postgresql://u@h:5/db?sslmode=require",
        ),
        ("s3://bucket/key.csv", "s3://bucket/key.csv", "s3://bucket/key.csv"),
        ("https://:tok@host/x.csv", "https://:***@host/x.csv", "https://host/x.csv"),
        ("https://h/x.csv?api_key=k&v=1", "https://h/x.csv?api_key=***&v=1", "https://h/x.csv?v=1"),
    ],
)
def test_urls_are_masked_for_display_and_stripped_for_specs(
    url: str, masked: str, stripped: str
) -> None:
    assert mask_url(url) == masked
    assert strip_password(url) == stripped


def test_public_options_drop_credentials_at_any_depth() -> None:
    options = {
        "key": "AKIA",
        "secret": "s",
        "token": "t",
        "endpoint_url": "http://minio:9000",
        "client_kwargs": {"region_name": "eu-west-1", "aws_secret_access_key": "s"},
        "account_key": "k",
        "anon": False,
    }

    assert public_options(options) == {
        "endpoint_url": "http://minio:9000",
        "client_kwargs": {"region_name": "eu-west-1"},
        "anon": False,
    }


# -- the same rows from pandas -----------------------------------------------------------------


def test_a_categorical_column_is_its_values(tmp_path: Path) -> None:
    table = sample_table(300)
    frame = table.to_pandas()
    frame["city"] = frame["city"].astype("category")

    batch = next(make_source(frame).iter_batches())
    as_categories = snapshot_of(make_source(frame), tmp_path / "c.snap", batch_rows=50)

    assert pa.types.is_dictionary(batch.schema.field("city").type)  # read as pandas has it
    assert as_categories.digest == snapshot_of(make_source(table), tmp_path / "t.snap").digest


def test_time_zones_and_units_from_pandas_are_kept(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"at": pd.to_datetime(["2024-01-01 10:00", "2024-06-01 10:00"]).tz_localize("Europe/Oslo")}
    )

    written = snapshot_of(make_source(frame), tmp_path / "s.snap")

    kind = written.schema.field("at").type
    assert pa.types.is_timestamp(kind) and kind.tz == "Europe/Oslo"


def test_the_batches_of_a_reader_are_cut_to_size() -> None:
    table = sample_table(1000)
    reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches())

    sizes = [b.num_rows for b in make_source(reader).iter_batches(batch_rows=300)]

    assert sizes == [300, 300, 300, 100]


def test_a_dataframe_with_non_string_column_names() -> None:
    frame = pd.DataFrame({0: [1, 2], 1: ["a", "b"]})

    table = read_all(make_source(frame))

    assert table.schema.names == ["0", "1"]
