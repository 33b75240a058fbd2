"""Tuning and registry benchmark: one Optuna study of a small model run by
``conveyor.train.tune`` inside a pipeline step, at parallelism 1 and 2, in the same run; and
the registry's latencies next to MLflow's registry on SQLite, measured in the same run.

Measures, with the project code in ``bench/_tuning_workload.py`` (a scikit-learn
``GradientBoostingClassifier`` scored by 3-fold cross-validation, about 0.2-1 s a trial):

* **wall time** of ``tune(objective, n_trials=40, parallelism=P, seed=0)`` for P = 1 and 2,
  timed inside the step (the trials run in the local executor's worker processes, each
  recorded in the metadata store), and of the whole run around it;
* **trials/s** and the **speedup** of parallelism 2 over 1 (target: at least 1.7x on 2 cores);
* for reference, the same study as plain in-process Optuna (``study.optimize``, one process,
  no store): what conveyor's bookkeeping costs at parallelism 1.

Registry (a fitted ``LogisticRegression`` on 500 x 8, both systems on a SQLite file, medians):

* **register a version**: conveyor's ``register_model`` (serialise with skops, hash, sign,
  store the artifact, record the version) against MLflow's ``mlflow.register_model`` of a
  model already logged, and against ``log_model`` + ``register_model`` (the same work);
* **set an alias**: conveyor's ``promote`` to ``champion`` with an evaluation id (the policy
  verifies the evaluation's signature) against ``set_registered_model_alias``;
* **load by alias, warm**: ``load_model("models:/bench@champion")`` + one prediction, in a
  process that has loaded before;
* **load by alias in a fresh process**: a new interpreter that imports, loads and predicts.
  Target for each: at least 5x faster than MLflow. MLflow runs in its own venv
  (``bench/.venvs/mlflow-registry``, built on first use).

A warm-up study (2 trials) runs first, so that neither timed run pays for starting the
forkserver; each timed study starts its own worker processes (which import scikit-learn),
and that is counted: it is what a tuning step pays.

Usage::

    .venv/bin/python bench/bench_tuning.py               # 40 trials at 1 and 2, and the registry
    .venv/bin/python bench/bench_tuning.py --quick       # 12 trials (a smoke test)
    .venv/bin/python bench/bench_tuning.py --json        # JSON instead of the table
    .venv/bin/python bench/bench_tuning.py --trials 80 --no-optuna
    .venv/bin/python bench/bench_tuning.py --only registry   # the registry half alone

Run it on an otherwise idle machine: the speedup needs both cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

TARGET_SPEEDUP = 1.7  # parallelism 2 over 1, on 2 cores
PARALLELISM = (1, 2)
TARGET_REGISTRY_RATIO = 5.0  # MLflow's time / conveyor's, each registry operation
MLFLOW_REGISTRY_VENV = BENCH_DIR / ".venvs" / "mlflow-registry"
MLFLOW_REGISTRY_SCRIPT = BENCH_DIR / "_mlflow_registry_baseline.py"
MLFLOW_REGISTRY_REQUIREMENTS = [
    "mlflow-skinny>=3,<4",
    "sqlalchemy>=1.4.0,<3",
    "alembic>=1.8,!=1.10.0,<2",
    "scikit-learn>=1.3",
    "pandas>=2",
    "skops>=0.13",  # MLflow 3's sklearn flavor saves with skops by default
]
FRESH_LOAD = """
import sys, time
started = time.perf_counter()
from conveyor.registry import load_model
from conveyor.workspace import Workspace
with Workspace.open(sys.argv[1], migrate=False) as ws:
    model = load_model(ws, "models:/bench@champion")
    model.predict([[0.0] * int(sys.argv[2])])
print(time.perf_counter() - started)
"""
REGISTRY_ROWS = (
    ("register a version", "register_ms", "register_ms"),
    ("register (MLflow: log_model + register)", "register_ms", "log_and_register_ms"),
    ("set an alias", "set_alias_ms", "set_alias_ms"),
    ("load by alias, warm", "load_warm_ms", "load_warm_ms"),
    ("load by alias, fresh process", "load_fresh_process_ms", "load_fresh_process_ms"),
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def make_project(folder: Path) -> Path:
    """A fresh project whose ``pipelines.py`` is the benchmark's workload."""
    from conveyor.workspace import init_project

    root = folder / "tuning"
    init_project(root, name="bench-tuning")
    shutil.copyfile(BENCH_DIR / "_tuning_workload.py", root / "pipelines.py")
    return root


