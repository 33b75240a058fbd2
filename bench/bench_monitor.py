"""How fast and how reliably the live-performance monitor finds an accuracy drop.

A simulation plus a timing, on synthetic streams:

* ADWIN false alarms: detections (and alarms, i.e. drops) per 100,000 values of a
  stationary Bernoulli(0.8) correctness stream, several seeds;
* ADWIN detection delay: a correctness stream at accuracy 0.80 for ``--before`` labelled
  predictions, then 0.75 (or 0.70); the delay is the number of labelled predictions after
  the change up to the first alarm (median and max over seeds; a miss is counted when no
  alarm comes within ``--after`` values);
* ADWIN cost: microseconds per value of ``update_many``, and of River's ``drift.ADWIN``
  (Rust) on the same stream when river is installed, with the two's first detections
  compared on every delay stream;
* CBPE error: a calibrated binary classifier on data whose P(x) shifts while P(y|x) stays
  put, and the same under a change of P(y|x): estimated minus realised accuracy per window.

Usage::

    .venv/bin/python bench/bench_monitor.py            # 10 x 1M stationary, 1,000 streams a
                                                       # delay cell (about 4 min here)
    .venv/bin/python bench/bench_monitor.py --quick    # smoke test (about 10 s)
    .venv/bin/python bench/bench_monitor.py --json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
from typing import Any

import numpy as np

from conveyor.monitor._adwin import ADWIN
from conveyor.monitor._estimate import CBPE


def false_alarms(n_values: int, seeds: range) -> dict[str, Any]:
    detections, alarms = [], []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        stream = (rng.random(n_values) < 0.8).astype(np.float64)
        changes = ADWIN().update_many(stream)
        detections.append(len(changes) * 100_000 / n_values)
        alarms.append(sum(c.is_alarm for c in changes) * 100_000 / n_values)
    return {
        "values_per_seed": n_values,
        "seeds": len(seeds),
        "detections_per_100k": detections,
        "alarms_per_100k": alarms,
    }


def first_alarm(detector: ADWIN, stream: Any) -> int | None:
    for change in detector.update_many(stream):
        if change.is_alarm:
            return change.index
    return None


def river_first(stream: list[float]) -> int | None:
    from river.drift import ADWIN as RiverADWIN

    river = RiverADWIN()
    for i, value in enumerate(stream):
        river.update(value)
        if river.drift_detected:
            return i
    return None


def delays(
    after: float, n_before: int, n_after: int, seeds: range, compare_river: bool
) -> dict[str, Any]:
    found: list[int] = []
    missed = early = river_equal = 0
    for seed in seeds:
        rng = np.random.default_rng(1000 + seed)
        stream = np.concatenate([rng.random(n_before) < 0.8, rng.random(n_after) < after])
        stream = stream.astype(np.float64)
        index = first_alarm(ADWIN(), stream)
        if compare_river and seed < 100:
            # River resets after a detection and reports every change: compare first ones.
            changes = ADWIN().update_many(stream)
            mine = changes[0].index if changes else None
            river_equal += mine == river_first(stream.tolist())
        if index is None:
            missed += 1
        elif index < n_before:
            early += 1
        else:
            found.append(index - n_before + 1)
    return {
        "accuracy": f"0.80 -> {after:.2f}",
        "before": n_before,
        "seeds": len(seeds),
        "median_delay": statistics.median(found) if found else None,
        "max_delay": max(found) if found else None,
        "delays": found,
        "missed": missed,
        "alarms_before_change": early,
        "p99_delay": float(np.percentile(found, 99)) if found else None,
        "same_first_detection_as_river": river_equal if compare_river else None,
        "compared_with_river": min(len(seeds), 100) if compare_river else 0,
    }


def cost(n_values: int) -> dict[str, Any]:
    rng = np.random.default_rng(7)
    stream = (rng.random(n_values) < 0.8).astype(np.float64)
    start = time.perf_counter()
    ADWIN().update_many(stream)
    ours = (time.perf_counter() - start) / n_values * 1e6
    river = None
    try:
        from river.drift import ADWIN as RiverADWIN
    except ImportError:
        pass
    else:
        detector, values = RiverADWIN(), stream.tolist()
        start = time.perf_counter()
        for value in values:
            detector.update(value)
        river = (time.perf_counter() - start) / n_values * 1e6
    return {"values": n_values, "us_per_update": ours, "river_us_per_update": river}


def cbpe_errors(n_windows: int, window: int) -> dict[str, Any]:
    """Estimated minus realised accuracy per window: covariate shift, then concept shift."""

    def sample(rng: np.random.Generator, n: int, x_mean: float, slope: float) -> Any:
        x = rng.normal(x_mean, 1.0, n)
        p = 1.0 / (1.0 + np.exp(-slope * x))
        return x, (rng.random(n) < p).astype(np.int64)

    rng = np.random.default_rng(3)
    # The model's score is the true P(y=1|x) at slope 2: calibrated by construction.
    x_ref, y_ref = sample(rng, 5000, 0.0, 2.0)
    estimator = CBPE(random_state=0).fit(1.0 / (1.0 + np.exp(-2.0 * x_ref)), y_ref)
    result: dict[str, Any] = {}
    for name, slope in (("covariate shift", 2.0), ("concept shift", 0.8)):
        errors = []
        for shift in np.linspace(-1.5, 1.5, n_windows):
            x, y = sample(rng, window, shift, slope)
            scores = 1.0 / (1.0 + np.exp(-2.0 * x))
            estimate = estimator.estimate(scores)
            realised = float(((scores >= 0.5).astype(np.int64) == y).mean())
            errors.append(estimate.metrics["accuracy"] - realised)
        result[name] = {
            "windows": n_windows,
            "rows_per_window": window,
            "mean_absolute_error": float(np.mean(np.abs(errors))),
            "worst_error": float(max(errors, key=abs)),
        }
    return result


def _count(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    quick = args.quick
    compare_river = importlib.util.find_spec("river") is not None
    seeds = range(20 if quick else 1000)
    report: dict[str, Any] = {}
    print("false alarms ...", file=sys.stderr)
    report["false_alarms"] = false_alarms(
        100_000 if quick else 1_000_000, range(3 if quick else 10)
    )
    report["delays"] = []
    for n_before in (4_000, 20_000):
        for after in (0.75, 0.70):
            print(f"delay 0.80 -> {after} after {n_before:,} ...", file=sys.stderr)
            report["delays"].append(delays(after, n_before, 40_000, seeds, compare_river))
    print("cost ...", file=sys.stderr)
    report["cost"] = cost(50_000 if quick else 500_000)
    print("CBPE ...", file=sys.stderr)
    report["cbpe"] = cbpe_errors(5 if quick else 30, 2_000)
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
        return
    fa = report["false_alarms"]
    print(
        f"ADWIN(delta=0.002, clock=32) on Bernoulli(0.8), {fa['seeds']} x "
        f"{fa['values_per_seed']:,} values: detections/100k {fa['detections_per_100k']}, "
        f"alarms/100k {fa['alarms_per_100k']}"
    )
    print(
        f"{'change':<14}{'before':>8}{'streams':>8}{'median':>8}{'p99':>8}{'max':>7}"
        f"{'missed':>8}{'early':>7}{'=River':>10}"
    )
    for row in report["delays"]:
        river = f"{row['same_first_detection_as_river']}/{row['compared_with_river']}"
        print(
            f"{row['accuracy']:<14}{row['before']:>8,}{row['seeds']:>8}"
            f"{_count(row['median_delay']):>8}{_count(row['p99_delay']):>8}"
            f"{_count(row['max_delay']):>7}"
            f"{row['missed']:>8}{row['alarms_before_change']:>7}{river:>10}"
        )
    c = report["cost"]
    river = f"{c['river_us_per_update']:.2f}" if c["river_us_per_update"] else "n/a"
    print(f"cost: {c['us_per_update']:.2f} us/update (River's Rust ADWIN: {river})")
    for name, row in report["cbpe"].items():
        print(
            f"CBPE accuracy, {name}: MAE {row['mean_absolute_error']:.4f}, worst "
            f"{row['worst_error']:+.4f} over {row['windows']} windows of "
            f"{row['rows_per_window']:,}"
        )


if __name__ == "__main__":
    main()
