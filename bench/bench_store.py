"""Metadata-store benchmark: conveyor on SQLite and PostgreSQL, with MLflow as the baseline.

Measures, in one run and with one shared workload (``bench/_workload.py``):

* single metric writes per second (one ``log_metric`` call = one transaction),
* batched metric writes per second (``log_metrics`` with 1,000 metrics per call; MLflow's
  ``log_batch`` takes at most 1,000),
* run creation latency (``create_run``).

MLflow runs in its own venv, ``bench/.venvs/mlflow`` (built on first use), as a subprocess
(``bench/_mlflow_baseline.py``) against ``MlflowClient(tracking_uri="sqlite:///...")``.

Usage::

    .venv/bin/python bench/bench_store.py                 # full run, table
    .venv/bin/python bench/bench_store.py --quick         # small N (CI smoke)
    .venv/bin/python bench/bench_store.py --json          # JSON instead of the table
    .venv/bin/python bench/bench_store.py --no-mlflow --backends sqlite

PostgreSQL: ``CONVEYOR_BENCH_POSTGRES_URL``, else ``CONVEYOR_TEST_POSTGRES_URL``, else
``postgresql://postgres@127.0.0.1:5432/test``. The benchmark creates a fresh schema there
and drops it at the end; an unreachable server is skipped with the reason printed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from _workload import BATCH, OPERATIONS, RUNS, SINGLE, MetricRow, Sizes, measure  # noqa: E402

import conveyor  # noqa: E402
from conveyor.store import Store, create_run, log_metric, log_metrics, open_store  # noqa: E402

MLFLOW_VENV = BENCH_DIR / ".venvs" / "mlflow"
MLFLOW_SCRIPT = BENCH_DIR / "_mlflow_baseline.py"
# mlflow-skinny holds MLflow's tracking client and SQLAlchemy store; it leaves out the
# server/UI extras, so SQLAlchemy and Alembic are named here (bounds as the full package's).
MLFLOW_REQUIREMENTS = ["mlflow-skinny>=3,<4", "sqlalchemy>=1.4.0,<3", "alembic>=1.8,!=1.10.0,<2"]
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
PG_ENVS = ("CONVEYOR_BENCH_POSTGRES_URL", "CONVEYOR_TEST_POSTGRES_URL")

FULL = Sizes()
QUICK = Sizes(
    single=200,
    batched=10_000,
    runs=50,
    warmup_single=10,
    warmup_batches=1,
    warmup_runs=5,
)

LABELS = {
    SINGLE: "single metric",
    BATCH: "batched metrics",
    RUNS: "run creation",
}
# The targets, for conveyor on SQLite: (figure, comparison, bound).
TARGETS: dict[str, tuple[str, str, float]] = {
    SINGLE: ("rate_per_s", ">=", 1_700.0),
    BATCH: ("rate_per_s", ">=", 77_000.0),
    RUNS: ("mean_ms", "<=", 1.0),
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- conveyor ---------------------------------------------------------------------------


class ConveyorTarget:
    def __init__(self, store: Store) -> None:
        self.store = store

    def new_run(self) -> int:
        return create_run(self.store, "bench").id

    def log_metric(self, run_id: int, key: str, value: float, step: int, ts: int) -> None:
        log_metric(self.store, run_id, key, value, step=step, timestamp=ts)

    def log_batch(self, run_id: int, rows: list[MetricRow]) -> None:
        log_metrics(self.store, run_id, rows)


def bench_conveyor(url: str, sizes: Sizes) -> dict[str, Any]:
    store = open_store(url, project="bench")  # migrates the empty store: not timed
    try:
        return measure(ConveyorTarget(store), sizes)
    finally:
        store.close()


def postgres_base_url() -> str:
    for name in PG_ENVS:
        if os.environ.get(name):
            return os.environ[name]
    return DEFAULT_PG_URL


def hide_password(url: str) -> str:
    from sqlalchemy import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # a malformed URL: show nothing of it
        return "<unparsable URL>"


@contextmanager
def postgres_schema(base: str) -> Iterator[tuple[str, str]]:
    """A fresh schema; yields ``(store URL scoped to it, server version)``, drops it after."""
    import psycopg  # conveyor[postgres]

    plain = base.replace("postgresql+psycopg://", "postgresql://")
    schema = "bench_" + uuid.uuid4().hex[:12]
    with psycopg.connect(plain, autocommit=True, connect_timeout=5) as admin:
        row = admin.execute("SHOW server_version").fetchone()
        version = str(row[0]).split()[0] if row else "?"
        admin.execute(f'CREATE SCHEMA "{schema}"')
        try:
            sep = "&" if "?" in base else "?"
            yield f"{base}{sep}options=-csearch_path%3D{schema}", version
        finally:
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


# --- MLflow -----------------------------------------------------------------------------


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _tail(text: str, lines: int = 5) -> str:
    kept = [
        line
        for line in text.strip().splitlines()
        if line.strip() and "is ignored: it is neither a file nor a directory" not in line
    ]
    return " | ".join(kept[-lines:]) or "(no output)"


def probe_venv(python: Path, code: str) -> tuple[str | None, str]:
    """What ``code`` prints when run by ``python`` (a version), else ``(None, why)``."""
    try:
        done = subprocess.run(
            [str(python), "-c", code], capture_output=True, text=True, timeout=300
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    if done.returncode != 0:
        return None, _tail(done.stderr)
    return done.stdout.strip(), ""


def ensure_venv(
    venv: Path, requirements: Sequence[str], *, what: str, probe: str
) -> tuple[Path | None, str]:
    """The python of the baseline's own ``venv`` (a competitor is never a dependency of
    conveyor), built with ``requirements`` on first use and checked by running ``probe``
    (code that prints the version); else ``(None, why)``."""
    python = _venv_python(venv)
    if python.exists() and probe_venv(python, probe)[0]:
        return python, ""
    log(f"Building the {what} venv {venv} (first use; this can take a few minutes)...")
    try:
        if not python.exists():
            made = subprocess.run(
                [sys.executable, "-m", "venv", str(venv)],
                capture_output=True,
                text=True,
                timeout=600,
            )
            if made.returncode != 0:
                return None, f"python -m venv failed: {_tail(made.stderr + made.stdout)}"
        pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        installed = subprocess.run(
            [*pip, *requirements], capture_output=True, text=True, timeout=1800
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"building the venv failed: {type(exc).__name__}: {exc}"
    if installed.returncode != 0:
        return None, f"pip install {' '.join(requirements)} failed: {_tail(installed.stderr)}"
    version, why = probe_venv(python, probe)
    if not version:
        return None, f"{what} installed but does not import: {why}"
    return python, ""


MLFLOW_PROBE = (
    "import mlflow, sqlalchemy, alembic;"
    "from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore;"
    "print(mlflow.__version__)"
)


def ensure_mlflow_venv() -> tuple[Path | None, str]:
    """The MLflow venv's python, building the venv first if needed; else ``(None, why)``."""
    return ensure_venv(MLFLOW_VENV, MLFLOW_REQUIREMENTS, what="MLflow", probe=MLFLOW_PROBE)


