"""Files sources on the local disk and fsspec's memory file system: reading, new-data
detection and every error, each one message naming the source."""

from __future__ import annotations

import gzip
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from conveyor.core import DataSourceError, InvalidValueError
from conveyor.data._sources import Source, SourceState, make_source, source_from_spec
from conveyor.data._sources_files import FilesSource, format_of
from support.data_sources import (
    csv_bytes,
    parquet_bytes,
    sample_table,
    snapshot_of,
    write_csv,
    write_parquet,
)


def read_all(source: Source, batch_rows: int = 65_536) -> pa.Table:
    return pa.Table.from_batches(list(source.iter_batches(batch_rows=batch_rows)))


def ids(source: Source) -> list[int]:
    return read_all(source).column("id").to_pylist()


def bump_mtime(path: Path, seconds: float = 5.0) -> None:
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + int(seconds * 1e9)))


@pytest.fixture
def memory_root() -> Iterator[str]:
    """A fresh folder in fsspec's in-process memory file system (a non-local URL)."""
    import fsspec

    root = f"memory://conveyor-test-{uuid.uuid4().hex[:10]}"
    yield root
    fs = fsspec.filesystem("memory")
    if fs.exists(root):
        fs.rm(root, recursive=True)


def put_memory(url: str, data: bytes) -> None:
    import fsspec

    with fsspec.open(url, "wb") as out:
        out.write(data)


# -- reading ---------------------------------------------------------------------------------


def test_a_parquet_file_reads_in_bounded_batches(tmp_path: Path) -> None:
    path = write_parquet(sample_table(1000), tmp_path / "data.parquet", row_group_size=300)

    batches = list(make_source(path).iter_batches(batch_rows=128))

    assert all(0 < b.num_rows <= 128 for b in batches)
    assert len(batches) >= 1000 // 128 + 1
    assert pa.Table.from_batches(batches).equals(sample_table(1000))


def test_a_csv_file_reads_in_bounded_batches(tmp_path: Path) -> None:
    path = write_csv(sample_table(5000), tmp_path / "data.csv")

    batches = list(make_source(str(path)).iter_batches(batch_rows=512))

    assert all(0 < b.num_rows <= 512 for b in batches)
    assert sum(b.num_rows for b in batches) == 5000
    assert pa.Table.from_batches(batches).equals(sample_table(5000))


def test_a_gzipped_csv_reads_like_the_plain_one(tmp_path: Path) -> None:
    (tmp_path / "data.csv.gz").write_bytes(gzip.compress(csv_bytes(sample_table(300))))

    assert read_all(make_source(tmp_path / "data.csv.gz")).equals(sample_table(300))


def test_a_folder_reads_its_data_files_in_path_order(tmp_path: Path) -> None:
    folder = tmp_path / "events"
    (folder / "2024" / "02").mkdir(parents=True)
    (folder / "2024" / "01").mkdir(parents=True)
    (folder / ".hidden").mkdir()
    write_parquet(sample_table(10, start=10), folder / "2024" / "02" / "part.parquet")
    write_parquet(sample_table(10), folder / "2024" / "01" / "part.pq")
    write_parquet(sample_table(5, start=99), folder / ".hidden" / "skip.parquet")
    write_parquet(sample_table(5, start=99), folder / "_tmp.parquet")
    (folder / "_SUCCESS").write_text("")
    (folder / "README.md").write_text("not data")

    assert ids(make_source(folder)) == list(range(20))


def test_a_glob_reads_the_matching_files(tmp_path: Path) -> None:
    for i in range(3):
        write_csv(sample_table(4, start=4 * i), tmp_path / f"day-{i}.csv")
    write_csv(sample_table(4, start=100), tmp_path / "other.csv")

    source = make_source(str(tmp_path / "day-*.csv"))

    assert ids(source) == list(range(12))
    assert "day-*.csv" in source.describe()


