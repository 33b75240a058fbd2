"""Fixtures for the serving runtime: a project with model ``churn`` and deployment ``api``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor import store as st
from conveyor.core import Config
from conveyor.serve.runtime import set_deployment
from conveyor.workspace import Workspace, init_project


def open_workspace(root: Path, store_url: str, artifacts: str | None = None) -> Workspace:
    """The project at ``root`` (created if missing) on ``store_url``."""
    if not (root / "conveyor.toml").exists():
        init_project(root, name="test")
    env = {"CONVEYOR_STORE": store_url}
    if artifacts is not None:
        env["CONVEYOR_ARTIFACTS"] = artifacts
    return Workspace.from_config(Config.load(root, env=env))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/conveyor.db"


@pytest.fixture
def ws(tmp_path: Path, sqlite_url: str) -> Iterator[Workspace]:
    """A project whose registry has two versions of ``churn`` (no model files: the log
    needs only the versions), served by deployment ``api``."""
    with open_workspace(tmp_path / "project", sqlite_url) as workspace:
        st.register_model_version(workspace.store, "churn")
        st.register_model_version(workspace.store, "churn")
        set_deployment(workspace, "api", model="churn")
        yield workspace
