"""The feature services on a real project: views defined in code over a dataset, point-in-
time training data, materialisation into the online store (SQLite and the real Redis),
online lookups with misses, and offline-online consistency."""

from __future__ import annotations

import datetime as dt
import os
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from conveyor import store as st
from conveyor.core import InvalidValueError, NotFoundError
from conveyor.data import snapshot
from conveyor.features import (
    get_historical_features,
    get_online_features,
    get_view,
    list_views,
    materializations,
    materialize,
    open_online,
)
from conveyor.pipelines import run_pipeline
from conveyor.workspace import Workspace, init_project

pytestmark = pytest.mark.integration

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
AIRPORTS = ["EWR", "JFK", "LGA"]

VIEWS = """
import pyarrow.compute as pc
from conveyor import Dataset, pipeline, step
from conveyor.data import load_dataset
from conveyor.features import FeatureView, historical_features


def to_celsius(table):
    celsius = pc.divide(pc.multiply(pc.subtract(table["temp"], 32.0), 5.0), 9.0)
    return table.append_column("temp_c", celsius)


weather = FeatureView(
    name="weather",
    entities=["origin"],
    timestamp="time_hour",
    features={"temp": "double", "temp_c": "double", "wind": "int64", "sky": "string"},
    source="weather",
    ttl="2h",
    transform=to_celsius,
)


@step
def count(rows) -> int:
    return rows.num_rows


@pipeline
def training_set(dataset: str = "flights"):
    count(historical_features(load_dataset(dataset), ["weather:temp_c"], timestamp="sched"))
"""


def weather_table(hours: int = 6) -> pa.Table:
    """Hourly weather per airport; LGA skips hour 2 (a gap) and EWR has a late row."""
    rows = []
    for h in range(hours):
        for i, airport in enumerate(AIRPORTS):
            if airport == "LGA" and h == 2:
                continue
            rows.append(
                {
                    "origin": airport,
                    "time_hour": T0 + dt.timedelta(hours=h),
                    "temp": 50.0 + 10 * i + h,
                    "wind": 10 * i + h,
                    "sky": ["clear", "rain", "fog"][h % 3],
                }
            )
    rows.reverse()  # late rows: the source is not in time order
    return pa.Table.from_pylist(
        rows,
        schema=pa.schema(
            {
                "origin": pa.string(),
                "time_hour": pa.timestamp("us", tz="UTC"),
                "temp": pa.float64(),
                "wind": pa.int64(),
                "sky": pa.string(),
            }
        ),
    )


@pytest.fixture(params=["sqlite", "redis"])
def ws(request: pytest.FixtureRequest, tmp_path: Path, store_url: str) -> Iterator[Workspace]:
    env = {"CONVEYOR_STORE": store_url}
    if request.param == "redis":
        url = os.environ.get("CONVEYOR_TEST_REDIS_URL")
        if not url:
            pytest.skip("Redis tests need CONVEYOR_TEST_REDIS_URL; run the suite with .ci/run")
        env["CONVEYOR_FEATURES_ONLINE_STORE"] = url
        env["CONVEYOR_FEATURES_ONLINE_PREFIX"] = f"test-{uuid.uuid4().hex[:8]}"
    root = tmp_path / "p"
    init_project(root, name="f")
    module = "views_" + uuid.uuid4().hex[:10]
    (root / f"{module}.py").write_text(textwrap.dedent(VIEWS))
    with open(root / "conveyor.toml", "a") as f:
        f.write(f'\n[pipelines]\nmodules = ["{module}"]\n')
    workspace = Workspace.open(root, env=env)
    snapshot(workspace, weather_table(), name="weather")
    yield workspace
    if request.param == "redis":
        online = open_online(workspace)
        online.delete_view("weather")
        online.close()
    workspace.close()


def entities(*rows: tuple[str, dt.datetime]) -> pa.Table:
    return pa.table(
        {
            "origin": [o for o, _ in rows],
            "sched": pa.array([t for _, t in rows], pa.timestamp("us", tz="UTC")),
        }
    )