def test_a_list_of_paths_is_one_source(tmp_path: Path) -> None:
    a = write_parquet(sample_table(3), tmp_path / "a.parquet")
    b = write_parquet(sample_table(3, start=3), tmp_path / "b.parquet")

    source = make_source([str(b), a])

    assert ids(source) == list(range(6))  # path order, not argument order
    assert "'" + str(b) + "'" in source.describe()


def test_file_urls_are_local_paths(tmp_path: Path) -> None:
    path = write_parquet(sample_table(5), tmp_path / "data.parquet")

    assert ids(make_source(f"file://{path}")) == list(range(5))
    assert ids(make_source(f"file:{path}")) == list(range(5))


def test_an_fsspec_url_reads_through_the_artifacts_file_system(memory_root: str) -> None:
    put_memory(f"{memory_root}/a.parquet", parquet_bytes(sample_table(20)))
    put_memory(f"{memory_root}/b.csv", csv_bytes(sample_table(20, start=20)))

    parquet = make_source(f"{memory_root}/*.parquet")
    csv = make_source(f"{memory_root}/b.csv")

    assert ids(parquet) == list(range(20))
    assert ids(csv) == list(range(20, 40))


def test_an_explicit_format_reads_any_name(tmp_path: Path) -> None:
    (tmp_path / "export.txt").write_bytes(csv_bytes(sample_table(7)))
    (tmp_path / "dump.bin").write_bytes(parquet_bytes(sample_table(7)))

    assert ids(make_source(tmp_path / "export.txt", format="csv")) == list(range(7))
    assert ids(make_source(tmp_path / "dump.bin", format="PQ")) == list(range(7))


def test_an_explicit_format_narrows_a_mixed_folder(tmp_path: Path) -> None:
    write_csv(sample_table(3), tmp_path / "a.csv")
    write_parquet(sample_table(3, start=3), tmp_path / "b.parquet")

    assert ids(make_source(tmp_path, format="parquet")) == [3, 4, 5]
    assert ids(make_source(tmp_path, format="csv")) == [0, 1, 2]


def test_parquet_files_with_other_integer_widths_are_conformed(tmp_path: Path) -> None:
    write_parquet(sample_table(3), tmp_path / "a.parquet")
    narrow = sample_table(3, start=3)
    narrow = narrow.set_column(0, "id", narrow["id"].cast(pa.int32()))
    write_parquet(narrow, tmp_path / "b.parquet")

    batches = list(make_source(tmp_path).iter_batches())

    assert all(b.schema.field("id").type == pa.int64() for b in batches)
    assert pa.Table.from_batches(batches).equals(sample_table(6))


def test_files_without_rows_yield_one_empty_batch_with_the_columns(tmp_path: Path) -> None:
    (tmp_path / "header.csv").write_text("id,name\n")
    write_parquet(sample_table(0), tmp_path / "empty.parquet")

    (csv_batch,) = list(make_source(tmp_path / "header.csv").iter_batches())
    (pq_batch,) = list(make_source(tmp_path / "empty.parquet").iter_batches())

    assert csv_batch.num_rows == 0 and csv_batch.schema.names == ["id", "name"]
    assert pq_batch.num_rows == 0 and pq_batch.schema.names == sample_table(0).schema.names


