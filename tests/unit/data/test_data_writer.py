"""The snapshot writer: the same rows give the same bytes; any change gives new ones."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conveyor.core import DataSourceError
from conveyor.data import _writer
from conveyor.data._writer import (
    WRITER_OPTIONS,
    normalize_schema,
    row_group_rows,
    write_snapshot,
)
from support.data_sources import sample_table


@pytest.fixture
def small_groups(monkeypatch: pytest.MonkeyPatch) -> int:
    """Row groups of the minimum size (4,096 rows), so a few thousand rows span several."""
    monkeypatch.setattr(_writer, "ROW_GROUP_BYTES", 1)
    return row_group_rows(sample_table(1).schema)


def rechunked(table: pa.Table, sizes: list[int]) -> list[pa.RecordBatch]:
    """``table`` cut into batches of the given sizes, cycling through them."""
    batches = []
    offset, i = 0, 0
    while offset < table.num_rows:
        size = sizes[i % len(sizes)]
        batches.extend(table.slice(offset, size).to_batches())
        offset += size
        i += 1
    return batches


def digest_of(batches: list[pa.RecordBatch], tmp_path: Path, name: str = "s") -> str:
    return write_snapshot(batches, tmp_path / f"{name}.parquet").digest


# -- determinism ---------------------------------------------------------------------------


def test_the_digest_is_the_sha256_of_the_file(tmp_path: Path) -> None:
    dest = tmp_path / "snap.parquet"
    written = write_snapshot(sample_table(300).to_batches(), dest)

    data = dest.read_bytes()
    assert written.digest == hashlib.sha256(data).hexdigest()
    assert written.n_bytes == len(data)
    assert written.n_rows == 300
    assert data[:4] == data[-4:] == b"PAR1"


def test_the_file_reads_back_as_the_rows(tmp_path: Path) -> None:
    table = sample_table(1000)
    dest = tmp_path / "snap.parquet"
    written = write_snapshot(table.to_batches(max_chunksize=77), dest)

    back = pq.read_table(dest)
    assert back.equals(table)
    assert back.schema.equals(written.schema)


def test_batch_boundaries_do_not_change_the_bytes(tmp_path: Path, small_groups: int) -> None:
    table = sample_table(3 * small_groups + 123)
    cuts = [[table.num_rows], [1], [7, 1000, 3], [small_groups], [small_groups - 1, 2]]

    digests = {
        digest_of(rechunked(table, sizes), tmp_path, f"s{i}") for i, sizes in enumerate(cuts)
    }

    assert len(digests) == 1


def test_chunked_columns_write_as_contiguous_ones(tmp_path: Path) -> None:
    # One batch whose arrays are slices of bigger arrays (offsets), against plain arrays.
    table = sample_table(500)
    padded = pa.concat_tables([sample_table(10, start=-10), table, sample_table(10, start=500)])
    sliced = padded.slice(10, 500).combine_chunks()

    assert digest_of(sliced.to_batches(), tmp_path, "a") == digest_of(
        table.to_batches(), tmp_path, "b"
    )


def test_a_one_row_change_is_a_new_digest(tmp_path: Path) -> None:
    table = sample_table(2000)
    changed = table.set_column(
        1, "amount", pa.array([v + (i == 1234) for i, v in enumerate(table["amount"].to_pylist())])
    )

    assert digest_of(table.to_batches(), tmp_path, "a") != digest_of(
        changed.to_batches(), tmp_path, "b"
    )


def test_row_order_matters(tmp_path: Path) -> None:
    table = sample_table(100)
    reversed_ = table.take(pa.array(range(99, -1, -1)))

    assert digest_of(table.to_batches(), tmp_path, "a") != digest_of(
        reversed_.to_batches(), tmp_path, "b"
    )


def test_an_extra_empty_batch_changes_nothing(tmp_path: Path) -> None:
    table = sample_table(50)
    empty = table.slice(0, 0).to_batches() or [pa.RecordBatch.from_pylist([], schema=table.schema)]

    assert digest_of([*empty, *table.to_batches(), *empty], tmp_path, "a") == digest_of(
        table.to_batches(), tmp_path, "b"
    )


# -- schema normalisation -------------------------------------------------------------------


def test_string_kinds_and_dictionaries_write_the_same(tmp_path: Path) -> None:
    table = sample_table(200)
    large = table.set_column(2, "city", table["city"].cast(pa.large_string()))
    encoded = table.set_column(2, "city", table["city"].dictionary_encode())

    digests = {
        digest_of(t.to_batches(), tmp_path, str(i)) for i, t in enumerate([table, large, encoded])
    }

    assert len(digests) == 1


def test_metadata_and_nullability_do_not_count(tmp_path: Path) -> None:
    table = sample_table(200)
    required = pa.schema(
        [pa.field(f.name, f.type, nullable=f.name == "city") for f in table.schema],
        metadata={b"pandas": b'{"index_columns": []}'},
    )
    with_metadata = table.replace_schema_metadata({"pandas": "{}"}).cast(required)

    assert digest_of(with_metadata.to_batches(), tmp_path, "a") == digest_of(
        table.to_batches(), tmp_path, "b"
    )


def test_timestamp_units_and_zones_are_data(tmp_path: Path) -> None:
    seconds = pa.table({"at": pa.array([0, 60, 3600], type=pa.timestamp("s"))})
    micros = seconds.cast(pa.schema([pa.field("at", pa.timestamp("us"))]))
    utc = seconds.cast(pa.schema([pa.field("at", pa.timestamp("s", tz="UTC"))]))

    written = write_snapshot(utc.to_batches(), tmp_path / "utc.parquet")
    digests = {digest_of(t.to_batches(), tmp_path, str(i)) for i, t in enumerate([seconds, micros])}

    assert len(digests | {written.digest}) == 3
    assert written.schema.field("at").type == pa.timestamp("s", tz="UTC")
    assert pq.read_table(tmp_path / "utc.parquet").schema.field("at").type.tz == "UTC"


def test_normalize_schema_reaches_into_nested_types() -> None:
    schema = pa.schema(
        [
            pa.field("tags", pa.large_list(pa.large_string()), nullable=False),
            pa.field("attrs", pa.map_(pa.large_string(), pa.dictionary(pa.int8(), pa.string()))),
            pa.field("point", pa.struct([pa.field("x", pa.float64(), nullable=False)])),
            pa.field("blob", pa.large_binary(), metadata={"k": "v"}),
            pa.field("pair", pa.list_(pa.int32(), 2)),
        ],
        metadata={"pandas": "{}"},
    )

    normal = normalize_schema(schema)

    assert normal.metadata is None
    assert all(f.nullable and f.metadata is None for f in normal)
    assert normal.field("tags").type == pa.list_(pa.string())
    assert normal.field("attrs").type == pa.map_(pa.string(), pa.string())
    assert normal.field("point").type == pa.struct([pa.field("x", pa.float64())])
    assert normal.field("blob").type == pa.binary()
    assert normal.field("pair").type == pa.list_(pa.int32(), 2)


def test_nested_columns_round_trip(tmp_path: Path) -> None:
    table = pa.table(
        {
            "tags": pa.array([["a", "b"], [], None], type=pa.large_list(pa.large_string())),
            "point": pa.array([{"x": 1.0}, {"x": 2.5}, None]),
        }
    )
    dest = tmp_path / "nested.parquet"
    write_snapshot(table.to_batches(), dest)

    back = pq.read_table(dest)
    assert back.column("tags").to_pylist() == [["a", "b"], [], None]
    assert back.column("point").to_pylist() == [{"x": 1.0}, {"x": 2.5}, None]
    assert back.schema.field("tags").type == pa.list_(pa.string())


def test_batches_of_another_castable_type_are_cast(tmp_path: Path) -> None:
    first = pa.record_batch({"n": pa.array([1, 2], type=pa.int64())})
    later = pa.record_batch({"n": pa.array([3], type=pa.int32())})

    written = write_snapshot([first, later], tmp_path / "s.parquet")

    assert written.schema.field("n").type == pa.int64()
    assert pq.read_table(tmp_path / "s.parquet")["n"].to_pylist() == [1, 2, 3]


# -- row groups and streaming -----------------------------------------------------------------


def test_rows_are_grouped_by_the_schema_not_the_input(tmp_path: Path, small_groups: int) -> None:
    table = sample_table(2 * small_groups + 10)
    dest = tmp_path / "s.parquet"
    write_snapshot(rechunked(table, [999]), dest)

    meta = pq.ParquetFile(dest).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [
        small_groups,
        small_groups,
        10,
    ]
    assert meta.created_by.startswith("parquet-cpp-arrow")


def test_row_group_rows_follow_the_width_of_a_row() -> None:
    narrow = pa.schema([("a", pa.int64()), ("b", pa.float64())])
    wide = pa.schema([(f"s{i}", pa.string()) for i in range(400)])
    widest = pa.schema([(f"s{i}", pa.string()) for i in range(100_000)])

    assert row_group_rows(narrow) == 1 << 20  # capped, as pyarrow's own default
    assert row_group_rows(wide) < row_group_rows(narrow)
    assert row_group_rows(wide) * 400 * 64 <= _writer.ROW_GROUP_BYTES
    assert row_group_rows(widest) == 4096  # never below the floor
    for schema in (narrow, wide, widest):
        rows = row_group_rows(schema)
        assert rows & (rows - 1) == 0  # a power of two


def test_input_is_written_as_it_streams(tmp_path: Path, small_groups: int) -> None:
    """A row group reaches the file before the next batches are even produced."""
    dest = tmp_path / "s.parquet"
    sizes_seen: list[int] = []

    def batches() -> Iterator[pa.RecordBatch]:
        for start in range(0, 5 * small_groups, 1000):
            sizes_seen.append(dest.stat().st_size if dest.exists() else 0)
            yield sample_table(1000, start=start).to_batches()[0]

    written = write_snapshot(batches(), dest)

    assert written.n_rows == 5 * small_groups + 1000 - (5 * small_groups) % 1000
    # After two groups' worth of rows, the file already holds (at least) one group's bytes:
    # the writer did not hold everything back.
    after_two_groups = sizes_seen[(2 * small_groups) // 1000 + 1]
    assert after_two_groups > 10_000


def test_on_batch_sees_every_normalised_row_in_order(tmp_path: Path) -> None:
    table = sample_table(1000)
    large = table.set_column(2, "city", table["city"].cast(pa.large_string()))
    seen: list[pa.RecordBatch] = []
    empty = pa.RecordBatch.from_pylist([], schema=large.schema)

    written = write_snapshot(
        [empty, *large.to_batches(max_chunksize=300)], tmp_path / "s.pq", on_batch=seen.append
    )

    assert [b.num_rows for b in seen] == [300, 300, 300, 100]  # the empty batch is skipped
    assert all(b.schema.equals(written.schema) for b in seen)
    assert pa.Table.from_batches(seen).equals(table)


# -- edge cases and failures ------------------------------------------------------------------


def test_no_rows_still_writes_the_columns(tmp_path: Path) -> None:
    schema = sample_table(1).schema
    dest = tmp_path / "empty.parquet"

    written = write_snapshot([pa.RecordBatch.from_pylist([], schema=schema)], dest)

    assert written.n_rows == 0
    back = pq.read_table(dest)
    assert back.num_rows == 0 and back.schema.names == schema.names


def test_no_batch_at_all_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DataSourceError, match="no record batch") as caught:
        write_snapshot([], tmp_path / "s.parquet")
    assert caught.value.hint
    assert not (tmp_path / "s.parquet").exists()


def test_batches_with_other_columns_are_refused(tmp_path: Path) -> None:
    first = pa.record_batch({"a": [1], "b": [2]})
    other = pa.record_batch({"a": [1], "c": [2]})

    with pytest.raises(DataSourceError) as caught:
        write_snapshot([first, other], tmp_path / "s.parquet")

    assert "batch 2" in caught.value.message and "['a', 'c']" in caught.value.message
    assert not (tmp_path / "s.parquet").exists()


def test_a_type_that_cannot_be_converted_is_refused(tmp_path: Path) -> None:
    first = pa.record_batch({"n": pa.array([1, 2])})
    later = pa.record_batch({"n": pa.array(["three"])})

    with pytest.raises(DataSourceError) as caught:
        write_snapshot([first, later], tmp_path / "s.parquet")

    assert caught.value.column == "n"
    assert "int64" in caught.value.message and "string" in caught.value.message
    assert isinstance(caught.value.__cause__, pa.ArrowInvalid)


def test_a_failing_source_leaves_no_file(tmp_path: Path, small_groups: int) -> None:
    dest = tmp_path / "s.parquet"

    def batches() -> Iterator[pa.RecordBatch]:
        yield from sample_table(3 * small_groups).to_batches(max_chunksize=1000)
        raise DataSourceError("the source broke")

    with pytest.raises(DataSourceError, match="the source broke"):
        write_snapshot(batches(), dest)
    assert not dest.exists()


def test_a_failing_on_batch_leaves_no_file(tmp_path: Path) -> None:
    dest = tmp_path / "s.parquet"

    def explode(batch: pa.RecordBatch) -> None:
        raise RuntimeError("profiler failed")

    with pytest.raises(RuntimeError, match="profiler failed"):
        write_snapshot(sample_table(10).to_batches(), dest, on_batch=explode)
    assert not dest.exists()


def test_writer_options_are_pinned_not_defaulted() -> None:
    # Each option that shapes the bytes is named, so a new pyarrow default cannot move it.
    for name in ("version", "compression", "data_page_size", "write_statistics", "store_schema"):
        assert name in WRITER_OPTIONS
    parameters = pq.ParquetWriter.__init__.__code__.co_varnames
    unknown = [n for n in WRITER_OPTIONS if n not in parameters and n != "data_page_size"]
    assert unknown == []


def test_floats_are_not_dictionary_encoded(tmp_path: Path) -> None:
    dest = tmp_path / "s.parquet"
    write_snapshot(sample_table(500).to_batches(), dest)

    column_chunks = pq.ParquetFile(dest).metadata.row_group(0)
    encodings = {
        column_chunks.column(i).path_in_schema: column_chunks.column(i).encodings
        for i in range(column_chunks.num_columns)
    }
    assert "RLE_DICTIONARY" not in encodings["amount"]
    assert "RLE_DICTIONARY" in encodings["city"]


def test_an_existing_destination_is_replaced(tmp_path: Path) -> None:
    dest = tmp_path / "s.parquet"
    dest.write_bytes(b"x" * 10_000_000)

    written = write_snapshot(sample_table(10).to_batches(), dest)

    assert dest.stat().st_size == written.n_bytes < 10_000_000


def test_a_column_of_nulls_is_written(tmp_path: Path) -> None:
    table = pa.table({"id": [1, 2], "nothing": pa.array([None, None], type=pa.null())})
    dest = tmp_path / "s.parquet"

    written = write_snapshot(table.to_batches(), dest)

    assert written.schema.field("nothing").type == pa.null()
    assert pq.read_table(dest).column("nothing").to_pylist() == [None, None]


def test_decimals_dates_and_binaries_round_trip(tmp_path: Path) -> None:
    import datetime as dt
    import decimal

    table = pa.table(
        {
            "price": pa.array([decimal.Decimal("1.25"), None], type=pa.decimal128(38, 2)),
            "day": pa.array([dt.date(2024, 1, 31), dt.date(2024, 2, 1)]),
            "raw": pa.array([b"\x00\x01", b""], type=pa.large_binary()),
        }
    )
    dest = tmp_path / "s.parquet"

    written = write_snapshot(table.to_batches(), dest)
    back = pq.read_table(dest)

    assert back.column("price").to_pylist() == [decimal.Decimal("1.25"), None]
    assert back.column("day").to_pylist() == [dt.date(2024, 1, 31), dt.date(2024, 2, 1)]
    assert back.schema.field("raw").type == pa.binary() == written.schema.field("raw").type


def test_the_written_schema_is_the_normalised_input_schema(tmp_path: Path) -> None:
    table = sample_table(5)
    encoded = table.set_column(2, "city", table["city"].dictionary_encode())

    written = write_snapshot(encoded.to_batches(), tmp_path / "s.parquet")

    assert written.schema == normalize_schema(encoded.schema) == normalize_schema(table.schema)
    assert written.schema.field("city").type == pa.string()