def test_views_are_found_in_code_and_registered(ws: Workspace) -> None:
    (view,) = list_views(ws)
    assert (view.name, view.entities, view.timestamp) == ("weather", ("origin",), "time_hour")
    assert st.get_feature_view(ws.store, "weather").digest == view.digest
    assert get_view(ws, "weather") == view
    with pytest.raises(NotFoundError, match="Did you mean 'weather'"):
        get_view(ws, "wether")


def test_training_rows_get_the_values_as_of_their_time(ws: Workspace) -> None:
    rows = entities(
        ("JFK", T0 + dt.timedelta(hours=1)),  # exactly on the hour: that hour's value
        ("JFK", T0 + dt.timedelta(hours=1, minutes=59)),  # still hour 1
        ("LGA", T0 + dt.timedelta(hours=2, minutes=30)),  # LGA has no hour 2: hour 1's
        ("EWR", T0 - dt.timedelta(minutes=1)),  # before any weather: nothing
        ("JFK", T0 + dt.timedelta(hours=9)),  # hour 5 is 4 h old, past the 2 h TTL
        ("LGA", T0 + dt.timedelta(hours=3, minutes=1)),  # exactly... 1 min past hour 3
    )
    joined = get_historical_features(
        ws, rows, ["weather:temp", "weather:temp_c", "weather:wind"], timestamp="sched"
    )
    assert joined.column_names == ["origin", "sched", "temp", "temp_c", "wind"]
    assert joined.column("temp").to_pylist() == [61.0, 61.0, 71.0, None, None, 73.0]
    assert joined.column("wind").type == pa.int64()
    assert joined.column("wind").to_pylist() == [11, 11, 21, None, None, 23]
    assert joined.column("temp_c").to_pylist()[0] == pytest.approx((61.0 - 32) * 5 / 9)
    whole = get_historical_features(ws, rows.slice(0, 1), ["weather"], timestamp="sched")
    assert whole.column_names == ["origin", "sched", "temp", "temp_c", "wind", "sky"]


def test_bad_references_and_rows_say_what_to_fix(ws: Workspace) -> None:
    with pytest.raises(NotFoundError, match="has no feature 'tmp'. Did you mean 'temp'"):
        get_historical_features(ws, entities(("JFK", T0)), ["weather:tmp"], timestamp="sched")
    with pytest.raises(NotFoundError, match="No feature view 'weathr'"):
        get_online_features(ws, [{"origin": "JFK"}], ["weathr"])
    with pytest.raises(InvalidValueError, match="Entity row 0 has no 'origin'"):
        get_online_features(ws, [{"airport": "JFK"}], ["weather:temp"])


def test_materialised_values_are_served_online_with_clear_misses(ws: Workspace) -> None:
    end = T0 + dt.timedelta(hours=3, minutes=30)
    (done,) = materialize(ws, end=end)
    # Hours 0-3 of three airports, LGA missing hour 2.
    assert (done.view, done.start, done.end, done.n_rows) == ("weather", None, end, 11)
    found = get_online_features(
        ws,
        [{"origin": "JFK"}, {"origin": "SFO"}, {"origin": "LGA"}],
        ["weather:temp", "weather:wind", "weather:sky"],
        now=end,
    )
    assert found.rows[0] == {"temp": 63.0, "wind": 13, "sky": "clear"}
    assert found.rows[1] == {"temp": None, "wind": None, "sky": None}
    assert found.rows[2] == {"temp": 73.0, "wind": 23, "sky": "clear"}
    assert [(m.row, m.reason) for m in found.misses] == [(1, "unknown")]
    later = get_online_features(
        ws, [{"origin": "JFK"}], ["weather:temp"], now=end + dt.timedelta(hours=2)
    )
    assert later.rows == [{"temp": None}]
    assert [(m.row, m.view, m.reason) for m in later.misses] == [(0, "weather", "expired")]
    assert later.to_dict()["misses"] == [{"row": 0, "view": "weather", "reason": "expired"}]