def test_csv_empty_fields_are_nulls_and_quoted_ones_empty_strings(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text('id,city\n1,\n2,""\n3,oslo\n')

    table = read_all(make_source(tmp_path / "d.csv"))

    assert table.column("city").to_pylist() == [None, "", "oslo"]


def test_format_of_names() -> None:
    assert format_of("x.parquet") == format_of("X.PQ") == "parquet"
    assert format_of("x.csv") == format_of("x.CSV.GZ") == "csv"
    assert format_of("x.json") is None
    assert format_of("x.csv.zip") is None


# -- the same data is the same snapshot --------------------------------------------------------


def test_every_form_of_the_same_rows_is_one_snapshot(tmp_path: Path) -> None:
    table = sample_table(3000)
    csv = write_csv(table, tmp_path / "d.csv")
    parquet = write_parquet(table, tmp_path / "d.parquet", row_group_size=1000)
    frame = table.to_pandas()
    split = tmp_path / "split"
    split.mkdir()
    for i in range(3):
        write_csv(table.slice(1000 * i, 1000), split / f"part-{i}.csv")

    digests = {
        name: snapshot_of(make_source(obj), tmp_path / f"{name}.snap", batch_rows=rows).digest
        for name, obj, rows in [
            ("csv", csv, 65_536),
            ("csv-small-batches", csv, 100),
            ("parquet", parquet, 333),
            ("split-csv", split, 65_536),
            ("dataframe", frame, 65_536),
            ("table", table, 17),
        ]
    }

    assert len(set(digests.values())) == 1, digests


def test_a_changed_row_in_a_file_is_a_new_snapshot(tmp_path: Path) -> None:
    path = write_csv(sample_table(100), tmp_path / "d.csv")
    before = snapshot_of(make_source(path), tmp_path / "a.snap").digest
    again = snapshot_of(make_source(path), tmp_path / "b.snap").digest
    lines = path.read_text().splitlines()
    lines[50] = lines[50].replace("paris", "rome").replace("oslo", "rome").replace("lima", "rome")
    path.write_text("\n".join(lines) + "\n")

    after = snapshot_of(make_source(path), tmp_path / "c.snap").digest

    assert before == again
    assert after != before


# -- new data ----------------------------------------------------------------------------------


def test_nothing_new_twice_is_nothing(tmp_path: Path) -> None:
    write_parquet(sample_table(5), tmp_path / "a.parquet")
    source = make_source(tmp_path)

    first = source.changes(None)
    second = source.changes(first.state)
    third = source.changes(second.state)

    assert first.has_new and first.added == (str(tmp_path / "a.parquet"),)
    assert not second.has_new and not third.has_new
    assert second.summary == "0 new files (1 in all)"
    with pytest.raises(InvalidValueError, match="Nothing is new") as caught:
        second.new_part()
    assert "has_new" in (caught.value.hint or "")


def test_a_new_file_is_the_new_part(tmp_path: Path) -> None:
    write_parquet(sample_table(5), tmp_path / "a.parquet")
    source = make_source(tmp_path)
    state = source.scan()
    write_parquet(sample_table(3, start=5), tmp_path / "b.parquet")

    changes = source.changes(state)

    assert changes.has_new
    assert changes.added == (str(tmp_path / "b.parquet"),)
    assert changes.changed == changes.removed == ()
    assert changes.summary == "1 new file (2 in all)"
    assert ids(changes.new_part()) == [5, 6, 7]
    assert ids(source) == list(range(8))  # the source itself stays cumulative


def test_a_rewritten_file_is_changed(tmp_path: Path) -> None:
    path = write_csv(sample_table(5), tmp_path / "a.csv")
    write_csv(sample_table(5, start=5), tmp_path / "b.csv")
    source = make_source(str(tmp_path / "*.csv"))
    state = source.scan()
    write_csv(sample_table(5, start=100), path)  # same size, new content and time
    bump_mtime(path)

    changes = source.changes(state)

    assert changes.has_new and changes.changed == (str(path),) and changes.added == ()
    assert ids(changes.new_part()) == list(range(100, 105))
    assert "1 changed" in changes.summary


def test_a_removed_file_alone_is_not_new_data(tmp_path: Path) -> None:
    write_csv(sample_table(5), tmp_path / "a.csv")
    gone = write_csv(sample_table(5, start=5), tmp_path / "b.csv")
    source = make_source(tmp_path)
    state = source.scan()
    gone.unlink()

    changes = source.changes(state)

    assert not changes.has_new
    assert changes.removed == (str(gone),)
    assert "1 removed" in changes.summary


def test_the_state_survives_json(tmp_path: Path) -> None:
    write_parquet(sample_table(5), tmp_path / "a.parquet")
    source = make_source(tmp_path)
    stored = json.loads(json.dumps(source.scan().to_dict()))

    assert not source.changes(stored).has_new
    assert SourceState.from_dict(stored) == source.scan()
    assert stored["files"][0]["size"] == (tmp_path / "a.parquet").stat().st_size


def test_a_state_of_another_source_means_everything_is_new(tmp_path: Path) -> None:
    write_parquet(sample_table(5), tmp_path / "a.parquet")
    write_parquet(sample_table(5, start=5), tmp_path / "b.parquet")
    state = make_source(tmp_path / "a.parquet").scan()

    changes = make_source(tmp_path).changes(state)

    assert changes.previous is None
    assert len(changes.added) == 2


def test_the_new_part_is_pinned_to_the_files_scanned(tmp_path: Path) -> None:
    write_parquet(sample_table(2), tmp_path / "a.parquet")
    source = make_source(tmp_path)
    state = source.scan()
    write_parquet(sample_table(2, start=2), tmp_path / "b.parquet")
    changes = source.changes(state)
    write_parquet(sample_table(2, start=4), tmp_path / "c.parquet")  # after the scan

    new = changes.new_part()

    assert ids(new) == [2, 3]  # c.parquet waits for the next scan
    assert isinstance(new, FilesSource) and new.pinned
    rebuilt = source_from_spec(json.loads(json.dumps(new.spec())))
    assert ids(rebuilt) == [2, 3]


def test_a_pinned_file_that_vanished_is_an_error(tmp_path: Path) -> None:
    write_parquet(sample_table(2), tmp_path / "a.parquet")
    source = make_source(tmp_path)
    changes = source.changes(None)
    (tmp_path / "a.parquet").unlink()

    with pytest.raises(DataSourceError) as caught:
        list(changes.new_part().iter_batches())

    assert "disappeared" in caught.value.message
    assert isinstance(caught.value.__cause__, FileNotFoundError)


def test_new_files_in_an_fsspec_folder(memory_root: str) -> None:
    put_memory(f"{memory_root}/a.csv", csv_bytes(sample_table(2)))
    source = make_source(memory_root)
    state = source.scan()
    assert not source.changes(state).has_new

    put_memory(f"{memory_root}/b.csv", csv_bytes(sample_table(2, start=2)))
    changes = source.changes(state)

    assert [p.rsplit("/", 1)[1] for p in changes.added] == ["b.csv"]
    assert ids(changes.new_part()) == [2, 3]


# -- specs -----------------------------------------------------------------------------------


def test_the_spec_rebuilds_the_source(tmp_path: Path) -> None:
    write_csv(sample_table(4), tmp_path / "a.txt")
    source = make_source(str(tmp_path / "*.txt"), format="csv")

    spec = json.loads(json.dumps(source.spec()))

    assert spec == {
        "kind": "files",
        "paths": [str(tmp_path / "*.txt")],
        "format": "csv",
        "storage_options": {},
    }
    assert ids(source_from_spec(spec)) == [0, 1, 2, 3]


def test_urls_show_and_keep_no_password() -> None:
    source = make_source(
        "https://reader:hunter2@example.com/data.csv",
        storage_options={"headers": {"Authorization": "x"}, "token": "t0k3n", "block_size": 5},
    )

    assert "hunter2" not in source.describe() and "reader:***@" in source.describe()
    spec = source.spec()
    assert "hunter2" not in json.dumps(spec) and "t0k3n" not in json.dumps(spec)
    assert spec["paths"] == ["https://reader@example.com/data.csv"]
    assert spec["storage_options"] == {"headers": {"Authorization": "x"}, "block_size": 5}
    assert spec["secrets_omitted"] is True
    assert "hunter2" not in repr(source)


# -- errors ----------------------------------------------------------------------------------


def test_a_missing_file_names_the_source_and_the_fix(tmp_path: Path) -> None:
    source = make_source(tmp_path / "nope.csv")

    with pytest.raises(DataSourceError) as caught:
        list(source.iter_batches())

    error = caught.value
    assert error.message.startswith(f"The data source '{tmp_path / 'nope.csv'}' does not exist")
    assert "Check the path" in (error.hint or "")
    assert error.source == source.describe()
    assert str(error) == f"{error.message} {error.hint}"


def test_an_empty_glob_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DataSourceError) as caught:
        make_source(str(tmp_path / "*.parquet")).scan()

    assert caught.value.message == f"The data source '{tmp_path / '*.parquet'}' matches no file."
    assert ".parquet" in (caught.value.hint or "")


