"""End to end with the real server: predictions over HTTP (the classifier's score logged
beside each), labels through ``POST /feedback``, then the monitor: the realised accuracy
and coverage are what was sent, and ``/metrics`` shows them with the estimate."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import numpy as np
import pytest

from conveyor import store as st
from conveyor.core import Config, now_ms
from conveyor.data import snapshot
from conveyor.monitor import ESTIMATE_LABEL, run_performance_monitor
from conveyor.registry import load_model
from conveyor.serve.runtime import prediction_log_table
from conveyor.train import evaluate
from conveyor.workspace import Workspace
from support.models import frame
from support.serving import COLUMNS, run_server, serving_project

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("store_url", ["sqlite"], indirect=True),
]

N_REQUESTS, ROWS = 30, 5


def metric(text: str, name: str) -> float:
    found = re.search(rf'^{name}{{deployment="churn"}} (\S+)$', text, re.MULTILINE)
    assert found is not None, f"{name} is not in /metrics"
    return float(found.group(1))


def test_labels_posted_to_the_server_give_the_accuracy_and_coverage_sent(
    make_project: Callable[..., Workspace],
) -> None:
    base = make_project("")
    (version,) = serving_project(base)
    holdout, truth = frame(2000, seed=1)
    evaluate(
        f"models:/churn/{version}",
        snapshot(base, holdout.assign(churned=truth), name="holdout"),
        target="churned",
        ws=base,
    )
    root = base.config.root
    with open(root / "conveyor.toml", "a") as f:
        f.write(f'\n[monitor]\nwindow_rows = {N_REQUESTS * ROWS}\ngrace = "1s"\n')
    model = load_model(base, f"models:/churn/{version}")
    X, _ = frame(N_REQUESTS * ROWS, seed=3)
    with (
        Workspace.from_config(
            Config.load(root, env={"CONVEYOR_STORE": base.config.store.url})
        ) as ws,
        run_server(ws) as server,
        server.client() as client,
    ):
        ids: list[str] = []
        predicted: list[int] = []
        for i in range(N_REQUESTS):
            rows = X.iloc[i * ROWS : (i + 1) * ROWS].astype(object).values.tolist()
            response = client.post(
                "/invocations", json={"dataframe_split": {"columns": COLUMNS, "data": rows}}
            )
            assert response.status_code == 200, response.text
            ids += response.json()["prediction_ids"]
            predicted += response.json()["predictions"]
        assert predicted == model.predict(X).tolist()
        # 120 of 150 labelled: 90 right, 30 wrong.
        labels = [p if i < 90 else 1 - p for i, p in enumerate(predicted[:120])]
        items = [{"prediction_id": i, "label": v} for i, v in zip(ids[:120], labels, strict=True)]
        response = client.post("/feedback", json=items)
        assert response.status_code == 200 and response.json() == {"upserted": 120}
        deadline = time.monotonic() + 30
        while sum(s.n_rows for s in st.list_prediction_segments(ws.store, "churn")) < len(ids):
            assert time.monotonic() < deadline, "the log was not written within 30 s"
            time.sleep(0.1)

        (window,) = run_performance_monitor(ws, "churn", now=now_ms() + 1001).windows
        figures = window.figures
        assert (figures["n_predictions"], figures["n_labelled"]) == (150, 120)
        assert figures["coverage"] == 0.8
        assert figures["metrics"]["accuracy"]["value"] == 0.75
        assert figures["scores_logged"] and figures["estimate"]["label"] == ESTIMATE_LABEL
        assert figures["estimate"]["source"] == "datasets:/holdout/1"

        logged = prediction_log_table(ws, "churn")
        by_id = dict(
            zip(
                logged["prediction_id"].to_pylist(),
                [o["score"] for o in logged["outputs"].to_pylist()],
                strict=True,
            )
        )
        scores = np.array([by_id[i] for i in ids])
        assert np.allclose(scores, model.predict_proba(X)[:, 1])

        text = client.get("/metrics").text
        assert metric(text, "conveyor_live_accuracy_ratio") == 0.75
        assert metric(text, "conveyor_label_coverage_ratio") == 0.8
        estimated = metric(text, "conveyor_estimated_accuracy_ratio")
        assert estimated == figures["estimate"]["metrics"]["accuracy"]
