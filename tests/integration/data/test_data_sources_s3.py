"""Files sources on a real S3 API (moto's server), through fsspec's s3fs and pyarrow."""

from __future__ import annotations

import uuid
from pathlib import Path

import pyarrow as pa
import pytest

from conveyor.core import DataSourceError
from conveyor.data._sources import Source, make_source, source_from_spec
from support.data_sources import csv_bytes, parquet_bytes, sample_table, snapshot_of
from support.s3 import S3Server

pytestmark = pytest.mark.integration


@pytest.fixture
def prefix(s3_server: S3Server) -> str:
    """A fresh key prefix in the test bucket."""
    return f"data-{uuid.uuid4().hex[:10]}"


def put(server: S3Server, key: str, body: bytes) -> None:
    server.client().put_object(Bucket=server.bucket, Key=key, Body=body)


def read_all(source: Source, batch_rows: int = 65_536) -> pa.Table:
    return pa.Table.from_batches(list(source.iter_batches(batch_rows=batch_rows)))


def test_a_glob_of_parquet_objects_reads_in_key_order(s3_server: S3Server, prefix: str) -> None:
    put(s3_server, f"{prefix}/b.parquet", parquet_bytes(sample_table(40, start=40)))
    put(s3_server, f"{prefix}/a.parquet", parquet_bytes(sample_table(40)))
    put(s3_server, f"{prefix}/notes.txt", b"not data")
    source = make_source(
        f"s3://{s3_server.bucket}/{prefix}/*.parquet", storage_options=s3_server.storage_options
    )

    table = read_all(source, batch_rows=16)

    assert table.column("id").to_pylist() == list(range(80))
    assert table.equals(sample_table(80))


def test_a_prefix_is_a_folder_of_csv_and_csv_gz(
    s3_server: S3Server, prefix: str, tmp_path: Path
) -> None:
    import gzip

    put(s3_server, f"{prefix}/part-0.csv", csv_bytes(sample_table(10)))
    put(s3_server, f"{prefix}/part-1.csv.gz", gzip.compress(csv_bytes(sample_table(10, start=10))))
    put(s3_server, f"{prefix}/_SUCCESS", b"")
    source = make_source(
        f"s3://{s3_server.bucket}/{prefix}", storage_options=s3_server.storage_options
    )

    assert read_all(source).equals(sample_table(20))


def test_s3_and_local_copies_give_the_same_snapshot(
    s3_server: S3Server, prefix: str, tmp_path: Path
) -> None:
    table = sample_table(500)
    put(s3_server, f"{prefix}/data.csv", csv_bytes(table))
    remote = make_source(
        f"s3://{s3_server.bucket}/{prefix}/data.csv", storage_options=s3_server.storage_options
    )

    from_s3 = snapshot_of(remote, tmp_path / "s3.parquet", batch_rows=100)
    from_memory = snapshot_of(make_source(table), tmp_path / "mem.parquet")

    assert from_s3.digest == from_memory.digest
    assert from_s3.n_rows == 500


def test_new_objects_and_rewritten_objects_are_new_data(s3_server: S3Server, prefix: str) -> None:
    put(s3_server, f"{prefix}/a.parquet", parquet_bytes(sample_table(5)))
    source = make_source(
        f"s3://{s3_server.bucket}/{prefix}/", storage_options=s3_server.storage_options
    )
    first = source.changes(None)
    assert first.has_new and len(first.added) == 1
    assert first.state.to_dict()["files"][0]["etag"]  # S3 objects are compared by ETag too

    assert not source.changes(first.state).has_new  # nothing new twice: nothing
    assert not source.changes(first.state).has_new

    put(s3_server, f"{prefix}/b.parquet", parquet_bytes(sample_table(3, start=5)))
    put(s3_server, f"{prefix}/a.parquet", parquet_bytes(sample_table(5, start=100)))
    second = source.changes(first.state.to_dict())

    assert second.has_new
    assert [p.rsplit("/", 1)[1] for p in second.added] == ["b.parquet"]
    assert [p.rsplit("/", 1)[1] for p in second.changed] == ["a.parquet"]
    new_ids = read_all(second.new_part()).column("id").to_pylist()
    assert sorted(new_ids) == [5, 6, 7, 100, 101, 102, 103, 104]
    assert not source.changes(second.state).has_new


