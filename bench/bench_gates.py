"""How often does each evaluation gate promote a challenger that is worse, equal or better?

A simulation, not a timing: binormal scores for two models on one holdout (champion AUC
0.80, prevalence 25%, the two models' noises correlated 0.7), the challenger's true AUC
shifted by ``delta``. For every holdout, ``conveyor.train.evaluate_gates`` runs each gate
on its own and the table gives the share of holdouts where the gate passed:

* ``A_c >= A_b``: MLflow ``min_relative_change = 0`` (the point comparison TFX and MLflow do);
* ``A_c >= A_b + 0.005``: MLflow ``min_absolute_change = 0.005``;
* DeLong superiority: ``LB95(ΔAUC) > 0``;
* DeLong non-inferiority: ``LB95(ΔAUC) > -0.01``;
* bootstrap superiority: a paired stratified bootstrap of ΔAUC (1,000 resamples);
* McNemar superiority: accuracy at threshold 0.5 (exact test and Tango's bound).

Usage::

    .venv/bin/python bench/bench_gates.py            # 1,000 holdouts a cell (bootstrap 300)
    .venv/bin/python bench/bench_gates.py --quick    # 200 (bootstrap 60): a smoke test
    .venv/bin/python bench/bench_gates.py --json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from typing import Any

import numpy as np
from scipy.stats import norm

from conveyor.train import evaluate_gates

ROWS = (500, 2000)
DELTAS = (0.0, -0.01, 0.02)
GATES = {
    "A_c >= A_b": {"change": {"roc_auc": {"min_relative_change": 0.0}}},
    "A_c >= A_b + 0.005": {"change": {"roc_auc": {"min_absolute_change": 0.005}}},
    "DeLong superiority": {"decision": {"metric": "roc_auc"}},
    "DeLong non-inferiority 0.01": {
        "decision": {"metric": "roc_auc", "mode": "non_inferiority", "margin": 0.01}
    },
    "McNemar superiority (accuracy)": {"decision": {"metric": "accuracy"}},
}
BOOTSTRAP = {"decision": {"metric": "roc_auc", "test": "bootstrap", "n_resamples": 1000}}


def binormal_pair(
    n: int, delta: float, rng: np.random.Generator, *, auc: float = 0.80
) -> tuple[Any, Any, Any]:
    """``(y, challenger, champion)`` with true AUCs ``auc + delta`` and ``auc``."""
    y = rng.random(n) < 0.25
    noise = rng.multivariate_normal([0.0, 0.0], [[1.0, 0.7], [0.7, 1.0]], size=n)
    mu_c, mu_b = (math.sqrt(2) * norm.ppf(a) for a in (auc + delta, auc))
    challenger = norm.cdf(mu_c * y + noise[:, 0] - mu_c / 2)
    champion = norm.cdf(mu_b * y + noise[:, 1] - mu_b / 2)
    return y.astype(np.int64), challenger, champion


def simulate(
    n: int, delta: float, repeats: int, bootstrap_repeats: int, seed: int
) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    passes = dict.fromkeys([*GATES, "bootstrap superiority"], 0)
    ses: list[float] = []
    for i in range(repeats):
        y, challenger, champion = binormal_pair(n, delta, rng)
        for name, spec in GATES.items():
            report = evaluate_gates(
                spec, y_true=y, challenger_scores=challenger, champion_scores=champion
            )
            passes[name] += report.passed
            if name == "DeLong superiority":
                ses.append(report.gates[0].se or 0.0)
        if i < bootstrap_repeats:
            report = evaluate_gates(
                BOOTSTRAP, y_true=y, challenger_scores=challenger, champion_scores=champion
            )
            passes["bootstrap superiority"] += report.passed
    rates = {
        name: count / (bootstrap_repeats if name == "bootstrap superiority" else repeats)
        for name, count in passes.items()
    }
    return {
        "rows": n,
        "delta": delta,
        "repeats": repeats,
        "bootstrap_repeats": bootstrap_repeats,
        "pass_rate": rates,
        "mean_se": float(np.mean(ses)),
    }


def table(results: list[dict[str, Any]]) -> str:
    names = [*GATES, "bootstrap superiority"]
    lines = [
        "| eval rows | true ΔAUC | " + " | ".join(names) + " | mean SE(ΔAUC) |",
        "| --- | --- | " + " | ".join("---" for _ in names) + " | --- |",
    ]
    for r in results:
        cells = " | ".join(f"{r['pass_rate'][name]:.3f}" for name in names)
        lines.append(f"| {r['rows']:,} | {r['delta']:+.2f} | {cells} | {r['mean_se']:.4f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 holdouts a cell (bootstrap 60)")
    parser.add_argument("--repeats", type=int, help="holdouts per cell (default 1,000)")
    parser.add_argument("--bootstrap-repeats", type=int, help="of which bootstrapped (300)")
    parser.add_argument("--json", action="store_true", help="JSON instead of the table")
    args = parser.parse_args(argv)
    repeats = args.repeats or (200 if args.quick else 1000)
    bootstrap_repeats = min(repeats, args.bootstrap_repeats or (60 if args.quick else 300))
    results = []
    started = time.perf_counter()
    for i, n in enumerate(ROWS):
        for j, delta in enumerate(DELTAS):
            print(f"rows {n}, ΔAUC {delta:+.2f}...", file=sys.stderr)
            results.append(simulate(n, delta, repeats, bootstrap_repeats, seed=1000 * i + j))
    elapsed = time.perf_counter() - started
    if args.json:
        print(json.dumps({"results": results, "seconds": round(elapsed, 1)}, indent=2))
    else:
        print(table(results))
        print(
            f"\n{repeats:,} holdouts a cell ({bootstrap_repeats:,} bootstrapped), {elapsed:.0f} s."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
