"""Fixtures shared by the integration tests: throw-away projects on each store backend, and
a real S3 API (moto's server)."""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.core import Config
from conveyor.workspace import Workspace, init_project
from support.projects import MakeProject
from support.s3 import S3Server, run_s3_server


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """moto's S3 server on a free loopback port, with a bucket; AWS_* set only meanwhile."""
    with run_s3_server(tmp_path_factory.mktemp("moto")) as server:
        yield server


@pytest.fixture
def make_project(tmp_path: Path, store_url: str) -> Iterator[MakeProject]:
    """A project whose pipelines module is the given source, on each store backend."""
    opened: list[Workspace] = []
    modules: list[str] = []

    def make(
        source: str,
        *,
        lease: str = "60s",
        busy_timeout: str | None = None,
        retries: int | None = None,
    ) -> Workspace:
        root = tmp_path / f"p{len(opened)}"
        init_project(root, name="test")
        module = "pipes_" + uuid.uuid4().hex[:10]  # unique: no stale module across tests
        modules.append(module)
        (root / f"{module}.py").write_text(textwrap.dedent(source))
        with open(root / "conveyor.toml", "a") as f:
            f.write(f'\n[pipelines]\nmodules = ["{module}"]\nlease = "{lease}"\n')
        env = {"CONVEYOR_STORE": store_url}
        # Short leases need a short busy timeout and few retries: a heartbeat's worst store
        # call must fit in two thirds of the lease.
        if busy_timeout is not None:
            env["CONVEYOR_STORE_BUSY_TIMEOUT"] = busy_timeout
        if retries is not None:
            env["CONVEYOR_STORE_RETRIES"] = str(retries)
        config = Config.load(root, env=env)
        ws = Workspace.from_config(config)
        opened.append(ws)
        return ws

    yield make
    for ws in opened:
        ws.close()
    for module in modules:
        sys.modules.pop(module, None)
