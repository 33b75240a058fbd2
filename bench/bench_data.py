"""Data benchmark: the snapshot writer against pyarrow's own Parquet writer, and its memory.

Measures, in one run:

* **write time**: a generated table of 1M rows x 25 columns (10 float, 10 integer and 5
  categorical string columns) written by plain ``pyarrow.parquet.write_table`` (the
  baseline) and by conveyor's ``write_snapshot`` (deterministic row groups, pinned options,
  sha256 while writing) fed from ``make_source(table).iter_batches()``; and the ratio.
* **peak memory**: a 10M-row source (the same columns, generated once into a Parquet or CSV
  file in a temp dir) snapshotted through ``make_source(path)`` + ``write_snapshot`` in a
  child process, whose ``ru_maxrss`` is read against the 1 GiB target. A child that only
  imports pyarrow and conveyor.data gives the floor.

The snapshot's time target (at most 1.5x ``write_table``) counts the column statistics
computed beside the writer; :func:`bench_with_statistics` and :func:`bench_validation` are
where those figures go once the profiler and the validator exist.

Usage::

    .venv/bin/python bench/bench_data.py                   # full run, table
    .venv/bin/python bench/bench_data.py --quick           # 200k rows, a 2M-row source
    .venv/bin/python bench/bench_data.py --json            # JSON instead of the table
    .venv/bin/python bench/bench_data.py --big-format csv  # the big source as CSV
    .venv/bin/python bench/bench_data.py --rows 500000 --big-rows 5000000 --repeat 5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

TARGET_RATIO = 1.5  # snapshot (with statistics) / write_table
TARGET_RSS_BYTES = 1 << 30  # peak memory snapshotting the big source
N_FLOAT, N_INT, N_CATEGORY = 10, 10, 5
CATEGORIES = 1000  # distinct values per categorical column


@dataclass(frozen=True)
class Sizes:
    rows: int = 1_000_000  # the write-time table
    big_rows: int = 10_000_000  # the memory source
    repeat: int = 3  # timed writes of each kind; the median is reported


FULL = Sizes()
QUICK = Sizes(rows=200_000, big_rows=2_000_000, repeat=2)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- data -------------------------------------------------------------------------------


def make_table(n_rows: int, seed: int = 0) -> Any:
    """``n_rows`` x 25 columns: 10 float64, 10 int64 (small to id-like ranges), 5 strings."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    columns: dict[str, Any] = {}
    for i in range(N_FLOAT):
        columns[f"f{i}"] = rng.normal(size=n_rows)
    for i in range(N_INT):
        columns[f"i{i}"] = rng.integers(0, 10 ** (i % 7 + 1), size=n_rows)
    labels = np.array([f"category_{k:04d}" for k in range(CATEGORIES)])
    for i in range(N_CATEGORY):
        columns[f"c{i}"] = pa.array(labels[rng.integers(0, 10 ** (i % 3 + 1), size=n_rows)])
    return pa.table(columns)


