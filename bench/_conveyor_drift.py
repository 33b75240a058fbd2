"""The drift benchmark's conveyor worker: prepare the reference, compare the current data,
and print timings, memory and per-column decisions as JSON (run by ``bench_drift.py``).

Usage: python bench/_conveyor_drift.py REFERENCE CURRENT KINDS_JSON WARM_REFERENCE WARM_CURRENT
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

# What a drift check needs loaded: conveyor's monitor and the libraries it calls.
import numpy  # noqa: E402, F401
import pyarrow  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
import scipy.spatial.distance  # noqa: E402
import scipy.special  # noqa: E402
import scipy.stats  # noqa: E402, F401
from _drift_memory import peak_bytes, reset_peak, rss_bytes  # noqa: E402

import conveyor  # noqa: E402
from conveyor.monitor._drift import detect_drift  # noqa: E402
from conveyor.monitor._drift_null import null_statistics  # noqa: E402
from conveyor.monitor._drift_reference import prepare_reference  # noqa: E402

IMPORT_S = time.perf_counter() - STARTED


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("reference")
    parser.add_argument("current")
    parser.add_argument("kinds", help='JSON: {"column": "numeric" | "categorical"}')
    parser.add_argument("warm_reference")
    parser.add_argument("warm_current")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--null-draws", type=int, default=2000)
    parser.add_argument("--null-window", type=int, default=1000)
    args = parser.parse_args()
    kinds = json.loads(args.kinds)
    # Warm-up on the small files: first-use costs (Arrow's reader threads and allocator,
    # lazy imports) belong to neither the data nor the computation.
    warm = [pq.read_table(path) for path in (args.warm_reference, args.warm_current)]
    detect_drift(prepare_reference(warm[0], kinds=kinds), warm[1])
    del warm
    gc.collect()
    pyarrow.default_memory_pool().release_unused()
    baseline = rss_bytes()
    can_reset = reset_peak()
    started = time.perf_counter()
    reference = pq.read_table(args.reference)
    current = pq.read_table(args.current)
    load_s = time.perf_counter() - started
    load_peak = peak_bytes()
    after_load = rss_bytes()
    reset_peak()
    runs: list[tuple[float, float]] = []
    report = None
    compute_peak = 0
    for i in range(args.repeat):
        started = time.perf_counter()
        prepared = prepare_reference(reference, kinds=kinds)
        prepared_at = time.perf_counter()
        report = detect_drift(prepared, current)
        runs.append((prepared_at - started, time.perf_counter() - prepared_at))
        if i == 0:
            compute_peak = peak_bytes()
            reference_bytes = len(prepared.to_bytes())
        if i < args.repeat - 1:
            del prepared
    assert report is not None
    # The null distribution of every column's default statistic: windows of --null-window
    # rows against the rest of the reference (what calibrating thresholds costs).
    null_s = None
    if all(col.n_values >= 10 * args.null_window for col in prepared.columns.values()):
        started = time.perf_counter()
        for col in prepared.columns.values():
            null_statistics(col, args.null_window, args.null_draws, random_state=0)
        null_s = time.perf_counter() - started
    columns = {
        r.column: {
            "method": r.method,
            "score": r.p_value if r.p_value is not None else r.statistic,
            "statistic": r.statistic,
            "drifted": r.drifted,
            "threshold": r.threshold,
        }
        for r in report.columns
    }
    out = {
        "tool": "conveyor",
        "version": conveyor.__version__,
        "import_s": IMPORT_S,
        "load_s": load_s,
        "prepare_s": statistics.median(r[0] for r in runs),
        "compare_s": statistics.median(r[1] for r in runs),
        "compute_s": statistics.median(r[0] + r[1] for r in runs),
        "runs_s": [r[0] + r[1] for r in runs],
        "baseline_bytes": baseline,
        "data_bytes": after_load - baseline,
        "peak_bytes": max(load_peak, compute_peak) - baseline,
        "compute_peak_bytes": compute_peak - after_load if can_reset else None,
        "peak_measured_from": "warm-up" if can_reset else "process start",
        "reference_bytes": reference_bytes,
        "null_s": null_s,
        "null_draws": args.null_draws,
        "null_window": args.null_window,
        "columns": columns,
        "share_drifted": report.share_drifted,
        "dataset_drifted": report.dataset_drifted,
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
