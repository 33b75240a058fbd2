"""Drift benchmark: conveyor's drift statistics against Evidently 0.7's ``DataDriftPreset``,
on the same data, in the same run.

Measures, for a reference and a current table of N rows each (N = 100,000, then
1,000,000) with 20 numeric and 5 categorical columns, some shifted by known amounts:

* **time**: conveyor's ``prepare_reference`` (built once per reference in a monitor) and
  ``detect_drift`` with the default choice of test, and their sum; Evidently's
  ``Report([DataDriftPreset()]).run(...)`` (``Dataset.from_pandas`` included); each with
  and without the time to import the tool;
* **peak memory**: each tool in its own subprocess, peak RSS (``VmHWM``, reset through
  ``/proc/self/clear_refs``) over the process's RSS after its imports and a warm-up run
  on 2,000 rows (which pays first-use costs such as Arrow's reader threads): reading the
  two Parquet files (pyarrow Tables for conveyor, pandas DataFrames for Evidently) and
  computing; and the computation alone (peak over the RSS once the data is loaded);
* **null distributions** (conveyor only, no Evidently counterpart): ``null_statistics``
  of every column, 2,000 draws of 1,000 rows;
* **decisions**: per column, the method and threshold each tool chose and whether it found
  drift; any column where they differ is listed with both scores.

Targets (the monitoring issue): at least 10x faster than Evidently and at most half its
memory, with the same decisions. Evidently runs from its own venv,
``bench/.venvs/evidently`` (``evidently==0.7.23``, ``pandas<3``), built on first use.

Usage::

    .venv/bin/python bench/bench_drift.py                  # 100k and 1M rows, table
    .venv/bin/python bench/bench_drift.py --quick          # 1,000 and 20,000 rows
    .venv/bin/python bench/bench_drift.py --rows 50000     # one size (or a comma list)
    .venv/bin/python bench/bench_drift.py --only conveyor  # or: evidently
    .venv/bin/python bench/bench_drift.py --json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

TARGET_SPEEDUP = 10.0  # Evidently's compute time / conveyor's
TARGET_MEMORY = 0.5  # conveyor's peak / Evidently's
EVIDENTLY_VENV = BENCH_DIR / ".venvs" / "evidently"
# pandas 3 removed a function Evidently 0.7.23 imports (infer_dtype_from_object).
EVIDENTLY_REQUIREMENTS = ["evidently==0.7.23", "pandas<3"]
EVIDENTLY_PROBE = "import evidently, evidently.presets; print(evidently.__version__)"
MIB = 1024 * 1024
# Each worker first runs its tool on tables this small, so that first-use costs are not
# counted as the data's or the computation's.
WARM_UP_ROWS = 2000


@dataclass(frozen=True)
class Column:
    """One generated column and how the current window moves it."""

    name: str
    kind: str  # numeric | categorical
    shift: str  # what the current side changes, "none" for a steady column


# 20 numeric and 5 categorical columns: about half shifted, from far past any threshold to
# near it, the rest steady.
COLUMNS = [
    Column("n00_normal", "numeric", "none"),
    Column("n01_normal", "numeric", "mean +0.02 sd"),
    Column("n02_normal", "numeric", "mean +0.05 sd"),
    Column("n03_normal", "numeric", "mean +0.2 sd"),
    Column("n04_normal", "numeric", "mean +0.5 sd"),
    Column("n05_normal", "numeric", "sd x1.1"),
    Column("n06_normal", "numeric", "sd x1.5"),
    Column("n07_normal", "numeric", "none"),
    Column("n08_normal", "numeric", "none"),
    Column("n09_uniform", "numeric", "none"),
    Column("n10_lognormal", "numeric", "none"),
    Column("n11_lognormal", "numeric", "values x1.1"),
    Column("n12_exponential", "numeric", "none"),
    Column("n13_exponential", "numeric", "rate /1.3"),
    Column("n14_mixture", "numeric", "second mode 10% -> 30%"),
    Column("n15_age", "numeric", "none"),
    Column("n16_age", "numeric", "+3 years"),
    Column("n17_count", "numeric", "none"),
    Column("n18_nan5pct", "numeric", "none"),
    Column("n19_null10pct", "numeric", "mean +0.15 sd"),
    Column("c0_three", "categorical", "none"),
    Column("c1_ten", "categorical", "shares moved"),
    Column("c2_hundred", "categorical", "1% new categories"),
    Column("c3_flag", "categorical", "true 30% -> 33%"),
    Column("c4_code", "categorical", "none"),
]
KINDS = {c.name: c.kind for c in COLUMNS}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- data -------------------------------------------------------------------------------


def make_table(n_rows: int, seed: int, shifted: bool) -> Any:
    """The reference (``shifted=False``) or current table: ``COLUMNS``, seeded."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    s = shifted

    def normal(mean: float = 0.0, sd: float = 1.0) -> Any:
        return rng.normal(mean, sd, n_rows)

    def mixture(share: float) -> Any:
        return np.where(rng.random(n_rows) < share, rng.normal(4, 0.5, n_rows), normal())

    def choice(labels: Any, p: Any) -> Any:
        return pa.array(np.asarray(labels)[rng.choice(len(labels), n_rows, p=p)])

    ten = [f"level_{i}" for i in range(10)]
    ten_p = np.linspace(1, 2, 10) / np.linspace(1, 2, 10).sum()
    moved_p = ten_p[::-1] * 0.3 + ten_p * 0.7
    hundred = [f"item_{i:03d}" for i in range(110)]
    hundred_p = np.r_[np.full(100, 1 / 100), np.zeros(10)]
    new_p = np.r_[np.full(100, 0.99 / 100), np.full(10, 0.001)]
    nan5 = normal(5, 2)
    nan5[rng.random(n_rows) < 0.05] = np.nan
    null10 = normal(0.15 if s else 0.0)
    columns = {
        "n00_normal": normal(),
        "n01_normal": normal(0.02 if s else 0.0),
        "n02_normal": normal(0.05 if s else 0.0),
        "n03_normal": normal(0.2 if s else 0.0),
        "n04_normal": normal(0.5 if s else 0.0),
        "n05_normal": normal(0.0, 1.1 if s else 1.0),
        "n06_normal": normal(0.0, 1.5 if s else 1.0),
        "n07_normal": normal(10, 3),
        "n08_normal": normal(-2, 0.1),
        "n09_uniform": rng.uniform(0, 100, n_rows),
        "n10_lognormal": rng.lognormal(0, 1, n_rows),
        "n11_lognormal": rng.lognormal(0, 1, n_rows) * (1.1 if s else 1.0),
        "n12_exponential": rng.exponential(1.0, n_rows),
        "n13_exponential": rng.exponential(1.3 if s else 1.0, n_rows),
        "n14_mixture": mixture(0.3 if s else 0.1),
        "n15_age": rng.integers(18, 90, n_rows),
        "n16_age": rng.integers(18, 90, n_rows) + (3 if s else 0),
        "n17_count": rng.poisson(20, n_rows),
        "n18_nan5pct": nan5,
        "n19_null10pct": pa.array(null10, mask=rng.random(n_rows) < 0.1),
        "c0_three": choice(["red", "green", "blue"], [0.5, 0.3, 0.2]),
        "c1_ten": choice(ten, moved_p if s else ten_p),
        "c2_hundred": choice(hundred, new_p if s else hundred_p),
        "c3_flag": pa.array(rng.random(n_rows) < (0.33 if s else 0.3)),
        "c4_code": rng.integers(1, 6, n_rows),
    }
    assert list(columns) == [c.name for c in COLUMNS]
    return pa.table(columns)


