"""The drift benchmark's Evidently worker, run with the python of ``bench/.venvs/evidently``:
Evidently 0.7's ``DataDriftPreset`` on the same Parquet files, with the same column types,
printing timings, memory and per-column decisions as JSON (run by ``bench_drift.py``).

Usage: python bench/_evidently_drift.py REFERENCE CURRENT KINDS_JSON WARM_REFERENCE WARM_CURRENT
[--repeat N]
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402

import evidently  # noqa: E402
import pandas as pd  # noqa: E402
import pyarrow  # noqa: E402
from _drift_memory import peak_bytes, reset_peak, rss_bytes  # noqa: E402
from evidently import DataDefinition, Dataset, Report  # noqa: E402
from evidently.presets import DataDriftPreset  # noqa: E402

IMPORT_S = time.perf_counter() - STARTED
# Evidently's display names (StatTest.display_name) to its method names.
METHODS = {
    "K-S p_value": "ks",
    "chi-square p_value": "chisquare",
    "Z-test p_value": "z",
    "Wasserstein distance (normed)": "wasserstein",
    "PSI": "psi",
    "Jensen-Shannon distance": "jensenshannon",
}


def run(reference: pd.DataFrame, current: pd.DataFrame, kinds: dict[str, str]) -> object:
    definition = DataDefinition(
        numerical_columns=[c for c, k in kinds.items() if k == "numeric"],
        categorical_columns=[c for c, k in kinds.items() if k == "categorical"],
    )
    report = Report([DataDriftPreset()], include_tests=True)
    return report.run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )


def decisions(snapshot: object) -> tuple[dict[str, dict[str, object]], float]:
    data = snapshot.dict()  # type: ignore[attr-defined]
    columns: dict[str, dict[str, object]] = {}
    share = float("nan")
    for metric in data["metrics"]:
        config = metric["config"]
        if config["type"].endswith("ValueDrift"):
            columns[config["column"]] = {
                "method": METHODS.get(config["method"], config["method"]),
                "score": float(metric["value"]),
                "threshold": config["threshold"],
            }
        elif config["type"].endswith("DriftedColumnsCount"):
            share = float(metric["value"]["share"])
    for test in data["tests"]:
        if test["id"] == "drift":
            column = test["metric_config"]["params"]["column"]
            columns[column]["drifted"] = test["status"] == "FAIL"
    return columns, share


def main() -> int:
    warnings.simplefilter("ignore")  # chi-square's divide-by-zero and pandas notices
    parser = argparse.ArgumentParser()
    parser.add_argument("reference")
    parser.add_argument("current")
    parser.add_argument("kinds")
    parser.add_argument("warm_reference")
    parser.add_argument("warm_current")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    kinds = json.loads(args.kinds)
    # Warm-up on the small files, as conveyor's worker does.
    run(pd.read_parquet(args.warm_reference), pd.read_parquet(args.warm_current), kinds)
    pyarrow.default_memory_pool().release_unused()
    gc.collect()
    baseline = rss_bytes()
    can_reset = reset_peak()
    started = time.perf_counter()
    reference = pd.read_parquet(args.reference)
    current = pd.read_parquet(args.current)
    load_s = time.perf_counter() - started
    load_peak = peak_bytes()
    after_load = rss_bytes()
    reset_peak()
    runs: list[float] = []
    snapshot = None
    compute_peak = 0
    for i in range(args.repeat):
        started = time.perf_counter()
        snapshot = run(reference, current, kinds)
        runs.append(time.perf_counter() - started)
        if i == 0:
            compute_peak = peak_bytes()
    columns, share = decisions(snapshot)
    out = {
        "tool": "evidently",
        "version": evidently.__version__,
        "pandas": pd.__version__,
        "import_s": IMPORT_S,
        "load_s": load_s,
        "compute_s": statistics.median(runs),
        "runs_s": runs,
        "baseline_bytes": baseline,
        "data_bytes": after_load - baseline,
        "peak_bytes": max(load_peak, compute_peak) - baseline,
        "compute_peak_bytes": compute_peak - after_load if can_reset else None,
        "peak_measured_from": "warm-up" if can_reset else "process start",
        "columns": columns,
        "share_drifted": share,
        "dataset_drifted": share >= 0.5,
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
