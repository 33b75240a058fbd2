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
import statistics
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


RECORD_TIMEOUT_S = 900


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

    from prefect.client.orchestration import get_client

    started = time.perf_counter()
    client = get_client(sync_client=True)  # starts the ephemeral API server

    def recorded(flow_run_id: Any) -> int:
        """Task runs of the flow run that the API has recorded as COMPLETED."""
        body = {
            "flow_runs": {"id": {"any_": [str(flow_run_id)]}},
            "task_runs": {"state": {"type": {"any_": ["COMPLETED"]}}},
        }
        response = client._client.post("/task_runs/count", json=body)
        response.raise_for_status()
        return int(response.json())

    def timed(fn: Any, n: int, expected: int) -> tuple[float, float]:
        """(seconds until the flow returns, seconds until all n task runs are recorded).

        Prefect records task-run states from events, after the flow has returned; waiting
        for them also keeps one run's backlog out of the next run's timing.
        """
        t0 = time.perf_counter()
        state = fn(n, return_state=True)
        returned = time.perf_counter() - t0
        out = state.result()
        if out != expected:
            raise SystemExit(f"the {fn.__name__} flow returned {out!r}, expected {expected!r}")
        flow_run_id = state.state_details.flow_run_id
        while recorded(flow_run_id) < n:
            if time.perf_counter() - t0 > RECORD_TIMEOUT_S:
                raise SystemExit(
                    f"Prefect recorded fewer than {n} task runs in {RECORD_TIMEOUT_S} s"
                )
            time.sleep(0.1)
        return returned, time.perf_counter() - t0

    with client:
        timed(chain, args.warmup, 0)
        timed(fanout, args.warmup, args.warmup)
        warmup_s = time.perf_counter() - started
        # the fixed cost of a flow run: one task, warm
        single_s = statistics.median(timed(chain, 1, 0)[0] for _ in range(3))

        results: dict[str, Any] = {}
        for shape, fn, n in (("chain", chain, args.chain), ("fanout", fanout, args.fanout)):
            if n <= 0:
                continue
            expected = 0 if shape == "chain" else n
            runs = [timed(fn, n, expected) for _ in range(args.repeat)]
            results[shape] = {
                "n": n,
                "runs_s": [r[0] for r in runs],
                "recorded_s": [r[1] for r in runs],
            }

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
            "warmup_s": warmup_s,
            "single_s": single_s,
            "results": results,
        },
        sys.stdout,
    )
    sys.stdout.write("\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
