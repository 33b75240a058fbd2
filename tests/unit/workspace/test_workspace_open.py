"""Opening a project (``Workspace.open``), bringing its store up to date, and laying out a new
one (``init_project``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.core import (
    AlreadyExistsError,
    ArtifactError,
    Config,
    InvalidNameError,
    ProjectNotFoundError,
    StoreVersionError,
)
from conveyor.lineage import list_artifacts, put_artifact
from conveyor.workspace import Workspace, init_project, upgrade_schema


def test_open_reads_the_settings_and_wires_both_stores(tmp_path: Path) -> None:
    init_project(tmp_path / "churn", name="churn")
    with Workspace.open(tmp_path / "churn") as ws:
        root = (tmp_path / "churn").resolve()
        assert ws.config.root == root and ws.config.project.name == "churn"
        assert ws.store.project == "churn"
        assert ws.artifacts.url == str(root / ".conveyor" / "artifacts")
        (tmp_path / "f.txt").write_text("x")
        record = put_artifact(ws, tmp_path / "f.txt")
        assert ws.artifacts.get_bytes(record.digest) == b"x"
    assert (root / ".conveyor" / "conveyor.db").is_file()


def test_open_without_a_folder_finds_the_project_upwards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    init_project(tmp_path, name="up")
    (tmp_path / "a" / "b").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "a" / "b")
    with Workspace.open() as ws:
        assert ws.config.root == tmp_path.resolve()


def test_open_outside_any_project_says_how_to_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ProjectNotFoundError) as info:
        Workspace.open()
    assert info.value.hint == "Create a project with: conveyor init"


def test_open_of_a_folder_that_is_not_a_project_creates_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "typo"
    with pytest.raises(ProjectNotFoundError) as info:
        Workspace.open(folder)
    assert info.value.message == (
        f"No conveyor.toml in {folder.resolve()}: it is not a conveyor project."
    )
    assert info.value.hint == f"Create one with: conveyor init {folder}"
    assert not folder.exists()


def test_the_environment_given_replaces_the_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    init_project(tmp_path, name="envs")
    monkeypatch.setenv("CONVEYOR_STORE", "sqlite:///from-process.db")
    with Workspace.open(tmp_path, env={"CONVEYOR_STORE": "sqlite:///given.db"}) as ws:
        assert ws.config.store.url == f"sqlite:///{tmp_path.resolve()}/given.db"
    with Workspace.open(tmp_path) as ws:
        assert ws.config.store.url == f"sqlite:///{tmp_path.resolve()}/from-process.db"


def test_a_store_that_is_not_migrated_is_refused_unless_upgraded(tmp_path: Path) -> None:
    init_project(tmp_path, name="mig")
    with pytest.raises(StoreVersionError) as info:
        Workspace.open(tmp_path, migrate=False)
    assert "is at schema revision none" in info.value.message
    assert "conveyor db upgrade" in str(info.value)
    config = Config.load(tmp_path, env={})
    before, head = upgrade_schema(config)
    assert before is None and head
    assert upgrade_schema(config) == (head, head)  # again: nothing to do
    with Workspace.open(tmp_path, migrate=False) as ws:
        assert list_artifacts(ws) == []


def test_a_bad_artifact_store_url_names_the_setting(tmp_path: Path) -> None:
    init_project(tmp_path, name="bad")
    with pytest.raises(ArtifactError) as info:
        Workspace.open(tmp_path, env={"CONVEYOR_ARTIFACTS": "nosuchproto://bucket"})
    assert "unknown protocol 'nosuchproto'" in info.value.message
    assert "CONVEYOR_ARTIFACTS" in str(info.value)


# -- init_project ------------------------------------------------------------------------


def test_init_writes_three_files_that_open_as_a_project(tmp_path: Path) -> None:
    root = tmp_path / "deep" / "new"
    written = init_project(root, name="fresh")
    assert [p.name for p in written] == ["conveyor.toml", "pipelines.py", ".gitignore"]
    assert ".conveyor/" in (root / ".gitignore").read_text()
    config = Config.load(root, env={})
    assert config.project.name == "fresh"
    assert (config.store.url, config.executor.kind) == (
        f"sqlite:///{root.resolve()}/.conveyor/conveyor.db",
        "local",
    )
    assert '"""Pipelines of the fresh project.' in (root / "pipelines.py").read_text()


@pytest.mark.parametrize(
    ("folder", "name"),
    [("churn", "churn"), ("My Project", "My-Project"), ("__x__", "x"), ("___", "default")],
)
def test_the_default_name_comes_from_the_folder(tmp_path: Path, folder: str, name: str) -> None:
    init_project(tmp_path / folder)
    assert Config.load(tmp_path / folder, env={}).project.name == name


def test_init_lists_every_file_that_is_in_the_way(tmp_path: Path) -> None:
    (tmp_path / "conveyor.toml").write_text("# mine\n")
    (tmp_path / ".gitignore").write_text("mine\n")
    with pytest.raises(AlreadyExistsError) as info:
        init_project(tmp_path, name="x")
    assert "already has conveyor.toml, .gitignore;" in info.value.message
    assert not (tmp_path / "pipelines.py").exists()  # nothing written
    assert (tmp_path / "conveyor.toml").read_text() == "# mine\n"


def test_init_refuses_a_bad_name_before_creating_the_folder(tmp_path: Path) -> None:
    with pytest.raises(InvalidNameError) as info:
        init_project(tmp_path / "new", name="no/slashes")
    assert info.value.hint == "For example: 'no-slashes'."
    assert not (tmp_path / "new").exists()