def test_materialisation_is_incremental_from_the_watermark(ws: Workspace) -> None:
    first_end = T0 + dt.timedelta(hours=2)
    materialize(ws, ["weather"], end=first_end)
    (second,) = materialize(ws, ["weather"], end=T0 + dt.timedelta(hours=5))
    assert second.start == first_end and second.n_rows == 9  # hours 3, 4 and 5 only
    (nothing,) = materialize(ws, ["weather"], end=T0 + dt.timedelta(hours=5))
    assert nothing.n_rows == 0
    history = materializations(ws, "weather")
    assert [m.n_rows for m in history] == [9, 8]  # newest first
    with pytest.raises(NotFoundError, match="No feature view 'nope'"):
        materialize(ws, ["nope"])


def test_online_values_equal_the_offline_values_as_of_materialisation(ws: Workspace) -> None:
    """Consistency: the same transform on both paths, so for every entity the value the
    online store holds after materialising up to T is the training value as of T."""
    moment = T0 + dt.timedelta(hours=4, minutes=10)
    materialize(ws, end=moment)
    features = ["weather:temp", "weather:temp_c", "weather:wind", "weather:sky"]
    rows = entities(*((a, moment) for a in AIRPORTS))
    offline = get_historical_features(ws, rows, features, timestamp="sched")
    online = get_online_features(ws, [{"origin": a} for a in AIRPORTS], features, now=moment)
    expected = [
        {name: offline.column(name)[i].as_py() for name in ("temp", "temp_c", "wind", "sky")}
        for i in range(len(AIRPORTS))
    ]
    assert online.rows == expected and online.misses == []


def test_a_training_step_records_the_views_and_snapshot_it_read(ws: Workspace) -> None:
    flights = pa.table(
        {
            "origin": ["JFK", "LGA", "EWR"],
            "sched": pa.array(
                [T0 + dt.timedelta(hours=h) for h in (1, 2, 3)], pa.timestamp("us", tz="UTC")
            ),
        }
    )
    snapshot(ws, flights, name="flights")
    result = run_pipeline(ws, "training_set", {})
    result.raise_for_status()
    assert result.output("count") == 3
    uses = st.feature_view_uses(ws.store, result.run.id)
    assert [(u.step, u.view, u.digest) for u in uses] == [
        ("historical_features", "weather", get_view(ws, "weather").digest)
    ]
    read = {(u.step, u.dataset) for u in st.snapshot_uses(ws.store, result.run.id)}
    assert ("historical_features", "weather") in read and ("historical_features", "flights") in read


def test_another_online_store_is_materialised_from_the_start(ws: Workspace, tmp_path: Path) -> None:
    """The watermark belongs to the view and the store it was written to: pointing the
    project at a new online store fills it from nothing, not from the old store's mark."""
    end = T0 + dt.timedelta(hours=5)
    (first,) = materialize(ws, end=end)
    env = {
        "CONVEYOR_STORE": ws.config.store.url,
        "CONVEYOR_FEATURES_ONLINE_STORE": f"sqlite:///{tmp_path}/other-online.db",
    }
    with Workspace.open(ws.config.root, env=env) as other:
        (again,) = materialize(other, end=end)
        assert (again.start, again.n_rows) == (None, first.n_rows)
        found = get_online_features(other, [{"origin": "JFK"}], ["weather:temp"], now=end)
        assert found.rows == [{"temp": 65.0}] and found.misses == []
    (nothing,) = materialize(ws, end=end)  # the first store is still up to date
    assert nothing.n_rows == 0


def test_lookups_do_not_write_to_the_metadata_store(ws: Workspace) -> None:
    """The serving path registers a view once per process and definition, not per call
    (each registration was a write transaction: 1.3 ms a lookup)."""
    from sqlalchemy import event

    materialize(ws, end=T0 + dt.timedelta(hours=1))
    writes: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            writes.append(statement)

    event.listen(ws.store.engine, "before_cursor_execute", seen)
    try:
        for _ in range(3):
            get_online_features(ws, [{"origin": "JFK"}], ["weather:temp"], now=T0)
    finally:
        event.remove(ws.store.engine, "before_cursor_execute", seen)
    assert writes == []
