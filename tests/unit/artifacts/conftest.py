"""Fixtures for the artifact store tests: canaries, pause-point barriers, stores."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# The shared suite and helpers are imported by plain name from this folder, whatever the
# import mode; the integration tests add the same folder.
HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from artifacts_helpers import Canary, PauseBarrier, drop_memory, memory_url  # noqa: E402

from conveyor.artifacts import FsspecArtifactStore, LocalArtifactStore  # noqa: E402
from conveyor.core._pause import PIPE_ENV, POINT_ENV  # noqa: E402


@pytest.fixture
def canary(tmp_path: Path) -> Canary:
    """Roots at ``tmp_path/a/b/c/d/e/f/{root,dest}``; the canary in ``tmp_path``."""
    deep = tmp_path / "a" / "b" / "c" / "d" / "e" / "f"
    (deep / "root").mkdir(parents=True)
    (deep / "dest").mkdir()
    return Canary(tmp_path, [deep / "root", deep / "dest"])


@pytest.fixture
def pause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[str], PauseBarrier]]:
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


@pytest.fixture
def local_store(tmp_path: Path) -> LocalArtifactStore:
    return LocalArtifactStore(tmp_path / "store")


@pytest.fixture
def memory_store() -> Iterator[FsspecArtifactStore]:
    url = memory_url()
    yield FsspecArtifactStore(url)
    drop_memory(url)
