"""Feature-store benchmark: conveyor's historical retrieval and online lookups vs Feast.

Measures, in one run and on the same generated Parquet files:

* **historical retrieval**: point-in-time correct training data for 1M entity rows x 10
  features from 2 feature views (5 features each): conveyor's ``get_historical_features``
  (DuckDB ASOF JOIN) against Feast's ``get_historical_features(...).to_df()`` on its
  ``file`` offline store (Dask);
* **materialisation** of both views into the online store;
* **online lookups** of the 10 features for 1 and for 100 entities per call, p50 and p99:
  conveyor's ``get_online_features`` (the prediction service's path, the online store kept
  open) on its SQLite store in-process and on Redis over loopback, against Feast's
  ``get_online_features(...).to_dict()`` on its SQLite online store.

Before timing, both systems' historical results are compared on a sample of entity rows,
and their online answers on 100 entities, so the figures compare the same work.

Feast runs in its own venv, ``bench/.venvs/feast`` (built on first use), as a subprocess
(``bench/_feast_baseline.py``, which never imports conveyor) that prints one JSON object.

Usage::

    .venv/bin/python bench/bench_features.py                # full run, table
    .venv/bin/python bench/bench_features.py --quick        # 100k entity rows (CI smoke)
    .venv/bin/python bench/bench_features.py --json         # JSON instead of the table
    .venv/bin/python bench/bench_features.py --no-feast --no-redis

Redis: ``--redis-url``, else ``CONVEYOR_BENCH_REDIS_URL``, else ``redis://127.0.0.1:6379/0``.
The benchmark writes under a fresh key prefix there and deletes its keys at the end; an
unreachable server is skipped with the reason printed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from bench_store import (  # noqa: E402 - shared helpers of the benchmarks
    _load,
    _tail,
    align_table,
    baseline_env,
    ensure_venv,
    hide_password,
    log,
)

import conveyor  # noqa: E402

FEAST_VENV = BENCH_DIR / ".venvs" / "feast"
FEAST_SCRIPT = BENCH_DIR / "_feast_baseline.py"
# 0.67 is the release the issue quotes, and the newest the package index here serves.
FEAST_REQUIREMENTS = ["feast>=0.67,<0.68"]
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
REDIS_ENV = "CONVEYOR_BENCH_REDIS_URL"

SEED = 20261130
T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
ENTITY_KEY = "entity_id"
ENTITY_TIME = "event_timestamp"
VIEW_TIME = "event_ts"
ROW_ID = "row_id"
# Two views of 5 features each: floats in one, ints and floats in the other.
VIEWS: dict[str, dict[str, str]] = {
    "stats_a": {f"a{i}": "double" for i in range(5)},
    "stats_b": {"b0": "int64", "b1": "int64", "b2": "int64", "b3": "double", "b4": "double"},
}
FEATURES = [f"{view}:{name}" for view, names in VIEWS.items() for name in names]
NAMES = [ref.split(":")[1] for ref in FEATURES]

HISTORICAL = "historical"
MATERIALIZE = "materialize"
ONLINE = "online"  # get_online_features, the service path
READ = "read"  # OnlineStore.read of each view, what the service calls underneath
TARGET_RATIO = 10.0  # historical retrieval: at least 10x faster than Feast
REDIS_P99_MS = 1.0  # conveyor on Redis, one entity


@dataclass(frozen=True)
class Sizes:
    entities: int = 10_000  # distinct entity ids, 0 .. entities - 1
    view_rows: int = 100_000  # rows per view (view_rows / entities hourly rows per entity)
    hours: int = 240  # the views' rows fall on these many hours from T0
    entity_rows: int = 1_000_000  # rows of the entity table (historical retrieval)
    repeat: int = 3  # timed historical retrievals (after one warm-up); the median is reported
    sample: int = 1_000  # entity rows whose historical values are compared between systems
    lookups_one: int = 10_000  # online lookups of 1 entity
    lookups_hundred: int = 2_000  # online lookups of 100 entities
    warmup_lookups: int = 200  # untimed lookups before each timed loop


FULL = Sizes()
QUICK = Sizes(
    entities=1_000,
    view_rows=10_000,
    entity_rows=100_000,
    repeat=1,
    sample=500,
    lookups_one=1_000,
    lookups_hundred=200,
    warmup_lookups=50,
)


def percentiles(samples_ns: list[int]) -> dict[str, Any]:
    """p50 / p99 (nearest rank), mean and max of per-call times, in ms."""
    ordered = sorted(samples_ns)
    n = len(ordered)

    def rank(p: float) -> float:
        return ordered[max(0, min(n - 1, int(-(-p * n // 100)) - 1))] / 1e6

    return {
        "n": n,
        "p50_ms": rank(50),
        "p99_ms": rank(99),
        "mean_ms": sum(ordered) / n / 1e6,
        "max_ms": ordered[-1] / 1e6,
    }


# --- data -------------------------------------------------------------------------------


def generate_data(folder: Path, sizes: Sizes) -> dict[str, Any]:
    """Write the views' sources, the entity table and the lookups; return the spec both
    systems read. Deterministic: the same sizes give the same files."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(SEED)
    folder.mkdir(parents=True, exist_ok=True)
    per_entity = max(1, sizes.view_rows // sizes.entities)
    if per_entity > sizes.hours:
        raise SystemExit(f"--view-rows / --entities must be at most {sizes.hours}")
    t0_us = int(T0.timestamp()) * 1_000_000
    stamp = pa.timestamp("us", tz="UTC")
    views = []
    for name, features in VIEWS.items():
        # Each entity gets `per_entity` distinct hours: no two rows share a key and time, so
        # no tie-break rule (where systems may differ) decides a value. The first is hour 0,
        # before every entity row: each entity row has a value in both views (Feast's file
        # store drops an entity row for which a view has no value yet; conveyor keeps it
        # with nulls), so both systems return the same rows.
        later = np.argsort(rng.random((sizes.entities, sizes.hours - 1)), axis=1)
        hours = np.concatenate(
            [np.zeros((sizes.entities, 1), np.int64), 1 + later[:, : per_entity - 1]], axis=1
        )
        ids = np.repeat(np.arange(sizes.entities, dtype=np.int64), per_entity)
        order = rng.permutation(len(ids))  # the source is not in time or key order
        ids, hours = ids[order], hours.ravel()[order]
        columns: dict[str, Any] = {
            ENTITY_KEY: ids,
            VIEW_TIME: pa.array(t0_us + hours.astype(np.int64) * 3_600_000_000, stamp),
        }
        for feature, kind in features.items():
            if kind == "double":
                columns[feature] = rng.normal(size=len(ids))
            else:
                columns[feature] = rng.integers(0, 1_000_000, size=len(ids), dtype=np.int64)
        path = folder / f"{name}.parquet"
        pq.write_table(pa.table(columns), path)
        views.append(
            {"name": name, "path": str(path), "timestamp": VIEW_TIME, "features": features}
        )

    # Entity rows: uniform over the entities and over the views' span and 6 h past it, at
    # second resolution (some fall exactly on an hour: a value stamped at the row's time
    # is served, in both systems).
    # No two rows share an entity and a time: Feast collapses such rows into one (it
    # deduplicates on the join keys and the timestamp), conveyor keeps each.
    n = sizes.entity_rows
    span = (sizes.hours + 6) * 3600
    drawn = n + n // 50 + 100
    ids = rng.integers(0, sizes.entities, size=drawn, dtype=np.int64)
    seconds = rng.integers(0, span, size=drawn, dtype=np.int64)
    _, first = np.unique(ids * span + seconds, return_index=True)
    kept = np.sort(first)[:n]  # the first draw of each (entity, second), in draw order
    if len(kept) < n:
        raise SystemExit("too many entity rows for the entities and the time span")
    ids, seconds = ids[kept], seconds[kept]
    entity_table = pa.table(
        {
            ENTITY_KEY: ids,
            ENTITY_TIME: pa.array(t0_us + seconds * 1_000_000, stamp),
            ROW_ID: np.arange(n, dtype=np.int64),
        }
    )
    entity_path = folder / "entities.parquet"
    pq.write_table(entity_table, entity_path)
    sample = sorted(rng.choice(n, size=min(sizes.sample, n), replace=False).tolist())

    def keys(count: int, per_call: int) -> list[list[int]]:
        drawn = rng.integers(0, sizes.entities, size=(count, per_call)).tolist()
        return [list(map(int, row)) for row in drawn]

    check = [int(k) for k in rng.choice(sizes.entities, size=98, replace=False)]
    check += [sizes.entities + 1, sizes.entities + 2]  # unknown entities: misses in both
    lookups = {
        "one": keys(sizes.lookups_one, 1),
        "hundred": keys(sizes.lookups_hundred, 100),
        "warmup": sizes.warmup_lookups,
        "check": check,
    }
    lookups_path = folder / "lookups.json"
    lookups_path.write_text(json.dumps(lookups))
    end = T0 + datetime.timedelta(hours=sizes.hours + 1)
    return {
        "views": views,
        "features": FEATURES,
        "entity_key": ENTITY_KEY,
        "entity_time": ENTITY_TIME,
        "row_id": ROW_ID,
        "entity_table": str(entity_path),
        "entity_rows": n,
        "sample_ids": sample,
        "lookups": str(lookups_path),
        "materialize_start": (T0 - datetime.timedelta(days=1)).isoformat(),
        "materialize_end": end.isoformat(),
        "feast_sample": str(folder / "feast_sample.parquet"),
        "conveyor_sample": str(folder / "conveyor_sample.parquet"),
        "source_bytes": sum(Path(v["path"]).stat().st_size for v in views),
    }


# --- conveyor ---------------------------------------------------------------------------


def views_module(spec: dict[str, Any]) -> str:
    """The project module defining the two views over the generated Parquet files."""
    parts = ["from conveyor.features import FeatureView\n"]
    for view in spec["views"]:
        parts.append(
            textwrap.dedent(
                f"""
                {view["name"]} = FeatureView(
                    name={view["name"]!r},
                    entities=[{ENTITY_KEY!r}],
                    timestamp={view["timestamp"]!r},
                    features={view["features"]!r},
                    source={view["path"]!r},
                )
                """
            )
        )
    return "".join(parts)


def open_project(root: Path, spec: dict[str, Any], env: dict[str, str]) -> Any:
    """A fresh project at ``root`` whose module defines the views; opened with ``env`` only
    (the caller's ``CONVEYOR_*`` variables are ignored)."""
    from conveyor.workspace import Workspace, init_project

    init_project(root, name="bench")
    module = "bench_views_" + uuid.uuid4().hex[:10]
    (root / f"{module}.py").write_text(views_module(spec))
    with open(root / "conveyor.toml", "a") as f:
        f.write(f'\n[pipelines]\nmodules = ["{module}"]\n')
    return Workspace.open(root, env=env)


def bench_conveyor_historical(ws: Any, spec: dict[str, Any], sizes: Sizes) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from conveyor.features import get_historical_features

    entities = pq.read_table(spec["entity_table"])
    sample = entities.take(pa.array(spec["sample_ids"], pa.int64()))  # row_id == position

    def retrieve(rows: pa.Table) -> pa.Table:
        return get_historical_features(ws, rows, FEATURES, timestamp=ENTITY_TIME)

    started = time.perf_counter()
    retrieve(sample)  # the warm-up: imports, DuckDB, the views found
    warmup_s = time.perf_counter() - started
    log(f"  conveyor: warm-up ({sample.num_rows:,} entity rows) {warmup_s:.2f} s")
    runs = []
    result = None
    for i in range(sizes.repeat):
        del result
        started = time.perf_counter()
        result = retrieve(entities)
        runs.append(time.perf_counter() - started)
        log(f"  conveyor: historical run {i + 1} ({entities.num_rows:,} rows): {runs[-1]:.2f} s")
        if i == 0:  # the sampled rows of a timed result, for the comparison with Feast
            rows, columns = result.num_rows, result.column_names
            picked = result.take(pa.array(spec["sample_ids"], pa.int64()))
            pq.write_table(picked.select([ROW_ID, *NAMES]), spec["conveyor_sample"])
    started = time.perf_counter()
    result.to_pandas()  # what it adds for a caller who wants what Feast's to_df() gives
    to_pandas_s = time.perf_counter() - started
    return {
        "n": entities.num_rows,
        "runs_s": runs,
        "warmup_s": warmup_s,
        "median_s": statistics.median(runs),
        "to_pandas_s": to_pandas_s,
        "rows": rows,
        "columns": columns,
    }


def time_lookups(call: Any, batches: list[list[int]], warmup: int) -> dict[str, Any]:
    """``call(keys)`` for each batch after ``warmup`` untimed ones; per-call percentiles."""
    for batch in batches[:warmup]:
        call(batch)
    clock = time.perf_counter_ns
    times = []
    for batch in batches:
        t0 = clock()
        call(batch)
        times.append(clock() - t0)
    return percentiles(times)


def bench_conveyor_online(ws: Any, spec: dict[str, Any], label: str) -> dict[str, Any]:
    """Materialise both views, then time lookups through ``get_online_features`` (the
    service path) and through ``OnlineStore.read`` of each view (the store alone)."""
    from conveyor.features import OnlineSchema, get_online_features, materialize, open_online

    end = datetime.datetime.fromisoformat(spec["materialize_end"])
    log(f"  conveyor: materialize into {label}...")
    started = time.perf_counter()
    done = materialize(ws, end=end)
    out: dict[str, Any] = {
        "materialize": {
            "seconds": time.perf_counter() - started,
            "rows": sum(m.n_rows for m in done),
            "written": sum(m.n_written for m in done),
        }
    }
    lookups = json.loads(Path(spec["lookups"]).read_text())
    schemas = [
        (OnlineSchema(view["name"], (ENTITY_KEY,), tuple(view["features"].items())), view)
        for view in spec["views"]
    ]
    online = open_online(ws)
    try:

        def service(keys: list[int]) -> Any:
            rows = [{ENTITY_KEY: k} for k in keys]
            return get_online_features(ws, rows, FEATURES, online=online)

        def store_only(keys: list[int]) -> Any:
            tuples = [(k,) for k in keys]
            return [online.read(schema, tuples, list(view["features"])) for schema, view in schemas]

        for kind, call in ((ONLINE, service), (READ, store_only)):
            for size, batches in (("1", lookups["one"]), ("100", lookups["hundred"])):
                got = time_lookups(call, batches, lookups["warmup"])
                out[f"{kind}/{size}"] = got
                log(
                    f"  conveyor {label} {kind:6} {size:>3}: p50 {got['p50_ms']:.3f} ms, "
                    f"p99 {got['p99_ms']:.3f} ms"
                )
        found = service(lookups["check"])
        out["check"] = {name: [row[name] for row in found.rows] for name in NAMES}
        out["check_misses"] = len({m.row for m in found.misses})
    finally:
        online.close()
    return out


def bench_conveyor(
    spec: dict[str, Any], sizes: Sizes, tmp: Path, redis_url: str | None, historical: bool
) -> tuple[dict[str, Any], dict[str, str]]:
    out: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    ws = open_project(tmp / "conveyor-sqlite", spec, {})
    try:
        if historical:
            out["historical"] = bench_conveyor_historical(ws, spec, sizes)
        out["sqlite"] = bench_conveyor_online(ws, spec, "sqlite")
    finally:
        ws.close()
    if redis_url is None:
        return out, skipped
    why = redis_unreachable(redis_url)
    if why:
        skipped["conveyor/redis"] = why
        return out, skipped
    # Its own project: materialisation watermarks live in the metadata store, so a project
    # that materialised into SQLite would find nothing new to write into Redis.
    prefix = "conveyor-bench-" + uuid.uuid4().hex[:12]
    env = {"CONVEYOR_FEATURES_ONLINE_STORE": redis_url, "CONVEYOR_FEATURES_ONLINE_PREFIX": prefix}
    ws = open_project(tmp / "conveyor-redis", spec, env)
    try:
        out["redis"] = bench_conveyor_online(ws, spec, "redis")
    finally:
        try:
            out.setdefault("redis", {})["keys_left"] = delete_redis_keys(ws, redis_url, prefix)
        finally:
            ws.close()
    return out, skipped


def redis_unreachable(url: str) -> str:
    """Why Redis at ``url`` cannot be used ('' if it can)."""
    try:
        import redis
    except ImportError as exc:
        return f"redis-py is not installed ({exc}); pip install 'conveyor[redis]'"
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:  # redis.ConnectionError and the like
        return f"{hide_password(url)} is unreachable: {type(exc).__name__}: {exc}"
    return ""


def delete_redis_keys(ws: Any, url: str, prefix: str) -> int:
    """Delete the views and then any key left under ``prefix``; returns how many were left."""
    import redis

    from conveyor.features import open_online

    online = open_online(ws)
    try:
        for view in VIEWS:
            online.delete_view(view)
    finally:
        online.close()
    client = redis.Redis.from_url(url)
    try:
        left = list(client.scan_iter(match=f"{prefix}:*", count=10_000))
        if left:
            client.delete(*left)
        return len(left)
    finally:
        client.close()


# --- Feast ------------------------------------------------------------------------------


FEAST_PROBE = (
    "import os; os.environ['FEAST_USAGE'] = 'False';"
    "import feast, dask;"
    "from feast.infra.offline_stores.dask import DaskOfflineStore;"
    "from feast.infra.online_stores.sqlite import SqliteOnlineStore;"
    "print(feast.__version__)"
)


def ensure_feast_venv() -> tuple[Path | None, str]:
    """The Feast venv's python, building the venv first if needed; else ``(None, why)``."""
    return ensure_venv(FEAST_VENV, FEAST_REQUIREMENTS, what="Feast", probe=FEAST_PROBE)


def bench_feast(
    python: Path, spec_path: Path, sizes: Sizes, historical: bool
) -> tuple[dict[str, Any] | None, str]:
    """Run the baseline in Feast's venv; returns its JSON, or ``(None, why)``."""
    args = [str(python), str(FEAST_SCRIPT), f"--spec={spec_path}", f"--repeat={sizes.repeat}"]
    if not historical:
        args.append("--skip-historical")
    env = baseline_env("FEAST_", FEAST_USAGE="False")
    try:
        done = subprocess.run(
            args, stdout=subprocess.PIPE, stderr=None, text=True, timeout=3600, env=env
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"the Feast baseline failed: {type(exc).__name__}: {exc}"
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    if done.returncode != 0:
        return None, f"the Feast baseline exited {done.returncode} (its stderr is above)"
    try:
        return json.loads(lines[-1]), ""
    except (IndexError, json.JSONDecodeError):
        return None, f"the Feast baseline printed no JSON: {_tail(done.stdout)}"


# --- checks -----------------------------------------------------------------------------


def _same(a: Any, b: Any) -> bool:
    """Equal values, a null (None or NaN) matching only a null; ints and floats by value."""
    a_null = a is None or (isinstance(a, float) and a != a)
    b_null = b is None or (isinstance(b, float) and b != b)
    if a_null or b_null:
        return a_null and b_null
    return bool(a == b)


def compare_historical(spec: dict[str, Any]) -> dict[str, Any]:
    """Value-by-value comparison of both systems' sampled rows, matched by row id."""
    import pyarrow.parquet as pq

    mine = {row[ROW_ID]: row for row in pq.read_table(spec["conveyor_sample"]).to_pylist()}
    theirs = {row[ROW_ID]: row for row in pq.read_table(spec["feast_sample"]).to_pylist()}
    both = sorted(mine.keys() & theirs.keys())
    cells = rows_mismatched = 0
    for row_id in both:
        bad = sum(1 for name in NAMES if not _same(mine[row_id][name], theirs[row_id][name]))
        cells += bad
        rows_mismatched += bad > 0
    return {
        "rows": len(spec["sample_ids"]),
        "compared": len(both),
        "missing_in_conveyor": len(theirs.keys() - mine.keys()),
        "missing_in_feast": len(mine.keys() - theirs.keys()),
        "mismatched_rows": rows_mismatched,
        "mismatched_values": cells,
        "values": len(both) * len(NAMES),
        "null_values": sum(1 for r in both for name in NAMES if mine[r][name] is None),
    }


def compare_online(mine: dict[str, list[Any]], theirs: dict[str, list[Any]]) -> int:
    """Mismatched values between two online answers for the same entities."""
    return sum(
        1
        for name, values in mine.items()
        for a, b in zip(values, theirs.get(name, []), strict=False)
        if not _same(a, b)
    ) + sum(abs(len(v) - len(theirs.get(k, []))) for k, v in mine.items())


# --- report -----------------------------------------------------------------------------

LABELS = {
    HISTORICAL: "historical retrieval",
    MATERIALIZE: "materialize (2 views)",
    f"{ONLINE}/1": "online, 1 entity",
    f"{ONLINE}/100": "online, 100 entities",
    f"{READ}/1": "  OnlineStore.read x2, 1 entity",
    f"{READ}/100": "  OnlineStore.read x2, 100 entities",
}


def build_rows(
    conveyor_out: dict[str, Any], feast_out: dict[str, Any] | None, sizes: Sizes
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    feast = feast_out or {}
    hist = conveyor_out.get("historical")
    if hist:
        rows.append(
            {
                "system": "conveyor",
                "store": "DuckDB ASOF JOIN",
                "operation": HISTORICAL,
                "n": hist["n"],
                "median_s": hist["median_s"],
                "best_s": min(hist["runs_s"]),
            }
        )
    for backend in ("sqlite", "redis"):
        got = conveyor_out.get(backend)
        if not got or "materialize" not in got:
            continue
        rows.append(
            {
                "system": "conveyor",
                "store": backend,
                "operation": MATERIALIZE,
                "n": got["materialize"]["rows"],
                "median_s": got["materialize"]["seconds"],
            }
        )
        for kind in (ONLINE, READ):
            for size in ("1", "100"):
                rows.append(
                    {
                        "system": "conveyor",
                        "store": backend,
                        "operation": f"{kind}/{size}",
                        **got[f"{kind}/{size}"],
                    }
                )
    if "historical" in feast:
        h = feast["historical"]
        rows.append(
            {
                "system": "feast",
                "store": "file (Dask)",
                "operation": HISTORICAL,
                "n": h["n"],
                "median_s": h["median_s"],
                "best_s": min(h["runs_s"]),
            }
        )
    if "materialize" in feast:
        rows.append(
            {
                "system": "feast",
                "store": "sqlite",
                "operation": MATERIALIZE,
                "n": sizes.view_rows * len(VIEWS),
                "median_s": feast["materialize"]["seconds"],
            }
        )
    for size in ("1", "100"):
        if size in feast.get("online", {}):
            rows.append(
                {
                    "system": "feast",
                    "store": "sqlite",
                    "operation": f"{ONLINE}/{size}",
                    **feast["online"][size],
                }
            )
    add_verdicts(rows)
    return rows


def add_verdicts(rows: list[dict[str, Any]]) -> None:
    """Ratios to Feast (its time / conveyor's: higher is better for conveyor) and targets."""
    feast = {r["operation"]: r for r in rows if r["system"] == "feast"}
    for row in rows:
        row["vs_feast"] = None
        row["target"] = None
        row["target_met"] = None
        if row["system"] != "conveyor":
            continue
        op = row["operation"]
        base = feast.get(op)  # none for OnlineStore.read: Feast's rows are whole lookups
        if base is not None:
            if "median_s" in row:
                row["vs_feast"] = base["median_s"] / row["median_s"]
            else:
                row["vs_feast"] = base["p99_ms"] / row["p99_ms"]
        if op == HISTORICAL and base is not None:
            row["target"] = f">= {TARGET_RATIO:g}x Feast"
            row["target_met"] = row["vs_feast"] >= TARGET_RATIO
        elif op.startswith(ONLINE) and row["store"] == "sqlite" and base is not None:
            row["target"] = f"p99 < Feast's {base['p99_ms']:.3f} ms"
            row["target_met"] = row["p99_ms"] < base["p99_ms"]
        elif op == f"{ONLINE}/1" and row["store"] == "redis":
            row["target"] = f"p99 < {REDIS_P99_MS:g} ms"
            row["target_met"] = row["p99_ms"] < REDIS_P99_MS


def _num(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.2f}" if value >= 1 else f"{value:.3f}"


def render_table(rows: list[dict[str, Any]]) -> str:
    header = (
        "system",
        "store",
        "operation",
        "N",
        "median s",
        "best s",
        "p50 ms",
        "p99 ms",
        "vs Feast",
        "target",
    )
    body = []
    for r in rows:
        timed = "median_s" in r
        if r["system"] == "feast":
            ratio = "baseline"
        elif r["vs_feast"] is None:
            ratio = "-"
        else:
            ratio = f"{r['vs_feast']:.1f}x" + ("" if timed else " p99")
        if r["target_met"] is None:
            target = "-"
        else:
            target = f"{r['target']} {'ok' if r['target_met'] else 'MISSED'}"
        body.append(
            (
                r["system"],
                r["store"],
                LABELS[r["operation"]],
                f"{r['n']:,}",
                _num(r["median_s"]) if timed else "-",
                _num(r["best_s"]) if r.get("best_s") is not None else "-",
                "-" if timed else _num(r["p50_ms"]),
                "-" if timed else _num(r["p99_ms"]),
                ratio,
                target,
            )
        )
    return align_table(header, body, left={0, 1, 2, 9})


def render_text(report: dict[str, Any]) -> str:
    meta = report["meta"]
    sizes = meta["sizes"]
    versions = [f"conveyor {meta['conveyor']}", f"Python {meta['python']}"]
    versions += [f"DuckDB {meta['duckdb']}", f"pyarrow {meta['pyarrow']}"]
    versions.append(f"SQLite {meta['sqlite']}")
    if meta.get("redis"):
        versions.append(f"Redis {meta['redis']}")
    if meta.get("feast"):
        versions.append(
            f"Feast {meta['feast']} ({meta['feast_offline_store']}, pandas {meta['feast_pandas']})"
        )
    per_entity = max(1, sizes["view_rows"] // sizes["entities"])
    out = [
        "conveyor feature-store benchmark" + (" (--quick)" if meta["quick"] else ""),
        ", ".join(versions),
        f"{meta['cpus']} CPUs, load average {meta['load_before']} before / "
        f"{meta['load_after']} after; {meta['elapsed_s']:.0f} s in all",
        f"Data: 2 views x {sizes['view_rows']:,} rows ({sizes['entities']:,} entities x "
        f"{per_entity} hourly rows, 5 features each; {meta['source_bytes'] / 2**20:.1f} MiB of "
        f"Parquet); {sizes['entity_rows']:,} entity rows x 10 features.",
        "",
        render_table(report["results"]),
        "",
        f"historical: get_historical_features on the whole entity table, median of "
        f"{sizes['repeat']} after a warm-up (conveyor: a pyarrow Table; Feast: "
        ".to_df(), a pandas DataFrame).",
        f"online: {sizes['lookups_one']:,} lookups of 1 entity and {sizes['lookups_hundred']:,}"
        f" of 100, 10 features from 2 views, each call timed (after {sizes['warmup_lookups']} "
        "warm-up calls); conveyor: get_online_features(ws, rows, features, online=store) with "
        "the store kept open; Feast: get_online_features(features, entity_rows).to_dict().",
        "OnlineStore.read x2: the same lookups through the store alone (one read per view), "
        "without the service around it.",
        "vs Feast = Feast's time / conveyor's for the same operation in this run (median s, "
        "or p99 ms for lookups); higher is better for conveyor.",
    ]
    conv = report.get("conveyor", {})
    for backend in ("sqlite", "redis"):
        got = conv.get(backend, {})
        if f"{ONLINE}/1" in got and f"{READ}/1" in got:
            service, alone = got[f"{ONLINE}/1"]["p50_ms"], got[f"{READ}/1"]["p50_ms"]
            out.append(
                f"conveyor on {backend}, 1 entity: get_online_features p50 {service:.3f} ms, "
                f"OnlineStore.read x2 p50 {alone:.3f} ms: {service - alone:.3f} ms a call is "
                "spent around the store."
            )
    hist = conv.get("historical")
    if hist:
        out.append(
            f"conveyor's result to pandas (result.to_pandas()) takes {hist['to_pandas_s']:.2f} s "
            "more; warm-ups: conveyor "
            f"{hist['warmup_s']:.2f} s"
            + (
                f", Feast {report['feast']['historical']['warmup_s']:.2f} s."
                if report.get("feast", {}).get("historical")
                else "."
            )
        )
    check = report.get("checks", {}).get("historical")
    if check:
        feast_rows = report["feast"].get("historical_rows")
        out.append(
            f"Check, historical (the first timed result of each): {check['compared']:,} of "
            f"{check['rows']:,} sampled entity rows x 10 features compared, "
            f"{check['mismatched_values']} mismatched values in {check['mismatched_rows']} rows "
            f"({check['null_values']} null in conveyor); sampled rows missing: "
            f"{check['missing_in_feast']} in Feast's result, {check['missing_in_conveyor']} in "
            f"conveyor's; Feast returned {feast_rows:,} rows, conveyor "
            f"{conv['historical']['rows']:,}."
        )
    online_checks = report.get("checks", {}).get("online", {})
    if online_checks:
        parts = [f"{store}: {bad} mismatched" for store, bad in online_checks.items()]
        out.append(
            "Check, online (100 entities, 2 unknown, 10 features, vs Feast): "
            + ", ".join(parts)
            + "."
        )
    if "keys_left" in conv.get("redis", {}):
        out.append(
            f"Redis: keys under the benchmark's prefix left after delete_view: "
            f"{conv['redis']['keys_left']} (deleted)."
        )
    feast_rss = report.get("feast", {}).get("peak_rss_bytes")
    if meta.get("peak_rss_bytes"):
        out.append(
            f"Peak RSS: this process (the data, conveyor) {meta['peak_rss_bytes'] / 2**20:,.0f} MiB"
            + (f"; Feast's process {feast_rss / 2**20:,.0f} MiB." if feast_rss else ".")
        )
    for what, why in report["skipped"].items():
        out.append(f"skipped {what}: {why}")
    return "\n".join(out)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Historical retrieval and online lookups: conveyor's feature store vs Feast."
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (a CI smoke test)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--no-feast", action="store_true", help="skip the Feast baseline")
    parser.add_argument("--no-redis", action="store_true", help="skip conveyor on Redis")
    parser.add_argument(
        "--no-historical", action="store_true", help="online lookups and materialisation only"
    )
    parser.add_argument("--redis-url", help=f"Redis for conveyor (default {DEFAULT_REDIS_URL})")
    parser.add_argument("--entity-rows", type=int, help="entity table rows (default 1,000,000)")
    parser.add_argument("--repeat", type=int, help="timed historical retrievals (default 3)")
    parser.add_argument("--lookups", type=int, help="1-entity lookups (default 10,000)")
    parser.add_argument("--lookups-100", type=int, help="100-entity lookups (default 2,000)")
    parser.add_argument("--tmpdir", help="where the data and projects go (default: system temp)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    base = QUICK if args.quick else FULL
    sizes = Sizes(
        **{
            **base.__dict__,
            "entity_rows": args.entity_rows or base.entity_rows,
            "repeat": args.repeat or base.repeat,
            "lookups_one": args.lookups or base.lookups_one,
            "lookups_hundred": args.lookups_100 or base.lookups_hundred,
        }
    )
    redis_url = None if args.no_redis else args.redis_url or os.environ.get(REDIS_ENV)
    if not args.no_redis and not redis_url:
        redis_url = DEFAULT_REDIS_URL
    historical = not args.no_historical

    import duckdb
    import pyarrow

    started = time.perf_counter()
    meta: dict[str, Any] = {
        "conveyor": conveyor.__version__,
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "pyarrow": pyarrow.__version__,
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_before": _load(),
        "quick": args.quick,
        "sizes": sizes.__dict__,
    }
    skipped: dict[str, str] = {}
    checks: dict[str, Any] = {}
    feast_out: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="conveyor-features-bench-", dir=args.tmpdir) as name:
        tmp = Path(name)
        log("Generating the data...")
        spec = generate_data(tmp / "data", sizes)
        meta["source_bytes"] = spec["source_bytes"]
        spec_path = tmp / "data" / "spec.json"
        spec_path.write_text(json.dumps(spec))

        log("conveyor...")
        conveyor_out, why = bench_conveyor(spec, sizes, tmp, redis_url, historical)
        skipped |= why
        if redis_url is None:
            skipped["conveyor/redis"] = "--no-redis"
        elif "redis" in conveyor_out:
            meta["redis"] = redis_version(redis_url)

        if args.no_feast:
            skipped["feast"] = "--no-feast"
        else:
            python, why_feast = ensure_feast_venv()
            if python is None:
                skipped["feast"] = why_feast
            else:
                log(f"Feast ({python})...")
                feast_out, why_feast = bench_feast(python, spec_path, sizes, historical)
                if feast_out is None:
                    skipped["feast"] = why_feast
                else:
                    meta["feast"] = feast_out["version"]
                    meta["feast_pandas"] = feast_out["pandas"]
                    meta["feast_offline_store"] = feast_out.get("offline_store_class")
                    if historical:
                        checks["historical"] = compare_historical(spec)
                        checks["historical"]["feast_total_rows"] = feast_out["historical_rows"]
                    checks["online"] = {
                        backend: compare_online(
                            conveyor_out[backend]["check"], feast_out["online_check"]
                        )
                        for backend in ("sqlite", "redis")
                        if "check" in conveyor_out.get(backend, {})
                    }
    for what, why_skip in skipped.items():
        log(f"skipped {what}: {why_skip}")

    rows = build_rows(conveyor_out, feast_out, sizes)
    meta["load_after"] = _load()
    meta["peak_rss_bytes"] = peak_rss()
    meta["elapsed_s"] = time.perf_counter() - started
    for backend in ("sqlite", "redis"):  # the values compared, not needed in the report
        conveyor_out.get(backend, {}).pop("check", None)
    if feast_out:
        feast_out.pop("online_check", None)
    report = {
        "meta": meta,
        "results": rows,
        "checks": checks,
        "conveyor": conveyor_out,
        "feast": feast_out or {},
        "skipped": skipped,
    }
    print(json.dumps(report, indent=2) if args.json else render_text(report))
    return 0


def peak_rss() -> int | None:
    """This process's peak resident memory in bytes (Linux: ru_maxrss is in KiB)."""
    try:
        import resource
    except ImportError:
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def redis_version(url: str) -> str | None:
    try:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        try:
            return str(client.info("server").get("redis_version"))
        finally:
            client.close()
    except Exception:
        return None


if __name__ == "__main__":
    sys.exit(main())
