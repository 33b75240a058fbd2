"""Tuning benchmark: one Optuna study of a small model run by ``conveyor.train.tune`` inside a
pipeline step, at parallelism 1 and 2, in the same run.

Measures, with the project code in ``bench/_tuning_workload.py`` (a scikit-learn
``GradientBoostingClassifier`` scored by 3-fold cross-validation, about 0.2-1 s a trial):

* **wall time** of ``tune(objective, n_trials=40, parallelism=P, seed=0)`` for P = 1 and 2,
  timed inside the step (the trials run in the local executor's worker processes, each
  recorded in the metadata store), and of the whole run around it;
* **trials/s** and the **speedup** of parallelism 2 over 1 (target: at least 1.7x on 2 cores);
* for reference, the same study as plain in-process Optuna (``study.optimize``, one process,
  no store): what conveyor's bookkeeping costs at parallelism 1.

A warm-up study (2 trials) runs first, so that neither timed run pays for starting the
forkserver; each timed study starts its own worker processes (which import scikit-learn),
and that is counted: it is what a tuning step pays.

Usage::

    .venv/bin/python bench/bench_tuning.py               # 40 trials at 1 and 2 (about 1 min)
    .venv/bin/python bench/bench_tuning.py --quick       # 12 trials (a smoke test)
    .venv/bin/python bench/bench_tuning.py --json        # JSON instead of the table
    .venv/bin/python bench/bench_tuning.py --trials 80 --no-optuna

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


def render_text(report: dict[str, Any]) -> str:
    from bench_store import align_table

    meta = report["meta"]
    tuning = report["tuning"]
    lines = [
        "conveyor tuning benchmark" + (" (--quick)" if meta["quick"] else ""),
        f"conveyor {meta['conveyor']}, Python {meta['python']}, Optuna {meta['optuna']}, "
        f"scikit-learn {meta['sklearn']}",
        f"{meta['cpus']} CPUs, load average {meta['load_before']} before / "
        f"{meta['load_after']} after; {meta['elapsed_s']:.0f} s in all",
        "",
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
    # The registry half of the benchmark (register a version, set an alias, load by
    # alias warm and in a fresh process, next to MLflow's registry via
    # _mlflow_registry_baseline.py) adds its section to the report and its lines here.
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
        root = make_project(Path(tmp))
        log("warm-up study (2 trials)...")
        run_study(root, 2, 2, args.seed)
        for parallelism in PARALLELISM:
            log(f"{n_trials} trials at parallelism {parallelism}...")
            report["tuning"]["runs"].append(run_study(root, n_trials, parallelism, args.seed))
    if args.no_optuna:
        report["skipped"]["optuna"] = "--no-optuna"
    else:
        log(f"{n_trials} trials of plain Optuna in this process...")
        report["tuning"]["optuna"] = run_optuna(n_trials, args.seed)
    runs = report["tuning"]["runs"]
    report["tuning"]["speedup"] = runs[0]["tune_s"] / runs[1]["tune_s"]
    report["tuning"]["target_met"] = report["tuning"]["speedup"] >= TARGET_SPEEDUP
    meta["load_after"] = _load()
    meta["elapsed_s"] = time.perf_counter() - started
    print(json.dumps(report, indent=2) if args.json else render_text(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