def run_study(root: Path, n_trials: int, parallelism: int, seed: int) -> dict[str, Any]:
    """One run of the ``tuning`` pipeline; the step's own timing of ``tune`` and the run's."""
    from conveyor.pipelines import run_pipeline
    from conveyor.workspace import Workspace

    params = {"n_trials": n_trials, "parallelism": parallelism, "seed": seed}
    with Workspace.open(root, env={}) as ws:
        started = time.perf_counter()
        result = run_pipeline(ws, "tuning", params)
        run_s = time.perf_counter() - started
        result.raise_for_status()
        out = dict(result.output("search"))
    out.update(
        parallelism=parallelism,
        n_trials=n_trials,
        run_s=run_s,
        trials_per_s=n_trials / out["tune_s"],
    )
    return out


def run_optuna(n_trials: int, seed: int) -> dict[str, Any]:
    """The same study as plain Optuna in this process: no workers, no store."""
    import _tuning_workload as workload
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    workload.data()  # built before timing, as a worker's first trial builds it
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    started = time.perf_counter()
    study.optimize(workload.objective, n_trials=n_trials)
    seconds = time.perf_counter() - started
    return {
        "tune_s": seconds,
        "trials_per_s": n_trials / seconds,
        "best_value": study.best_value,
        "n_trials": n_trials,
        "optuna": optuna.__version__,
    }


def _median_ms(samples: list[float]) -> float:
    import statistics

    return round(statistics.median(samples) * 1000, 3)


def bench_registry_conveyor(
    folder: Path, repeats: int, fresh: int, n_features: int = 8
) -> dict[str, Any]:
    """conveyor's registry on a SQLite project: the same model and operations as MLflow's."""
    import subprocess

    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from conveyor.registry import load_model, promote, record_evaluation, register_model
    from conveyor.workspace import Workspace, init_project

    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        rng.normal(size=(500, n_features)), columns=[f"f{i}" for i in range(n_features)]
    )
    y = (X["f0"] + rng.normal(size=500) > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    root = folder / "registry"
    init_project(root, name="bench-registry")
    register: list[float] = []
    alias: list[float] = []
    warm: list[float] = []
    with Workspace.open(root) as ws:
        register_model(ws, "warmup", model, input_example=X.head())
        for _ in range(repeats):
            started = time.perf_counter()
            register_model(ws, "bench", model, input_example=X.head())
            register.append(time.perf_counter() - started)
        evaluations = {
            v: record_evaluation(ws, "bench", v, {"auc": 0.8}, passed=True) for v in (1, 2)
        }
        for i in range(repeats):
            version = 1 + i % 2
            started = time.perf_counter()
            promote(ws, "bench", version, evaluation_id=evaluations[version])
            alias.append(time.perf_counter() - started)
        row = X.head(1)
        load_model(ws, "models:/bench@champion").predict(row)
        for _ in range(repeats):
            started = time.perf_counter()
            load_model(ws, "models:/bench@champion").predict(row)
            warm.append(time.perf_counter() - started)
    fresh_s: list[float] = []
    for _ in range(fresh):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", FRESH_LOAD, str(root), str(n_features)],
            check=True,
            capture_output=True,
        )
        fresh_s.append(time.perf_counter() - started)
    return {
        "system": "conveyor",
        "register_ms": _median_ms(register),
        "set_alias_ms": _median_ms(alias),
        "load_warm_ms": _median_ms(warm),
        "load_fresh_process_ms": _median_ms(fresh_s),
    }


