"""Online feature enrichment at the server: a request sends the entity column, the server
looks the features up in the online store for each model call, the model sees them, and
the prediction log keeps them as the row's features; a request that sends a feature
itself is served with its own value."""

from __future__ import annotations

import datetime as dt
import textwrap

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.linear_model import LogisticRegression

from conveyor.data import snapshot
from conveyor.features import materialize
from conveyor.registry import promote, register_model
from conveyor.serve.runtime import explain_prediction, set_deployment
from support.serving import run_server

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("store_url", ["sqlite"], indirect=True),
]

VIEWS = """
from conveyor.features import FeatureView

weather = FeatureView(
    name="weather",
    entities=["origin"],
    timestamp="time_hour",
    features={"temp": "double", "wind": "int64"},
    source="weather",
)
"""


def test_a_request_gets_its_features_from_the_online_store(make_project) -> None:
    ws = make_project(textwrap.dedent(VIEWS))
    hour = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    weather = pa.table(
        {
            "origin": ["EWR", "JFK"],
            "time_hour": pa.array([hour, hour], pa.timestamp("us", tz="UTC")),
            "temp": [10.0, 90.0],
            "wind": [3, 30],
        }
    )
    snapshot(ws, weather, name="weather")
    materialize(ws, ["weather"])
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "temp": rng.uniform(0, 100, 300),
            "wind": rng.integers(0, 40, 300),
            "distance": rng.uniform(100, 2000, 300),
        }
    )
    y = (X["temp"] > 50).astype(int)
    model = LogisticRegression(max_iter=1000).fit(X, y)
    register_model(ws, "delays", model, input_example=X.head())
    promote(ws, "delays", 1, force_reason="test")
    set_deployment(
        ws, "delays", model="delays", config={"features": ["weather:temp", "weather:wind"]}
    )

    with run_server(ws, "delays") as server, server.client() as http:
        body = {
            "dataframe_records": [
                {"origin": "EWR", "distance": 500.0},
                {"origin": "JFK", "distance": 500.0},
            ]
        }
        answer = http.post("/invocations", json=body)
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"] == [0, 1]  # cold EWR, hot JFK
        sent = {
            "dataframe_records": [{"origin": "EWR", "distance": 500.0, "temp": 95.0, "wind": 1}]
        }
        assert http.post("/invocations", json=sent).json()["predictions"] == [1]
        missing = http.post("/invocations", json={"dataframe_records": [{"distance": 1.0}]})
        assert missing.status_code == 422 and "origin" in missing.text
        metadata = http.get("/v2/models/delays").json()
        assert "origin" in {i["name"] for i in metadata["inputs"]}
        first = answer.json()["prediction_ids"][1]
    explained = explain_prediction(ws, first).to_dict()
    assert explained["features"] == {"temp": 90.0, "wind": 30}
    assert explained["inputs"]["origin"] == "JFK"
