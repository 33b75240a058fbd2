"""How often the drift monitor cries wolf on data that never changes, against the budget
it states, and against Evidently's textbook verdicts on the same windows.

A reference of ``--reference`` rows (20 numeric and 5 categorical columns, seeded) and
``--windows`` stationary windows of ``--rows`` rows drawn from the same distribution. Each
window goes through the monitor's own path (the same statistics, null draws, Šidák bounds
and warning/drift levels as ``conveyor monitor run``, with the default ``[monitor]``
budgets unless given), and the alarms are counted. Beside them: how many windows
Evidently's defaults would call drifted (any column, and the dataset rule of half the
columns), the false alarms a per-window test at 0.05 gives.

Usage::

    .venv/bin/python bench/bench_false_alarms.py              # 20,000 windows (about 1 min)
    .venv/bin/python bench/bench_false_alarms.py --quick      # 300 windows
    .venv/bin/python bench/bench_false_alarms.py --warning-every 50 --drift-every 200
"""

from __future__ import annotations

import argparse
import json
import math
import time
from typing import Any

import numpy as np
import pyarrow as pa

from conveyor.monitor._budget import AlarmLevel, draws_needed, empirical_p_values
from conveyor.monitor._drift_window import (
    CALIBRATION_ROWS,
    column_names,
    compare,
    null_statistics,
    prepare,
    rescaled,
)

N_NUMERIC, N_CATEGORICAL = 20, 5


# Category shares, fixed once: every table is drawn from the same distribution.
SHARES = [
    np.random.default_rng(100 + j).dirichlet(np.ones(3 + 4 * j)) for j in range(N_CATEGORICAL)
]


def table(n: int, rng: np.random.Generator) -> pa.Table:
    columns: dict[str, Any] = {}
    for j in range(N_NUMERIC):
        # A mix of shapes: normal, skewed, heavy-tailed, few distinct values.
        kind = j % 4
        if kind == 0:
            values = rng.normal(size=n)
        elif kind == 1:
            values = rng.lognormal(size=n)
        elif kind == 2:
            values = rng.standard_t(3, size=n)
        else:
            values = rng.integers(0, 50, size=n).astype(float)
        columns[f"num_{j}"] = values
    for j in range(N_CATEGORICAL):
        shares = SHARES[j]
        columns[f"cat_{j}"] = rng.choice([f"c{i}" for i in range(len(shares))], size=n, p=shares)
    return pa.table(columns)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--windows", type=int, default=20_000)
    parser.add_argument("--warning-every", type=float, default=168.0)
    parser.add_argument("--drift-every", type=float, default=720.0)
    parser.add_argument("--cooldown", type=int, default=12)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.windows, args.reference = 300, 20_000

    rng = np.random.default_rng(7)
    reference = table(args.reference, rng)
    started = time.perf_counter()
    prepared = prepare(reference, pa.table({}), {})
    names = column_names(prepared)
    warning = AlarmLevel("warning", args.warning_every, 2, 3, args.cooldown)
    drift = AlarmLevel("drift", args.drift_every, 3, 3, args.cooldown)
    bound_w, bound_d = warning.feature_p(len(names)), drift.feature_p(len(names))
    draws = draws_needed(min(bound_w, bound_d))
    # Windows above CALIBRATION_ROWS are ranked as the monitor ranks them: rescaled.
    calibrated_rows = min(args.rows, CALIBRATION_ROWS)
    null = null_statistics(prepared, calibrated_rows, draws, seed=1)
    calibration = time.perf_counter() - started

    state_w: dict[str, Any] | None = None
    state_d: dict[str, Any] | None = None
    counts = {"flagged": 0, "warning": 0, "drift": 0, "textbook_any": 0, "textbook_dataset": 0}
    started = time.perf_counter()
    for _ in range(args.windows):
        window = table(args.rows, rng)
        result = compare(prepared, window)
        scores = result.scores
        if args.rows > calibrated_rows:
            scores = rescaled(prepared, result, calibrated_rows)
        p = empirical_p_values(scores, null)
        flagged_w, flagged_d = bool((p <= bound_w).any()), bool((p <= bound_d).any())
        alarm_w, state_w = warning.advance(state_w, flagged_w)
        alarm_d, state_d = drift.advance(state_d, flagged_d)
        counts["flagged"] += flagged_w
        counts["drift"] += alarm_d
        counts["warning"] += alarm_w and not alarm_d
        counts["textbook_any"] += any(f["drifted"] for f in result.figures)
        counts["textbook_dataset"] += result.dataset_drift
    seconds = time.perf_counter() - started

    def interval(expected: float) -> str:
        spread = 2 * math.sqrt(expected)
        return f"{max(0.0, expected - spread):.1f}-{expected + spread:.1f}"

    out = {
        "reference_rows": args.reference,
        "window_rows": args.rows,
        "windows": args.windows,
        "columns": len(names),
        "null_draws": draws,
        "calibration_seconds": round(calibration, 2),
        "ms_per_window": round(1000 * seconds / args.windows, 2),
        "warning": {
            "expected": args.windows / warning.ert,
            "measured": counts["warning"],
            "window_p": warning.window_p,
            "column_p": bound_w,
        },
        "drift": {
            "expected": args.windows / drift.ert,
            "measured": counts["drift"],
            "window_p": drift.window_p,
            "column_p": bound_d,
        },
        "flagged_windows": {
            "expected": warning.window_p * args.windows,
            "measured": counts["flagged"],
        },
        "evidently_textbook": {
            "windows_with_a_drifted_column": counts["textbook_any"],
            "windows_with_dataset_drift": counts["textbook_dataset"],
        },
    }
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(
        f"{args.windows:,} stationary windows of {args.rows} rows, {len(names)} columns, "
        f"reference {args.reference:,} rows; {draws:,} null draws in {calibration:.1f} s; "
        f"{out['ms_per_window']} ms per window"
    )
    print(f"{'':<34}{'expected':>10}{'  (±2 sd)':>14}{'measured':>10}")
    for name in ("warning", "drift"):
        row = out[name]
        print(
            f"{name + ' alarms':<34}{row['expected']:>10.1f}{interval(row['expected']):>14}"
            f"{row['measured']:>10}"
        )
    flagged = out["flagged_windows"]
    print(
        f"{'flagged windows (warning level)':<34}{flagged['expected']:>10.1f}"
        f"{interval(flagged['expected']):>14}{flagged['measured']:>10}"
    )
    tb = out["evidently_textbook"]
    anyone = tb["windows_with_a_drifted_column"]
    print(
        f"Evidently's defaults on the same windows: a drifted column in {anyone:,} "
        f"({anyone / args.windows:.0%}), dataset drift in {tb['windows_with_dataset_drift']:,}"
    )


if __name__ == "__main__":
    main()
