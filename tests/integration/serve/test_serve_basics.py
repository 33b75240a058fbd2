"""The real server, started as ``conveyor serve``: it answers MLflow's protocol with the
version and a prediction id per row, refuses bad input with a 4xx, and follows its alias."""

from __future__ import annotations

import time

import pytest

from conveyor.registry import promote
from support.serving import run_server, serving_project, split_payload

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("store_url", ["sqlite"], indirect=True),
]


def test_predicts_and_names_the_version(make_project) -> None:
    ws = make_project("")
    serving_project(ws)
    with run_server(ws, args=("--no-log",)) as server, server.client() as client:
        response = client.post("/invocations", json=split_payload(3))
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["predictions"]) == 3
        assert len(set(body["prediction_ids"])) == 3
        assert body["model_version"] == "1"
        assert response.headers["x-model-version"] == "1"
        bad = client.post(
            "/invocations", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert 400 <= bad.status_code < 500


def test_follows_the_alias(make_project) -> None:
    ws = make_project("")
    serving_project(ws, versions=2)
    with run_server(ws, args=("--no-log",)) as server, server.client() as client:
        assert client.post("/invocations", json=split_payload()).json()["model_version"] == "1"
        promote(ws, "churn", 2, force_reason="test")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if client.post("/invocations", json=split_payload()).json()["model_version"] == "2":
                break
            time.sleep(0.05)
        else:
            raise AssertionError(server.output())
