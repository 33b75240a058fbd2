"""The artifact and event services at their edges, on each store backend: what a recorded
artifact keeps, exports of files, garbage collection across projects, and event filters."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from conveyor.core import Config, InvalidNameError, NotFoundError
from conveyor.lineage import (
    collect_garbage,
    describe_artifact,
    export_artifact,
    follow_events,
    last_event_id,
    list_artifacts,
    put_artifact,
    read_artifact,
    read_events,
)
from conveyor.pipelines import get_step_run, run_pipeline
from conveyor.workspace import Workspace, init_project
from support.projects import MakeProject

pytestmark = pytest.mark.integration

SOURCE = """
from conveyor import pipeline, step

@step
def make() -> dict:
    return {"weights": [0.5, 0.25]}

@step
def use(model: dict) -> float:
    return sum(model["weights"])

@pipeline
def two():
    use(make())
"""


@pytest.fixture
def files(tmp_path: Path) -> Path:
    folder = tmp_path / "files"
    (folder / "data" / "sub").mkdir(parents=True)
    (folder / "data" / "a.csv").write_text("x\n1\n")
    (folder / "data" / "sub" / "b.bin").write_bytes(b"\x00" * 10)
    (folder / "model.bin").write_bytes(b"weights")
    return folder


def test_an_artifact_keeps_what_it_was_recorded_with(
    make_project: MakeProject, files: Path
) -> None:
    ws = make_project(SOURCE)
    run = run_pipeline(ws, "two").run
    producer = get_step_run(ws, run.id, "make")
    record = put_artifact(
        ws,
        files / "model.bin",
        name="models/churn",
        type_name="sklearn.linear_model.LogisticRegression",
        media_type="application/octet-stream",
        meta={"framework": "sklearn", "n_features": 3},
        producer_step_run_id=producer.id,
    )
    shown = describe_artifact(ws, record.id).artifact
    assert (shown.name, shown.kind, shown.size) == ("models/churn", "file", 7)
    assert shown.type_name == "sklearn.linear_model.LogisticRegression"
    assert shown.media_type == "application/octet-stream"
    assert shown.meta == {"framework": "sklearn", "n_features": 3}
    as_dict = describe_artifact(ws, record.id).to_dict()
    assert as_dict["meta"] == {"framework": "sklearn", "n_features": 3}
    assert as_dict["files"] == [] and as_dict["id"] == record.id


def test_a_producer_from_no_run_of_this_project_is_refused(
    make_project: MakeProject, files: Path
) -> None:
    ws = make_project(SOURCE)
    with pytest.raises(NotFoundError):
        put_artifact(ws, files / "model.bin", producer_step_run_id=10_000_000)
    assert list_artifacts(ws) == []


@pytest.mark.parametrize("name", ["../x", "/abs", "a/../../b", ""])
def test_unsafe_names_store_nothing(make_project: MakeProject, files: Path, name: str) -> None:
    ws = make_project(SOURCE)
    with pytest.raises(InvalidNameError):
        put_artifact(ws, files / "model.bin", name=name)
    assert list_artifacts(ws) == [] and list(ws.artifacts.iter_blobs()) == []


def test_a_directory_with_a_special_file_records_and_stores_nothing(
    make_project: MakeProject, files: Path
) -> None:
    ws = make_project(SOURCE)
    os.mkfifo(files / "data" / "pipe")
    with pytest.raises(InvalidNameError) as info:
        put_artifact(ws, files / "data")
    assert "'pipe'" in info.value.message and "special file" in info.value.message
    assert list_artifacts(ws) == [] and list(ws.artifacts.iter_blobs()) == []


def test_export_a_file_into_a_new_folder(make_project: MakeProject, files: Path) -> None:
    ws = make_project(SOURCE)
    record = put_artifact(ws, files / "model.bin")
    target = files / "out" / "deeper" / "copy.bin"
    assert export_artifact(ws, record.id, target) == target.absolute()
    assert target.read_bytes() == b"weights"
    with pytest.raises(InvalidNameError, match="already exists"):
        export_artifact(ws, record.id, target)
    with pytest.raises(NotFoundError, match="No artifact 999"):
        export_artifact(ws, 999, files / "never")
    assert not (files / "never").exists()


def test_list_limits_and_describes_by_digest_prefix(make_project: MakeProject, files: Path) -> None:
    ws = make_project(SOURCE)
    records = [put_artifact(ws, files / "model.bin", name=f"m{i}") for i in range(3)]
    assert [a.name for a in list_artifacts(ws, limit=2)] == ["m2", "m1"]
    # Equal content: the newest artifact with the digest answers.
    assert describe_artifact(ws, records[0].digest[:8]).artifact.id == records[2].id
    details = describe_artifact(ws, put_artifact(ws, files / "data").id)
    assert [(p, s) for p, _, s in details.files] == [("a.csv", 4), ("sub/b.bin", 10)]


def test_gc_keeps_directory_members_and_only_deletes_on_a_real_run(
    make_project: MakeProject, files: Path
) -> None:
    ws = make_project(SOURCE)
    folder = put_artifact(ws, files / "data")
    orphan = ws.artifacts.put_bytes(b"left over").digest
    old = time.time() - 7200
    os.utime(ws.artifacts.blob_path(orphan), (old, old))  # type: ignore[attr-defined]

    dry = collect_garbage(ws, dry_run=True)
    assert dry.deleted == (orphan,) and dry.n_kept == 3  # manifest and both files
    assert ws.artifacts.exists(orphan)
    report = collect_garbage(ws)
    assert report.deleted == (orphan,) and report.bytes_freed == len(b"left over")
    assert not ws.artifacts.exists(orphan)
    restored = export_artifact(ws, folder.id, files / "restored")
    assert (restored / "sub" / "b.bin").read_bytes() == b"\x00" * 10


def test_gc_keeps_what_another_project_in_the_same_stores_references(
    store_url: str, tmp_path: Path, files: Path
) -> None:
    env = {"CONVEYOR_STORE": store_url, "CONVEYOR_ARTIFACTS": str(tmp_path / "shared-blobs")}
    opened = []
    for name in ("alpha", "beta"):
        init_project(tmp_path / name, name=name)
        opened.append(Workspace.from_config(Config.load(tmp_path / name, env=env)))
    alpha, beta = opened
    try:
        record = put_artifact(alpha, files / "model.bin")
        assert list_artifacts(beta) == []  # another project's artifact is not beta's ...
        report = collect_garbage(beta, older_than=0)
        assert record.digest not in report.deleted  # ... yet its bytes are kept
        assert read_artifact(alpha, record.id) == b"weights"
        with pytest.raises(NotFoundError):
            read_artifact(beta, record.id)
    finally:
        for ws in opened:
            ws.close()


def test_events_by_exact_type_prefix_and_cursor(make_project: MakeProject) -> None:
    ws = make_project(SOURCE)
    start = last_event_id(ws)
    first = run_pipeline(ws, "two").run
    second = run_pipeline(ws, "two").run
    everything = read_events(ws, after=start)
    assert [e.subject for e in everything] == [f"runs/{first.id}"] * 2 + [f"runs/{second.id}"] * 2
    succeeded = read_events(ws, after=start, types=["io.conveyor.run.succeeded"])
    assert [e.subject for e in succeeded] == [f"runs/{first.id}", f"runs/{second.id}"]
    assert read_events(ws, after=start, limit=1) == everything[:1]
    assert read_events(ws, after=everything[1].id) == everything[2:]
    assert read_events(ws, after=start, types=["io.conveyor.model.*"]) == []
    followed = follow_events(
        ws, after=start, types=["io.conveyor.run.started"], poll_interval=0.02, stop_after=0.2
    )
    assert [e.subject for e in followed] == [f"runs/{first.id}", f"runs/{second.id}"]
    cloud = everything[0].to_cloudevent()
    assert cloud["type"] == "io.conveyor.run.started" and cloud["source"] == "/projects/test"
