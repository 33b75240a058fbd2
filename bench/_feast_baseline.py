"""Feast baseline: the same feature-store work as ``bench_features.py`` does with conveyor.

Run by ``bench_features.py`` with the python of ``bench/.venvs/feast`` (Feast is not a
dependency of conveyor, and this script never imports conveyor). It reads a spec (JSON)
that names the Parquet files the benchmark generated, and prints one JSON object on stdout;
Feast's own logging goes to stderr.

Feast runs offline, the way its quickstart runs it on one machine: the ``local`` provider,
the ``file`` offline store (Feast's Dask engine over the Parquet files), the ``sqlite``
online store, and a file registry, all in a temporary folder. No telemetry.

* historical: ``FeatureStore.get_historical_features(entity_df, features).to_df()`` on the
  whole entity table (a pandas DataFrame, read from the Parquet file before timing), after
  a warm-up call on the sampled entity rows; ``--repeat`` timed calls, and the sampled rows
  of the first one's result written for the benchmark to compare with conveyor's.
* materialize: ``FeatureStore.materialize(start, end)`` of both views, timed once.
* online: ``FeatureStore.get_online_features(features, entity_rows).to_dict()``, one call per
  lookup, 1 and 100 entities per call, each call timed with ``time.perf_counter_ns``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# Before Feast is imported: no usage reporting, nothing leaves this machine.
os.environ["FEAST_USAGE"] = "False"
os.environ["DO_NOT_TRACK"] = "1"
for _name in [n for n in os.environ if n.startswith("FEAST_") and n != "FEAST_USAGE"]:
    del os.environ[_name]  # no repo, registry or feature server from the caller's environment


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def percentiles(samples_ns: list[int]) -> dict[str, Any]:
    """p50 / p99 (nearest rank) and mean of per-call times, in ms."""
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


def peak_rss() -> int | None:
    """This process's peak resident memory in bytes (Linux: ru_maxrss is in KiB)."""
    try:
        import resource
    except ImportError:
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def build_store(spec: dict[str, Any], repo: Path) -> tuple[Any, list[Any]]:
    from feast import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
    from feast.types import Float64, Int64

    kinds = {"double": Float64, "int64": Int64}
    (repo / "data").mkdir(parents=True, exist_ok=True)
    (repo / "feature_store.yaml").write_text(
        "project: bench\n"
        f"registry: {repo / 'data' / 'registry.db'}\n"
        "provider: local\n"
        "online_store:\n"
        "  type: sqlite\n"
        f"  path: {repo / 'data' / 'online.db'}\n"
        "offline_store:\n"
        "  type: file\n"
        "entity_key_serialization_version: 3\n"
    )
    key = spec["entity_key"]
    entity = Entity(name="entity", join_keys=[key], value_type=ValueType.INT64)
    objects: list[Any] = [entity]
    for view in spec["views"]:
        source = FileSource(
            name=f"{view['name']}_source", path=view["path"], timestamp_field=view["timestamp"]
        )
        objects.append(
            FeatureView(
                name=view["name"],
                entities=[entity],
                # Feast needs a TTL; ten years is longer than the data, so it never cuts a
                # value (conveyor's views have none), and both serve the same values.
                ttl=datetime.timedelta(days=3650),
                schema=[
                    Field(name=key, dtype=Int64),
                    *(Field(name=n, dtype=kinds[t]) for n, t in view["features"].items()),
                ],
                source=source,
                online=True,
            )
        )
    store = FeatureStore(repo_path=str(repo))
    store.apply(objects)
    return store, objects


