"""Hot swap under load (R14) and swaps to a version that fails (R15), on the real server.

R14, at the issue's size: 16 clients send 20,000 requests (R14 asks 3,000) while the alias
moves 10 times: no request fails, every
answer names a version that was live, and once a client has seen version k answer, no
request it starts later is answered by an older one.
R15: a version that raises at load, or fails its warm-up prediction, never serves: 0 failed
requests, the alias returns to the serving version, one deployment.failed event with why.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from conveyor.core import DEPLOYMENT_FAILED
from conveyor.lineage import read_events
from conveyor.registry import model_aliases, promote, register_model
from support.models import ThresholdModel, frame
from support.serving import (
    FailsToLoad,
    run_server,
    serving_project,
    split_payload,
    support_env,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("store_url", ["sqlite"], indirect=True),
]


@pytest.mark.slow
def test_r14_hot_swap_under_load(make_project) -> None:
    ws = make_project("")
    versions = serving_project(ws, versions=11)
    total, clients = 20_000, 16
    results: list[tuple[int, float, float, str | None, str]] = []  # client, start, end, ver
    lock = threading.Lock()
    sent = iter(range(total))
    body = split_payload()

    with run_server(ws, args=("--no-log",)) as server:

        def client(index: int) -> None:
            with httpx.Client(base_url=server.url, timeout=30) as http:
                for _ in iter(lambda: next(sent, None), None):
                    start = time.monotonic()
                    try:
                        response = http.post("/invocations", json=body)
                        outcome = (
                            str(response.status_code),
                            response.json().get("model_version"),
                        )
                    except httpx.HTTPError as exc:
                        outcome = (f"error {type(exc).__name__}", None)
                    with lock:
                        results.append((index, start, time.monotonic(), outcome[1], outcome[0]))

        with ThreadPoolExecutor(clients) as pool:
            futures = [pool.submit(client, i) for i in range(clients)]
            for version in versions[1:]:  # 10 moves, spread over the run
                while len(results) < (version - 1) * total // 12:
                    time.sleep(0.01)
                promote(ws, "churn", version, force_reason="R14")
            for future in futures:
                future.result()

    failed = [r for r in results if r[4] != "200"]
    assert len(results) == total and not failed, failed[:5]
    seen = {r[3] for r in results}
    assert seen <= {str(v) for v in versions}, seen
    assert str(versions[-1]) in seen  # the last move was served before the run ended
    # Monotonic: a request started after another's answer with version k completed is
    # answered by version k or a later one (the moves go 1, 2, ..., 11).
    ordered = sorted(results, key=lambda r: r[2])
    newest_done, regressions, i = 0, [], 0
    for start, _end, version in sorted((r[1], r[2], int(r[3] or 0)) for r in results):
        while i < len(ordered) and ordered[i][2] < start:
            newest_done = max(newest_done, int(ordered[i][3] or 0))
            i += 1
        if version < newest_done:
            regressions.append((start, version, newest_done))
    assert not regressions, regressions[:5]
    print(f"\nR14: {total} requests, {len(failed)} failed, versions served {sorted(seen, key=int)}")


@pytest.mark.parametrize("failure", ["load", "warm"])
def test_r15_a_failing_version_never_serves(make_project, failure: str) -> None:
    ws = make_project("")
    serving_project(ws)
    X, _ = frame()
    broken = FailsToLoad() if failure == "load" else ThresholdModel("no_such_column", 0.5)
    bad = register_model(ws, "churn", broken, flavor="pickle", input_example=X.head()).version
    results: list[int] = []
    stop = threading.Event()

    with run_server(ws, args=("--no-log",), env=support_env()) as server:

        def client() -> None:
            with server.client() as http:
                while not stop.is_set() or len(results) < 1000:
                    response = http.post("/invocations", json=split_payload())
                    results.append(response.status_code)
                    assert response.json()["model_version"] == "1"

        with ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(client) for _ in range(8)]
            time.sleep(0.3)
            promote(ws, "churn", bad, force_reason="R15")
            deadline = time.monotonic() + 30
            while model_aliases(ws, "churn")["champion"] != 1:
                assert time.monotonic() < deadline, server.output()
                time.sleep(0.05)
            stop.set()
            for future in futures:
                future.result()

    assert len(results) >= 1000 and set(results) == {200}
    failed = read_events(ws, types=[DEPLOYMENT_FAILED])
    assert len(failed) == 1
    assert failed[0].data["version"] == bad and failed[0].data["serving_version"] == 1
    assert ("load" if failure == "load" else "warm") in failed[0].data["reason"]
    print(
        f"\nR15 ({failure}): {len(results)} requests, all 200; reason: {failed[0].data['reason']}"
    )
