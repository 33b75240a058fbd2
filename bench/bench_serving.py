"""Prediction-service benchmark: conveyor's server next to ``mlflow models serve`` and a thin
FastAPI app, under the same load generator, in the same run.

Measures, for a 1-row ``POST /invocations`` (``dataframe_split``, 20 features) and two models
fitted here from the same seeded data (``LogisticRegression`` and a 100-tree
``RandomForestClassifier``), throughput and p50/p99 latency at concurrency 1, 8 and 32 of:

* **MLflow**: ``mlflow models serve -m DIR --env-manager local --workers 1`` in its own venv
  (``bench/.venvs/mlflow-serve``, built on first use); the model directory is written by
  ``_mlflow_serve_model.py`` from the very estimator the other targets serve (a skops file);
* **thin FastAPI** (``_thin_fastapi.py``): uvicorn, one worker, parse, DataFrame, ``predict``,
  reply: the speed floor;
* **conveyor**: ``conveyor serve DEPLOYMENT --workers 1`` in a fresh project where the model
  is registered, promoted to ``champion`` and deployed; with the prediction log on, and
  again with ``--no-log``.

Each target is a subprocess on a free port of 127.0.0.1, polled until ready, measured at each
concurrency by the load generator ``_loadgen.py`` (its own process: closed loop, keep-alive
connections, exact percentiles), then stopped. The load generator's own ceiling is measured
first against its trivial server. Then come the issue's ratios, each with its target.

Usage::

    .venv/bin/python bench/bench_serving.py                   # both models, 10 s per point
    .venv/bin/python bench/bench_serving.py --quick --only lr # a smoke test (about 1 min)
    .venv/bin/python bench/bench_serving.py --duration 20 --concurrency 1,8,32,64
    .venv/bin/python bench/bench_serving.py --json results.json

Run it on an otherwise idle machine: the load generator and the server share its cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

LOADGEN = BENCH_DIR / "_loadgen.py"
THIN_APP = BENCH_DIR / "_thin_fastapi.py"
MLFLOW_MODEL_SCRIPT = BENCH_DIR / "_mlflow_serve_model.py"
MLFLOW_SERVE_VENV = BENCH_DIR / ".venvs" / "mlflow-serve"
MLFLOW_SERVE_REQUIREMENTS = [
    "mlflow>=3,<4",  # the full package: `mlflow models serve` and its scoring server
    "scikit-learn>=1.3",
    "pandas>=2",
    "skops>=0.13",  # reads the benchmark's model file; MLflow 3's sklearn flavor saves with it
]
MLFLOW_PROBE = "import mlflow, mlflow.pyfunc.scoring_server, skops.io; print(mlflow.__version__)"

N_FEATURES = 20
N_ROWS = 2_000
COLUMNS = [f"f{i}" for i in range(N_FEATURES)]
MODELS = {"lr": "LogisticRegression", "rf": "RandomForestClassifier, 100 trees"}
DEPLOYMENT = "bench"

CONVEYOR = "conveyor"
CONVEYOR_NO_LOG = "conveyor --no-log"
THIN = "thin FastAPI"
MLFLOW = "MLflow"
TARGET_ORDER = (MLFLOW, THIN, CONVEYOR, CONVEYOR_NO_LOG)

# The targets, for conveyor with validation, version routing and logging on.
TARGET_VS_MLFLOW = 10.0  # throughput ratio, at concurrency 8 and 32
MLFLOW_CONCURRENCIES = (8, 32)
TARGET_VS_THIN = 0.6  # throughput ratio, at every concurrency
TARGET_P99_MS = 10.0  # at concurrency 8
P99_CONCURRENCY = 8
TARGET_LOG_OVERHEAD = 0.10  # 1 - throughput with the log / without, at every concurrency
# "Throughput must not fall as concurrency rises": a step down of less than this much is
# taken for run-to-run noise (measured: about +-5% between two runs of the same point).
MONOTONIC_SLACK = 0.05

READY_TIMEOUT_S = 120.0  # MLflow's server imports pandas, sklearn and its own app first


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the model and the request ----------------------------------------------------------


def fit_model(kind: str, seed: int) -> tuple[Any, Any, list[float]]:
    """The fitted model, its training frame and the request's one row (held out)."""
    import numpy as np
    import pandas as pd
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed)
    data = rng.normal(size=(N_ROWS + 1, N_FEATURES))
    weights = rng.normal(size=N_FEATURES)
    labels = (data @ weights + rng.normal(size=N_ROWS + 1) > 0).astype(int)
    X = pd.DataFrame(data[:N_ROWS], columns=COLUMNS)
    y = labels[:N_ROWS]
    model: Any
    if kind == "lr":
        model = LogisticRegression(max_iter=1000)
    else:
        model = RandomForestClassifier(n_estimators=100, random_state=seed)
    model.fit(X, y)
    return model, X, [float(v) for v in data[N_ROWS]]


