"""The server's life: SIGTERM with requests in flight (R16), and memory over many swaps
(R17, in process, where the swapped-out versions can be watched)."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest

from conveyor.registry import promote, register_model
from conveyor.serve.runtime import Batch, LiveDeployment
from conveyor.serve.runtime._live import alive
from support.models import frame
from support.serving import SlowModel, run_server, serving_project, split_payload, support_env

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("store_url", ["sqlite"], indirect=True),
]


def test_r16_sigterm_finishes_requests_in_flight(make_project) -> None:
    ws = make_project("")
    X, _ = frame()
    slow = register_model(ws, "churn", SlowModel(0.5), flavor="pickle", input_example=X.head())
    promote(ws, "churn", slow.version, force_reason="R16")
    from conveyor.serve.runtime import set_deployment

    set_deployment(ws, "churn", model="churn")
    env = {**support_env(), "CONVEYOR_SERVE_GRACE": "20s"}
    with run_server(ws, args=("--no-log",), env=env) as server:
        statuses: list[int] = []
        connected = threading.Barrier(33, timeout=30)

        def call() -> None:
            with server.client() as http:
                http.get("/health")  # connect first, so the POST goes out at once
                connected.wait()
                statuses.append(http.post("/invocations", json=split_payload()).status_code)

        with ThreadPoolExecutor(32) as pool:
            futures = [pool.submit(call) for _ in range(32)]
            connected.wait()
            time.sleep(0.3)  # all 32 are in: the first inside predict, the others queued
            sent = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            time.sleep(0.2)
            with pytest.raises(httpx.ConnectError):
                httpx.post(server.url + "/invocations", json=split_payload(), timeout=5)
            for future in futures:
                future.result()
        server.process.wait(30)
        exited = time.monotonic() - sent
    assert statuses == [200] * 32
    # uvicorn re-raises the signal once shut down, so a supervisor sees a SIGTERM exit.
    assert server.process.returncode in (0, -signal.SIGTERM), server.output()
    assert "Traceback" not in server.output()
    assert exited < 20
    print(f"\nR16: 32/32 answered 200 after SIGTERM; exited {exited:.1f}s after it")


@pytest.mark.slow
def test_r17_memory_over_100_swaps(make_project) -> None:
    ws = make_project("")
    serving_project(ws, versions=2)
    X, _ = frame()
    batch = Batch(columns={c: X[c].to_numpy(dtype=np.float64) for c in X.columns}, rows=1)
    batch = Batch(columns={c: v[:1] for c, v in batch.columns.items()}, rows=1)

    def rss_mb() -> float:
        with open(f"/proc/{os.getpid()}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    async def run() -> tuple[int, int, float]:
        live = LiveDeployment(ws, "churn")
        await live.start(follow=False)
        rss_10 = 0.0
        for swap in range(1, 101):
            await asyncio.gather(*(live.predict(batch) for _ in range(200)))
            await live.swap(1 if live.current.version == 2 else 2)
            if swap == 10:
                await asyncio.sleep(0.05)
                gc.collect()
                rss_10 = rss_mb()
        await asyncio.sleep(0.05)  # let the last drain finish
        gc.collect()
        growth = rss_mb() - rss_10
        retired = len(live.retired)
        leaked = alive(live.retired)
        await live.stop()
        return retired, leaked, growth

    retired, leaked, growth = asyncio.run(run())
    assert retired == 100
    # The version swapped out last may still be draining; every other one is freed.
    assert leaked <= 1, leaked
    assert growth < 20, growth
    print(f"\nR17: {retired - leaked}/{retired} swapped-out models freed; RSS +{growth:.1f} MB")
