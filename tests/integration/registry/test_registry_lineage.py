"""A model registered inside a pipeline: its lineage reaches the run, the snapshots and
feature views the run read and the code version; the Model passes between steps as a
reference; the evaluation that allowed its promotion is on record."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from conveyor import store as st
from conveyor.data import snapshot
from conveyor.features import get_view
from conveyor.pipelines import run_pipeline
from conveyor.registry import get_model, lineage
from support.projects import MakeProject

pytestmark = pytest.mark.integration
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

PIPELINE = """
from sklearn.linear_model import LogisticRegression

from conveyor import Model, get_step_context, pipeline, step
from conveyor.data import load_dataset
from conveyor.features import FeatureView, historical_features
from conveyor.registry import promote, record_evaluation, register_model

weather = FeatureView(
    name="weather",
    entities=["origin"],
    timestamp="time_hour",
    features={"temp": "double"},
    source="weather",
    ttl="2h",
)


@step
def train(rows) -> Model:
    frame = rows.to_pandas()
    X, y = frame[["temp"]], frame["late"]
    ctx = get_step_context()
    return register_model(
        ctx.workspace, "delays", LogisticRegression().fit(X, y), input_example=X.head()
    )


@step
def evaluate(model: Model) -> int:
    ctx = get_step_context()
    assert model.predict(model_input()).shape == (2,)  # loads through the step's project
    evaluation = record_evaluation(ctx.workspace, model.name, model.version, {"n": 2}, passed=True)
    promote(ctx.workspace, model.name, model.version, evaluation_id=evaluation, actor="retrain")
    return evaluation


def model_input():
    import pandas as pd

    return pd.DataFrame({"temp": [40.0, 80.0]})


@pipeline
def retrain(dataset: str = "flights"):
    rows = historical_features(load_dataset(dataset), ["weather:temp"], timestamp="sched")
    evaluate(train(rows))
"""


def tables() -> tuple[pa.Table, pa.Table]:
    hours = range(8)
    weather = pa.table(
        {
            "origin": ["JFK"] * len(hours),
            "time_hour": pa.array(
                [T0 + dt.timedelta(hours=h) for h in hours], pa.timestamp("us", tz="UTC")
            ),
            "temp": [30.0 + 10 * h for h in hours],
        }
    )
    flights = pa.table(
        {
            "origin": ["JFK"] * len(hours),
            "sched": pa.array(
                [T0 + dt.timedelta(hours=h, minutes=30) for h in hours],
                pa.timestamp("us", tz="UTC"),
            ),
            "late": [int(h >= 4) for h in hours],
        }
    )
    return weather, flights


def test_lineage_reaches_run_data_features_code_and_the_evaluation(
    make_project: MakeProject,
) -> None:
    ws = make_project(PIPELINE)
    weather, flights = tables()
    weather_snap = snapshot(ws, weather, name="weather")
    flights_snap = snapshot(ws, flights, name="flights")
    result = run_pipeline(ws, "retrain", {})
    result.raise_for_status()
    evaluation_id = result.output("evaluate")

    model = get_model(ws, "models:/delays@champion")
    assert (model.version, model.run_id) == (1, result.run.id)
    found = lineage(ws, "delays@champion")
    run = st.get_run(ws.store, result.run.id)
    assert found["run"]["id"] == run.id and found["run"]["pipeline"] == "retrain"
    assert found["run"]["params"] == {"dataset": "flights"}
    assert found["run"]["code_version"] == run.code_version and run.code_version
    assert found["step_run"]["name"] == "train" and found["step_run"]["run_id"] == run.id
    read = {(s["dataset"], s["version"], s["digest"]) for s in found["snapshots"]}
    assert {
        ("flights", 1, flights_snap.digest),
        ("weather", 1, weather_snap.digest),
    } <= read
    assert [(f["view"], f["digest"]) for f in found["feature_views"]] == [
        ("weather", get_view(ws, "weather").digest)
    ]
    (evaluation,) = found["evaluations"]
    assert (evaluation["id"], evaluation["passed"], evaluation["verified"]) == (
        evaluation_id,
        True,
        True,
    )
    assert evaluation["step_run_id"] == next(
        s.id for s in st.get_step_runs(ws.store, run.id) if s.name == "evaluate"
    )
    (promotion,) = found["promotions"]
    assert (promotion["alias"], promotion["evaluation_id"], promotion["actor"]) == (
        "champion",
        evaluation_id,
        "retrain",
    )
    assert found["parent"] is None and found["uri"] == "models:/delays/1"
    # The model's artifact is the train step's output in the lineage graph.
    record = st.get_model_version(ws.store, "delays", 1)
    artifact = st.get_artifact(ws.store, record.artifact_id)  # type: ignore[arg-type]
    assert artifact.producer_step_run_id == found["step_run"]["id"]


def test_a_version_registered_outside_a_run_has_a_short_lineage(
    make_project: MakeProject,
) -> None:
    from sklearn.linear_model import LogisticRegression

    from conveyor.registry import register_model
    from support.models import frame

    ws = make_project("")
    X, y = frame()
    register_model(ws, "churn", LogisticRegression().fit(X, y))
    register_model(ws, "churn", LogisticRegression(C=2.0).fit(X, y), parent="churn/1")
    found = lineage(ws, "churn")
    assert (found["version"], found["parent"], found["run"], found["step_run"]) == (
        2,
        "models:/churn/1",
        None,
        None,
    )
    assert found["snapshots"] == found["feature_views"] == found["evaluations"] == []