def bench_registry_mlflow(repeats: int, fresh: int) -> tuple[dict[str, Any] | None, str]:
    """MLflow's registry in its own venv; its JSON, or ``(None, why)``."""
    from bench_store import baseline_env, ensure_venv, run_baseline

    probe = "import mlflow, mlflow.sklearn, skops.io; print(mlflow.__version__)"
    python, why = ensure_venv(
        MLFLOW_REGISTRY_VENV, MLFLOW_REGISTRY_REQUIREMENTS, what="MLflow registry", probe=probe
    )
    if python is None:
        return None, why
    env = baseline_env("MLFLOW_", MLFLOW_DISABLE_TELEMETRY="true")
    args = [str(python), str(MLFLOW_REGISTRY_SCRIPT), f"--repeats={repeats}", f"--fresh={fresh}"]
    return run_baseline(args, env=env, what="MLflow registry")


def render_registry(registry: dict[str, Any]) -> list[str]:
    from bench_store import align_table

    ours, theirs = registry["conveyor"], registry.get("mlflow")
    version = f" {theirs['version']}" if theirs else ""
    lines = ["", f"Registry on SQLite, medians (ms): conveyor vs MLflow{version}, same run", ""]
    body = []
    for label, key, their_key in REGISTRY_ROWS:
        mine = ours[key]
        other = theirs[their_key] if theirs else None
        ratio = other / mine if other else None
        verdict = "-"
        if ratio is not None:
            ok = ratio >= TARGET_REGISTRY_RATIO
            verdict = f">= {TARGET_REGISTRY_RATIO:g}x {'ok' if ok else 'MISSED'}"
        body.append(
            (
                label,
                f"{mine:.2f}",
                f"{other:.2f}" if other is not None else "-",
                f"{ratio:.1f}x" if ratio is not None else "-",
                verdict,
            )
        )
    header = ("operation", "conveyor ms", "MLflow ms", "MLflow / conveyor", "target")
    lines.append(align_table(header, body, left={0, 4}))
    lines.append(
        "A fresh process pays for importing scikit-learn (and skops, which imports every "
        "estimator module to list its trusted types) on both sides; see bench/README.md."
    )
    return lines


def _render_tuning(report: dict[str, Any]) -> list[str]:
    from bench_store import align_table

    meta, tuning = report["meta"], report["tuning"]
    lines = [
        f"Study: {meta['n_trials']} trials of GradientBoostingClassifier (3-fold CV on "
        "1,500 x 20), TPE seeded, default MedianPruner (the objective reports nothing)",
        "",
    ]
    header = (
        "system",
        "parallelism",
        "tune s",
        "trials/s",
        "mean trial s",
        "run s",
        "best value",
        "speedup",
        "target",
    )
    body = []
    base = next(r for r in tuning["runs"] if r["parallelism"] == 1)
    for r in tuning["runs"]:
        speedup = base["tune_s"] / r["tune_s"]
        target = "-"
        if r["parallelism"] == 2:
            target = f">= {TARGET_SPEEDUP}x {'ok' if speedup >= TARGET_SPEEDUP else 'MISSED'}"
        body.append(
            (
                "conveyor",
                str(r["parallelism"]),
                f"{r['tune_s']:.2f}",
                f"{r['trials_per_s']:.2f}",
                f"{r['trial_mean_s']:.3f}",
                f"{r['run_s']:.2f}",
                f"{r['best_value']:.4f}",
                f"{speedup:.2f}x",
                target,
            )
        )
    plain = tuning.get("optuna")
    if plain:
        body.append(
            (
                "optuna (in-process)",
                "1",
                f"{plain['tune_s']:.2f}",
                f"{plain['trials_per_s']:.2f}",
                f"{plain['tune_s'] / plain['n_trials']:.3f}",
                "-",
                f"{plain['best_value']:.4f}",
                "-",
                "-",
            )
        )
    lines.append(align_table(header, body, left={0, 8}))
    lines += [
        "",
        "tune s: wall time of tune() inside the step (worker start-up included); run s: the "
        "whole run around it.",
        "speedup: tune s at parallelism 1 / tune s at this parallelism, same run. mean trial "
        "s: from a trial's start to its result being recorded.",
    ]
    if plain:
        overhead = (base["tune_s"] - plain["tune_s"]) / meta["n_trials"]
        lines.append(
            f"conveyor at parallelism 1 vs plain Optuna: {overhead * 1000:+.0f} ms a trial "
            "(worker start-up, pickling, the store's records); best values differ because "
            "parallel and worker-side sampling draw other params."
        )
    return lines


