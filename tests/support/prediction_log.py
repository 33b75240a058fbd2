"""Prediction-log test helpers: a project on a given store and artifact root, and chunks
of log rows."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from conveyor.core import Config
from conveyor.serve.runtime import LogChunk, new_prediction_ids
from conveyor.workspace import Workspace, init_project


def open_workspace(root: Path, store_url: str, artifacts: str | None = None) -> Workspace:
    """The project at ``root`` (created if missing) on ``store_url``."""
    if not (root / "conveyor.toml").exists():
        init_project(root, name="test")
    env = {"CONVEYOR_STORE": store_url}
    if artifacts is not None:
        env["CONVEYOR_ARTIFACTS"] = artifacts
    return Workspace.from_config(Config.load(root, env=env))


def chunk(
    n: int,
    *,
    start: int = 0,
    version: int = 1,
    role: str = "serve",
    features: bool = True,
    payload: int = 0,
) -> LogChunk:
    """``n`` rows whose input ``seq`` counts from ``start``; ``payload`` adds that many
    random (incompressible) bytes per row as an input, to fill disks."""
    seq = np.arange(start, start + n, dtype=np.int64)
    inputs: dict[str, np.ndarray] = {
        "seq": seq,
        "age": (seq % 90).astype(np.float64),
        "plan": np.array(["basic", "pro"], dtype=object)[seq % 2],
    }
    if payload:
        inputs["blob"] = np.array([np.random.bytes(payload).hex() for _ in range(n)], dtype=object)
    return LogChunk(
        model="churn",
        model_version=version,
        role=role,
        ids=new_prediction_ids(n),
        ts_ms=np.full(n, time.time_ns() // 1_000_000, dtype=np.int64),
        latency_s=np.full(n, 0.002),
        inputs=inputs,
        outputs={"prediction": (seq % 2).astype(np.int64), "score": (seq % 100) / 100.0},
        features={"tenure_days": seq * 3} if features else {},
        request_ids=[f"req-{i}" for i in seq] if n else [],
    )
