"""Prefect 3 baseline: the same no-op chain and fan-out as ``_pipeline_workload.py``.

Run by ``bench_pipeline.py`` with the python of ``bench/.venvs/prefect`` (Prefect is not a
dependency of conveyor). Prints one JSON object on stdout; Prefect's own logging goes to
stderr.

Prefect runs the way a user without a server runs it: no ``PREFECT_API_URL``, so the first
flow starts Prefect's ephemeral API (a local server subprocess on 127.0.0.1 with its default
SQLite database, here in a fresh temporary ``PREFECT_HOME``). A warm-up flow pays for that
start before anything is timed. Telemetry is off.

* chain: a ``@flow`` calls a ``@task`` ``n`` times in sequence, each call getting the
  previous call's result.
* fan-out: a ``@flow`` calls ``task.map(range(n))`` and waits for every result.

Tasks use ``cache_policy=NO_CACHE``, as conveyor runs with ``cache=False``; everything else
is Prefect's default (``ThreadPoolTaskRunner``, result persistence off, INFO logging).
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import sys
import tempfile
import time
from typing import Any

# Set before Prefect is imported: its settings are read at import time.
_HOME = tempfile.mkdtemp(prefix="prefect-bench-home-")
# Registered before Prefect's own exit hooks, so it runs after them (after the server stops).
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)
for _name in [n for n in os.environ if n.startswith("PREFECT_")]:
    del os.environ[_name]  # no profile or API URL from the caller's environment
os.environ.update(
    {
        "PREFECT_HOME": _HOME,  # a fresh profile and ephemeral SQLite database
        "PREFECT_SERVER_EPHEMERAL_ENABLED": "true",  # alias: PREFECT_SERVER_ALLOW_EPHEMERAL_MODE
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",  # the ephemeral server need not build or serve the UI
        "DO_NOT_TRACK": "1",
    }
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chain", type=int, default=1000, help="tasks in the chain (0: skip)")
    parser.add_argument("--fanout", type=int, default=1000, help="mapped items (0: skip)")
    parser.add_argument("--warmup", type=int, default=10, help="tasks in each warm-up flow")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs of each shape")
    args = parser.parse_args()

    import prefect
    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE

    @task(cache_policy=NO_CACHE)
    def link(prev: int = 0) -> int:
        return prev

    @task(cache_policy=NO_CACHE)
    def item(i: int) -> None:
        return None

    @flow
    def chain(n: int) -> int:
        prev = link()
        for _ in range(n - 1):
            prev = link(prev)
        return prev

    @flow
    def fanout(n: int) -> int:
        futures = item.map(range(n))
        return len(futures.result())

    timings: dict[str, Any] = {}
    started = time.perf_counter()
    chain(args.warmup)  # the first flow starts the ephemeral API server
    fanout(args.warmup)
    timings["warmup_s"] = time.perf_counter() - started
    singles = []
    for _ in range(3):  # the fixed cost of a flow run: one task, warm
        t0 = time.perf_counter()
        chain(1)
        singles.append(time.perf_counter() - t0)
    timings["single_s"] = sorted(singles)[1]

    results: dict[str, Any] = {}
    for shape, fn, n in (("chain", chain, args.chain), ("fanout", fanout, args.fanout)):
        if n <= 0:
            continue
        runs = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            out = fn(n)
            runs.append(time.perf_counter() - t0)
            expected = 0 if shape == "chain" else n
            if out != expected:
                raise SystemExit(f"{shape} flow returned {out!r}, expected {expected!r}")
        results[shape] = {"n": n, "runs_s": runs}

    import fastapi
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    database = settings.server.database.connection_url
    json.dump(
        {
            "system": "prefect",
            "version": prefect.__version__,
            "fastapi": fastapi.__version__,
            "python": sys.version.split()[0],
            "api": "ephemeral" if not settings.api.url else str(settings.api.url),
            "ephemeral_enabled": settings.server.ephemeral.enabled,
            "analytics_enabled": settings.server.analytics_enabled,
            # a local file in the temporary PREFECT_HOME, not a credential
            "database": database.get_secret_value().split("://", 1)[0] if database else None,
            "warmup_s": timings["warmup_s"],
            "single_s": timings["single_s"],
            "results": results,
        },
        sys.stdout,
    )
    sys.stdout.write("\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
