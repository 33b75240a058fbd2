"""Data benchmark: snapshots against pyarrow's own Parquet writer, their memory, and
validation against plain pandera.

Measures, in one run:

* **write time**: a generated table of 1M rows x 25 columns (10 float, 10 integer and 5
  categorical string columns) written by plain ``pyarrow.parquet.write_table`` (the
  baseline), by conveyor's ``write_snapshot`` alone (deterministic row groups, pinned
  options, sha256 of the file), and by the whole ``conveyor.data.snapshot`` service
  (statistics in a second thread, the file into the artifact store, the metadata row), in
  a fresh project each run; target: the service at most 1.5x the baseline.
* **peak memory**: a 10M-row source (the same columns, generated once into a Parquet or CSV
  file in a temp dir) snapshotted by ``conveyor.data.snapshot`` in a child process, whose
  ``ru_maxrss`` is read against the 1 GiB target. A child that only imports what a snapshot
  imports gives the floor.
* **validation**: ``validate_data`` against a schema inferred from the table, next to plain
  pandera validating the same DataFrame with the equivalent ``DataFrameSchema``.

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
import shutil
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


def bench_with_statistics(table: Any, folder: Path, repeat: int) -> dict[str, Any]:
    """The whole ``conveyor.data.snapshot`` service on the same table: streaming write,
    statistics in a second thread, the file into the artifact store and the snapshot row
    into the metadata store; each run in a fresh project (nothing to deduplicate), against
    ``write_table`` timed alternately in the same loop."""
    import pyarrow.parquet as pq

    from conveyor.data import snapshot
    from conveyor.workspace import Workspace, init_project

    plain = folder / "plain-stats.parquet"

    def fresh() -> Workspace:
        root = Path(tempfile.mkdtemp(prefix="project-", dir=folder))
        init_project(root, name="bench")
        return Workspace.open(root, env={})

    ws = fresh()
    snapshot(ws, table, name="bench")  # warm-up
    ws.close()
    baseline_runs: list[float] = []
    service_runs: list[float] = []
    for _ in range(repeat):
        baseline_runs.append(_seconds(lambda: pq.write_table(table, plain)))
        with fresh() as project:
            started = time.perf_counter()
            snapshot(project, table, name="bench")
            service_runs.append(time.perf_counter() - started)
    baseline = statistics.median(baseline_runs)
    service = statistics.median(service_runs)
    return {
        "baseline": {"runs_s": baseline_runs, "median_s": baseline},
        "snapshot": {"runs_s": service_runs, "median_s": service, "best_s": min(service_runs)},
        "ratio": service / baseline,
        "target_ratio": TARGET_RATIO,
        "target_met": service / baseline <= TARGET_RATIO,
    }


def bench_validation(table: Any, folder: Path, repeat: int) -> dict[str, Any]:
    """``validate_data`` of the table against a schema inferred from it, next to plain
    pandera validating the same DataFrame with the equivalent ``DataFrameSchema`` (dtype,
    nullability, ``Check.ge``/``le``/``isin``; lazy, no coercion)."""
    import pandera.pandas as pdr

    from conveyor.data import infer_schema, validate_data

    frame = table.to_pandas()
    started = time.perf_counter()
    schema = infer_schema(table, dataset="bench")
    infer_s = time.perf_counter() - started
    columns = {}
    for name, spec in schema.columns.items():
        checks = []
        if spec.min is not None:
            checks.append(pdr.Check.ge(spec.min.value))
        if spec.max is not None:
            checks.append(pdr.Check.le(spec.max.value))
        if spec.categories is not None:
            checks.append(pdr.Check.isin(list(spec.categories.value)))
        nullable = spec.nullable.value if spec.nullable is not None else True
        columns[name] = pdr.Column(frame[name].dtype, checks, nullable=nullable, coerce=False)
    plain = pdr.DataFrameSchema(columns, coerce=False)
    report = validate_data(table, schema)  # warm-up, and the data must pass its own schema
    if not report.passed or report.violations:
        raise RuntimeError(f"the table broke its own inferred schema: {report.violations[:3]}")
    plain.validate(frame, lazy=True)
    plain_runs: list[float] = []
    table_runs: list[float] = []
    frame_runs: list[float] = []
    for _ in range(repeat):
        plain_runs.append(_seconds(lambda: plain.validate(frame, lazy=True)))
        table_runs.append(_seconds(lambda: validate_data(table, schema)))
        frame_runs.append(_seconds(lambda: validate_data(frame, schema)))
    base = statistics.median(plain_runs)
    return {
        "infer_s": infer_s,
        "pandera": {"runs_s": plain_runs, "median_s": base},
        "conveyor_table": {"runs_s": table_runs, "median_s": statistics.median(table_runs)},
        "conveyor_frame": {"runs_s": frame_runs, "median_s": statistics.median(frame_runs)},
        "ratio_table": statistics.median(table_runs) / base,
        "ratio_frame": statistics.median(frame_runs) / base,
    }


# --- memory (child process) -------------------------------------------------------------


def child_snapshot(source: str, dest: str) -> dict[str, Any]:
    """Run in a child: ``conveyor.data.snapshot`` of ``source`` (statistics included) in a
    fresh project under ``dest``; report time, rows, batch sizes and peak RSS."""
    from conveyor.data import snapshot
    from conveyor.data._sources import Source, make_source
    from conveyor.workspace import Workspace, init_project

    n_batches = 0
    largest = 0
    inner = make_source(source)

    class Counted(Source):  # the same source, counting the batches it yields
        def describe(self) -> str:
            return inner.describe()

        def spec(self) -> dict[str, Any]:
            return inner.spec()

        def scan(self) -> Any:
            return inner.scan()

        def _read(self, batch_rows: int) -> Any:
            nonlocal n_batches, largest
            for batch in inner.iter_batches(batch_rows):
                n_batches += 1
                largest = max(largest, batch.num_rows)
                yield batch

        def _diff(self, previous: Any, current: Any) -> Any:
            raise NotImplementedError

    init_project(dest, name="bench")
    with Workspace.open(dest, env={}) as ws:
        started = time.perf_counter()
        taken = snapshot(ws, Counted(), name="big")
        seconds = time.perf_counter() - started
        file_bytes = ws.artifacts.stat(taken.digest).size
    return {
        "seconds": seconds,
        "rows": taken.n_rows,
        "file_bytes": file_bytes,
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
        "conveyor.data._snapshots",
        "conveyor.data._profiler",
        "conveyor.workspace",
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
    dest = folder / "big-project"
    snap = _run_child("snapshot", str(path), str(dest))
    shutil.rmtree(dest, ignore_errors=True)
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
    stats = report.get("with_statistics")
    if stats is not None:
        verdict = "ok" if stats["target_met"] else "MISSED"
        body.append(
            (
                "conveyor.data.snapshot (statistics, store)",
                f"{stats['snapshot']['median_s']:.3f}",
                f"{stats['snapshot']['best_s']:.3f}",
                "-",
                f"{stats['ratio']:.2f}x",
                f"<= {TARGET_RATIO}x {verdict}",
            )
        )
    lines.append(align_table(header, body, left={0, 5}))
    memory = report.get("memory")
    if memory:
        verdict = "ok" if memory["target_met"] else "MISSED"
        lines += [
            "",
            "Peak memory: conveyor.data.snapshot (statistics included) of a "
            f"{memory['rows']:,}-row {memory['format']} file "
            f"({_mib(memory['source_bytes'])}), in a child process",
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
    validation = report.get("validation")
    if validation is not None:
        base_v = validation["pandera"]["median_s"]
        lines += [
            "",
            f"Validation of the same {write['rows']:,} rows against a 25-column schema "
            f"inferred from them (inference {validation['infer_s']:.2f} s), median of "
            f"{len(validation['pandera']['runs_s'])}",
            "",
            align_table(
                ("validator", "median s", "vs pandera"),
                [
                    ("pandera DataFrameSchema.validate (lazy)", f"{base_v:.3f}", "baseline"),
                    (
                        "conveyor validate_data(Arrow table)",
                        f"{validation['conveyor_table']['median_s']:.3f}",
                        f"{validation['ratio_table']:.2f}x",
                    ),
                    (
                        "conveyor validate_data(DataFrame)",
                        f"{validation['conveyor_frame']['median_s']:.3f}",
                        f"{validation['ratio_frame']:.2f}x",
                    ),
                ],
                left={0},
            ),
        ]
    lines += [
        "",
        "vs write_table = median time / median write_table time, alternated in this run. "
        "write_snapshot is fed by make_source(table).iter_batches() (65,536-row batches) and "
        "hashes the file once written; conveyor.data.snapshot adds the column statistics "
        "(a second thread), the copy into the artifact store and the metadata row, each run "
        "in a fresh project.",
    ]
    for what, why in report["skipped"].items():
        lines.append(f"skipped {what}: {why}")
    return "\n".join(lines)


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
    # Shared with the other benchmarks, imported here and not at the top: bench_store loads
    # the metadata store, which the memory children must not pay for.
    from bench_store import _load

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