def baseline_env(own_prefix: str, **extra: str) -> dict[str, str]:
    """This process's environment for a baseline in its own venv: without our Python
    paths and without the competitor's own settings (``own_prefix``), telemetry off."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"} and not k.startswith(own_prefix)
    }
    return env | {"DO_NOT_TRACK": "1", **extra}


def run_baseline(
    args: list[str], *, env: dict[str, str], what: str
) -> tuple[dict[str, Any] | None, str]:
    """Run a baseline script; the JSON object on its last line of stdout, or ``(None, why)``."""
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=3600, env=env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"the {what} baseline failed: {type(exc).__name__}: {exc}"
    if done.returncode != 0:
        return None, f"the {what} baseline exited {done.returncode}: {_tail(done.stderr)}"
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    try:
        return json.loads(lines[-1]), ""
    except (IndexError, json.JSONDecodeError):
        return None, f"the {what} baseline printed no JSON: {_tail(done.stdout + done.stderr)}"


def bench_mlflow(python: Path, sizes: Sizes) -> tuple[dict[str, Any] | None, str]:
    """Run the baseline in MLflow's venv; returns its JSON, or ``(None, why)``."""
    args = [
        str(python),
        str(MLFLOW_SCRIPT),
        f"--single={sizes.single}",
        f"--batched={sizes.batched}",
        f"--batch-size={sizes.batch_size}",
        f"--runs={sizes.runs}",
        f"--warmup-single={sizes.warmup_single}",
        f"--warmup-batches={sizes.warmup_batches}",
        f"--warmup-runs={sizes.warmup_runs}",
    ]
    env = baseline_env("MLFLOW_", MLFLOW_DISABLE_TELEMETRY="true")
    return run_baseline(args, env=env, what="MLflow")