def test_an_empty_folder_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")

    with pytest.raises(DataSourceError, match="holds no .parquet, .pq, .csv or .csv.gz file"):
        list(make_source(tmp_path).iter_batches())


def test_several_paths_say_which_one_failed(tmp_path: Path) -> None:
    write_csv(sample_table(2), tmp_path / "a.csv")

    with pytest.raises(DataSourceError) as caught:
        make_source([tmp_path / "a.csv", str(tmp_path / "b*.csv")]).scan()

    assert caught.value.message.endswith(f"matches no file: '{tmp_path / 'b*.csv'}'.")


def test_an_unknown_extension_asks_for_a_format(tmp_path: Path) -> None:
    (tmp_path / "data.json").write_text("{}")

    with pytest.raises(DataSourceError) as caught:
        list(make_source(tmp_path / "data.json").iter_batches())

    assert "Cannot tell the format" in caught.value.message
    assert "format='parquet' or format='csv'" in (caught.value.hint or "")


def test_an_unknown_format_is_refused_at_once(tmp_path: Path) -> None:
    with pytest.raises(DataSourceError) as caught:
        make_source(tmp_path, format="json")

    assert "unknown format 'json'" in caught.value.message
    assert "format='parquet'" in (caught.value.hint or "")


def test_a_folder_of_mixed_formats_is_refused(tmp_path: Path) -> None:
    write_csv(sample_table(2), tmp_path / "a.csv")
    write_parquet(sample_table(2), tmp_path / "b.parquet")

    with pytest.raises(DataSourceError) as caught:
        list(make_source(tmp_path).iter_batches())

    assert "mixes file formats" in caught.value.message
    assert "format=" in (caught.value.hint or "")