def write_inputs(folder: Path, model: Any, X: Any, row: list[float]) -> dict[str, Path]:
    """The model as a skops file, an input example and the request body, in ``folder``."""
    import skops.io as sio

    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "model": folder / "model.skops",
        "example": folder / "example.json",
        "body": folder / "body.json",
    }
    sio.dump(model, paths["model"])
    example = {"columns": COLUMNS, "data": X.head(5).to_numpy().tolist()}
    paths["example"].write_text(json.dumps(example))
    body = {"dataframe_split": {"columns": COLUMNS, "data": [row]}}
    paths["body"].write_text(json.dumps(body))
    return paths


@dataclass(frozen=True)
class Timing:
    """Seconds of warm-up (not counted) and seconds measured, for each point."""

    warmup: float
    duration: float


# --- servers ----------------------------------------------------------------------------


class ServerFailedError(Exception):
    """A target did not start or did not become ready."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail_file(path: Path, lines: int = 8) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no output)"
    kept = [line for line in text.strip().splitlines() if line.strip()]
    return " | ".join(kept[-lines:]) or "(no output)"


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def running_server(
    args: Sequence[str], *, ready_url: str, env: dict[str, str], cwd: Path, log_path: Path
) -> Iterator[float]:
    """Start ``args`` in its own session, wait until ``ready_url`` answers 200; yields the
    seconds that took. Stops the whole process group afterwards (servers fork workers)."""
    started = time.perf_counter()
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(
            list(args), cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        while not _ready(ready_url):
            if proc.poll() is not None:
                raise ServerFailedError(
                    f"it exited {proc.returncode} before it was ready: {_tail_file(log_path)}"
                )
            if time.perf_counter() - started > READY_TIMEOUT_S:
                raise ServerFailedError(
                    f"{ready_url} did not answer 200 within {READY_TIMEOUT_S:.0f} s: "
                    f"{_tail_file(log_path)}"
                )
            time.sleep(0.1)
        yield time.perf_counter() - started
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)  # the group this benchmark started, by its id
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def loadgen(
    url: str,
    body: Path | None,
    concurrency: int,
    timing: Timing,
    *,
    expect_header: str | None = None,
) -> dict[str, Any]:
    """One measurement by ``_loadgen.py`` in its own process; its JSON report."""
    args = [sys.executable, str(LOADGEN), url, "-c", str(concurrency)]
    args += ["--warmup", str(timing.warmup), "--duration", str(timing.duration)]
    if body is not None:
        args += ["-X", "POST", "-H", "Content-Type: application/json", "--body-file", str(body)]
    if expect_header:
        args += ["--expect-header", expect_header]
    timeout = timing.warmup + timing.duration + 120
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise ServerFailedError(f"the load generator exited {done.returncode}: {done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(
    name: str,
    args: Sequence[str],
    *,
    ready_path: str,
    port: int,
    env: dict[str, str],
    cwd: Path,
    body: Path,
    concurrencies: Sequence[int],
    timing: Timing,
    expect_header: str | None = None,
) -> dict[str, Any]:
    """Start one target, measure it at each concurrency, stop it."""
    base = f"http://127.0.0.1:{port}"
    log_path = cwd / f"server-{name.replace(' ', '_').replace('-', '')}-{port}.log"
    points = []
    with running_server(args, ready_url=base + ready_path, env=env, cwd=cwd, log_path=log_path) as (
        ready_s
    ):
        for concurrency in concurrencies:
            log(f"  {name}, concurrency {concurrency}...")
            point = loadgen(
                base + "/invocations",
                body,
                concurrency,
                timing,
                expect_header=expect_header,
            )
            if point["requests"] == 0:
                raise ServerFailedError(
                    f"no request was answered at concurrency {concurrency}: "
                    f"{point['first_error'] or _tail_file(log_path)}"
                )
            points.append(point)
    return {"target": name, "ready_s": ready_s, "points": points}


def base_env(**extra: str) -> dict[str, str]:
    """This process's environment for a server of ours: conveyor's own settings
    (``CONVEYOR_*``) from outside dropped, this checkout's sources first on the path."""
    import conveyor

    src = str(Path(conveyor.__file__).resolve().parent.parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    paths = [src, *(p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p)]
    return env | {"PYTHONPATH": os.pathsep.join(paths), **extra}


# --- the load generator's ceiling -------------------------------------------------------


def bench_ceiling(
    folder: Path, body: Path, concurrencies: Sequence[int], timing: Timing
) -> dict[str, Any]:
    """The load generator against its trivial server (a fixed 200, nothing parsed)."""
    port = free_port()
    args = [sys.executable, str(LOADGEN), "--trivial-server", str(port)]
    return measure(
        "trivial server",
        args,
        ready_path="/",
        port=port,
        env=base_env(),
        cwd=folder,
        body=body,
        concurrencies=concurrencies,
        timing=timing,
    )


# --- targets ----------------------------------------------------------------------------


def bench_thin(
    folder: Path, paths: dict[str, Path], concurrencies: Sequence[int], timing: Timing
) -> dict[str, Any]:
    port = free_port()
    args = [sys.executable, str(THIN_APP), str(paths["model"]), "--port", str(port)]
    return measure(
        THIN,
        args,
        ready_path="/ping",
        port=port,
        env=base_env(),
        cwd=folder,
        body=paths["body"],
        concurrencies=concurrencies,
        timing=timing,
    )


def ensure_mlflow_serve_venv() -> tuple[Path | None, str]:
    from bench_store import ensure_venv

    return ensure_venv(
        MLFLOW_SERVE_VENV, MLFLOW_SERVE_REQUIREMENTS, what="MLflow serve", probe=MLFLOW_PROBE
    )


def mlflow_env(python: Path) -> dict[str, str]:
    """The MLflow venv's environment: its ``bin`` first on PATH, as when activated (the
    scoring server starts ``uvicorn`` by name), MLflow's own settings dropped."""
    from bench_store import baseline_env

    path = os.pathsep.join([str(python.parent), os.environ.get("PATH", "")])
    return baseline_env("MLFLOW_", MLFLOW_DISABLE_TELEMETRY="true", PATH=path)


def bench_mlflow(
    python: Path,
    folder: Path,
    paths: dict[str, Path],
    concurrencies: Sequence[int],
    timing: Timing,
) -> dict[str, Any]:
    env = mlflow_env(python)
    model_dir = folder / "mlflow-model"
    saved = subprocess.run(
        [str(python), str(MLFLOW_MODEL_SCRIPT), str(paths["model"]), str(paths["example"])]
        + [str(model_dir)],
        capture_output=True,
        text=True,
        env=env,
        cwd=folder,
        timeout=600,
    )
    if saved.returncode != 0:
        raise ServerFailedError(f"saving the MLflow model failed: {saved.stderr[-800:]}")
    version = json.loads(saved.stdout.strip().splitlines()[-1])["version"]
    port = free_port()
    mlflow = python.parent / "mlflow"
    args = [str(mlflow), "models", "serve", "-m", str(model_dir), "--env-manager", "local"]
    args += ["--workers", "1", "--host", "127.0.0.1", "--port", str(port)]
    result = measure(
        MLFLOW,
        args,
        ready_path="/ping",
        port=port,
        env=env,
        cwd=folder,
        body=paths["body"],
        concurrencies=concurrencies,
        timing=timing,
    )
    return result | {"version": version}


CLI = "import sys; from conveyor.cli import main; sys.exit(main())"


def conveyor_serve_available() -> tuple[bool, str]:
    """Whether this checkout's CLI has ``conveyor serve``; else why not."""
    done = subprocess.run(
        [sys.executable, "-c", CLI, "serve", "--help"],
        capture_output=True,
        text=True,
        env=base_env(),
        timeout=120,
    )
    if done.returncode == 0:
        return True, ""
    return False, "conveyor serve is not available in this checkout"


def prepare_conveyor_project(folder: Path, model: Any, X: Any) -> Path:
    """A fresh project with the model registered, promoted to champion and deployed."""
    from conveyor.registry import promote, register_model
    from conveyor.serve.runtime import set_deployment
    from conveyor.workspace import Workspace, init_project

    root = folder / "conveyor-project"
    init_project(root, name="bench-serving")
    with Workspace.open(root, env={}) as ws:
        version = register_model(ws, DEPLOYMENT, model, input_example=X.head())
        promote(ws, DEPLOYMENT, version.version, force_reason="bench")
        set_deployment(ws, DEPLOYMENT, model=DEPLOYMENT)
    return root


def bench_conveyor(
    root: Path,
    paths: dict[str, Path],
    concurrencies: Sequence[int],
    timing: Timing,
    *,
    log_on: bool,
) -> dict[str, Any]:
    port = free_port()
    args = [sys.executable, "-c", CLI, "serve", DEPLOYMENT, "--host", "127.0.0.1"]
    args += ["--port", str(port), "--workers", "1"]
    if not log_on:
        args.append("--no-log")
    return measure(
        CONVEYOR if log_on else CONVEYOR_NO_LOG,
        args,
        ready_path="/v2/health/ready",
        port=port,
        env=base_env(),
        cwd=root,
        body=paths["body"],
        concurrencies=concurrencies,
        expect_header="X-Model-Version",
        timing=timing,
    )


# --- verdicts ---------------------------------------------------------------------------


def _rps(targets: dict[str, Any], name: str) -> dict[int, float]:
    if name not in targets:
        return {}
    return {p["connections"]: p["throughput_rps"] for p in targets[name]["points"]}


def checks(targets: dict[str, Any], concurrencies: Sequence[int]) -> list[dict[str, Any]]:
    """The issue's ratios for one model, each with its target and whether it is met
    (``None``, shown ``n/a``, where a target it needs was not measured; the report says
    why under the model's table)."""
    ours, no_log = _rps(targets, CONVEYOR), _rps(targets, CONVEYOR_NO_LOG)
    mlflow, thin = _rps(targets, MLFLOW), _rps(targets, THIN)
    rows: list[dict[str, Any]] = []

    def add(check: str, value: float | None, target: str, met: bool | None, text: str) -> None:
        rows.append({"check": check, "value": value, "text": text, "target": target, "met": met})

    for c in (c for c in MLFLOW_CONCURRENCIES if c in concurrencies):
        ratio = ours[c] / mlflow[c] if c in ours and c in mlflow else None
        text = f"{ratio:.1f}x" if ratio is not None else "n/a"
        met = ratio >= TARGET_VS_MLFLOW if ratio is not None else None
        add(f"conveyor / MLflow req/s at {c}", ratio, f">= {TARGET_VS_MLFLOW:g}x", met, text)
    for c in concurrencies:
        ratio = ours[c] / thin[c] if c in ours and c in thin else None
        text = f"{ratio:.0%}" if ratio is not None else "n/a"
        met = ratio >= TARGET_VS_THIN if ratio is not None else None
        add(f"conveyor / thin FastAPI req/s at {c}", ratio, f">= {TARGET_VS_THIN:.0%}", met, text)
    if P99_CONCURRENCY in concurrencies:
        p99 = None
        if CONVEYOR in targets:
            p99 = next(
                p["p99_ms"]
                for p in targets[CONVEYOR]["points"]
                if p["connections"] == P99_CONCURRENCY
            )
        text = f"{p99:.2f} ms" if p99 is not None else "n/a"
        met = p99 < TARGET_P99_MS if p99 is not None else None
        add(f"conveyor p99 at {P99_CONCURRENCY}", p99, f"< {TARGET_P99_MS:g} ms", met, text)
    for c in concurrencies:
        overhead = 1 - ours[c] / no_log[c] if c in ours and c in no_log else None
        text = f"{overhead:+.1%}" if overhead is not None else "n/a"
        met = overhead < TARGET_LOG_OVERHEAD if overhead is not None else None
        add(f"logging overhead at {c}", overhead, f"< {TARGET_LOG_OVERHEAD:.0%}", met, text)
    ordered = sorted(concurrencies)
    for name, rps in ((CONVEYOR, ours), (CONVEYOR_NO_LOG, no_log)):
        steps = [
            rps[b] / rps[a]
            for a, b in zip(ordered, ordered[1:], strict=False)
            if a in rps and b in rps
        ]
        worst = min(steps) if steps else None
        text = f"worst step {worst:.2f}x" if worst is not None else "n/a"
        met = worst >= 1 - MONOTONIC_SLACK if worst is not None else None
        add(f"{name} req/s as concurrency rises", worst, "does not fall", met, text)
    # For reference (no target): where the speed floor stands against MLflow.
    for c in concurrencies:
        if c in thin and c in mlflow:
            ratio = thin[c] / mlflow[c]
            add(f"thin FastAPI / MLflow req/s at {c}", ratio, "-", None, f"{ratio:.1f}x")
    return rows


# --- report -----------------------------------------------------------------------------


def _ms(value: float) -> str:
    return f"{value:,.1f}" if value >= 100 else f"{value:.2f}"


def render_points(points_by_target: list[dict[str, Any]]) -> str:
    from bench_store import align_table

    header: tuple[str, ...] = ("target", "concurrency", "req/s", "p50 ms", "p90 ms", "p99 ms")
    header += ("non-2xx", "conn errors", "loadgen us/req")
    body: list[tuple[str, ...]] = []
    for result in points_by_target:
        for p in result["points"]:
            per = p["cpu_us_per_request"]
            body.append(
                (
                    result["target"],
                    str(p["connections"]),
                    f"{p['throughput_rps']:,.0f}",
                    _ms(p["p50_ms"]),
                    _ms(p["p90_ms"]),
                    _ms(p["p99_ms"]),
                    f"{p['non_2xx']:,}",
                    f"{p['connection_errors']:,}",
                    f"{per:.0f}" if per is not None else "-",
                )
            )
    return align_table(header, body, left={0})


def render_checks(rows: list[dict[str, Any]]) -> str:
    from bench_store import align_table

    body: list[tuple[str, ...]] = []
    for r in rows:
        verdict = "-" if r["met"] is None else "met" if r["met"] else "NOT MET"
        body.append((r["check"], r["text"], r["target"], verdict))
    return align_table(("check", "value", "target", "verdict"), body, left={0, 1, 2, 3})


def render_text(report: dict[str, Any]) -> str:
    meta = report["meta"]
    versions = [f"conveyor {meta['conveyor']}", f"Python {meta['python']}"]
    versions += [f"scikit-learn {meta['sklearn']}", f"FastAPI {meta['fastapi']}"]
    versions += [f"uvicorn {meta['uvicorn']} ({meta['uvicorn_loop']}, {meta['uvicorn_http']})"]
    if meta.get("mlflow"):
        versions.append(f"MLflow {meta['mlflow']}")
    lines = [
        "conveyor prediction-service benchmark" + (" (--quick)" if meta["quick"] else ""),
        ", ".join(versions),
        f"conveyor serve from {meta['conveyor_src']}",
        f"{meta['cpus']} CPUs, load average {meta['load_before']} before / "
        f"{meta['load_after']} after; {meta['elapsed_s']:.0f} s in all",
        f"1-row POST /invocations (dataframe_split, {N_FEATURES} features); "
        f"{meta['warmup_s']:g} s warm-up + {meta['duration_s']:g} s measured per point; "
        "1 server worker",
    ]
    ceiling = report.get("ceiling")
    if ceiling:
        lines += [
            "",
            "Load generator ceiling (its trivial server: a fixed 200, nothing parsed)",
            "",
        ]
        lines.append(render_points([ceiling]))
    for kind, model in report["models"].items():
        lines += ["", f"{MODELS[kind]} ({kind})", ""]
        ordered = [model["targets"][t] for t in TARGET_ORDER if t in model["targets"]]
        if ordered:
            lines.append(render_points(ordered))
        for target, why in model["skipped"].items():
            lines.append(f"skipped {target}: {why}")
        lines += ["", render_checks(model["checks"])]
    lines += [
        "",
        "req/s: responses completed in the measured window / its length. Percentiles: exact, "
        "nearest rank, from the write of a request to the last byte of its response.",
        "loadgen us/req: the load generator's own CPU time per request (it shares the cores).",
        f"A fall of less than {MONOTONIC_SLACK:.0%} from one concurrency to the next counts "
        "as noise.",
    ]
    for what, why in report["skipped"].items():
        lines.append(f"skipped {what}: {why}")
    return "\n".join(lines)


# --- main -------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Prediction-service throughput and latency: conveyor, MLflow, thin FastAPI."
    )
    parser.add_argument("--quick", action="store_true", help="short durations (a smoke test)")
    parser.add_argument("--only", choices=tuple(MODELS), help="one model: lr or rf")
    parser.add_argument("--duration", type=float, help="seconds measured per point (10)")
    parser.add_argument("--warmup", type=float, help="seconds of warm-up per point (2)")
    parser.add_argument(
        "--concurrency", default="1,8,32", help="comma-separated connection counts (1,8,32)"
    )
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON here")
    parser.add_argument("--no-mlflow", action="store_true", help="skip MLflow")
    parser.add_argument("--no-ceiling", action="store_true", help="skip the loadgen ceiling")
    parser.add_argument("--seed", type=int, default=0, help="the data's and forest's seed")
    parser.add_argument("--tmpdir", help="where models and projects go (default: system temp)")
    return parser.parse_args(argv)


