"""Canary and shadow deployments: a canary answers its share of requests, the same key
always to the same version; a shadow predicts every request under the served prediction's
id, logged with role ``shadow`` and never returned; both follow their alias."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from conveyor.core import InvalidValueError
from conveyor.registry import promote
from conveyor.serve.runtime import (
    Batch,
    LiveDeployment,
    PredictionLog,
    explain_prediction,
    prediction_log_table,
    set_deployment,
)
from support.models import frame
from support.serving import register_version, run_server, serving_project, split_payload

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("store_url", ["sqlite"], indirect=True),
]


def _batch() -> Batch:
    X, _ = frame()
    row = X.head(1)
    return Batch(
        columns={
            "tenure": row["tenure"].to_numpy(np.int64),
            "charges": row["charges"].to_numpy(np.float64),
            "calls": row["calls"].to_numpy(np.int64),
        },
        rows=1,
    )


def _with_challenger(ws, strategy: str, **config) -> None:  # type: ignore[no-untyped-def]
    serving_project(ws, versions=2)
    promote(ws, "churn", 2, alias="challenger", force_reason="test")
    set_deployment(ws, "churn", model="churn", strategy=strategy, config=config)


def test_a_canary_takes_its_share_sticky_by_key(make_project) -> None:
    ws = make_project("")
    _with_challenger(ws, "canary", share=0.25, second_alias="challenger")

    async def run() -> tuple[float, set[int], dict[str, int]]:
        live = LiveDeployment(ws, "churn")
        await live.start(follow=False)
        keys = [f"user-{i}" for i in range(2000)]
        versions = [live.route(key).version for key in keys]
        again = {live.route(key).version for key in keys[:1] for _ in range(50)}
        answers = {}
        for version in (1, 2):
            key = keys[versions.index(version)]
            loaded = live.route(key)
            answer = await live.predict(_batch(), loaded)
            answers[key] = loaded.version
            assert len(answer.ids) == 1
        await live.stop()
        return versions.count(2) / len(versions), again, answers

    share, again, answers = asyncio.run(run())
    assert 0.22 < share < 0.28, share
    assert len(again) == 1
    assert sorted(answers.values()) == [1, 2]


def test_a_shadow_answers_off_the_record_under_the_same_ids(make_project) -> None:
    ws = make_project("")
    _with_challenger(ws, "shadow")

    async def run() -> list[str]:
        log = PredictionLog(ws, "churn")
        log.start()
        live = LiveDeployment(ws, "churn", sink=log)
        await live.start(follow=False)
        ids: list[str] = []
        for _ in range(20):
            answer = await live.predict(_batch())
            assert live.route().version == 1
            ids.extend(answer.ids)
        await live.stop()
        log.close()
        return ids

    ids = asyncio.run(run())
    table = prediction_log_table(ws, "churn").to_pylist()
    roles = {(r["prediction_id"], r["role"]): r["model_version"] for r in table}
    assert all(roles[(i, "serve")] == 1 and roles[(i, "shadow")] == 2 for i in ids)
    explained = explain_prediction(ws, ids[0]).to_dict()
    assert explained["version"] == 1 and explained["other_answers"]


def test_a_canary_over_http_follows_its_alias(make_project) -> None:
    ws = make_project("")
    _with_challenger(ws, "canary", share=1.0)
    register_version(ws, C=5.0)  # version 3
    with run_server(ws, args=("--no-log",)) as server, server.client() as http:
        first = http.post("/invocations", json=split_payload(), headers={"x-request-key": "a"})
        assert first.json()["model_version"] == "2"
        promote(ws, "churn", 3, alias="challenger", force_reason="test")
        deadline = time.monotonic() + 30
        while http.post("/invocations", json=split_payload()).json()["model_version"] != "3":
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.05)
        metrics = http.get("/metrics").text
        assert 'role="canary"' in metrics


def test_a_bad_canary_share_is_refused(make_project) -> None:
    ws = make_project("")
    serving_project(ws)
    with pytest.raises(InvalidValueError, match="share"):
        set_deployment(ws, "churn", model="churn", strategy="canary", config={"share": 1.5})
