"""MLflow baseline: the same workload through ``MlflowClient`` on a ``sqlite:///`` backend.

Run by ``bench_store.py`` with the python of ``bench/.venvs/mlflow`` (MLflow is not a
dependency of conveyor). Prints one JSON object on stdout; MLflow's own logging goes to stderr.

This is MLflow's real SQLAlchemy tracking store, used the way MLflow users use it:
``MlflowClient(tracking_uri="sqlite:///...")``, ``create_run``, ``log_metric`` (synchronous),
and ``log_batch`` with at most 1,000 metrics per call (MLflow's limit).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sqlite3
import sys
import tempfile
from pathlib import Path
from typing import Any

# No telemetry: this machine has no network, and a benchmark must not phone home.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.pop("MLFLOW_TRACKING_URI", None)
os.environ.pop("MLFLOW_ENABLE_ASYNC_LOGGING", None)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _workload import OPERATIONS, MetricRow, Sizes, measure

MLFLOW_MAX_METRICS_PER_BATCH = 1000


class MlflowTarget:
    def __init__(self, tracking_uri: str) -> None:
        from mlflow import MlflowClient
        from mlflow.entities import Metric

        self._metric = Metric
        self.client = MlflowClient(tracking_uri=tracking_uri)
        self.experiment_id = self.client.create_experiment("bench")

    def new_run(self) -> str:
        return self.client.create_run(self.experiment_id).info.run_id

    def log_metric(self, run_id: str, key: str, value: float, step: int, ts: int) -> None:
        self.client.log_metric(run_id, key, value, timestamp=ts, step=step)

    def log_batch(self, run_id: str, rows: list[MetricRow]) -> None:
        if len(rows) > MLFLOW_MAX_METRICS_PER_BATCH:
            raise ValueError(f"MLflow takes at most {MLFLOW_MAX_METRICS_PER_BATCH} per batch.")
        metric = self._metric
        self.client.log_batch(run_id, metrics=[metric(k, v, ts, s) for k, v, s, ts in rows])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--single", type=int, default=Sizes.single)
    parser.add_argument("--batched", type=int, default=Sizes.batched)
    parser.add_argument("--batch-size", type=int, default=Sizes.batch_size)
    parser.add_argument("--runs", type=int, default=Sizes.runs)
    parser.add_argument("--warmup-single", type=int, default=Sizes.warmup_single)
    parser.add_argument("--warmup-batches", type=int, default=Sizes.warmup_batches)
    parser.add_argument("--warmup-runs", type=int, default=Sizes.warmup_runs)
    parser.add_argument("--dir", help="directory for the SQLite file (default: a temp dir)")
    args = parser.parse_args()

    import mlflow

    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    for name in ("mlflow", "alembic"):  # after the import: mlflow sets up its own logger
        logging.getLogger(name).setLevel(logging.WARNING)

    sizes = Sizes(
        single=args.single,
        batched=args.batched,
        batch_size=args.batch_size,
        runs=args.runs,
        warmup_single=args.warmup_single,
        warmup_batches=args.warmup_batches,
        warmup_runs=args.warmup_runs,
    )
    with tempfile.TemporaryDirectory(prefix="mlflow-bench-", dir=args.dir) as tmp:
        uri = f"sqlite:///{tmp}/mlflow.db"
        target = MlflowTarget(uri)  # creates the schema (Alembic), outside the timing
        results: dict[str, Any] = measure(target, sizes, OPERATIONS)
        store = target.client._tracking_client.store
    json.dump(
        {
            "system": "mlflow",
            "version": mlflow.__version__,
            "store": f"{type(store).__module__}.{type(store).__name__}",
            "sqlite_version": sqlite3.sqlite_version,
            "python": sys.version.split()[0],
            "results": results,
        },
        sys.stdout,
    )
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