def _meta(args: argparse.Namespace, warmup: float, duration: float) -> dict[str, Any]:
    import importlib.util

    import fastapi
    import sklearn
    import uvicorn
    from bench_store import _load

    import conveyor

    has = importlib.util.find_spec
    return {
        "conveyor": conveyor.__version__,
        "conveyor_src": str(Path(conveyor.__file__).resolve().parent.parent),
        "python": platform.python_version(),
        "sklearn": sklearn.__version__,
        "fastapi": fastapi.__version__,
        "uvicorn": uvicorn.__version__,
        "uvicorn_loop": "uvloop" if has("uvloop") else "asyncio",
        "uvicorn_http": "httptools" if has("httptools") else "h11",
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_before": _load(),
        "quick": args.quick,
        "warmup_s": warmup,
        "duration_s": duration,
    }


def bench_model(
    kind: str,
    folder: Path,
    concurrencies: Sequence[int],
    timing: Timing,
    *,
    mlflow_python: Path | None,
    mlflow_why: str,
    serve_why: str,
    seed: int,
) -> dict[str, Any]:
    """Every target for one model; their points, the checks and what was skipped."""
    log(f"{MODELS[kind]}: fitting...")
    model, X, row = fit_model(kind, seed)
    paths = write_inputs(folder, model, X, row)
    targets: dict[str, Any] = {}
    skipped: dict[str, str] = {}

    def attempt(name: str, run: Any) -> None:
        log(f"{MODELS[kind]}: {name}...")
        try:
            targets[name] = run()
        except ServerFailedError as exc:
            skipped[name] = str(exc)
            log(f"skipped {name}: {exc}")

    if mlflow_python is not None:
        python = mlflow_python
        attempt(MLFLOW, lambda: bench_mlflow(python, folder, paths, concurrencies, timing))
    else:
        skipped[MLFLOW] = mlflow_why
    attempt(THIN, lambda: bench_thin(folder, paths, concurrencies, timing))
    if not serve_why:
        root = prepare_conveyor_project(folder, model, X)
        for log_on in (True, False):
            name = CONVEYOR if log_on else CONVEYOR_NO_LOG
            attempt(
                name,
                lambda log_on=log_on: bench_conveyor(
                    root, paths, concurrencies, timing, log_on=log_on
                ),
            )
    else:
        skipped[CONVEYOR] = skipped[CONVEYOR_NO_LOG] = serve_why
    return {"targets": targets, "skipped": skipped, "checks": checks(targets, concurrencies)}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        concurrencies = sorted({int(c) for c in args.concurrency.split(",") if c.strip()})
    except ValueError:
        print(f"--concurrency takes numbers such as 1,8,32. Got {args.concurrency!r}.")
        return 2
    if not concurrencies or min(concurrencies) < 1:
        print(f"--concurrency needs connection counts of 1 or more. Got {args.concurrency!r}.")
        return 2
    duration = args.duration or (2.0 if args.quick else 10.0)
    warmup = args.warmup if args.warmup is not None else (0.5 if args.quick else 2.0)
    timing = Timing(warmup, duration)
    started = time.perf_counter()
    meta = _meta(args, warmup, duration)
    report: dict[str, Any] = {"meta": meta, "models": {}, "skipped": {}}

    mlflow_python, mlflow_why = None, "--no-mlflow"
    if not args.no_mlflow:
        mlflow_python, mlflow_why = ensure_mlflow_serve_venv()
        if mlflow_python is None:
            log(f"MLflow is skipped: {mlflow_why}")
    available, serve_why = conveyor_serve_available()
    if not available:
        log(f"conveyor is skipped: {serve_why}")

    with tempfile.TemporaryDirectory(prefix="conveyor-bench-serving-", dir=args.tmpdir) as tmp:
        folder = Path(tmp)
        if args.no_ceiling:
            report["skipped"]["loadgen ceiling"] = "--no-ceiling"
        else:
            log("load generator ceiling...")
            body = folder / "ceiling-body.json"
            body.write_text(json.dumps({"dataframe_split": {"columns": COLUMNS, "data": [[0.0]]}}))
            try:
                report["ceiling"] = bench_ceiling(folder, body, concurrencies, timing)
            except ServerFailedError as exc:
                report["skipped"]["loadgen ceiling"] = str(exc)
        for kind in [args.only] if args.only else list(MODELS):
            report["models"][kind] = bench_model(
                kind,
                folder / kind,
                concurrencies,
                timing,
                mlflow_python=mlflow_python,
                mlflow_why=mlflow_why,
                serve_why=serve_why,
                seed=args.seed,
            )
            mlflow_result = report["models"][kind]["targets"].get(MLFLOW)
            if mlflow_result:
                meta["mlflow"] = mlflow_result["version"]

    from bench_store import _load

    meta["load_after"] = _load()
    meta["elapsed_s"] = time.perf_counter() - started
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    print(render_text(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