def test_a_ragged_csv_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_text("a,b,c\n1,2,3\n4,5,6,7\n")
    source = make_source(tmp_path / "bad.csv")

    with pytest.raises(DataSourceError) as caught:
        list(source.iter_batches())

    error = caught.value
    assert error.message.startswith(f"The data source {source.describe()}")
    assert "not readable as CSV" in error.message and "Expected 3 columns, got 4" in error.message
    assert "as many fields as the header" in (error.hint or "")
    assert isinstance(error.__cause__, pa.ArrowInvalid)
    assert "Traceback" not in str(error)


def test_a_csv_column_that_changes_type_late_is_an_error(tmp_path: Path) -> None:
    rows = ["n,label"] + [f"{i},x" for i in range(200_000)] + ["oops,x"]
    (tmp_path / "late.csv").write_text("\n".join(rows) + "\n")

    with pytest.raises(DataSourceError) as caught:
        list(make_source(tmp_path / "late.csv").iter_batches())

    assert "not readable as CSV" in caught.value.message
    assert "oops" in caught.value.message
    assert "one type" in (caught.value.hint or "")


def test_a_truncated_parquet_file_is_one_clear_error(tmp_path: Path) -> None:
    data = parquet_bytes(sample_table(100))
    (tmp_path / "cut.parquet").write_bytes(data[: len(data) // 2])

    with pytest.raises(DataSourceError) as caught:
        list(make_source(tmp_path / "cut.parquet").iter_batches())

    assert "not readable as Parquet" in caught.value.message
    assert "cut.parquet" in caught.value.message
    assert "complete Parquet file" in (caught.value.hint or "")


def test_parquet_files_with_other_columns_name_the_file(tmp_path: Path) -> None:
    write_parquet(sample_table(2), tmp_path / "a.parquet")
    write_parquet(pa.table({"other": [1]}), tmp_path / "b.parquet")

    with pytest.raises(DataSourceError) as caught:
        list(make_source(tmp_path).iter_batches())

    assert "b.parquet" in caught.value.message and "['other']" in caught.value.message


def test_a_column_that_cannot_be_conformed_names_the_file(tmp_path: Path) -> None:
    write_parquet(sample_table(2), tmp_path / "a.parquet")
    other = sample_table(2).set_column(0, "id", pa.array(["x", "y"]))
    write_parquet(other, tmp_path / "b.parquet")

    with pytest.raises(DataSourceError) as caught:
        list(make_source(tmp_path).iter_batches())

    assert caught.value.column == "id"
    assert "b.parquet" in caught.value.message and "int64" in caught.value.message


def test_storage_options_for_local_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DataSourceError, match="apply to remote URLs only"):
        make_source(tmp_path, storage_options={"anon": True})


def test_local_and_remote_paths_cannot_mix(tmp_path: Path) -> None:
    with pytest.raises(DataSourceError, match="mixes local paths and remote URLs"):
        make_source([tmp_path / "a.csv", "s3://bucket/b.csv"])
    with pytest.raises(DataSourceError, match="mixes the URL schemes"):
        make_source(["s3://bucket/a.csv", "memory://b.csv"])


def test_an_unknown_protocol_is_one_clear_error() -> None:
    source = make_source("nosuchproto://bucket/data.csv")

    with pytest.raises(DataSourceError) as caught:
        source.scan()

    assert "unknown protocol 'nosuchproto'" in caught.value.message
    assert caught.value.hint


def test_a_missing_driver_names_the_install_command() -> None:
    with pytest.raises(DataSourceError) as caught:
        list(make_source("gcs://bucket/data.parquet").iter_batches())

    assert "pip install gcsfs" in (caught.value.hint or "")


def test_a_bad_batch_size_is_refused(tmp_path: Path) -> None:
    source = make_source(tmp_path)
    for bad in (0, -5, 1.5, True):
        with pytest.raises(InvalidValueError, match="batch_rows must be a positive integer"):
            source.iter_batches(batch_rows=bad)  # type: ignore[arg-type]


def test_a_bug_is_not_reported_as_a_source_problem(tmp_path: Path) -> None:
    class Broken(FilesSource):
        def _list(self) -> list:  # type: ignore[type-arg]
            raise AssertionError("a bug in conveyor")

    with pytest.raises(AssertionError, match="a bug in conveyor"):
        list(Broken([str(tmp_path)]).iter_batches())


def test_pandas_csv_reads_the_same_values(tmp_path: Path) -> None:
    # The CSV reader's types are what pandas users expect of the same file.
    path = write_csv(sample_table(50), tmp_path / "d.csv")
    frame = pd.read_csv(path)

    table = read_all(make_source(path))

    assert table.column("id").to_pylist() == frame["id"].tolist()
    assert table.column("amount").to_pylist() == frame["amount"].tolist()


# -- streaming -------------------------------------------------------------------------------


def test_files_are_read_one_at_a_time(tmp_path: Path) -> None:
    for i in range(3):
        write_parquet(sample_table(100, start=100 * i), tmp_path / f"part-{i}.parquet")
    batches = make_source(tmp_path).iter_batches(batch_rows=50)

    first = next(batches)
    (tmp_path / "part-2.parquet").unlink()  # listed, but not opened yet
    seen = [first.num_rows] + [next(batches).num_rows for _ in range(3)]

    assert seen == [50, 50, 50, 50]  # the first two files read fine
    with pytest.raises(DataSourceError) as caught:
        list(batches)
    assert "part-2.parquet" in caught.value.message
    assert "disappeared" in caught.value.message


def test_many_row_groups_stream_in_batches(tmp_path: Path) -> None:
    path = write_parquet(sample_table(10_000), tmp_path / "d.parquet", row_group_size=999)

    sizes = [b.num_rows for b in make_source(path).iter_batches(batch_rows=1024)]

    assert max(sizes) <= 1024 and sum(sizes) == 10_000
    assert len(sizes) >= 10


def test_a_recursive_glob(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    write_csv(sample_table(2), tmp_path / "a" / "x.csv")
    write_csv(sample_table(2, start=2), tmp_path / "a" / "b" / "y.csv")

    # Sorted by path: a/b/y.csv comes before a/x.csv.
    assert ids(make_source(str(tmp_path / "**" / "*.csv"))) == [2, 3, 0, 1]


def test_the_state_records_size_and_time_of_each_file(tmp_path: Path) -> None:
    path = write_parquet(sample_table(3), tmp_path / "a.parquet")

    (entry,) = make_source(path).scan().detail["files"]

    assert entry == {
        "path": str(path),
        "size": path.stat().st_size,
        "mtime": path.stat().st_mtime_ns / 1e9,
        "etag": None,
    }


def test_a_touched_file_with_the_same_bytes_is_changed(tmp_path: Path) -> None:
    # Without reading the files, a new time is all a scan can see; the snapshot of the
    # unchanged bytes will still be the same snapshot.
    path = write_parquet(sample_table(3), tmp_path / "a.parquet")
    source = make_source(path)
    state = source.scan()
    bump_mtime(path)

    changes = source.changes(state)

    assert changes.changed == (str(path),)


def test_the_describe_names_an_explicit_format(tmp_path: Path) -> None:
    source = make_source(str(tmp_path / "exports" / "*"), format="csv")

    assert source.describe() == f"'{tmp_path / 'exports' / '*'}' (CSV)"
    many = make_source([tmp_path / f"{i}.csv" for i in range(5)])
    assert many.describe().endswith("and 2 more")


def test_a_spec_merges_the_storage_options_given_back(memory_root: str) -> None:
    put_memory(f"{memory_root}/a.csv", csv_bytes(sample_table(2)))
    source = make_source(f"{memory_root}/a.csv", storage_options={"skip_instance_cache": True})
    spec = source.spec()

    rebuilt = source_from_spec(spec, storage_options={"token": "x"})

    assert isinstance(rebuilt, FilesSource)
    assert rebuilt.storage_options == {"skip_instance_cache": True, "token": "x"}
    assert "secrets_omitted" not in spec


def test_a_missing_fsspec_file_is_one_clear_error(memory_root: str) -> None:
    with pytest.raises(DataSourceError) as caught:
        list(make_source(f"{memory_root}/missing.parquet").iter_batches())

    assert caught.value.message == (
        f"The data source '{memory_root}/missing.parquet' does not exist."
    )
    assert "bucket and prefix" in (caught.value.hint or "")


def test_an_empty_fsspec_folder_is_an_error(memory_root: str) -> None:
    put_memory(f"{memory_root}/notes.txt", b"x")

    with pytest.raises(DataSourceError, match="holds no .parquet"):
        make_source(memory_root).scan()


def test_a_state_of_another_kind_means_everything_is_new(tmp_path: Path) -> None:
    write_csv(sample_table(2), tmp_path / "a.csv")
    sql_state = {"kind": "sql", "source_id": "0123456789abcdef", "n_rows": 2, "watermark": None}

    changes = make_source(tmp_path).changes(sql_state)

    assert changes.previous is None and changes.has_new
    assert ids(changes.new_part()) == [0, 1]
