"""The prediction log behind the real server: after SIGTERM under load every prediction
answered 200 is in the log, each explains back to the version, run and evaluation, and a
label posted as feedback lands beside it."""

from __future__ import annotations

import signal
from concurrent.futures import ThreadPoolExecutor

import pytest

from conveyor.serve.runtime import explain_prediction, prediction_log_table
from support.serving import run_server, serving_project, split_payload

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("store_url", ["sqlite"], indirect=True),
]


def test_every_answered_prediction_is_logged_after_sigterm(make_project) -> None:
    ws = make_project("")
    serving_project(ws)
    answered: list[str] = []
    with run_server(ws) as server:

        def client(_: int) -> list[str]:
            ids: list[str] = []
            with server.client() as http:
                for _ in range(60):
                    response = http.post("/invocations", json=split_payload(2))
                    assert response.status_code == 200, response.text
                    ids.extend(response.json()["prediction_ids"])
            return ids

        with ThreadPoolExecutor(8) as pool:
            for ids in pool.map(client, range(8)):
                answered.extend(ids)
        with server.client() as http:
            label = http.post("/feedback", json=[{"prediction_id": answered[0], "label": 1}])
            assert label.status_code == 200, label.text
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(30)

    logged = prediction_log_table(ws, "churn")
    assert len(answered) == 960 and set(answered) <= set(logged["prediction_id"].to_pylist())
    assert set(logged["model_version"].to_pylist()) == {1}
    explained = explain_prediction(ws, answered[0]).to_dict()
    assert explained["version"] == 1 and explained["label"] == 1
    assert set(explained["inputs"]) == {"tenure", "charges", "calls"}
