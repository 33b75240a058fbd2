"""The data services (snapshot, new data, show, diff, Dataset in pipelines) on each store
backend, over real files, the real artifact store and real runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conveyor import Dataset
from conveyor import store as st
from conveyor.core import DataSourceError, InvalidValueError, NotFoundError, StepContextError
from conveyor.data import (
    check_new_data,
    dataset_profile,
    diff_datasets,
    get_dataset,
    list_datasets,
    list_versions,
    parse_ref,
    snapshot,
)
from conveyor.pipelines import describe_run, run_pipeline
from support.projects import MakeProject
from support.waits import wait_for

pytestmark = pytest.mark.integration


def flights(n: int = 200, *, shift: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "flight": range(n),
            "carrier": [["AA", "DL", "UA"][i % 3] for i in range(n)],
            "dep_delay": [float(i % 50) + shift for i in range(n)],
        }
    )


def test_the_same_data_is_the_same_snapshot_and_a_changed_row_a_new_one(
    make_project: MakeProject, tmp_path: Path
) -> None:
    ws = make_project("")
    path = tmp_path / "flights.parquet"
    flights().to_parquet(path, index=False)
    first = snapshot(ws, str(path), name="flights", description="BTS on-time")
    assert (first.name, first.version, first.n_rows, first.created) == ("flights", 1, 200, True)
    assert first.columns == {"flight": "int64", "carrier": "string", "dep_delay": "double"}
    again = snapshot(ws, str(path), name="flights")
    assert (again.version, again.digest, again.created) == (1, first.digest, False)
    # The same rows from a DataFrame are the same bytes, so the same snapshot.
    from_frame = snapshot(ws, flights(), name="flights")
    assert (from_frame.version, from_frame.created) == (1, False)

    changed = flights()
    changed.loc[7, "dep_delay"] = 999.0
    changed.to_parquet(path, index=False)
    second = snapshot(ws, name="flights")  # the registered source, read again
    assert (second.version, second.created) == (2, True) and second.digest != first.digest

    assert [v.version for v in list_versions(ws, "flights")] == [1, 2]
    (listed,) = list_datasets(ws)
    assert (listed.name, listed.last_version, listed.description) == ("flights", 2, "BTS on-time")
    assert get_dataset(ws, "flights") == second
    assert get_dataset(ws, "flights", 1) == first
    events = st.read_events(ws.store, types=["io.conveyor.snapshot.created"])
    assert [e.data["version"] for e in events] == [1, 2]


def test_a_snapshot_reads_back_exactly_and_carries_its_statistics(
    make_project: MakeProject,
) -> None:
    ws = make_project("")
    taken = snapshot(ws, flights(1000), name="flights")
    table = taken.to_arrow()
    assert table.num_rows == 1000 and table.column_names == ["flight", "carrier", "dep_delay"]
    assert taken.to_pandas(columns=["carrier"])["carrier"].tolist()[:4] == ["AA", "DL", "UA", "AA"]
    assert sum(b.num_rows for b in taken.iter_batches(batch_rows=300)) == 1000
    assert pq.read_metadata(taken.path()).num_rows == 1000
    profile = dataset_profile(ws, "flights")
    delay = profile["dep_delay"]
    assert (delay.n_rows, delay.min, delay.max) == (1000, 0.0, 49.0)
    assert dict(profile["carrier"].top(3)) == {"AA": 334, "DL": 333, "UA": 333}
    assert taken.profile().n_rows == 1000


def test_diff_reports_schema_and_distribution_changes(make_project: MakeProject) -> None:
    ws = make_project("")
    snapshot(ws, flights(2000), name="flights")
    moved = flights(2000, shift=40.0).drop(columns=["flight"]).assign(gate=1)
    snapshot(ws, moved, name="flights")
    result = diff_datasets(ws, "flights/1", "flights/2")
    assert result.n_rows == (2000, 2000)
    assert result.added == ("gate",) and result.removed == ("flight",)
    delay = result["dep_delay"]
    assert delay.psi is not None and delay.psi > 1.0
    assert result["carrier"].psi is not None and result["carrier"].psi < 0.01
    assert diff_datasets(ws, "flights/2", "flights")["dep_delay"].psi == pytest.approx(0.0)


def test_references_and_bad_input_are_refused_with_what_to_do(
    make_project: MakeProject, tmp_path: Path
) -> None:
    ws = make_project("")
    assert parse_ref("flights") == ("flights", None)
    assert parse_ref("flights/3") == parse_ref("flights@3") == ("flights", 3)
    assert parse_ref("datasets:/flights/3") == ("flights", 3)
    with pytest.raises(InvalidValueError, match="'flights/3'"):
        parse_ref("flights/three")
    with pytest.raises(DataSourceError) as missing:
        snapshot(ws, str(tmp_path / "nope.csv"), name="flights")
    assert "nope.csv" in str(missing.value)
    assert list_datasets(ws) == []  # a source that cannot be read leaves no trace
    bad = tmp_path / "ragged.csv"
    bad.write_text("a,b\n1,2\n3,4,5\n")
    with pytest.raises(DataSourceError, match="ragged.csv"):
        snapshot(ws, str(bad), name="ragged")
    with pytest.raises(NotFoundError, match="has no registered source"):
        snapshot(ws, flights(), name="frames") and snapshot(ws, name="frames")
    with pytest.raises(NotFoundError, match="Did you mean 'frames'"):
        get_dataset(ws, "frame")
    with pytest.raises(InvalidValueError, match="batch_rows"):
        snapshot(ws, flights(), name="x", batch_rows=0)
    assert not list((ws.config.state_dir / "tmp").glob("snapshot-*"))


def test_new_files_are_new_data_once(
    make_project: MakeProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = make_project("")
    drop = tmp_path / "drop"
    drop.mkdir()
    flights(100).to_parquet(drop / "day1.parquet", index=False)
    monkeypatch.chdir(tmp_path)
    snapshot(ws, "drop/*.parquet", name="flights")  # relative: registered absolute
    # The snapshot recorded what the source held: nothing of it is new.
    nothing = check_new_data(ws, "flights")
    assert nothing.snapshot is None and nothing.summary == "0 new files (1 in all)"
    flights(50, shift=1.0).to_parquet(drop / "day2.parquet", index=False)
    monkeypatch.chdir(tmp_path.parent)  # the registered source does not depend on the folder
    found = check_new_data(ws, "flights")
    assert found.snapshot is not None and found.snapshot.n_rows == 50  # only what is new
    assert check_new_data(ws, "flights").snapshot is None
    assert found.to_dict()["snapshot"]["rows"] == 50


def test_an_appending_dataset_snapshots_everything_so_far(
    make_project: MakeProject, tmp_path: Path
) -> None:
    ws = make_project("")
    drop = tmp_path / "drop"
    drop.mkdir()
    flights(100).to_parquet(drop / "day1.parquet", index=False)
    snapshot(ws, str(drop), name="flights", appending=True)
    snapshot(ws, str(drop), name="flights")  # unsaid: stays appending
    assert st.get_dataset_source(ws.store, "flights").appending
    assert check_new_data(ws, "flights").snapshot is None
    flights(50, shift=1.0).to_parquet(drop / "day2.parquet", index=False)
    found = check_new_data(ws, "flights")
    assert found.snapshot is not None and found.snapshot.n_rows == 150


PIPELINE = """
from conveyor import Dataset, get_step_context, pipeline, step
from conveyor.data import load_dataset, snapshot

