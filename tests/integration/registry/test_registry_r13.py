"""R13: a corrupted or tampered model is never loaded.

One byte flipped in a stored model file, manifest or directory listing: the load fails
with ``ChecksumMismatchError`` naming the model version and its artifact, and the model's
code ran 0 times. A downloaded copy in the cache changed after download: refused and
removed (the next load downloads it afresh); a change made while a load is in flight never
reaches that load (the bytes in hand are the verified ones). Cache directories are 0700,
files 0600.
"""

from __future__ import annotations

import os
import stat
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from conveyor import store as st
from conveyor.artifacts import LocalArtifactStore
from conveyor.core import ChecksumMismatchError
from conveyor.core._pause import PIPE_ENV, POINT_ENV
from conveyor.registry import MANIFEST_NAME, load_model, register_model
from conveyor.registry._fetch import cache_root
from conveyor.workspace import Workspace
from support.models import CountingModel, loads_counted
from support.pause import PauseBarrier
from support.projects import MakeProject

pytestmark = pytest.mark.integration
SQLITE_ONLY = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
X = pd.DataFrame({"x": [1.0, 2.0]})


def flip(path: Path, offset: int) -> None:
    os.chmod(path, 0o600)
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0xFF]))


def members(ws: Workspace, name: str, version: int) -> tuple[int, str, dict[str, str]]:
    record = st.get_model_version(ws.store, name, version)
    artifact = st.get_artifact(ws.store, record.artifact_id)  # type: ignore[arg-type]
    entries = ws.artifacts.read_manifest(artifact.digest)
    return artifact.id, artifact.digest, {e.path: e.digest for e in entries}


@pytest.mark.parametrize("target", ["model file", "manifest", "directory listing"])
def test_a_flipped_byte_is_refused_naming_the_version_and_artifact(
    make_project: MakeProject, tmp_path: Path, target: str
) -> None:
    ws = make_project("")
    counter = tmp_path / "loads"
    register_model(ws, "churn", CountingModel(counter))
    assert load_model(ws, "churn/1").predict(X).shape == (2,)
    assert loads_counted(counter) == 1
    artifact_id, dir_digest, files = members(ws, "churn", 1)
    assert isinstance(ws.artifacts, LocalArtifactStore)
    digest = {
        "model file": files["model.pkl"],
        "manifest": files[MANIFEST_NAME],
        "directory listing": dir_digest,
    }[target]
    flip(ws.artifacts.blob_path(digest), offset=5)
    with pytest.raises(ChecksumMismatchError) as info:
        load_model(ws, "models:/churn/1")
    message = str(info.value)
    assert f"models:/churn/1 (artifact {artifact_id}, sha256:{dir_digest})" in message
    assert "failed verification" in message and "\n" not in info.value.message
    assert info.value.artifact_id == artifact_id  # type: ignore[attr-defined]
    assert loads_counted(counter) == 1  # 0 loads of the tampered version


@pytest.fixture
def remote_ws(make_project: MakeProject) -> Iterator[Workspace]:
    """A project whose artifact store is remote (fsspec's memory file system), so loads
    go through the download cache."""
    local = make_project("")
    env = {
        "CONVEYOR_STORE": local.config.store.url,
        "CONVEYOR_ARTIFACTS": f"memory://r13-{uuid.uuid4().hex}",
    }
    with Workspace.open(local.config.root, env=env) as ws:
        yield ws


def cached_files(ws: Workspace) -> list[Path]:
    return sorted(p for p in cache_root(ws).rglob("*") if p.is_file())


@SQLITE_ONLY
def test_the_cache_is_private(remote_ws: Workspace, tmp_path: Path) -> None:
    ws = remote_ws
    register_model(ws, "churn", CountingModel(tmp_path / "loads"))
    assert not cache_root(ws).exists()
    load_model(ws, "churn")
    files = cached_files(ws)
    assert len(files) == 2  # the manifest and the model file
    folders = [ws.config.state_dir / "cache", *(p for p in cache_root(ws).rglob("*") if p.is_dir())]
    folders.append(cache_root(ws))
    assert {stat.S_IMODE(p.stat().st_mode) for p in folders} == {0o700}
    assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o600}
    load_model(ws, "churn")  # from the cache
    assert loads_counted(tmp_path / "loads") == 2


@SQLITE_ONLY
def test_a_cached_copy_changed_after_download_is_refused(
    remote_ws: Workspace, tmp_path: Path
) -> None:
    ws = remote_ws
    counter = tmp_path / "loads"
    register_model(ws, "churn", CountingModel(counter))
    load_model(ws, "churn")
    _, _, files = members(ws, "churn", 1)
    copy = next(p for p in cached_files(ws) if files["model.pkl"].endswith(p.name))
    flip(copy, offset=7)
    with pytest.raises(ChecksumMismatchError, match="changed after it was downloaded") as info:
        load_model(ws, "churn")
    assert "models:/churn/1" in str(info.value) and str(copy) in str(info.value)
    assert loads_counted(counter) == 1  # the changed copy never loaded
    assert not copy.exists()  # removed: the next load downloads a fresh copy
    assert load_model(ws, "churn").predict(X).shape == (2,)
    assert loads_counted(counter) == 2


@pytest.fixture
def pause(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], Any]]:
    barriers: list[PauseBarrier] = []

    def arm(point: str) -> PauseBarrier:
        fifo = tmp_path / f"pause-{len(barriers)}.fifo"
        os.mkfifo(fifo)
        monkeypatch.setenv(POINT_ENV, point)
        monkeypatch.setenv(PIPE_ENV, str(fifo))
        barriers.append(PauseBarrier(fifo))
        return barriers[-1]

    yield arm
    for barrier in barriers:
        barrier.release()


@SQLITE_ONLY
def test_a_change_between_download_and_load_never_reaches_the_loader(
    remote_ws: Workspace, tmp_path: Path, pause: Callable[[str], PauseBarrier]
) -> None:
    ws = remote_ws
    counter = tmp_path / "loads"
    register_model(ws, "churn", CountingModel(counter))
    barrier = pause("registry.load.verified")  # downloaded and hashed, not yet loaded
    results: list[Any] = []
    loader = threading.Thread(target=lambda: results.append(load_model(ws, "churn")))
    loader.start()
    barrier.wait_reached()
    _, _, files = members(ws, "churn", 1)
    copy = next(p for p in cached_files(ws) if files["model.pkl"].endswith(p.name))
    flip(copy, offset=7)
    barrier.resume()
    loader.join(30)
    assert isinstance(results[0], CountingModel)  # the verified bytes, not the changed file
    os.environ.pop(POINT_ENV)
    with pytest.raises(ChecksumMismatchError, match="changed after it was downloaded"):
        load_model(ws, "churn")
    assert loads_counted(counter) == 1