def test_the_spec_keeps_no_secret_and_rebuilds_with_them(s3_server: S3Server, prefix: str) -> None:
    put(s3_server, f"{prefix}/a.parquet", parquet_bytes(sample_table(7)))
    url = f"s3://{s3_server.bucket}/{prefix}/a.parquet"
    source = make_source(url, storage_options=s3_server.storage_options)

    spec = source.spec()

    assert "testing" not in repr(spec)  # neither the key nor the secret
    assert spec["storage_options"] == {"endpoint_url": s3_server.endpoint}
    assert spec["secrets_omitted"] is True
    # The credentials come back from the environment (AWS_* set by the fixture) ...
    assert read_all(source_from_spec(spec)).num_rows == 7
    # ... or from the caller.
    again = source_from_spec(spec, storage_options={"key": "testing", "secret": "testing"})
    assert read_all(again).num_rows == 7


def test_a_missing_object_names_the_url(s3_server: S3Server, prefix: str) -> None:
    url = f"s3://{s3_server.bucket}/{prefix}/missing.parquet"
    source = make_source(url, storage_options=s3_server.storage_options)

    with pytest.raises(DataSourceError) as caught:
        list(source.iter_batches())

    assert "does not exist" in caught.value.message
    assert url in caught.value.message
    assert "bucket" in (caught.value.hint or "")


def test_an_empty_glob_on_s3_is_an_error(s3_server: S3Server, prefix: str) -> None:
    url = f"s3://{s3_server.bucket}/{prefix}/*.parquet"
    source = make_source(url, storage_options=s3_server.storage_options)

    with pytest.raises(DataSourceError, match="matches no file"):
        source.scan()


def test_a_missing_bucket_is_one_clear_error(s3_server: S3Server) -> None:
    source = make_source(
        "s3://no-such-bucket-here/x/*.csv", storage_options=s3_server.storage_options
    )

    with pytest.raises(DataSourceError) as caught:
        list(source.iter_batches())

    assert "s3://no-such-bucket-here/x/*.csv" in str(caught.value)
    assert caught.value.__cause__ is not None or "matches no file" in caught.value.message


def test_an_unreachable_endpoint_is_wrapped(s3_server: S3Server, prefix: str) -> None:
    options = {
        **s3_server.storage_options,
        "endpoint_url": "http://127.0.0.1:9",
        "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 1},
    }
    source = make_source(f"s3://{s3_server.bucket}/{prefix}/a.csv", storage_options=options)

    with pytest.raises(DataSourceError) as caught:
        source.scan()

    assert f"s3://{s3_server.bucket}/{prefix}/a.csv" in caught.value.message
    assert "testing" not in str(caught.value)
    assert caught.value.__cause__ is not None


def test_a_same_size_rewrite_is_seen_by_its_etag(s3_server: S3Server, prefix: str) -> None:
    put(s3_server, f"{prefix}/a.csv", b"n\n1\n")
    source = make_source(
        f"s3://{s3_server.bucket}/{prefix}/a.csv", storage_options=s3_server.storage_options
    )
    state = source.scan()

    put(s3_server, f"{prefix}/a.csv", b"n\n2\n")  # same size, likely the same second
    changes = source.changes(state)

    (before,) = state.detail["files"]
    (after,) = changes.state.detail["files"]
    assert before["size"] == after["size"] and before["etag"] != after["etag"]
    assert changes.has_new and len(changes.changed) == 1


def test_the_new_part_of_a_prefix_rebuilds_from_its_spec(s3_server: S3Server, prefix: str) -> None:
    import json

    put(s3_server, f"{prefix}/a.parquet", parquet_bytes(sample_table(2)))
    source = make_source(
        f"s3://{s3_server.bucket}/{prefix}", storage_options=s3_server.storage_options
    )
    state = source.scan()
    put(s3_server, f"{prefix}/b.parquet", parquet_bytes(sample_table(2, start=2)))

    spec = json.loads(json.dumps(source.changes(state).new_part().spec()))
    rebuilt = source_from_spec(spec)

    assert spec["pinned"] is True
    assert spec["paths"] == [f"s3://{s3_server.bucket}/{prefix}/b.parquet"]
    assert read_all(rebuilt).column("id").to_pylist() == [2, 3]


def test_remote_csv_streams_in_bounded_batches(s3_server: S3Server, prefix: str) -> None:
    put(s3_server, f"{prefix}/big.csv", csv_bytes(sample_table(20_000)))
    source = make_source(
        f"s3://{s3_server.bucket}/{prefix}/big.csv", storage_options=s3_server.storage_options
    )

    sizes = [b.num_rows for b in source.iter_batches(batch_rows=4096)]

    assert max(sizes) <= 4096 and sum(sizes) == 20_000 and len(sizes) >= 5
