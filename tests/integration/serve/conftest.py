"""Fixtures for the serving runtime: a project with model ``churn`` and deployment ``api``."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor import store as st
from conveyor.serve.runtime import set_deployment
from conveyor.workspace import Workspace
from support.disks import mounted
from support.prediction_log import open_workspace


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


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MB tmpfs (needs root to mount; skipped, saying so, where mount is refused)."""
    path = tmp_path / "tmpfs"
    path.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"a size-limited tmpfs is needed and mount was refused: {done.stderr}")
    yield path
    subprocess.run(["umount", str(path)], check=False)
    assert not mounted(path)