def quietly(call: Any) -> Any:
    """Run ``call()`` with anything it prints sent to stderr (stdout carries the JSON)."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        result = call()
    if buffer.getvalue().strip():
        log(buffer.getvalue().rstrip())
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spec", required=True, help="the benchmark's spec (JSON)")
    parser.add_argument("--repeat", type=int, default=3, help="timed historical retrievals")
    parser.add_argument("--skip-historical", action="store_true")
    args = parser.parse_args()
    spec = json.loads(Path(args.spec).read_text())
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    import feast
    import pandas as pd
    import pyarrow.parquet as pq

    features = spec["features"]
    out: dict[str, Any] = {
        "version": feast.__version__,
        "pandas": pd.__version__,
        "offline_store": "file (Dask)",
        "online_store": "sqlite",
    }
    repo = Path(tempfile.mkdtemp(prefix="feast-bench-"))
    try:
        store, _ = build_store(spec, repo)
        out["offline_store_class"] = type(store._get_provider().offline_store).__name__

        if not args.skip_historical:
            entity_df = pq.read_table(spec["entity_table"]).to_pandas()
            sample = entity_df.iloc[spec["sample_ids"]].reset_index(drop=True)
            names = [ref.split(":")[1] for ref in features]

            def retrieve(rows: pd.DataFrame) -> pd.DataFrame:
                job = store.get_historical_features(entity_df=rows, features=features)
                return job.to_df()

            started = time.perf_counter()
            quietly(lambda: retrieve(sample))  # the warm-up: Dask, the registry, the sources
            warmup_s = time.perf_counter() - started
            log(f"  Feast: warm-up ({len(sample):,} entity rows) {warmup_s:.2f} s")
            runs = []
            for i in range(args.repeat):
                started = time.perf_counter()
                result = quietly(lambda: retrieve(entity_df))
                runs.append(time.perf_counter() - started)
                log(f"  Feast: historical run {i + 1} ({len(entity_df):,} rows): {runs[-1]:.2f} s")
                if i == 0:  # the sampled rows of a timed result, for the comparison
                    out["historical_rows"] = len(result)
                    out["historical_columns"] = list(result.columns)
                    row_id = spec["row_id"]
                    picked = result[result[row_id].isin(set(spec["sample_ids"]))]
                    picked = picked.sort_values(row_id)[[row_id, *names]]
                    picked.reset_index(drop=True).to_parquet(spec["feast_sample"])
                    del picked
                del result
            out["historical"] = {
                "n": len(entity_df),
                "runs_s": runs,
                "warmup_s": warmup_s,
                "median_s": statistics.median(runs),
            }
            del entity_df, sample

        start = datetime.datetime.fromisoformat(spec["materialize_start"])
        end = datetime.datetime.fromisoformat(spec["materialize_end"])
        log("  Feast: materialize...")
        started = time.perf_counter()
        quietly(lambda: store.materialize(start_date=start, end_date=end))
        out["materialize"] = {"seconds": time.perf_counter() - started}

        key = spec["entity_key"]
        lookups = json.loads(Path(spec["lookups"]).read_text())
        online: dict[str, Any] = {}
        for label, batches in (("1", lookups["one"]), ("100", lookups["hundred"])):
            rows = [[{key: k} for k in batch] for batch in batches]
            for batch in rows[: lookups["warmup"]]:
                store.get_online_features(features=features, entity_rows=batch).to_dict()
            times = []
            clock = time.perf_counter_ns
            for batch in rows:
                t0 = clock()
                store.get_online_features(features=features, entity_rows=batch).to_dict()
                times.append(clock() - t0)
            online[label] = percentiles(times)
            log(
                f"  Feast: online {label} entit{'y' if label == '1' else 'ies'}: p50 "
                f"{online[label]['p50_ms']:.3f} ms, p99 {online[label]['p99_ms']:.3f} ms"
            )
        out["online"] = online
        check = [{key: k} for k in lookups["check"]]
        got = store.get_online_features(features=features, entity_rows=check).to_dict()
        out["online_check"] = {name: got[name] for name in (r.split(":")[1] for r in features)}
    finally:
        shutil.rmtree(repo, ignore_errors=True)
    out["peak_rss_bytes"] = peak_rss()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