def write_data(folder: Path, n_rows: int, seed: int) -> tuple[Path, Path]:
    import pyarrow.parquet as pq

    paths = (folder / f"reference_{n_rows}.parquet", folder / f"current_{n_rows}.parquet")
    for path, shifted, offset in zip(paths, (False, True), (0, 1), strict=True):
        if not path.exists():
            pq.write_table(make_table(n_rows, seed * 2 + offset, shifted), path)
    return paths


# --- runs -------------------------------------------------------------------------------


def run_conveyor(
    paths: tuple[Path, Path], warm: tuple[Path, Path], repeat: int
) -> tuple[dict[str, Any] | None, str]:
    from bench_store import run_baseline

    args = [sys.executable, str(BENCH_DIR / "_conveyor_drift.py"), *map(str, paths)]
    args += [json.dumps(KINDS), *map(str, warm), f"--repeat={repeat}"]
    return run_baseline(args, env=dict(os.environ), what="conveyor drift")


def run_evidently(
    paths: tuple[Path, Path], warm: tuple[Path, Path], repeat: int
) -> tuple[dict[str, Any] | None, str]:
    from bench_store import baseline_env, ensure_venv, run_baseline

    python, why = ensure_venv(
        EVIDENTLY_VENV, EVIDENTLY_REQUIREMENTS, what="Evidently", probe=EVIDENTLY_PROBE
    )
    if python is None:
        return None, why
    args = [str(python), str(BENCH_DIR / "_evidently_drift.py"), *map(str, paths)]
    args += [json.dumps(KINDS), *map(str, warm), f"--repeat={repeat}"]
    env = baseline_env("EVIDENTLY_", DO_NOT_TRACK="1")
    return run_baseline(args, env=env, what="Evidently")