def make_big_source(folder: Path, n_rows: int, fmt: str) -> Path:
    """A ``fmt`` file of ``n_rows`` rows, written chunk by chunk (never all in memory)."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    path = folder / f"big_{n_rows}.{fmt}"
    if path.exists():
        return path
    chunk = 1_000_000
    schema = make_table(1).schema
    partial = path.with_suffix(".partial")
    writer: Any = (
        pq.ParquetWriter(partial, schema) if fmt == "parquet" else pacsv.CSVWriter(partial, schema)
    )
    with writer:
        for start in range(0, n_rows, chunk):
            writer.write_table(make_table(min(chunk, n_rows - start), seed=start))
    partial.rename(path)
    return path


# --- timing -----------------------------------------------------------------------------


def _seconds(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def bench_write(table: Any, folder: Path, repeat: int) -> dict[str, Any]:
    """``write_table`` vs ``write_snapshot`` of the same table, alternated, median of each."""
    import pyarrow.parquet as pq

    from conveyor.data._sources import make_source
    from conveyor.data._writer import write_snapshot

    plain = folder / "plain.parquet"
    snap = folder / "snapshot.parquet"
    pq.write_table(table, plain)  # warm-up: imports, page cache, allocator
    written = write_snapshot(make_source(table).iter_batches(), snap)

    def snapshot() -> None:
        write_snapshot(make_source(table).iter_batches(), snap)

    baseline_runs: list[float] = []
    snapshot_runs: list[float] = []
    for _ in range(repeat):  # alternated, so a noisy moment hits both alike
        baseline_runs.append(_seconds(lambda: pq.write_table(table, plain)))
        snapshot_runs.append(_seconds(snapshot))
    baseline = statistics.median(baseline_runs)
    snapshot = statistics.median(snapshot_runs)
    return {
        "rows": table.num_rows,
        "columns": table.num_columns,
        "table_bytes": table.nbytes,
        "baseline": {"runs_s": baseline_runs, "median_s": baseline, "best_s": min(baseline_runs)},
        "baseline_file_bytes": plain.stat().st_size,
        "snapshot": {"runs_s": snapshot_runs, "median_s": snapshot, "best_s": min(snapshot_runs)},
        "snapshot_file_bytes": written.n_bytes,
        "ratio": snapshot / baseline,
    }


def bench_with_statistics(table: Any, folder: Path, repeat: int) -> dict[str, Any] | None:
    """``write_snapshot`` with the profiler fed from ``on_batch`` (in its own thread).

    Not measured yet: the profiler (``conveyor.data._profile``) is built elsewhere. This is
    where its figure goes, timed like :func:`bench_write`'s snapshot and compared with the
    same run's baseline against :data:`TARGET_RATIO`. Return None to print "not measured".
    """
    return None


def bench_validation(table: Any, folder: Path, repeat: int) -> dict[str, Any] | None:
    """Schema validation of the same table: the place for its figure (not measured yet)."""
    return None


# --- memory (child process) -------------------------------------------------------------


def child_snapshot(source: str, dest: str) -> dict[str, Any]:
    """Run in a child: snapshot ``source`` into ``dest``; report time, rows and peak RSS."""
    from conveyor.data._sources import make_source
    from conveyor.data._writer import write_snapshot

    n_batches = 0
    largest = 0

    def count(batch: Any) -> None:
        nonlocal n_batches, largest
        n_batches += 1
        largest = max(largest, batch.num_rows)

    started = time.perf_counter()
    written = write_snapshot(make_source(source).iter_batches(), dest, on_batch=count)
    return {
        "seconds": time.perf_counter() - started,
        "rows": written.n_rows,
        "file_bytes": written.n_bytes,
        "batches": n_batches,
        "largest_batch_rows": largest,
        "max_rss_bytes": _max_rss_bytes(),
        "hwm_bytes": _hwm_bytes(),
    }


def child_floor() -> dict[str, Any]:
    """Run in a child: import what a snapshot imports and nothing else; the RSS floor."""
    import importlib

    for module in (
        "pyarrow.dataset",
        "pyarrow.parquet",
        "conveyor.data._sources",
        "conveyor.data._writer",
    ):
        importlib.import_module(module)
    return {"max_rss_bytes": _max_rss_bytes(), "hwm_bytes": _hwm_bytes()}


def child_generate(folder: str, n_rows: str, fmt: str) -> dict[str, Any]:
    """Run in a child: make the big source (so the parent never holds its memory)."""
    started = time.perf_counter()
    path = make_big_source(Path(folder), int(n_rows), fmt)
    return {"path": str(path), "seconds": time.perf_counter() - started}


def _max_rss_bytes() -> int:
    # ru_maxrss is in KiB on Linux, in bytes on macOS.
    scale = 1 if sys.platform == "darwin" else 1024
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * scale


def _hwm_bytes() -> int | None:
    """VmHWM: this process's own peak (Linux). ru_maxrss also counts the parent's resident
    memory at the fork (Linux carries it over), hence the parent stays small meanwhile."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _run_child(*args: str) -> dict[str, Any]:
    env = dict(os.environ)
    src = str(BENCH_DIR.parent / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"the child failed ({out.returncode}): {out.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def bench_memory(folder: Path, n_rows: int, fmt: str) -> dict[str, Any]:
    """The big source's snapshot in a child; run while this process is still small."""
    log(f"generating the {n_rows:,}-row {fmt} source (once, in a child)...")
    made = _run_child("generate", str(folder), str(n_rows), fmt)
    path = Path(made["path"])
    log(f"snapshotting it in a child process ({path.stat().st_size / 1e6:,.0f} MB)...")
    floor = _run_child("floor")
    dest = folder / "big_snapshot.parquet"
    snap = _run_child("snapshot", str(path), str(dest))
    dest.unlink(missing_ok=True)
    return {
        "format": fmt,
        "source_bytes": path.stat().st_size,
        "generated_s": made["seconds"],
        "floor_rss_bytes": floor["max_rss_bytes"],
        "floor_hwm_bytes": floor["hwm_bytes"],
        "parent_rss_bytes": _max_rss_bytes(),
        **snap,
        "target_rss_bytes": TARGET_RSS_BYTES,
        "target_met": snap["max_rss_bytes"] <= TARGET_RSS_BYTES,
    }


# --- report -----------------------------------------------------------------------------


def _mib(n_bytes: float) -> str:
    return f"{n_bytes / (1 << 20):,.0f} MiB"


def render_text(report: dict[str, Any]) -> str:
    from bench_store import align_table

    meta = report["meta"]
    write = report["write"]
    base = write["baseline"]
    lines = [
        "conveyor data benchmark" + (" (--quick)" if meta["quick"] else ""),
        f"conveyor {meta['conveyor']}, Python {meta['python']}, pyarrow {meta['pyarrow']}",
        f"{meta['cpus']} CPUs, load average {meta['load_before']} before / "
        f"{meta['load_after']} after; {meta['elapsed_s']:.0f} s in all",
        "",
        f"Write time: {write['rows']:,} rows x {write['columns']} columns "
        f"({_mib(write['table_bytes'])} in memory), median of {len(base['runs_s'])} runs",
        "",
    ]
    header = ("writer", "median s", "best s", "file", "vs write_table", "target")
    body = [
        (
            "pyarrow.parquet.write_table",
            f"{base['median_s']:.3f}",
            f"{base['best_s']:.3f}",
            _mib(write["baseline_file_bytes"]),
            "baseline",
            "-",
        ),
        (
            "write_snapshot (no statistics)",
            f"{write['snapshot']['median_s']:.3f}",
            f"{write['snapshot']['best_s']:.3f}",
            _mib(write["snapshot_file_bytes"]),
            f"{write['ratio']:.2f}x",
            f"<= {TARGET_RATIO}x with statistics",
        ),
    ]
    for label, key in (
        ("write_snapshot + statistics", "with_statistics"),
        ("validation", "validation"),
    ):
        figure = report.get(key)
        if figure is None:
            body.append((label, "-", "-", "-", "not measured yet", "-"))
        else:
            ratio = figure["median_s"] / base["median_s"]
            verdict = "ok" if ratio <= TARGET_RATIO else "MISSED"
            body.append(
                (
                    label,
                    f"{figure['median_s']:.3f}",
                    f"{figure['best_s']:.3f}",
                    "-",
                    f"{ratio:.2f}x",
                    f"<= {TARGET_RATIO}x {verdict}" if key == "with_statistics" else "-",
                )
            )
    lines.append(align_table(header, body, left={0, 5}))
    memory = report.get("memory")
    if memory:
        verdict = "ok" if memory["target_met"] else "MISSED"
        lines += [
            "",
            f"Peak memory: make_source(path) + write_snapshot of a {memory['rows']:,}-row "
            f"{memory['format']} file ({_mib(memory['source_bytes'])}), in a child process",
            "",
            align_table(
                ("run", "peak RSS", "seconds", "batches", "largest batch", "snapshot", "target"),
                [
                    ("imports only (floor)", _mib(memory["floor_rss_bytes"]), *["-"] * 5),
                    (
                        "snapshot",
                        _mib(memory["max_rss_bytes"]),
                        f"{memory['seconds']:.1f}",
                        f"{memory['batches']:,}",
                        f"{memory['largest_batch_rows']:,} rows",
                        _mib(memory["file_bytes"]),
                        f"<= {_mib(TARGET_RSS_BYTES)} {verdict}",
                    ),
                ],
                left={0, 6},
            ),
        ]
    lines += [
        "",
        "vs write_table = median write_snapshot time / median write_table time, alternated in "
        "this run. write_snapshot is fed by make_source(table).iter_batches() (65,536-row "
        "batches) and hashes the file while writing.",
        f"The {TARGET_RATIO}x target counts column statistics computed beside the writer "
        "(not measured yet: see bench_with_statistics).",
    ]
    for what, why in report["skipped"].items():
        lines.append(f"skipped {what}: {why}")
    return "\n".join(lines)


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Snapshot write time vs pyarrow's write_table, and peak memory."
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--rows", type=int, help="rows of the write-time table (default 1M)")
    parser.add_argument("--big-rows", type=int, help="rows of the memory source (default 10M)")
    parser.add_argument("--big-format", choices=["parquet", "csv"], default="parquet")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory run")
    parser.add_argument("--repeat", type=int, help="timed writes of each kind (default 3)")
    parser.add_argument("--tmpdir", help="where the files go (default: the system temp)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:  # the memory run's children: one JSON line on stdout
        kind, *rest = args.child
        children = {"floor": child_floor, "generate": child_generate, "snapshot": child_snapshot}
        print(json.dumps(children[kind](*rest)))
        return 0

    base = QUICK if args.quick else FULL
    sizes = Sizes(
        rows=args.rows or base.rows,
        big_rows=args.big_rows or base.big_rows,
        repeat=args.repeat or base.repeat,
    )
    started = time.perf_counter()
    meta: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_before": _load(),
        "quick": args.quick,
        "sizes": sizes.__dict__,
    }
    report: dict[str, Any] = {"meta": meta, "skipped": {}}
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-data-", dir=args.tmpdir) as tmp:
        folder = Path(tmp)
        # The memory run first: a child's ru_maxrss includes this process's resident memory
        # when it was started, so nothing large may be loaded here before.
        if args.no_memory:
            report["skipped"]["memory"] = "--no-memory"
        else:
            report["memory"] = bench_memory(folder, sizes.big_rows, args.big_format)
        import pyarrow as pa

        import conveyor

        meta["conveyor"] = conveyor.__version__
        meta["pyarrow"] = pa.__version__
        log(f"generating {sizes.rows:,} rows x 25 columns...")
        table = make_table(sizes.rows)
        log("timing write_table vs write_snapshot...")
        report["write"] = bench_write(table, folder, sizes.repeat)
        report["with_statistics"] = bench_with_statistics(table, folder, sizes.repeat)
        report["validation"] = bench_validation(table, folder, sizes.repeat)
    meta["load_after"] = _load()
    meta["elapsed_s"] = time.perf_counter() - started
    print(json.dumps(report, indent=2) if args.json else render_text(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
