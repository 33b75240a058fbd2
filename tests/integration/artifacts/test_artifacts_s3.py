"""The shared backend suite against a real S3 API (moto's server), through s3fs."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from artifacts_backend_suite import ArtifactStoreSuite, UploadSuite

from conveyor.artifacts import (
    ArtifactStore,
    FsspecArtifactStore,
    collect_garbage,
    open_artifact_store,
)
from conveyor.core import ArtifactError, ChecksumMismatchError, InvalidValueError
from support.s3 import S3Server

pytestmark = pytest.mark.integration


def blob_key(store: ArtifactStore, digest: str) -> tuple[str, str]:
    """``(bucket, key)`` of a blob, from the documented layout."""
    bucket, _, prefix = store.url.removeprefix("s3://").partition("/")
    return bucket, f"{prefix}/blobs/sha256/{digest[:2]}/{digest[2:]}"


class TestS3Backend(ArtifactStoreSuite, UploadSuite):
    @pytest.fixture(params=["buffered", "streaming"])
    def artifact_store(
        self, request: pytest.FixtureRequest, s3_server: S3Server
    ) -> Iterator[FsspecArtifactStore]:
        self.server = s3_server
        options = s3_server.storage_options
        limit = None
        if request.param == "streaming":  # large blobs stream as 5 MiB multipart uploads
            options = {**options, "default_block_size": 5 * 1024 * 1024}
            limit = 64 * 1024
        url = f"s3://{s3_server.bucket}/{uuid.uuid4().hex[:12]}/artifacts"
        yield FsspecArtifactStore(url, options, max_buffered_bytes=limit, dedup_refresh=0)

    def test_source_changed_between_hash_and_upload(
        self, artifact_store: ArtifactStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        super().test_source_changed_between_hash_and_upload(artifact_store, tmp_path, monkeypatch)
        bucket, _, prefix = artifact_store.url.removeprefix("s3://").partition("/")
        uploads = self.server.client().list_multipart_uploads(Bucket=bucket, Prefix=prefix)
        assert uploads.get("Uploads", []) == []  # the multipart upload was aborted

    def raw_read(self, store: ArtifactStore, digest: str) -> bytes:
        bucket, key = blob_key(store, digest)
        body: bytes = self.server.client().get_object(Bucket=bucket, Key=key)["Body"].read()
        return body

    def raw_write(self, store: ArtifactStore, digest: str, data: bytes) -> None:
        bucket, key = blob_key(store, digest)
        self.server.client().put_object(Bucket=bucket, Key=key, Body=data)


@pytest.fixture
def s3_store(s3_server: S3Server) -> ArtifactStore:
    url = f"s3://{s3_server.bucket}/{uuid.uuid4().hex[:12]}"
    return open_artifact_store(url, s3_server.storage_options)


def test_tampered_s3_object_is_refused(s3_store: ArtifactStore, s3_server: S3Server) -> None:
    digest = s3_store.put_bytes(b"model weights v1" * 1000).digest
    bucket, key = blob_key(s3_store, digest)
    s3_server.client().put_object(Bucket=bucket, Key=key, Body=b"model weights v2" * 1000)
    with pytest.raises(ChecksumMismatchError) as info:
        s3_store.get_bytes(digest)
    assert digest in str(info.value) and s3_store.url in str(info.value)
    with pytest.raises(ChecksumMismatchError), s3_store.open_verified(digest):
        pytest.fail("the loader must not run")


def test_blobs_are_plain_objects_at_the_documented_keys(
    s3_store: ArtifactStore, s3_server: S3Server
) -> None:
    digest = s3_store.put_bytes(b"hello").digest
    bucket, key = blob_key(s3_store, digest)
    listed = s3_server.client().list_objects_v2(Bucket=bucket, Prefix=key.rsplit("/blobs", 1)[0])
    assert [o["Key"] for o in listed["Contents"]] == [key]  # no temp objects left


def test_gc_grace_by_real_time(s3_server: S3Server) -> None:
    """S3 times have 1 s resolution and cannot be backdated: wait them out instead."""
    url = f"s3://{s3_server.bucket}/{uuid.uuid4().hex[:12]}"
    s3_store = FsspecArtifactStore(url, s3_server.storage_options, dedup_refresh=1.0)
    with pytest.raises(InvalidValueError, match="dedup window"):
        collect_garbage(s3_store, [], older_than=0.5)
    old = s3_store.put_bytes(b"old junk").digest
    time.sleep(2.1)
    young = s3_store.put_bytes(b"young junk").digest
    report = collect_garbage(s3_store, [], older_than=1.5)
    assert report.deleted == (old,)
    assert s3_store.exists(young)


def test_missing_bucket_is_a_clear_error(s3_server: S3Server) -> None:
    store = open_artifact_store("s3://no-such-bucket-here/x", s3_server.storage_options)
    with pytest.raises(ArtifactError) as info:
        store.put_bytes(b"x")
    message = str(info.value)
    assert "s3://no-such-bucket-here/x" in message and "bucket" in message
    assert "testing" not in message  # no credentials in messages


def test_unreachable_endpoint_is_wrapped(s3_server: S3Server) -> None:
    options = {**s3_server.storage_options, "endpoint_url": "http://127.0.0.1:9"}
    options["config_kwargs"] = {"retries": {"max_attempts": 1}, "connect_timeout": 1}
    store = open_artifact_store(f"s3://{s3_server.bucket}/x", options)
    with pytest.raises(ArtifactError, match="Could not") as info:
        store.put_bytes(b"x")
    assert info.value.__cause__ is not None  # the driver's error, kept as the cause
