"""The benchmark workload, shared by conveyor and the MLflow baseline (standard library only).

Both systems run exactly these loops through a small adapter, so the only difference between
their figures is the store under test. This module is imported by ``bench_store.py`` (the
project's venv) and by ``_mlflow_baseline.py`` (MLflow's own venv), so it must not import
conveyor, MLflow or any third-party package.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

MetricRow = tuple[str, float, int, int]  # key, value, step, timestamp (ms)

# Operation names, in the order they are reported.
SINGLE = "log_metric"
BATCH = "log_metrics"
RUNS = "create_run"
OPERATIONS = (SINGLE, BATCH, RUNS)

# A fixed epoch for the metric timestamps, so both systems store identical rows.
T0_MS = 1_700_000_000_000


class Target(Protocol):
    """What a store under test must offer the workload."""

    def new_run(self) -> Any: ...

    def log_metric(self, run_id: Any, key: str, value: float, step: int, ts: int) -> None: ...

    def log_batch(self, run_id: Any, rows: list[MetricRow]) -> None: ...


@dataclass(frozen=True)
class Sizes:
    single: int = 2_000
    batched: int = 100_000
    batch_size: int = 1_000
    runs: int = 500
    warmup_single: int = 50
    warmup_batches: int = 3
    warmup_runs: int = 20


def batch_rows(n: int, batch_size: int) -> list[list[MetricRow]]:
    """``n`` metric rows over 10 keys, cut into batches; every (key, step) is distinct."""
    rows = [(f"m{i % 10}", i * 0.001, i // 10, T0_MS + i // 10) for i in range(n)]
    return [rows[i : i + batch_size] for i in range(0, n, batch_size)]


def summarize(
    n: int, unit: str, total_s: float, samples_s: list[float], per: int
) -> dict[str, Any]:
    """Figures for one timed loop.

    Args:
        n: Items done (metrics or runs).
        unit: What an item is ("metrics", "runs").
        total_s: Wall time of the whole timed loop.
        samples_s: Wall time of each call (one metric, one batch, one run).
        per: Items per call.
    """
    ordered = sorted(samples_s)
    p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]  # nearest rank
    return {
        "n": n,
        "unit": unit,
        "calls": len(samples_s),
        "items_per_call": per,
        "total_s": total_s,
        "rate_per_s": n / total_s if total_s > 0 else float("inf"),
        "mean_ms": total_s / len(samples_s) * 1000,
        "median_ms": statistics.median(ordered) * 1000,
        "p95_ms": p95 * 1000,
    }


def _timed(calls: list[Callable[[], Any]]) -> tuple[float, list[float]]:
    clock = time.perf_counter
    samples = []
    start = clock()
    for call in calls:
        t = clock()
        call()
        samples.append(clock() - t)
    return clock() - start, samples


def measure(target: Target, sizes: Sizes, only: tuple[str, ...] = OPERATIONS) -> dict[str, Any]:
    """Warm up, then time single metric writes, batched writes and run creation."""
    out: dict[str, Any] = {}

    # Warm-up: connections, prepared statements, page cache, lazy imports.
    warm = target.new_run()
    for i in range(sizes.warmup_single):
        target.log_metric(warm, "warmup", float(i), i, T0_MS + i)
    for rows in batch_rows(sizes.warmup_batches * sizes.batch_size, sizes.batch_size):
        target.log_batch(warm, rows)
    for _ in range(sizes.warmup_runs):
        target.new_run()

    if SINGLE in only and sizes.single > 0:
        run = target.new_run()

        def single(i: int) -> Callable[[], None]:
            return lambda: target.log_metric(run, "loss", i * 0.001, i, T0_MS + i)

        total, samples = _timed([single(i) for i in range(sizes.single)])
        out[SINGLE] = summarize(sizes.single, "metrics", total, samples, 1)

    if BATCH in only and sizes.batched > 0:
        run = target.new_run()
        batches = batch_rows(sizes.batched, sizes.batch_size)

        def batch(rows: list[MetricRow]) -> Callable[[], None]:
            return lambda: target.log_batch(run, rows)

        total, samples = _timed([batch(rows) for rows in batches])
        out[BATCH] = summarize(sizes.batched, "metrics", total, samples, sizes.batch_size)

    if RUNS in only and sizes.runs > 0:
        total, samples = _timed([target.new_run] * sizes.runs)
        out[RUNS] = summarize(sizes.runs, "runs", total, samples, 1)

    return out
