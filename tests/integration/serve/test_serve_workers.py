"""Several workers: each process loads the model and answers; /metrics adds every
worker's counts up (prometheus_client's multiprocess mode), whichever worker is scraped."""

from __future__ import annotations

import re

import pytest

from support.serving import run_server, serving_project, split_payload

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("store_url", ["sqlite"], indirect=True),
]


def _total(metrics: str, name: str) -> float:
    return sum(float(v) for v in re.findall(rf"^{name}\{{[^}}]*\}} (\S+)$", metrics, re.M))


def test_two_workers_share_the_port_and_their_metrics(make_project) -> None:
    ws = make_project("")
    serving_project(ws)
    pids: set[str] = set()
    with run_server(ws, args=("--workers", "2", "--no-log")) as server:
        for _ in range(40):  # fresh connections: the kernel spreads them over the workers
            with server.client() as http:
                response = http.post("/invocations", json=split_payload(2))
                assert response.status_code == 200, response.text
        scrapes = []
        for _ in range(6):
            with server.client() as http:
                scrapes.append(http.get("/metrics").text)
        log_dir = ws.config.state_dir / "prometheus"
        pids = {p.stem.split("_")[-1] for p in log_dir.glob("*.db")}
    # Every scrape, from whichever worker, counts all 80 rows of both workers.
    assert [_total(s, "conveyor_predictions_total") for s in scrapes] == [80.0] * 6
    assert len(pids) >= 2, pids
