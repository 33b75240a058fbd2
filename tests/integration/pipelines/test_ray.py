"""A run on a local Ray cluster that the executor starts (token auth, no dashboard)."""

from __future__ import annotations

import os

import pytest

from conveyor.core import ConfigError, ExecutorSettings
from conveyor.pipelines import Runner, find_pipeline, make_executor
from support.projects import MakeProject

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SOURCE = """
import os
from conveyor import pipeline, step

@step
def items(n: int) -> list:
    return list(range(n))

@step(resources={"cpus": 1})
def where(x: int) -> dict:
    print("item", x)
    return {"x": x * 10, "pid": os.getpid()}

@step
def total(rows: list) -> dict:
    return {"sum": sum(r["x"] for r in rows), "pids": sorted({r["pid"] for r in rows})}

@pipeline
def on_ray(n: int = 6):
    total(where.map(items(n)))
"""


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_pipeline_runs_on_a_local_ray_cluster(make_project: MakeProject) -> None:
    ws = make_project(SOURCE)  # Ray is imported by the executor, after it turns on token auth
    executor = make_executor(
        ExecutorSettings(kind="ray", max_workers=2), project_root=str(ws.config.root)
    )
    try:
        assert os.environ["RAY_AUTH_MODE"] == "token"
        token = ws.config.root / ".conveyor" / "ray_auth_token"
        assert token.stat().st_mode & 0o777 == 0o600
        result = Runner(ws, find_pipeline(ws.config, "on_ray"), executor=executor).start()
        assert result.succeeded, result.errors
        out = result.output("total")
        assert out["sum"] == sum(x * 10 for x in range(6))
        assert os.getpid() not in out["pids"]  # the steps ran in Ray worker processes
    finally:
        executor.shutdown()
    import ray

    assert not ray.is_initialized()


def test_ray_refuses_to_start_a_cluster_without_token_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    with pytest.raises(ConfigError, match="token authentication"):
        make_executor(ExecutorSettings(kind="ray"))
