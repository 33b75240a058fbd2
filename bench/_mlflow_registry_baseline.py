"""MLflow registry baseline: register, alias and load a small scikit-learn model on SQLite.

Run by ``bench_tuning.py`` with the python of ``bench/.venvs/mlflow-registry`` (MLflow is
not a dependency of conveyor). Prints one JSON object on stdout; MLflow's own logging goes
to stderr. MLflow is used as its users use it: ``mlflow.sklearn.log_model`` into a run,
``mlflow.register_model`` for a version, ``MlflowClient.set_registered_model_alias``, and
``mlflow.sklearn.load_model("models:/name@alias")``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.pop("MLFLOW_TRACKING_URI", None)

FRESH = """
import sys, time
started = time.perf_counter()
import mlflow, mlflow.sklearn
mlflow.set_tracking_uri(sys.argv[1])
model = mlflow.sklearn.load_model("models:/bench@champion")
model.predict([[0.0] * int(sys.argv[2])])
print(time.perf_counter() - started)
"""


def _ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--fresh", type=int, default=3)
    parser.add_argument("--features", type=int, default=8)
    args = parser.parse_args()

    import mlflow
    import mlflow.sklearn
    import numpy as np
    from mlflow import MlflowClient
    from sklearn.linear_model import LogisticRegression

    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)

    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, args.features))
    y = (X[:, 0] + rng.normal(size=500) > 0).astype(int)
    model = LogisticRegression().fit(X, y)

    with tempfile.TemporaryDirectory() as tmp:
        uri = f"sqlite:///{tmp}/mlflow.db"
        mlflow.set_tracking_uri(uri)
        # Model files go to the temp dir too, not to ./mlruns where the benchmark started.
        mlflow.create_experiment("bench", artifact_location=Path(tmp, "artifacts").as_uri())
        mlflow.set_experiment("bench")
        client = MlflowClient(tracking_uri=uri)
        log_model: list[float] = []
        register: list[float] = []
        sources: list[str] = []
        for _ in range(args.repeats):
            with mlflow.start_run() as run:
                started = time.perf_counter()
                info = mlflow.sklearn.log_model(model, name="model")
                log_model.append(time.perf_counter() - started)
                sources.append(info.model_uri)
            _ = run
        for source in sources:
            started = time.perf_counter()
            mlflow.register_model(source, "bench")
            register.append(time.perf_counter() - started)
        alias: list[float] = []
        for i in range(args.repeats):
            started = time.perf_counter()
            client.set_registered_model_alias("bench", "champion", str(1 + i % 2))
            alias.append(time.perf_counter() - started)
        warm: list[float] = []
        row = np.zeros((1, args.features))
        mlflow.sklearn.load_model("models:/bench@champion").predict(row)
        for _ in range(args.repeats):
            started = time.perf_counter()
            mlflow.sklearn.load_model("models:/bench@champion").predict(row)
            warm.append(time.perf_counter() - started)
        fresh: list[float] = []
        for _ in range(args.fresh):
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-c", FRESH, uri, str(args.features)],
                check=True,
                capture_output=True,
                cwd=tmp,
            )
            fresh.append(time.perf_counter() - started)

    print(
        json.dumps(
            {
                "system": "mlflow",
                "version": mlflow.__version__,
                "log_model_ms": _ms(log_model),
                "register_ms": _ms(register),
                "log_and_register_ms": round(_ms(log_model) + _ms(register), 3),
                "set_alias_ms": _ms(alias),
                "load_warm_ms": _ms(warm),
                "load_fresh_process_ms": _ms(fresh),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    raise SystemExit(main())
