"""Pipeline-engine benchmark: orchestration overhead per step, conveyor vs Prefect 3.

Every step does nothing, so a run's wall time divided by its number of steps is the engine's
overhead per step. Two shapes of 1,000 steps each (``bench/_pipeline_workload.py``):

* **chain**: 1,000 steps in sequence, each taking the previous step's output as its input,
* **fan-out**: one step mapped over 1,000 items.

conveyor runs them on its local executor (threads), on SQLite and, if a server is reachable,
on PostgreSQL; ``--process`` adds the process mode (a child process per step) at a smaller N.
Prefect 3 runs the same work in the same run, in its own venv ``bench/.venvs/prefect`` (built
on first use), as a subprocess (``bench/_prefect_baseline.py``) with its ephemeral local API.

Usage::

    .venv/bin/python bench/bench_pipeline.py                # full run, table
    .venv/bin/python bench/bench_pipeline.py --quick        # N = 100, one run each (CI smoke)
    .venv/bin/python bench/bench_pipeline.py --json         # JSON instead of the table
    .venv/bin/python bench/bench_pipeline.py --no-prefect --backends sqlite
    .venv/bin/python bench/bench_pipeline.py --process      # also conveyor's process mode

PostgreSQL: ``CONVEYOR_BENCH_POSTGRES_URL``, else ``CONVEYOR_TEST_POSTGRES_URL``, else
``postgresql://postgres@127.0.0.1:5432/test``. The benchmark creates a fresh schema there
and drops it at the end; an unreachable server is skipped with the reason printed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))  # process-mode children find _pipeline_workload here too

import _pipeline_workload as workload  # noqa: E402
from bench_store import (  # noqa: E402 - shared helpers of the benchmarks
    _load,
    _tail,
    _venv_python,
    align_table,
    baseline_env,
    hide_password,
    log,
    postgres_base_url,
    postgres_schema,
    probe_venv,
)

import conveyor  # noqa: E402
from conveyor.pipelines import Pipeline, Runner  # noqa: E402
from conveyor.workspace import Workspace, init_project  # noqa: E402

PREFECT_VENV = BENCH_DIR / ".venvs" / "prefect"
PREFECT_SCRIPT = BENCH_DIR / "_prefect_baseline.py"
PREFECT_REQUIREMENTS = ["prefect>=3,<4"]
# Prefect 3.8.x passes min_items= to fastapi's Body(), which fastapi 0.155 removed, while it
# declares fastapi<1.0.0; so its local API server fails to import with a newer fastapi. If
# the server does not import, the benchmark installs this pin and checks again.
PREFECT_FALLBACK_PIN = "fastapi<0.155"

CHAIN = "chain"
FANOUT = "fanout"
SHAPES = (CHAIN, FANOUT)
LABELS = {CHAIN: "chain (data edges)", FANOUT: "fan-out (map)"}
# What a row's time runs until: the run (or flow) call returns, or (Prefect only) its server
# has recorded every task run. conveyor commits each step before its run returns.
RETURNED = "returned"
RECORDED = "recorded"
PIPELINES: dict[str, Pipeline] = {CHAIN: workload.chain, FANOUT: workload.fanout}
# Targets in ms per step for conveyor's local thread executor, by (store, shape): the
# chain and fan-out on SQLite and the chain on PostgreSQL.
TARGETS_MS = {("sqlite", "chain"): 1.0, ("sqlite", "fanout"): 0.8, ("postgresql", "chain"): 3.0}
TARGET_RATIO = 10.0  # "more than 10x less than Prefect 3"


@dataclass(frozen=True)
class Sizes:
    n: int = 1000  # steps per run, both shapes
    process_n: int = 50  # steps per run in process mode
    repeat: int = 3  # timed runs of each shape; the median is reported
    warmup: int = 10  # steps in each warm-up run


FULL = Sizes()
QUICK = Sizes(n=100, process_n=10, repeat=1, warmup=5)


def summarize(n: int, runs_s: list[float]) -> dict[str, Any]:
    median = statistics.median(runs_s)
    return {
        "n": n,
        "runs_s": runs_s,
        "total_s": median,
        "ms_per_step": median / n * 1000,
        "best_ms_per_step": min(runs_s) / n * 1000,
    }


# --- conveyor ---------------------------------------------------------------------------


def run_conveyor(ws: Workspace, shape: str, n: int, mode: str) -> float:
    """Seconds for one run of ``shape`` with ``n`` steps, from Runner() to the result."""
    started = time.perf_counter()
    result = Runner(ws, PIPELINES[shape], cache=False, mode=mode).start({"n": n})
    elapsed = time.perf_counter() - started
    if not result.succeeded:
        first = next(iter(result.errors.items()), ("?", result.run.error))
        raise RuntimeError(f"the conveyor {shape} run failed: {first[0]}: {first[1]}")
    steps = [s for s in result.statuses if shape == CHAIN or "[" in s]
    if len(steps) != n:
        raise RuntimeError(f"the conveyor {shape} run had {len(steps)} steps, expected {n}")
    return elapsed


def bench_conveyor(
    store_url: str | None, sizes: Sizes, modes: list[str], tmpdir: str | None
) -> tuple[dict[str, dict[str, Any]], float]:
    """``({f"{mode}/{shape}": summary}, seconds for a 1-step run)``.

    One fresh project, its store at ``store_url`` if given (else its own SQLite file).
    """
    out: dict[str, dict[str, Any]] = {}
    single_s = float("nan")
    with tempfile.TemporaryDirectory(prefix="conveyor-pipeline-bench-", dir=tmpdir) as tmp:
        init_project(tmp, name="bench")
        # Only the store URL from outside: the caller's CONVEYOR_* variables are ignored.
        env = {"CONVEYOR_STORE": store_url} if store_url else {}
        ws = Workspace.open(tmp, env=env)  # migrates the empty store: not timed
        try:
            for mode in modes:
                n = sizes.n if mode == "thread" else sizes.process_n
                for shape in SHAPES:
                    run_conveyor(ws, shape, min(sizes.warmup, n), mode)  # warm-up
                    runs = [run_conveyor(ws, shape, n, mode) for _ in range(sizes.repeat)]
                    out[f"{mode}/{shape}"] = summarize(n, runs)
                    per = out[f"{mode}/{shape}"]["ms_per_step"]
                    log(f"  {mode:7} {shape:6} N={n}: {per:.2f} ms/step")
                if mode == "thread":  # the fixed cost of a run: one step, warm
                    single_s = statistics.median(run_conveyor(ws, CHAIN, 1, mode) for _ in range(3))
        finally:
            ws.close()
    return out, single_s


# --- Prefect ----------------------------------------------------------------------------


def _probe_prefect(python: Path) -> tuple[str | None, str]:
    """Prefect's version if it and its local API server import; else ``(None, why)``."""
    return probe_venv(python, PREFECT_PROBE)