# --- report -----------------------------------------------------------------------------


def add_verdicts(rows: list[dict[str, Any]]) -> None:
    """Target checks (conveyor on SQLite) and the ratio to MLflow on SQLite (same operation)."""
    baseline = {r["operation"]: r for r in rows if r["system"] == "mlflow"}
    for row in rows:
        row["target"] = None
        row["target_met"] = None
        row["vs_mlflow"] = None
        if row["system"] != "conveyor":
            continue
        if row["backend"] == "sqlite":
            figure, op, bound = TARGETS[row["operation"]]
            row["target"] = f"{figure} {op} {bound:g}"
            value = row[figure]
            row["target_met"] = value >= bound if op == ">=" else value <= bound
        base = baseline.get(row["operation"])
        if base:  # rate ratio; for run creation it equals MLflow's mean / conveyor's mean
            row["vs_mlflow"] = row["rate_per_s"] / base["rate_per_s"]


def align_table(header: tuple[str, ...], body: list[tuple[str, ...]], *, left: set[int]) -> str:
    """Plain-text columns: ``left`` ones left-aligned, the rest right-aligned (numbers)."""
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        pairs = enumerate(zip(cells, widths, strict=True))
        return "  ".join(c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in pairs).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(b) for b in body)])


def _target_text(row: dict[str, Any]) -> str:
    if row["target_met"] is None:
        return "-"
    figure, op, bound = TARGETS[row["operation"]]
    text = f"{op} {bound:,.0f}/s" if figure == "rate_per_s" else f"{op} {bound:g} ms"
    return f"{text} {'ok' if row['target_met'] else 'MISSED'}"


def _ms(value: float) -> str:
    return f"{value:,.1f}" if value >= 100 else f"{value:.3f}" if value < 1 else f"{value:.2f}"


def render_table(rows: list[dict[str, Any]]) -> str:
    header = (
        "system",
        "backend",
        "operation",
        "N",
        "calls",
        "total s",
        "throughput",
        "mean ms",
        "median ms",
        "p95 ms",
        "target",
        "vs MLflow",
    )
    body = []
    for r in rows:
        per = r["items_per_call"]
        body.append(
            (
                r["system"],
                r["backend"],
                f"{LABELS[r['operation']]}" + (f" ({per:,}/call)" if per > 1 else ""),
                f"{r['n']:,}",
                f"{r['calls']:,}",
                f"{r['total_s']:.2f}",
                f"{r['rate_per_s']:,.0f} {r['unit']}/s",
                _ms(r["mean_ms"]),
                _ms(r["median_ms"]),
                _ms(r["p95_ms"]),
                _target_text(r),
                "baseline"
                if r["system"] == "mlflow"
                else "-"
                if r["vs_mlflow"] is None
                else f"{r['vs_mlflow']:.1f}x",
            )
        )
    return align_table(header, body, left={0, 1, 2, 10})


