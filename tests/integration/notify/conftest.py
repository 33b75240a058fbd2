"""Projects with alert channels, on each store backend."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from conveyor.core import Config
from conveyor.workspace import Workspace, init_project
from support.alerts import MakeNotifyProject


@pytest.fixture
def notify_project(tmp_path: Path, store_url: str) -> Iterator[MakeNotifyProject]:
    """``make(toml)``: a project whose conveyor.toml ends with ``toml`` (its [notify]
    section and channels), opened on the test's store."""
    opened: list[Workspace] = []

    def make(toml: str, *, env: Mapping[str, str] | None = None) -> Workspace:
        root = tmp_path / f"p{len(opened)}"
        init_project(root, name="alerts")
        with open(root / "conveyor.toml", "a") as f:
            f.write("\n" + toml)
        config = Config.load(root, env={"CONVEYOR_STORE": store_url, **(env or {})})
        ws = Workspace.from_config(config)
        opened.append(ws)
        return ws

    yield make
    for ws in opened:
        ws.close()