def render_text(report: dict[str, Any]) -> str:

    meta = report["meta"]
    tuning = report["tuning"]
    lines = [
        "conveyor tuning and registry benchmark" + (" (--quick)" if meta["quick"] else ""),
        f"conveyor {meta['conveyor']}, Python {meta['python']}, Optuna {meta['optuna']}, "
        f"scikit-learn {meta['sklearn']}",
        f"{meta['cpus']} CPUs, load average {meta['load_before']} before / "
        f"{meta['load_after']} after; {meta['elapsed_s']:.0f} s in all",
        "",
    ]
    if tuning["runs"]:
        lines += _render_tuning(report)
    if "registry" in report:
        lines += render_registry(report["registry"])
    for what, why in report["skipped"].items():
        lines.append(f"skipped {what}: {why}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="tune() wall time at parallelism 1 and 2, and the speedup."
    )
    parser.add_argument("--quick", action="store_true", help="12 trials (a smoke test)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.add_argument("--trials", type=int, help="trials per study (default 40)")
    parser.add_argument("--seed", type=int, default=0, help="the studies' seed (default 0)")
    parser.add_argument(
        "--no-optuna", action="store_true", help="skip the in-process Optuna reference"
    )
    parser.add_argument("--tmpdir", help="where the project goes (default: the system temp)")
    parser.add_argument(
        "--only", choices=("tuning", "registry"), help="run one half of the benchmark"
    )
    parser.add_argument(
        "--repeats", type=int, default=30, help="registry: samples per operation (default 30)"
    )
    parser.add_argument(
        "--fresh", type=int, default=3, help="registry: fresh-process loads (default 3)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import optuna
    import sklearn
    from bench_store import _load

    import conveyor

    n_trials = args.trials or (12 if args.quick else 40)
    started = time.perf_counter()
    meta: dict[str, Any] = {
        "conveyor": conveyor.__version__,
        "python": platform.python_version(),
        "optuna": optuna.__version__,
        "sklearn": sklearn.__version__,
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_before": _load(),
        "quick": args.quick,
        "n_trials": n_trials,
        "seed": args.seed,
    }
    report: dict[str, Any] = {"meta": meta, "tuning": {"runs": []}, "skipped": {}}
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-tuning-", dir=args.tmpdir) as tmp:
        if args.only != "registry":
            root = make_project(Path(tmp))
            log("warm-up study (2 trials)...")
            run_study(root, 2, 2, args.seed)
            for parallelism in PARALLELISM:
                log(f"{n_trials} trials at parallelism {parallelism}...")
                report["tuning"]["runs"].append(run_study(root, n_trials, parallelism, args.seed))
        if args.only != "tuning":
            log("registry: conveyor...")
            registry: dict[str, Any] = {
                "conveyor": bench_registry_conveyor(Path(tmp), args.repeats, args.fresh)
            }
            log("registry: MLflow...")
            theirs, why = bench_registry_mlflow(args.repeats, args.fresh)
            if theirs is None:
                report["skipped"]["mlflow registry"] = why
            else:
                registry["mlflow"] = theirs
            report["registry"] = registry
    if args.no_optuna or args.only == "registry":
        report["skipped"]["optuna"] = "--no-optuna" if args.no_optuna else "--only registry"
    else:
        log(f"{n_trials} trials of plain Optuna in this process...")
        report["tuning"]["optuna"] = run_optuna(n_trials, args.seed)
    runs = report["tuning"]["runs"]
    if runs:
        report["tuning"]["speedup"] = runs[0]["tune_s"] / runs[1]["tune_s"]
        report["tuning"]["target_met"] = report["tuning"]["speedup"] >= TARGET_SPEEDUP
    meta["load_after"] = _load()
    meta["elapsed_s"] = time.perf_counter() - started
    print(json.dumps(report, indent=2) if args.json else render_text(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