def compare_decisions(ours: dict[str, Any], theirs: dict[str, Any]) -> list[dict[str, Any]]:
    """Columns where the method, the threshold or the verdict differs, with both scores."""
    differ = []
    for name in KINDS:
        a, b = ours["columns"][name], theirs["columns"][name]
        if any(a[key] != b[key] for key in ("method", "threshold", "drifted")):
            differ.append({"column": name, "conveyor": a, "evidently": b})
    return differ


def largest_score_gap(ours: dict[str, Any], theirs: dict[str, Any]) -> float:
    gaps = [
        abs(ours["columns"][n]["score"] - theirs["columns"][n]["score"])
        / max(1.0, abs(theirs["columns"][n]["score"]))
        for n in KINDS
        if ours["columns"][n]["method"] == theirs["columns"][n]["method"]
    ]
    return max(gaps, default=0.0)


# --- report -----------------------------------------------------------------------------


def _mib(value: int | None) -> str:
    return "-" if value is None else f"{value / MIB:,.0f}"


def _s(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if value < 10 else f"{value:,.1f}"


def render_text(report: dict[str, Any]) -> str:
    from bench_store import align_table

    meta = report["meta"]
    lines = [
        "conveyor drift benchmark" + (" (--quick)" if meta["quick"] else ""),
        f"conveyor {meta['conveyor']}, Python {meta['python']}, numpy {meta['numpy']}, "
        f"pyarrow {meta['pyarrow']}, scipy {meta['scipy']}"
        + (
            f"; Evidently {meta['evidently']} (pandas {meta['pandas']})"
            if "evidently" in meta
            else ""
        ),
        f"{meta['cpus']} CPUs, load average {meta['load_before']} before / "
        f"{meta['load_after']} after; {meta['elapsed_s']:.0f} s in all",
        f"{len(COLUMNS)} columns: {sum(c.kind == 'numeric' for c in COLUMNS)} numeric, "
        f"{sum(c.kind == 'categorical' for c in COLUMNS)} categorical; "
        f"{sum(c.shift != 'none' for c in COLUMNS)} shifted",
        "",
    ]
    header = (
        "rows",
        "tool",
        "import s",
        "load s",
        "prepare s",
        "compare s",
        "compute s",
        "+ import s",
        "peak MiB",
        "compute MiB",
        "drifted",
    )
    body = []
    for size in report["sizes"]:
        for tool in ("conveyor", "evidently"):
            r = size.get(tool)
            if r is None:
                continue
            n_drifted = sum(c["drifted"] for c in r["columns"].values())
            body.append(
                (
                    f"{size['rows']:,}",
                    tool,
                    _s(r["import_s"]),
                    _s(r["load_s"]),
                    _s(r.get("prepare_s")),
                    _s(r.get("compare_s")),
                    _s(r["compute_s"]),
                    _s(r["compute_s"] + r["import_s"]),
                    _mib(r["peak_bytes"]),
                    _mib(r["compute_peak_bytes"]),
                    f"{n_drifted}/{len(r['columns'])}",
                )
            )
    lines.append(align_table(header, body, left={1}))
    for size in report["sizes"]:
        ours = size.get("conveyor")
        if ours and ours.get("null_s") is not None:
            lines.append(
                f"conveyor null distributions at {size['rows']:,} rows: {ours['null_draws']:,} "
                f"draws of {ours['null_window']:,} rows for each of the {len(COLUMNS)} "
                f"columns in {ours['null_s']:.2f} s; prepared reference "
                f"{ours['reference_bytes'] / MIB:,.1f} MiB as bytes"
            )
    ratios = [s for s in report["sizes"] if "ratios" in s]
    if ratios:
        lines += [
            "",
            "Evidently / conveyor (time) and conveyor / Evidently (memory), same run:",
            "",
        ]
        header = (
            "rows",
            "speedup",
            "+ import",
            "memory",
            "compute memory",
            "same decisions",
            "largest score gap",
            "target",
        )
        body = []
        for size in ratios:
            x = size["ratios"]
            met = (
                x["speedup"] >= TARGET_SPEEDUP
                and x["memory"] <= TARGET_MEMORY
                and not size["differences"]
            )
            body.append(
                (
                    f"{size['rows']:,}",
                    f"{x['speedup']:.1f}x",
                    f"{x['speedup_with_import']:.1f}x",
                    f"{x['memory']:.2f}",
                    "-" if x["compute_memory"] is None else f"{x['compute_memory']:.2f}",
                    "yes" if not size["differences"] else f"no ({len(size['differences'])})",
                    f"{size['score_gap']:.1e}",
                    f">= {TARGET_SPEEDUP:g}x, <= {TARGET_MEMORY:g} {'ok' if met else 'MISSED'}",
                )
            )
        lines.append(align_table(header, body, left={7}))
        for size in ratios:
            for d in size["differences"]:
                a, b = d["conveyor"], d["evidently"]
                lines.append(
                    f"  {size['rows']:,} rows, {d['column']}: conveyor {a['method']} "
                    f"{a['score']:.6g} drift={a['drifted']}; Evidently {b['method']} "
                    f"{b['score']:.6g} drift={b['drifted']}"
                )
    lines += ["", "Per-column decisions (conveyor; Evidently where it differs):", ""]
    last = report["sizes"][-1]
    ours, theirs = last.get("conveyor"), last.get("evidently")
    body = []
    for column in COLUMNS:
        a = ours["columns"][column.name] if ours else None
        b = theirs["columns"][column.name] if theirs else None
        main = a or b
        assert main is not None
        other = ""
        if a and b and (a["method"] != b["method"] or a["drifted"] != b["drifted"]):
            other = f"Evidently: {b['method']} {b['score']:.4g} drift={b['drifted']}"
        body.append(
            (
                column.name,
                column.shift,
                str(main["method"]),
                f"{main['score']:.4g}",
                "drift" if main["drifted"] else "-",
                other,
            )
        )
    lines.append(f"({last['rows']:,} rows)")
    lines.append(
        align_table(
            ("column", "shift", "method", "score", "verdict", ""), body, left={0, 1, 2, 4, 5}
        )
    )
    lines += [
        "",
        "score: the p-value for ks, chisquare and z; the distance for wasserstein (normed), "
        "jensenshannon and psi.",
        "peak MiB: peak RSS over the RSS after imports and a warm-up on 2,000 rows (reading "
        "the data included); compute MiB: peak over the RSS with the data loaded.",
    ]
    for what, why in report["skipped"].items():
        lines.append(f"skipped {what}: {why}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Drift of 25 columns: conveyor vs Evidently 0.7's DataDriftPreset."
    )
    parser.add_argument("--rows", help="rows per side, a comma list (default 100000,1000000)")
    parser.add_argument("--quick", action="store_true", help="1,000 and 20,000 rows")
    parser.add_argument("--only", choices=("conveyor", "evidently"), help="run one tool")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs per tool (median)")
    parser.add_argument("--seed", type=int, default=0, help="the data's seed (default 0)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.add_argument("--tmpdir", help="where the Parquet files go (default: system temp)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import numpy
    import pyarrow
    import scipy
    from bench_store import _load

    import conveyor

    if args.rows:
        try:
            sizes = [int(r.replace("_", "")) for r in args.rows.split(",") if r.strip()]
        except ValueError:
            print(
                f"--rows takes whole numbers, comma-separated. Got {args.rows!r}.", file=sys.stderr
            )
            return 2
    else:
        sizes = [1_000, 20_000] if args.quick else [100_000, 1_000_000]
    started = time.perf_counter()
    meta: dict[str, Any] = {
        "conveyor": conveyor.__version__,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "pyarrow": pyarrow.__version__,
        "scipy": scipy.__version__,
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_before": _load(),
        "quick": args.quick,
        "seed": args.seed,
    }
    report: dict[str, Any] = {"meta": meta, "sizes": [], "skipped": {}}
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-drift-", dir=args.tmpdir) as tmp:
        warm = write_data(Path(tmp), WARM_UP_ROWS, args.seed + 1)
        for n_rows in sizes:
            log(f"{n_rows:,} rows: writing the data...")
            paths = write_data(Path(tmp), n_rows, args.seed)
            size: dict[str, Any] = {"rows": n_rows}
            if args.only != "evidently":
                log(f"{n_rows:,} rows: conveyor...")
                ours, why = run_conveyor(paths, warm, args.repeat)
                if ours is None:
                    report["skipped"][f"conveyor at {n_rows:,}"] = why
                size["conveyor"] = ours
            if args.only != "conveyor":
                log(f"{n_rows:,} rows: Evidently...")
                theirs, why = run_evidently(paths, warm, args.repeat)
                if theirs is None:
                    report["skipped"][f"evidently at {n_rows:,}"] = why
                else:
                    meta["evidently"], meta["pandas"] = theirs["version"], theirs["pandas"]
                size["evidently"] = theirs
            ours, theirs = size.get("conveyor"), size.get("evidently")
            if ours and theirs:
                size["differences"] = compare_decisions(ours, theirs)
                size["score_gap"] = largest_score_gap(ours, theirs)
                compute = (ours["compute_peak_bytes"], theirs["compute_peak_bytes"])
                size["ratios"] = {
                    "speedup": theirs["compute_s"] / ours["compute_s"],
                    "speedup_with_import": (theirs["compute_s"] + theirs["import_s"])
                    / (ours["compute_s"] + ours["import_s"]),
                    "memory": ours["peak_bytes"] / theirs["peak_bytes"],
                    "compute_memory": compute[0] / compute[1] if None not in compute else None,
                }
            report["sizes"].append(size)
    meta["load_after"] = _load()
    meta["elapsed_s"] = time.perf_counter() - started
    print(json.dumps(report, indent=2) if args.json else render_text(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
