"""Datasets: snapshots deduplicated by content digest, with dense versions."""

from __future__ import annotations

import hashlib

import pytest

from conveyor import store as st
from conveyor.core import InvalidNameError, NotFoundError

pytestmark = pytest.mark.integration


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def snap(store: st.Store, dataset: str, content: str) -> tuple[st.SnapshotRecord, bool]:
    art = st.record_artifact(store, digest(content), len(content))
    return st.add_snapshot(store, dataset, artifact_id=art.id, digest=digest(content))


def test_snapshots_dedupe_by_digest_with_dense_versions(store: st.Store) -> None:
    v1, created1 = snap(store, "customers", "day 1")
    same, created_again = snap(store, "customers", "day 1")
    v2, created2 = snap(store, "customers", "day 2")
    snap(store, "customers", "day 2")
    snap(store, "customers", "day 1")
    v3, _ = snap(store, "customers", "day 3")
    assert (created1, created_again, created2) == (True, False, True)
    assert same == v1
    assert [s.version for s in st.list_snapshots(store, "customers")] == [1, 2, 3]
    assert (v2.version, v3.version) == (2, 3)
    (dataset,) = st.list_datasets(store)
    assert (dataset.name, dataset.last_version) == ("customers", 3)
    created = st.read_events(store, types=["io.conveyor.snapshot.created"])
    assert [e.data["version"] for e in created] == [1, 2, 3]


def test_the_same_content_in_two_datasets_is_two_snapshots(store: st.Store) -> None:
    a, created_a = snap(store, "a", "rows")
    b, created_b = snap(store, "b", "rows")
    assert created_a and created_b and a.id != b.id and a.version == b.version == 1


def test_snapshot_fields(store: st.Store) -> None:
    run = st.create_run(store, "ingest")
    art = st.record_artifact(store, digest("x"), 1)
    s, _ = st.add_snapshot(
        store,
        "d",
        artifact_id=art.id,
        digest=f"sha256:{digest('x')}",
        source="s3://bucket/x.parquet",
        schema={"a": "long"},
        statistics={"a": {"mean": 1.0}},
        n_rows=10,
        run_id=run.id,
    )
    assert (s.digest, s.source, s.n_rows, s.run_id) == (
        digest("x"),
        "s3://bucket/x.parquet",
        10,
        run.id,
    )
    assert s.schema == {"a": "long"} and s.statistics == {"a": {"mean": 1.0}}


def test_bad_input(store: st.Store) -> None:
    art = st.record_artifact(store, digest("x"), 1)
    with pytest.raises(InvalidNameError, match="dataset name"):
        st.add_snapshot(store, "a/b", artifact_id=art.id, digest=digest("x"))
    with pytest.raises(InvalidNameError, match="sha256"):
        st.add_snapshot(store, "d", artifact_id=art.id, digest="123")
    snap(store, "customers", "x")
    with pytest.raises(NotFoundError, match="Did you mean 'customers'"):
        st.list_snapshots(store, "custmers")