@step
def ingest(n: int) -> Dataset:
    import pandas as pd
    frame = pd.DataFrame({"x": list(range(n)), "y": [i % 2 for i in range(n)]})
    return snapshot(get_step_context().workspace, frame, name="points")

@step
def count(data: Dataset) -> int:
    return int(data.to_arrow().num_rows)

@step
def positives(data: Dataset) -> int:
    return int(data.to_pandas()["y"].sum())

@pipeline
def make(n: int = 10):
    count(ingest(n))

@pipeline
def latest(name: str = "points"):
    positives(load_dataset(name))
"""


def test_a_run_shows_the_snapshots_it_wrote_and_read(make_project: MakeProject) -> None:
    ws = make_project(PIPELINE)
    made = run_pipeline(ws, "make", {"n": "10"}, from_text=True)
    made.raise_for_status()
    assert made.output("count") == 10
    uses = st.snapshot_uses(ws.store, made.run.id)
    assert [(u.step, u.direction, u.dataset, u.version) for u in uses] == [
        ("ingest", "wrote", "points", 1),
        ("count", "read", "points", 1),
    ]
    snapshot(ws, pd.DataFrame({"x": [1, 2, 3], "y": [1, 1, 0]}), name="points")
    latest = run_pipeline(ws, "latest", {}, from_text=True)
    latest.raise_for_status()
    assert latest.output("positives") == 2  # the latest snapshot, version 2
    read = [(u.step, u.version) for u in st.snapshot_uses(ws.store, latest.run.id)]
    assert ("positives", 2) in read
    shown = describe_run(ws, made.run.id).to_dict()["datasets"]
    assert [(d["step"], d["direction"], d["version"]) for d in shown] == [
        ("ingest", "wrote", 1),
        ("count", "read", 1),
    ]


def test_a_dataset_outside_a_step_needs_a_workspace() -> None:
    loose = Dataset(name="d", version=1, digest="0" * 64, n_rows=0, columns={}, snapshot_id=1)
    with pytest.raises(StepContextError, match="not bound to a project"):
        loose.to_arrow()
    assert loose.uri == "datasets:/d/1"


KILLED_WRITER = """
import sys
import pyarrow as pa
from conveyor.data import snapshot
from conveyor.workspace import Workspace

def batches():
    for i in range(10_000):
        if i == 3:
            print("writing", flush=True)
        yield pa.record_batch({"x": pa.array(range(i * 50_000, (i + 1) * 50_000))})

reader = pa.RecordBatchReader.from_batches(pa.schema({"x": pa.int64()}), batches())
with Workspace.open(sys.argv[1]) as ws:
    snapshot(ws, reader, name="big")
"""


@pytest.mark.slow
def test_a_snapshot_killed_mid_write_leaves_nothing_visible(
    make_project: MakeProject, tmp_path: Path
) -> None:
    ws = make_project("")
    script = tmp_path / "writer.py"
    script.write_text(textwrap.dedent(KILLED_WRITER))
    env = {**os.environ, "CONVEYOR_STORE": ws.config.store.url}
    proc = subprocess.Popen(
        [sys.executable, str(script), str(ws.config.root)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "writing"
    wait_for(lambda: list((ws.config.state_dir / "tmp").glob("snapshot-*")), timeout=30)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    proc.stdout.close()
    assert list_datasets(ws) == []
    assert st.list_artifacts(ws.store) == []
    assert st.read_events(ws.store, types=["io.conveyor.snapshot.created"]) == []


def test_a_snapshot_of_an_empty_table_keeps_its_columns(make_project: MakeProject) -> None:
    ws = make_project("")
    empty = pa.table({"a": pa.array([], pa.int64()), "b": pa.array([], pa.string())})
    taken = snapshot(ws, empty, name="empty")
    assert (taken.n_rows, taken.columns) == (0, {"a": "int64", "b": "string"})
    assert taken.to_arrow().num_rows == 0 and dataset_profile(ws, "empty").n_rows == 0