PREFECT_PROBE = (
    "import prefect, fastapi;"
    "import prefect.server.api.server;"
    "print(prefect.__version__, fastapi.__version__)"
)


def _pip(python: Path, *requirements: str) -> tuple[bool, str]:
    command = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    try:
        done = subprocess.run(
            [*command, *requirements], capture_output=True, text=True, timeout=1800
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"{type(exc).__name__}: {exc}"
    if done.returncode != 0:
        return False, f"pip install {' '.join(requirements)} failed: {_tail(done.stderr)}"
    return True, ""


def ensure_prefect_venv() -> tuple[Path | None, str]:
    """The Prefect venv's python, building the venv first if needed; else ``(None, why)``."""
    python = _venv_python(PREFECT_VENV)
    if python.exists() and _probe_prefect(python)[0]:
        return python, ""
    log(f"Building the Prefect venv {PREFECT_VENV} (first use; this can take a few minutes)...")
    if not python.exists():
        try:
            made = subprocess.run(
                [sys.executable, "-m", "venv", str(PREFECT_VENV)],
                capture_output=True,
                text=True,
                timeout=600,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return None, f"python -m venv failed: {type(exc).__name__}: {exc}"
        if made.returncode != 0:
            return None, f"python -m venv failed: {_tail(made.stderr + made.stdout)}"
    ok, why = _pip(python, *PREFECT_REQUIREMENTS)
    if not ok:
        return None, why
    version, why = _probe_prefect(python)
    if version:
        return python, ""
    log(f"Prefect's server does not import ({why}); installing {PREFECT_FALLBACK_PIN!r}...")
    ok, why_pin = _pip(python, *PREFECT_REQUIREMENTS, PREFECT_FALLBACK_PIN)
    if not ok:
        return None, f"Prefect installed but its server does not import: {why}; {why_pin}"
    version, why = _probe_prefect(python)
    if not version:
        return None, f"Prefect installed but its server does not import: {why}"
    return python, ""


def bench_prefect(python: Path, sizes: Sizes) -> tuple[dict[str, Any] | None, str]:
    """Run the baseline in Prefect's venv; returns its JSON, or ``(None, why)``."""
    args = [
        str(python),
        str(PREFECT_SCRIPT),
        f"--chain={sizes.n}",
        f"--fanout={sizes.n}",
        f"--warmup={sizes.warmup}",
        f"--repeat={sizes.repeat}",
    ]
    # The script sets Prefect's own variables (ephemeral API, telemetry off) itself.
    env = baseline_env("PREFECT_")
    try:
        stdout, stderr, code = _run_in_own_group(args, env=env, timeout=3600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"the Prefect baseline failed: {type(exc).__name__}: {exc}"
    lines = [line for line in stdout.splitlines() if line.strip()]
    try:
        result = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        return None, f"the Prefect baseline exited {code} and printed no JSON: {_tail(stderr)}"
    return result, ""


def _run_in_own_group(
    args: list[str], *, env: dict[str, str], timeout: float
) -> tuple[str, str, int]:
    """Run ``args`` in a new process group and kill the whole group however this ends.

    Prefect's ephemeral API server is a grandchild: killing only the baseline script (on a
    time-out, Ctrl-C or SIGTERM of this benchmark) would leave the server running.
    """
    proc = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
        return stdout, stderr, proc.returncode
    finally:
        signal.signal(signal.SIGTERM, previous)
        _kill_group(proc)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _kill_group(proc: subprocess.Popen[str]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break  # the group is empty: everything it started is gone
        if _group_gone(proc, within=5.0):
            break
    proc.wait()


def _group_gone(proc: subprocess.Popen[str], *, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        proc.poll()  # reap our own child: a zombie still counts as a group member
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


# --- report -----------------------------------------------------------------------------


def add_verdicts(rows: list[dict[str, Any]]) -> None:
    """The target (conveyor, SQLite, threads) and Prefect ms/step ÷ conveyor ms/step."""
    baseline = {r["shape"]: r for r in rows if r["system"] == "prefect" and r["until"] == RETURNED}
    for row in rows:
        row["target_met"] = None
        row["vs_prefect"] = None
        if row["system"] != "conveyor":
            continue
        target = TARGETS_MS.get((row["store"], row["shape"]))
        if target is not None and row["executor"] == "local thread":
            row["target"] = target
            row["target_met"] = row["ms_per_step"] <= target
        base = baseline.get(row["shape"])
        if base and row["executor"] == "local thread":
            row["vs_prefect"] = base["ms_per_step"] / row["ms_per_step"]


def _ms(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.2f}" if value >= 1 else f"{value:.3f}"


def render_table(rows: list[dict[str, Any]]) -> str:
    header = (
        "system",
        "store",
        "executor",
        "workload",
        "N",
        "runs",
        "total s",
        "ms/step",
        "best ms/step",
        "target",
        "vs Prefect",
    )
    body = []
    for r in rows:
        if r["target_met"] is None:
            target = "-"
        else:
            target = f"<= {r['target']:g} ms {'ok' if r['target_met'] else 'MISSED'}"
        if r["system"] == "prefect":
            ratio = "baseline" if r["until"] == RETURNED else "-"
        elif r["vs_prefect"] is None:
            ratio = "-"
        else:
            ratio = f"{r['vs_prefect']:.1f}x"
        body.append(
            (
                r["system"],
                r["store"],
                r["executor"],
                LABELS[r["shape"]] + (", until recorded" if r["until"] == RECORDED else ""),
                f"{r['n']:,}",
                str(len(r["runs_s"])),
                f"{r['total_s']:.2f}",
                _ms(r["ms_per_step"]),
                _ms(r["best_ms_per_step"]),
                target,
                ratio,
            )
        )
    return align_table(header, body, left={0, 1, 2, 3, 9})


def render_text(report: dict[str, Any]) -> str:
    meta = report["meta"]
    versions = [f"conveyor {meta['conveyor']}", f"Python {meta['python']}"]
    versions.append(f"SQLite {meta['sqlite']}")
    if meta.get("postgresql"):
        versions.append(f"PostgreSQL {meta['postgresql']}")
    if meta.get("prefect"):
        versions.append(f"Prefect {meta['prefect']} (ephemeral local API, SQLite)")
    out = [
        "conveyor pipeline-engine benchmark" + (" (--quick)" if meta["quick"] else ""),
        ", ".join(versions),
        f"{meta['cpus']} CPUs, load average {meta['load_before']} before / "
        f"{meta['load_after']} after; {meta['elapsed_s']:.0f} s in all",
        "",
        render_table(report["results"]),
        "",
        "No-op steps: ms/step = wall time of a whole run / N (median of the runs; best = the "
        "fastest run).",
        "Targets (the issue), local thread executor: "
        + ", ".join(
            f"{shape} on {store} <= {ms:g} ms/step" for (store, shape), ms in TARGETS_MS.items()
        )
        + f"; and more than {TARGET_RATIO:g}x less than Prefect 3.",
        "vs Prefect = Prefect's ms/step until its flow returns / conveyor's ms/step for the same "
        "workload, measured in this run (higher is better for conveyor).",
    ]
    recorded = {
        r["shape"]: r
        for r in report["results"]
        if r["system"] == "prefect" and r["until"] == RECORDED
    }
    if recorded:
        out.append(
            "'until recorded': until Prefect's API has recorded all N task runs as COMPLETED "
            "(it records them from events after the flow returns); the next run starts after that."
        )
        ratios = [
            f"{LABELS[r['shape']]} {recorded[r['shape']]['ms_per_step'] / r['ms_per_step']:.1f}x"
            for r in report["results"]
            if r["system"] == "conveyor"
            and r["store"] == "sqlite"
            and r["executor"] == "local thread"
            and r["shape"] in recorded
        ]
        if ratios:
            out.append(
                "conveyor (SQLite, threads) vs Prefect until recorded (conveyor records every step "
                f"before its run returns): {', '.join(ratios)}."
            )
    if meta.get("prefect"):
        out.append(
            f"Prefect's warm-up (ephemeral API server start, then a {meta['sizes']['warmup']}-task "
            f"chain and fan-out) took {meta['prefect_warmup_s']:.1f} s and is not counted."
        )
    if meta["single_run_s"]:
        singles = ", ".join(
            f"{name.replace('/', ' on ')} {seconds * 1000:.0f} ms"
            for name, seconds in meta["single_run_s"].items()
        )
        out.append(
            f"A run of one step (the fixed cost of a run, counted in the figures above): {singles}."
        )
    for what, why in report["skipped"].items():
        out.append(f"skipped {what}: {why}")
    return "\n".join(out)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Overhead per no-op step: conveyor's pipeline engine vs Prefect 3."
    )
    parser.add_argument("--quick", action="store_true", help="N = 100, one run (a CI smoke test)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--no-prefect", action="store_true", help="skip the Prefect baseline")
    parser.add_argument(
        "--process",
        action="store_true",
        help="also conveyor's process mode (a child process per step), on SQLite, at --process-n",
    )
    parser.add_argument(
        "--backends",
        default="sqlite,postgresql",
        help="comma-separated conveyor stores: sqlite, postgresql (default: both)",
    )
    parser.add_argument("-n", type=int, help="steps per run, both shapes (default 1,000)")
    parser.add_argument("--process-n", type=int, help="steps per process-mode run (default 50)")
    parser.add_argument("--repeat", type=int, help="timed runs of each workload (default 3)")
    parser.add_argument("--tmpdir", help="where the conveyor projects go (default: system temp)")
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
        n=args.n or base.n,
        process_n=args.process_n or base.process_n,
        repeat=args.repeat or base.repeat,
        warmup=base.warmup,
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
        "single_run_s": {},
    }
    rows: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}

    def add(
        system: str,
        store: str,
        executor: str,
        shape: str,
        summary: dict[str, Any],
        until: str = RETURNED,
    ) -> None:
        rows.append(
            {
                "system": system,
                "store": store,
                "executor": executor,
                "shape": shape,
                "until": until,
                **summary,
            }
        )

    if "sqlite" in backends:
        modes = ["thread", "process"] if args.process else ["thread"]
        log("conveyor on SQLite...")
        results, meta["single_run_s"]["conveyor/sqlite"] = bench_conveyor(
            None, sizes, modes, args.tmpdir
        )
        for key, summary in results.items():
            mode, shape = key.split("/")
            add("conveyor", "sqlite", f"local {mode}", shape, summary)
    elif args.process:
        skipped["conveyor/process"] = "process mode is measured on SQLite only"

    if "postgresql" in backends:
        pg = postgres_base_url()
        log(f"conveyor on PostgreSQL ({hide_password(pg)})...")
        try:
            with postgres_schema(pg) as (url, version):
                meta["postgresql"] = version
                results, single = bench_conveyor(url, sizes, ["thread"], args.tmpdir)
                meta["single_run_s"]["conveyor/postgresql"] = single
            for key, summary in results.items():
                add("conveyor", "postgresql", "local thread", key.split("/")[1], summary)
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

    if args.no_prefect:
        skipped["prefect"] = "--no-prefect"
    else:
        python, why = ensure_prefect_venv()
        if python is None:
            skipped["prefect"] = why
        else:
            log(f"Prefect 3 ({python})...")
            result, why = bench_prefect(python, sizes)
            if result is None:
                skipped["prefect"] = why
            else:
                meta["prefect"] = result["version"]
                meta["prefect_fastapi"] = result.get("fastapi")
                meta["prefect_warmup_s"] = result["warmup_s"]
                meta["single_run_s"]["prefect"] = result["single_s"]
                for until, key in ((RETURNED, "runs_s"), (RECORDED, "recorded_s")):
                    for shape in SHAPES:
                        if shape in result["results"]:
                            got = result["results"][shape]
                            summary = summarize(got["n"], got[key])
                            executor = "ThreadPoolTaskRunner"
                            add("prefect", "ephemeral API", executor, shape, summary, until)
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
