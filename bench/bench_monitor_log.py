"""The cost of one drift window on a deployment whose prediction log holds 1M predictions.

A project with a reference snapshot (20 numeric and 5 categorical columns), a model trained
on it and a deployment; ``--logged`` predictions written to its log as ``--segment``-row
Parquet segments (as a server's writer would), one minute of traffic each. Then
``run_drift_monitor`` computes the windows, and the figures are: the first run (null draws
computed and stored, every closed window), then one more window with the whole log behind
it: finding its segments, reading and checking them, comparing, committing.

Usage::

    .venv/bin/python bench/bench_monitor_log.py                  # 1M logged (about 2 min)
    .venv/bin/python bench/bench_monitor_log.py --logged 100000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from conveyor import store as st
from conveyor.core import Config
from conveyor.monitor import run_drift_monitor
from conveyor.registry import promote
from conveyor.serve.runtime import LogChunk, set_deployment
from conveyor.serve.runtime._predlog import chunk_table, segment_bytes
from conveyor.workspace import Workspace, init_project

MINUTE = 60_000


def frame(n: int, rng: np.random.Generator) -> pd.DataFrame:
    data: dict[str, Any] = {f"num_{j}": rng.normal(size=n) for j in range(20)}
    for j in range(5):
        data[f"cat_{j}"] = rng.choice([f"c{i}" for i in range(3 + j)], size=n)
    return pd.DataFrame(data)


def log(ws: Workspace, rows: pd.DataFrame, start_ms: int, predictions: np.ndarray) -> None:
    n = len(rows)
    ts = start_ms + np.arange(n, dtype=np.int64) * (MINUTE // n)
    ids = [f"{t:012x}"[:8] + f"-{t:012x}"[8:] + f"-7000-8000-{i:012x}" for i, t in enumerate(ts)]
    chunk = LogChunk(
        model="m",
        model_version=1,
        role="serve",
        ids=ids,
        ts_ms=ts,
        latency_s=np.full(n, 0.001),
        inputs={c: rows[c].to_numpy() for c in rows.columns},
        outputs={"prediction": predictions},
    )
    data = segment_bytes(chunk_table("api", chunk))
    digest = ws.artifacts.put_bytes(data).digest
    st.record_prediction_segment(
        ws.store, "api", digest=digest, n_rows=n, n_bytes=len(data), first_id=ids[0],
        last_id=ids[-1], min_ts=int(ts[0]), max_ts=int(ts[-1]), model="m", version=1,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logged", type=int, default=1_000_000)
    parser.add_argument("--segment", type=int, default=1_000)
    parser.add_argument("--window", default="1h")
    args = parser.parse_args()
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    from conveyor.data import snapshot
    from conveyor.train import fit

    rng = np.random.default_rng(3)
    root = Path(tempfile.mkdtemp()) / "p"
    init_project(root, name="bench")
    (root / "conveyor.toml").write_text(
        (root / "conveyor.toml").read_text() + f'\n[monitor]\nwindow = "{args.window}"\n'
    )
    ws = Workspace.from_config(Config.load(root))
    reference = frame(100_000, rng)
    reference["y"] = (reference["num_0"] + rng.normal(size=len(reference)) > 0).astype(int)
    data = snapshot(ws, reference, name="reference")
    categorical = [f"cat_{j}" for j in range(5)]
    model = make_pipeline(
        make_column_transformer((OneHotEncoder(), categorical), remainder="passthrough"),
        LogisticRegression(max_iter=300),
    )
    version = fit(model, data, target="y", name="m", ws=ws)
    promote(ws, "m", version.version, force_reason="bench")
    set_deployment(ws, "api", model="m")
    estimator = version.load()

    start = (int(time.time() * 1000) // MINUTE - args.logged // args.segment - 120) * MINUTE
    started = time.perf_counter()
    n_segments = args.logged // args.segment
    for i in range(n_segments):
        rows = frame(args.segment, rng)
        log(ws, rows, start + i * MINUTE, estimator.predict(rows))
    print(f"logged {args.logged:,} predictions in {n_segments:,} segments: "
          f"{time.perf_counter() - started:.1f} s")  # fmt: skip

    # Every window but the last hour's: the first run computes the null draws.
    now = start + n_segments * MINUTE - 3_600_000
    started = time.perf_counter()
    first = run_drift_monitor(ws, "api", now=now, max_windows=100_000)
    seconds = time.perf_counter() - started
    mean_rows = sum(w.n_rows for w in first.windows) // len(first.windows)
    print(f"first run: {len(first.windows)} windows of {mean_rows:,} rows on average "
          f"in {seconds:.2f} s ({1000 * seconds / len(first.windows):.1f} ms a window, "
          "null draws included)")  # fmt: skip
    # Then one new window at a time, with the whole log behind it.
    started = time.perf_counter()
    run = run_drift_monitor(ws, "api", now=now + 3_600_000 + 60_000)
    seconds = time.perf_counter() - started
    assert len(run.windows) == 1, run.windows
    print(f"one more window ({run.windows[0].n_rows:,} rows) on a log of {args.logged:,}: "
          f"{1000 * seconds:.0f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
