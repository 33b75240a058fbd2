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


def test_get_snapshot_latest_or_by_version(store: st.Store) -> None:
    v1, _ = snap(store, "flights", "jan")
    v2, _ = snap(store, "flights", "feb")
    assert st.get_snapshot(store, "flights") == v2
    assert st.get_snapshot(store, "flights", 1) == v1
    with pytest.raises(NotFoundError, match=r"has no version 7 \(versions: 1, 2\)") as info:
        st.get_snapshot(store, "flights", 7)
    assert "conveyor data snapshot" in str(info.value.hint)
    with pytest.raises(NotFoundError, match="Did you mean 'flights'"):
        st.get_snapshot(store, "flihgts")


def test_a_registered_source_keeps_its_state_until_its_spec_changes(store: st.Store) -> None:
    spec = {"kind": "files", "url": "data/*.csv"}
    made = st.set_dataset_source(store, "flights", spec=spec, description="BTS on-time")
    assert (made.dataset, made.spec, made.appending, made.state) == ("flights", spec, False, None)
    (dataset,) = st.list_datasets(store)
    assert (dataset.name, dataset.description, dataset.last_version) == (
        "flights",
        "BTS on-time",
        0,
    )
    st.set_source_state(store, "flights", {"files": {"a.csv": [10, 1]}})
    same = st.set_dataset_source(store, "flights", spec=spec, appending=True)
    assert same.state == {"files": {"a.csv": [10, 1]}} and same.appending
    moved = st.set_dataset_source(store, "flights", spec={"kind": "files", "url": "new/*.csv"})
    assert moved.state is None  # judged against the new source from scratch
    assert st.get_dataset_source(store, "flights") == moved


def test_a_dataset_without_a_source_says_so(store: st.Store) -> None:
    snap(store, "frames", "in memory")
    with pytest.raises(NotFoundError, match="has no registered source") as info:
        st.get_dataset_source(store, "frames")
    assert "conveyor data snapshot PATH_OR_URL --name frames" in str(info.value.hint)
    with pytest.raises(NotFoundError, match="has no registered source"):
        st.set_source_state(store, "frames", {})
    with pytest.raises(NotFoundError, match="Did you mean 'frames'"):
        st.get_dataset_source(store, "frame")
    with pytest.raises(InvalidNameError, match="dataset name"):
        st.set_dataset_source(store, "a b", spec={})


def test_a_run_shows_the_snapshots_its_steps_read_and_wrote(store: st.Store) -> None:
    run = st.create_run(store, "retrain")
    ingest, train = st.add_step_runs(store, run.id, ["ingest", "train"])
    art = st.record_artifact(store, digest("rows"), 4)
    taken, created = st.add_snapshot(
        store, "flights", artifact_id=art.id, digest=digest("rows"), step_run_id=ingest.id
    )
    again, created_again = st.add_snapshot(
        store, "flights", artifact_id=art.id, digest=digest("rows"), step_run_id=ingest.id
    )
    assert created and not created_again and again == taken
    st.record_snapshot_read(store, taken.id, train.id)
    st.record_snapshot_read(store, taken.id, train.id)  # a retry reads it again: one row
    uses = st.snapshot_uses(store, run.id)
    assert [(u.step, u.direction, u.dataset, u.version, u.digest) for u in uses] == [
        ("ingest", "wrote", "flights", 1, digest("rows")),
        ("train", "read", "flights", 1, digest("rows")),
    ]
    assert st.snapshot_uses(store, st.create_run(store, "other").id) == []


def test_snapshot_uses_are_scoped_to_the_project(store: st.Store) -> None:
    other = st.open_store(store.url, project="other")
    try:
        run = st.create_run(store, "retrain")
        taken, _ = snap(store, "flights", "rows")
        theirs_run = st.create_run(other, "x")
        (theirs_step,) = st.add_step_runs(other, theirs_run.id, ["x"])
        with pytest.raises(NotFoundError, match="No step run"):
            st.record_snapshot_read(store, taken.id, theirs_step.id)
        with pytest.raises(NotFoundError, match="No snapshot"):
            st.record_snapshot_read(other, taken.id, theirs_step.id)
        with pytest.raises(NotFoundError, match="No run"):
            st.snapshot_uses(other, run.id)
        art = st.record_artifact(store, digest("x"), 1)
        with pytest.raises(NotFoundError, match="No step run"):
            st.add_snapshot(
                store, "d", artifact_id=art.id, digest=digest("x"), step_run_id=theirs_step.id
            )
        assert st.snapshot_uses(store, run.id) == []
    finally:
        other.close()
