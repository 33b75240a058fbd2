"""``conveyor artifacts list|show|add|get|gc``: text and ``--json`` output, exit codes, and
what they say about bad references, paths and options."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from conveyor.artifacts import LocalArtifactStore
from support.inprocess_cli import Invoke, MakeCliProject

STEPS = """
from conveyor import pipeline, step

@step
def make() -> dict:
    return {"weights": [1, 2, 3]}

@step
def use(model: dict) -> int:
    return len(model["weights"])

@pipeline
def small():
    use(make())
"""


@pytest.fixture
def project(make_project: MakeCliProject) -> Path:
    root = make_project(STEPS)
    data = root / "data"
    (data / "nested").mkdir(parents=True)
    (data / "a.csv").write_text("x,y\n1,2\n")
    (data / "nested" / "b.txt").write_text("hello")
    (root / "model.bin").write_bytes(b"\x00\x01weights" * 100)
    return root


def cli(invoke: Invoke, root: Path, *args: str) -> Any:
    result = invoke("-p", str(root), "artifacts", *args, "--json")
    assert result.code == 0, result
    return json.loads(result.out)


def blobs(root: Path) -> LocalArtifactStore:
    return LocalArtifactStore(root / ".conveyor" / "artifacts")


def test_add_a_file_prints_its_id_kind_size_and_digest(invoke: Invoke, project: Path) -> None:
    result = invoke("-p", str(project), "artifacts", "add", str(project / "model.bin"))
    assert result.code == 0, result
    (record,) = cli(invoke, project, "list")
    assert result.out == (
        f"Stored artifact {record['id']} (file, 900 B) sha256:{record['digest']}\n"
    )
    assert record["name"] == "model.bin" and record["size"] == 900 and record["kind"] == "file"
    assert blobs(project).get_bytes(record["digest"]) == (project / "model.bin").read_bytes()


def test_add_a_directory_with_a_name_and_identical_content_shares_bytes(
    invoke: Invoke, project: Path
) -> None:
    first = cli(invoke, project, "add", str(project / "data"), "--name", "dataset/v1")
    assert first["kind"] == "dir" and first["name"] == "dataset/v1" and first["size"] == 13
    second = cli(invoke, project, "add", str(project / "data"), "--name", "dataset/v2")
    assert second["id"] != first["id"] and second["digest"] == first["digest"]
    n_blobs = len(list(blobs(project).iter_blobs()))
    assert n_blobs == 3  # two files and one manifest, stored once


def test_add_refuses_a_missing_path_and_bad_names(invoke: Invoke, project: Path) -> None:
    missing = invoke("-p", str(project), "artifacts", "add", "nope.bin")
    assert missing.code == 1
    assert "'nope.bin' is not a file or directory." in missing.err
    assert "Check the path and try again." in missing.err
    bad = invoke("-p", str(project), "artifacts", "add", str(project / "model.bin"), "--name", "")
    assert bad.code == 1 and "artifact name" in bad.err
    assert cli(invoke, project, "list") == []


def test_list_is_newest_first_filters_by_name_and_limits(invoke: Invoke, project: Path) -> None:
    assert invoke("-p", str(project), "artifacts", "list").out == "No artifacts.\n"
    ids = [
        cli(invoke, project, "add", str(project / "model.bin"), "--name", name)["id"]
        for name in ("m", "m", "other")
    ]
    assert [a["id"] for a in cli(invoke, project, "list")] == ids[::-1]
    assert [a["id"] for a in cli(invoke, project, "list", "--name", "m")] == ids[1::-1]
    assert [a["id"] for a in cli(invoke, project, "list", "-n", "1")] == [ids[2]]
    assert cli(invoke, project, "list", "--name", "unknown") == []

    text = invoke("-p", str(project), "artifacts", "list").out
    lines = text.splitlines()
    assert lines[0] == "Artifacts"
    for column in ("id", "name", "kind", "size", "digest", "created (UTC)"):
        assert column in lines[2]
    digest = cli(invoke, project, "list")[0]["digest"]
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in lines if line[0] == "│"]
    assert rows[0][:5] == [str(ids[2]), "other", "file", "900 B", digest[:12]]
    assert len(rows) == 3


def test_show_a_step_output_with_its_lineage(invoke: Invoke, project: Path) -> None:
    assert invoke("-p", str(project), "run", "small").code == 0
    outputs = {a["name"]: a for a in cli(invoke, project, "list")}
    made = outputs["make"]
    details = cli(invoke, project, "show", str(made["id"]))
    assert details["type_name"] == "builtins.dict" and details["files"] == []
    roles = {(e["direction"], e["name"]) for e in details["lineage"]}
    assert roles == {("out", "output"), ("in", "model")}

    text = invoke("-p", str(project), "artifacts", "show", str(made["id"])).out
    lines = text.splitlines()
    assert lines[0].startswith(f"Artifact {made['id']} make · file · ")
    assert lines[1] == f"digest sha256:{made['digest']}"
    assert lines[2] == "type builtins.dict"
    assert "Lineage" in lines
    assert any("produced by" in line and "output" in line for line in lines)
    assert any("read by" in line and "model" in line for line in lines)


def test_show_a_directory_lists_its_files(invoke: Invoke, project: Path) -> None:
    added = cli(invoke, project, "add", str(project / "data"))
    text = invoke("-p", str(project), "artifacts", "show", f"sha256:{added['digest']}").out
    lines = text.splitlines()
    assert lines[0] == f"Artifact {added['id']} data · dir · 13 B"
    assert "Files" in lines and "Lineage" not in lines  # added by hand: no step made it
    files = [[c.strip() for c in line.split("│")[1:-1]] for line in lines if line[0] == "│"]
    assert [row[:2] for row in files] == [["a.csv", "8 B"], ["nested/b.txt", "5 B"]]


@pytest.mark.parametrize("how", ["id", "digest", "sha256:digest", "prefix"])
def test_show_finds_an_artifact_by_id_or_digest(invoke: Invoke, project: Path, how: str) -> None:
    added = cli(invoke, project, "add", str(project / "model.bin"))
    ref = {
        "id": str(added["id"]),
        "digest": added["digest"],
        "sha256:digest": "sha256:" + added["digest"],
        "prefix": added["digest"][:8],
    }[how]
    assert cli(invoke, project, "show", ref)["id"] == added["id"]


@pytest.mark.parametrize(
    ("ref", "fragments"),
    [
        (
            "99",
            ["No artifact '99' in project 'p'.", "List artifacts with: conveyor artifacts list"],
        ),
        ("0" * 64, ["No artifact", "conveyor artifacts list"]),
        ("sha256:xyz", ["'sha256:xyz' is not a sha256 digest", "conveyor artifacts list"]),
    ],
)
def test_show_of_an_unknown_or_malformed_reference(
    invoke: Invoke, project: Path, ref: str, fragments: list[str]
) -> None:
    result = invoke("-p", str(project), "artifacts", "show", ref)
    assert result.code == 1
    for fragment in fragments:
        assert fragment in result.err
    assert "Traceback" not in result.err


def test_get_writes_verified_copies_of_files_and_directories(
    invoke: Invoke, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    model = cli(invoke, project, "add", str(project / "model.bin"))
    data = cli(invoke, project, "add", str(project / "data"))
    result = invoke("-p", str(project), "artifacts", "get", str(model["id"]), "-o", "copy.bin")
    assert result.code == 0, result
    assert result.out == f"Wrote {Path('copy.bin').absolute()}\n"
    assert Path("copy.bin").read_bytes() == (project / "model.bin").read_bytes()
    out = tmp_path / "restored"
    result = invoke(
        "-p", str(project), "artifacts", "get", data["digest"][:10], "--output", str(out)
    )
    assert result.code == 0, result
    assert (out / "a.csv").read_text() == "x,y\n1,2\n"
    assert (out / "nested" / "b.txt").read_text() == "hello"


def test_get_never_overwrites(invoke: Invoke, project: Path, tmp_path: Path) -> None:
    model = cli(invoke, project, "add", str(project / "model.bin"))
    taken = tmp_path / "taken.bin"
    taken.write_text("mine")
    result = invoke("-p", str(project), "artifacts", "get", str(model["id"]), "-o", str(taken))
    assert result.code == 1
    assert f"'{taken}' already exists; conveyor does not overwrite on export." in result.err
    assert "Choose a new path or remove the old one." in result.err
    assert taken.read_text() == "mine"


def test_get_of_a_corrupt_blob_fails_and_writes_nothing(
    invoke: Invoke, project: Path, tmp_path: Path
) -> None:
    model = cli(invoke, project, "add", str(project / "model.bin"))
    path = blobs(project).blob_path(model["digest"])
    os.chmod(path, 0o600)
    path.write_bytes(b"\x00\x01evil!!" * 100)  # same size, other bytes
    out = tmp_path / "copy.bin"
    result = invoke("-p", str(project), "artifacts", "get", str(model["id"]), "-o", str(out))
    assert result.code == 1
    assert (
        f"The blob sha256:{model['digest']}" in result.err and "failed verification" in result.err
    )
    assert "re-run the step that produced it" in result.err
    assert not out.exists() and list(tmp_path.glob(".conveyor-*")) == []


def test_gc_deletes_only_unreferenced_blobs_past_the_grace(invoke: Invoke, project: Path) -> None:
    kept = cli(invoke, project, "add", str(project / "data"))
    store = blobs(project)
    orphan = store.put_bytes(b"written, never recorded").digest
    young = store.put_bytes(b"written a moment ago").digest
    then = time.time() - 7200
    os.utime(store.blob_path(orphan), (then, then))

    dry = cli(invoke, project, "gc", "--dry-run")
    assert dry == {
        "deleted": [orphan],
        "n_deleted": 1,
        "bytes_freed": 23,
        "n_kept": 4,  # the young blob, and the directory's manifest and two files
        "dry_run": True,
    }
    assert store.exists(orphan)
    text = invoke("-p", str(project), "artifacts", "gc", "--dry-run").out
    assert text == "Would delete 1 blobs (23 B); kept 4.\n"

    done = invoke("-p", str(project), "artifacts", "gc", "--grace", "1h")
    assert done.code == 0 and done.out == "Deleted 1 blobs (23 B); kept 4.\n"
    assert not store.exists(orphan) and store.exists(young)
    everything = cli(invoke, project, "gc", "--grace", "0s")
    assert everything["deleted"] == [young] and everything["dry_run"] is False
    restored = project / "restored"
    got = invoke("-p", str(project), "artifacts", "get", str(kept["id"]), "-o", str(restored))
    assert got.code == 0, got
    assert (restored / "nested" / "b.txt").read_text() == "hello"


@pytest.mark.parametrize(
    ("grace", "fragment"),
    [
        ("soon", "The --grace must be a duration such as '30m', '1h30m' or '500ms'. Got 'soon'."),
        ("-1h", "Got '-1h'."),
        ("", "Got ''."),
    ],
)
def test_gc_refuses_a_bad_grace(invoke: Invoke, project: Path, grace: str, fragment: str) -> None:
    orphan = blobs(project).put_bytes(b"orphan").digest
    result = invoke("-p", str(project), "artifacts", "gc", "--grace", grace)
    assert result.code == 1
    assert fragment in result.err
    assert blobs(project).exists(orphan)


def test_add_refuses_a_directory_with_a_link_out_and_stores_nothing(
    invoke: Invoke, project: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("not yours")
    (project / "data" / "leak").symlink_to(outside)
    result = invoke("-p", str(project), "artifacts", "add", str(project / "data"))
    assert result.code == 1
    assert "'leak'" in result.err and "symbolic link" in result.err
    assert "Traceback" not in result.err
    assert cli(invoke, project, "list") == []
    assert list(blobs(project).iter_blobs()) == []  # checked before a byte was stored
