"""Monitoring test helpers: a project whose model was trained on a reference snapshot and
is deployed, reference-like data, and prediction-log segments written with chosen times."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from conveyor import store as st
from conveyor.registry import promote
from conveyor.serve.runtime import LogChunk, set_deployment
from conveyor.serve.runtime._predlog import chunk_table, segment_bytes
from conveyor.train import fit
from conveyor.workspace import Workspace

NUMERIC = ["x0", "x1", "x2", "x3"]
CATEGORICAL = ["plan", "region"]
PLANS = np.array(["basic", "pro", "team"], dtype=object)
REGIONS = np.array(["eu", "us", "apac", "latam"], dtype=object)
_counter = itertools.count()


def sample(n: int, *, seed: int, shift: float = 0.0, plan_shift: float = 0.0) -> pd.DataFrame:
    """``n`` rows like the reference: ``shift`` moves x0's mean (in standard deviations),
    ``plan_shift`` moves that share of rows to plan 'team'."""
    rng = np.random.default_rng(seed)
    data: dict[str, object] = {c: rng.normal(size=n) for c in NUMERIC}
    data["x0"] = rng.normal(loc=shift, size=n)
    plan = rng.choice(PLANS, size=n, p=[0.5, 0.3, 0.2])
    plan[rng.random(n) < plan_shift] = "team"
    data["plan"] = plan
    data["region"] = rng.choice(REGIONS, size=n, p=[0.4, 0.3, 0.2, 0.1])
    return pd.DataFrame(data)


def monitored_project(ws: Workspace, *, n_reference: int = 5000, seed: int = 0) -> int:
    """A reference snapshot ``reference``, model ``churn`` trained on it (behind
    ``champion``) and deployment ``churn``; returns the version."""
    frame = sample(n_reference, seed=seed)
    logits = frame["x0"] - 0.5 * frame["x1"] + (frame["plan"] == "pro") * 0.8
    frame["churned"] = (
        logits + np.random.default_rng(seed + 1).normal(size=len(frame)) > 0
    ).astype(int)
    from conveyor.data import snapshot

    data = snapshot(ws, frame, name="reference")
    estimator = make_pipeline(
        ColumnTransformer(
            [("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL)],
            remainder="passthrough",
        ),
        LogisticRegression(max_iter=500),
    )
    model = fit(estimator, data, target="churned", name="churn", ws=ws)
    promote(ws, "churn", model.version, force_reason="test")
    set_deployment(ws, "churn", model="churn")
    return model.version


def pid(ms: int) -> str:
    """A UUIDv7-shaped id for time ``ms`` (unique per call, sorting as time does)."""
    n = next(_counter)
    stamp = f"{ms:012x}"
    return f"{stamp[:8]}-{stamp[8:]}-7{n % 4096:03x}-8{n // 4096 % 4096:03x}-{n:012x}"


def log_segment(
    ws: Workspace,
    frame: pd.DataFrame,
    ts_ms: np.ndarray,
    *,
    version: int = 1,
    role: str = "serve",
    deployment: str = "churn",
    predictions: np.ndarray | None = None,
    features: Mapping[str, np.ndarray] | None = None,
    outputs: Mapping[str, np.ndarray] | None = None,
    ids: list[str] | None = None,
    model: str = "churn",
) -> st.PredictionSegmentRecord:
    """Write ``frame`` as one segment of ``deployment``'s log, made at ``ts_ms``:
    ``outputs`` beside the prediction (``score``...), under ``ids`` if given."""
    n = len(frame)
    ids = [pid(int(t)) for t in ts_ms] if ids is None else ids
    chunk = LogChunk(
        model=model,
        model_version=version,
        role=role,
        ids=ids,
        ts_ms=np.asarray(ts_ms, dtype=np.int64),
        latency_s=np.full(n, 0.001),
        inputs={c: frame[c].to_numpy() for c in frame.columns},
        outputs={
            "prediction": np.zeros(n, dtype=np.int64) if predictions is None else predictions,
            **(outputs or {}),
        },
        features=dict(features or {}),
    )
    data = segment_bytes(chunk_table(deployment, chunk))
    info = ws.artifacts.put_bytes(data)
    return st.record_prediction_segment(
        ws.store,
        deployment,
        digest=info.digest,
        n_rows=n,
        n_bytes=len(data),
        first_id=min(ids),
        last_id=max(ids),
        min_ts=int(np.min(ts_ms)),
        max_ts=int(np.max(ts_ms)),
        role=role,
        model=model,
        version=version,
    )


def monitor_racer(root: str, url: str, barrier: Any) -> dict[str, Any]:
    """Run the drift monitor once, starting with the other racer (a child process body)."""
    from conveyor.monitor import run_drift_monitor

    with Workspace.open(root, env={"CONVEYOR_STORE": url}) as ws:
        barrier.wait(timeout=60)
        run = run_drift_monitor(ws, "churn")
    return {"windows": len(run.windows), "alarms": [a["window"] for a in run.alarms]}


def performance_racer(root: str, url: str, barrier: Any, now: int) -> dict[str, Any]:
    """Run the performance monitor once, starting with the other racer (a child process
    body)."""
    from conveyor.monitor import run_performance_monitor

    with Workspace.open(root, env={"CONVEYOR_STORE": url}) as ws:
        barrier.wait(timeout=60)
        run = run_performance_monitor(ws, "churn", now=now)
    return {"windows": len(run.windows), "alarms": [a["prediction_id"] for a in run.alarms]}


def firing_racer(root: str, url: str, barrier: Any, owner: str, rounds: int) -> dict[str, Any]:
    """Fire the project's triggers ``rounds`` times, each in lockstep with the other racer
    (a child process body); returns the outcomes per round."""
    from conveyor.automate import fire_triggers

    outcomes: list[list[str]] = []
    with Workspace.open(root, env={"CONVEYOR_STORE": url}) as ws:
        cursor: dict[str, int] = {}
        for _ in range(rounds):
            barrier.wait(timeout=60)
            fired, cursor = fire_triggers(ws, owner=owner, after=cursor)
            outcomes.append([f"{f.trigger}:{f.key}={f.outcome}" for f in fired])
            barrier.wait(timeout=60)
    return {"outcomes": outcomes}
