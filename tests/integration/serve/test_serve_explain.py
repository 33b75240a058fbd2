"""Explaining one prediction: its row, the version that answered, the run that trained it
with that run's snapshots and code version, the alias move (and evaluation) that put the
version in service before the prediction, and its fed-back label."""

from __future__ import annotations

import time

import numpy as np
import pyarrow as pa
import pytest

from conveyor.core import InvalidValueError, NotFoundError
from conveyor.data import snapshot
from conveyor.pipelines import run_pipeline
from conveyor.registry import promote, record_evaluation
from conveyor.serve.runtime import (
    LogChunk,
    PredictionLog,
    explain_prediction,
    latest_predictions,
    new_prediction_ids,
    record_feedback,
    set_deployment,
)
from support.projects import MakeProject

pytestmark = pytest.mark.integration

PIPELINE = """
from sklearn.linear_model import LogisticRegression

from conveyor import Model, get_step_context, pipeline, step
from conveyor.data import load_dataset
from conveyor.registry import promote, record_evaluation, register_model


@step
def train(rows) -> Model:
    frame = rows.to_pandas()
    ctx = get_step_context()
    X = frame[["age"]]
    return register_model(ctx.workspace, "churn", LogisticRegression().fit(X, frame["churned"]),
                          input_example=X.head())


@step
def evaluate(model: Model) -> int:
    ctx = get_step_context()
    evaluation = record_evaluation(ctx.workspace, model.name, model.version, {"auc": 0.8},
                                   passed=True)
    promote(ctx.workspace, model.name, model.version, evaluation_id=evaluation, actor="retrain")
    return evaluation


@pipeline
def retrain():
    evaluate(train(load_dataset("customers")))
"""


def one_row(version: int, role: str = "serve", ids: list[str] | None = None) -> LogChunk:
    return LogChunk(
        model="churn",
        model_version=version,
        role=role,
        ids=ids or new_prediction_ids(1),
        ts_ms=np.array([time.time_ns() // 1_000_000]),
        latency_s=np.array([0.004]),
        inputs={"age": np.array([41.0])},
        outputs={"prediction": np.array([1]), "score": np.array([0.73 if version == 1 else 0.2])},
        features={"tenure_days": np.array([300])},
        request_ids=["req-1"],
    )


def test_a_prediction_is_explained_back_to_its_data_code_and_evaluation(
    make_project: MakeProject,
) -> None:
    ws = make_project(PIPELINE)
    customers = snapshot(
        ws, pa.table({"age": [20.0, 30.0, 50.0, 60.0], "churned": [0, 0, 1, 1]}), name="customers"
    )
    result = run_pipeline(ws, "retrain", {})
    result.raise_for_status()
    evaluation_id = result.output("evaluate")
    set_deployment(ws, "churn-api", model="churn")

    log = PredictionLog(ws, "churn-api")
    served = one_row(1)
    shadow = one_row(1, role="shadow", ids=list(served.ids))
    log.submit(served)
    log.submit(shadow)
    log.close()
    (prediction_id,) = served.ids
    record_feedback(ws, [{"prediction_id": prediction_id, "label": 1}], deployment="churn-api")
    # A later evaluation and promotion is not the one that let this prediction through.
    time.sleep(0.005)
    later = record_evaluation(ws, "churn", 1, {"auc": 0.81}, passed=True)
    promote(ws, "churn", 1, "challenger", evaluation_id=later)

    found = explain_prediction(ws, prediction_id)
    assert (found.deployment, found.model, found.version, found.role) == (
        "churn-api",
        "churn",
        1,
        "serve",
    )
    assert found.inputs == {"age": 41.0}
    assert found.outputs == {"prediction": 1, "score": 0.73}
    assert found.features == {"tenure_days": 300}
    assert (found.request_id, found.latency_seconds) == ("req-1", 0.004)
    assert found.run is not None and found.run["id"] == result.run.id
    assert found.code_version == found.run["code_version"] and found.code_version
    assert [(s["dataset"], s["digest"]) for s in found.snapshots] == [
        ("customers", customers.digest)
    ]
    assert found.promotion is not None
    assert (found.promotion["alias"], found.promotion["evaluation_id"]) == (
        "champion",
        evaluation_id,
    )
    assert found.evaluation is not None
    assert (found.evaluation["id"], found.evaluation["verified"]) == (evaluation_id, True)
    assert (found.label, found.labelled_at is not None) == (1, True)
    assert found.other_answers == [
        {"role": "shadow", "model": "churn", "version": 1, "outputs": found.outputs}
    ]
    as_json = found.to_dict()
    assert as_json["time"].endswith("+00:00") and as_json["prediction_id"] == prediction_id

    latest = latest_predictions(ws, "churn-api", limit=1)
    assert latest.column("prediction_id").to_pylist() == [prediction_id]


def test_unknown_and_malformed_ids(make_project: MakeProject) -> None:
    ws = make_project("")
    (recent,) = new_prediction_ids(1)
    with pytest.raises(NotFoundError, match="No prediction") as info:
        explain_prediction(ws, recent)
    assert "flush_seconds" in str(info.value)
    old = "00000000-0001-7000-8000-000000000000"
    with pytest.raises(NotFoundError, match="No prediction") as info:
        explain_prediction(ws, old)
    assert "Check the id" in str(info.value)
    with pytest.raises(InvalidValueError, match="must be a UUIDv7"):
        explain_prediction(ws, "42")