def render_text(report: dict[str, Any]) -> str:
    meta = report["meta"]
    versions = [f"conveyor {meta['conveyor']}", f"Python {meta['python']}"]
    versions.append(f"SQLite {meta['sqlite']}")
    if meta.get("postgresql"):
        versions.append(f"PostgreSQL {meta['postgresql']}")
    if meta.get("mlflow"):
        versions.append(f"MLflow {meta['mlflow']} ({meta['mlflow_store']})")
    out = [
        "conveyor metadata-store benchmark" + (" (--quick)" if meta["quick"] else ""),
        ", ".join(versions),
        f"{meta['cpus']} CPUs, load average {meta['load_before']} before / "
        f"{meta['load_after']} after; {meta['elapsed_s']:.0f} s in all",
        "",
        render_table(report["results"]),
        "",
        "mean/median/p95 ms are per call (one metric, one batch, one run). "
        "Targets apply to conveyor on SQLite.",
        "vs MLflow = conveyor throughput / MLflow-on-SQLite throughput for the same operation, "
        "measured in this run",
        "(MLflow: client.log_metric, client.log_batch, client.create_run; PostgreSQL rows are "
        "compared with MLflow on SQLite too).",
    ]
    for what, why in report["skipped"].items():
        out.append(f"skipped {what}: {why}")
    return "\n".join(out)


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Metric-logging throughput and run-creation latency: conveyor vs MLflow."
    )
    parser.add_argument("--quick", action="store_true", help="small N (a CI smoke test)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--no-mlflow", action="store_true", help="skip the MLflow baseline")
    parser.add_argument(
        "--backends",
        default="sqlite,postgresql",
        help="comma-separated conveyor backends: sqlite, postgresql (default: both)",
    )
    parser.add_argument("--single", type=int, help="single metric writes (default 2,000)")
    parser.add_argument("--batched", type=int, help="batched metrics (default 100,000)")
    parser.add_argument("--runs", type=int, help="run creations (default 500)")
    parser.add_argument(
        "--mlflow-single",
        type=int,
        help="single metric writes for MLflow only (default: the same as --single)",
    )
    parser.add_argument("--tmpdir", help="where the SQLite files go (default: the system temp)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    aliases = {"sqlite": "sqlite", "postgresql": "postgresql", "postgres": "postgresql"}
    aliases["pg"] = "postgresql"
    backends = []
    for name in (b.strip().lower() for b in args.backends.split(",") if b.strip()):
        if name not in aliases:
            print(f"Unknown backend {name!r}; use sqlite, postgresql.", file=sys.stderr)
            return 2
        backends.append(aliases[name])

    base = QUICK if args.quick else FULL
    sizes = Sizes(
        single=args.single if args.single is not None else base.single,
        batched=args.batched if args.batched is not None else base.batched,
        batch_size=base.batch_size,
        runs=args.runs if args.runs is not None else base.runs,
        warmup_single=base.warmup_single,
        warmup_batches=base.warmup_batches,
        warmup_runs=base.warmup_runs,
    )
    mlflow_sizes = Sizes(
        **{**sizes.__dict__, "single": args.mlflow_single or sizes.single},
    )

    started = time.perf_counter()
    meta: dict[str, Any] = {
        "conveyor": conveyor.__version__,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_before": _load(),
        "quick": args.quick,
        "sizes": sizes.__dict__,
    }
    rows: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}

    def add(system: str, backend: str, results: dict[str, Any]) -> None:
        for op in OPERATIONS:
            if op in results:
                rows.append({"system": system, "backend": backend, "operation": op, **results[op]})

    with tempfile.TemporaryDirectory(prefix="conveyor-bench-", dir=args.tmpdir) as tmp:
        if "sqlite" in backends:
            log("conveyor on SQLite...")
            add("conveyor", "sqlite", bench_conveyor(f"sqlite:///{tmp}/conveyor.db", sizes))

    if "postgresql" in backends:
        pg = postgres_base_url()
        log(f"conveyor on PostgreSQL ({hide_password(pg)})...")
        try:
            with postgres_schema(pg) as (url, version):
                meta["postgresql"] = version
                add("conveyor", "postgresql", bench_conveyor(url, sizes))
        except ImportError as exc:
            skipped["conveyor/postgresql"] = f"psycopg is not installed ({exc})"
        except Exception as exc:  # psycopg.OperationalError and the like: unreachable
            if type(exc).__module__.startswith(("psycopg", "sqlalchemy", "conveyor")):
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                skipped["conveyor/postgresql"] = (
                    f"{hide_password(pg)} is unreachable or unusable: {type(exc).__name__}: {first}"
                )
            else:
                raise

    if args.no_mlflow:
        skipped["mlflow"] = "--no-mlflow"
    else:
        python, why = ensure_mlflow_venv()
        if python is None:
            skipped["mlflow"] = why
        else:
            log(f"MLflow on SQLite ({python})...")
            result, why = bench_mlflow(python, mlflow_sizes)
            if result is None:
                skipped["mlflow"] = why
            else:
                meta["mlflow"] = result["version"]
                meta["mlflow_store"] = result["store"].rsplit(".", 1)[-1]
                add("mlflow", "sqlite", result["results"])
    for what, why in skipped.items():
        log(f"skipped {what}: {why}")

    add_verdicts(rows)
    meta["load_after"] = _load()
    meta["elapsed_s"] = time.perf_counter() - started
    report = {"meta": meta, "results": rows, "skipped": skipped}
    print(json.dumps(report, indent=2) if args.json else render_text(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
