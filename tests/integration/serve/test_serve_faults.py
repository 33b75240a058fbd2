"""R12 and SIGKILL at the server: with the prediction log's disk full, 2,000 predictions
all answer 200 and the dropped log rows are counted in /metrics; a server killed with
SIGKILL under load leaves every indexed segment readable and loses only the newest rows
(no hole in the log)."""

from __future__ import annotations

import os
import re
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conveyor import store as st
from conveyor.core import Config
from conveyor.serve.runtime import prediction_log_table, read_segment
from conveyor.workspace import Workspace
from support.serving import run_server, serving_project, split_payload

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.parametrize("store_url", ["sqlite"], indirect=True),
]


def test_r12_a_full_log_disk_fails_no_request(make_project, small_disk: Path) -> None:
    project = make_project("")
    env = {"CONVEYOR_STORE": project.config.store.url, "CONVEYOR_ARTIFACTS": str(small_disk)}
    with Workspace.from_config(Config.load(project.config.root, env=env)) as ws:
        serving_project(ws)
        # Leave the log a few KB: the model is stored, the rest of the disk is taken.
        free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
        (small_disk / "filler").write_bytes(b"\0" * max(free - 8192, 0))
        statuses: list[int] = []
        with run_server(ws, env=env) as server:

            def client(_: int) -> None:
                with server.client() as http:
                    for _ in range(250):
                        statuses.append(
                            http.post("/invocations", json=split_payload(4)).status_code
                        )

            with ThreadPoolExecutor(8) as pool:
                list(pool.map(client, range(8)))
            with server.client() as http:
                metrics = http.get("/metrics").text
        dropped = re.search(r"conveyor_prediction_log_dropped_total\{[^}]*\} (\S+)", metrics)
        segments = st.list_prediction_segments(ws.store, "churn")
        for segment in segments:
            read_segment(ws, segment.digest)
    assert statuses == [200] * 2000
    assert dropped is not None and float(dropped.group(1)) > 0, metrics
    print(f"\nR12: 2000/2000 200 with the log's disk full; {dropped.group(1)} log rows dropped")


def test_sigkill_under_load_leaves_a_whole_log(make_project) -> None:
    ws = make_project("")
    serving_project(ws)
    answered: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    with run_server(ws) as server:

        def client(_: int) -> None:
            with server.client() as http:
                while not stop.is_set():
                    try:
                        response = http.post("/invocations", json=split_payload())
                    except Exception:
                        return  # the server is gone
                    if response.status_code == 200:
                        with lock:
                            answered.extend(response.json()["prediction_ids"])

        with ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(client, i) for i in range(8)]
            while len(answered) < 1500:
                threading.Event().wait(0.05)
            server.process.send_signal(signal.SIGKILL)
            server.process.wait(10)
            stop.set()
            for future in futures:
                future.result()
    segments = st.list_prediction_segments(ws.store, "churn")
    for segment in segments:
        read_segment(ws, segment.digest)  # every indexed segment verifies and reads
    logged = set(prediction_log_table(ws, "churn")["prediction_id"].to_pylist())
    missing = [i for i in answered if i not in logged]
    assert logged <= set(answered)
    # Only the newest rows are lost: every answered id older than the newest logged one
    # is in the log (ids are time-ordered and written in order).
    newest = max(logged)
    assert not [i for i in missing if i < newest]
    print(
        f"\nSIGKILL: {len(answered)} answered, {len(logged)} logged in {len(segments)} "
        f"segments, {len(missing)} newest lost, 0 corrupt"
    )
