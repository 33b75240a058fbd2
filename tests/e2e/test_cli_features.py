"""``conveyor features``, as a new user runs it: list, show, materialize, get."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from support.cli import Cli, assert_user_error

pytestmark = pytest.mark.e2e

PIPELINES = """
from conveyor.features import FeatureView

weather = FeatureView(
    name="weather",
    entities=["origin"],
    timestamp="time_hour",
    features={"temp": "double", "wind": "int64"},
    source="weather",
    ttl="3h",
    description="Hourly weather at the origin airport.",
)
"""


@pytest.fixture
def project(cli: Cli, tmp_path: Path) -> Path:
    assert cli("init", "p", "--name", "p").returncode == 0
    root = tmp_path / "p"
    (root / "pipelines.py").write_text(PIPELINES)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    rows = [
        {"origin": o, "time_hour": start + dt.timedelta(hours=h), "temp": 40.0 + h, "wind": h}
        for h in range(4)
        for o in ("JFK", "LGA")
    ]
    table = pa.Table.from_pylist(
        rows,
        schema=pa.schema(
            {
                "origin": pa.string(),
                "time_hour": pa.timestamp("us", tz="UTC"),
                "temp": pa.float64(),
                "wind": pa.int64(),
            }
        ),
    )
    pq.write_table(table, root / "weather.parquet")
    assert cli("data", "snapshot", "weather.parquet", "--name", "weather", cwd=root).returncode == 0
    return root


def test_list_show_materialize_and_get(cli: Cli, project: Path) -> None:
    (view,) = json.loads(cli("features", "list", "--json", cwd=project).stdout)
    assert (view["name"], view["entities"], view["ttl_seconds"]) == ("weather", ["origin"], 10800)
    listed = cli("features", "list", cwd=project)
    assert listed.returncode == 0 and "weather" in listed.stdout and "temp, wind" in listed.stdout

    done = cli(
        "features", "materialize", "--end", "2026-01-01T02:30:00+00:00", "--json", cwd=project
    )
    assert done.returncode == 0, done.stderr
    (first,) = json.loads(done.stdout)
    assert (first["view"], first["rows"], first["start"]) == ("weather", 6, None)
    again = cli(
        "features", "materialize", "weather", "--end", "2026-01-01T04:00:00+00:00", cwd=project
    )
    assert (
        again.returncode == 0 and "weather: 2 rows from 2026-01-01T02:30:00+00:00" in again.stdout
    )

    shown = cli("features", "show", "weather", cwd=project)
    assert shown.returncode == 0
    for text in ("entities origin", "ttl 3:00:00", "temp", "int64", "Materializations"):
        assert text in shown.stdout

    got = cli("features", "get", "weather", "-e", "origin=JFK", "--json", cwd=project)
    assert got.returncode == 0, got.stderr
    found = json.loads(got.stdout)
    # JFK's latest row is from 2026-01-01 03:00, past its 3 h TTL now: a miss that says so.
    assert found == {
        "rows": [{"temp": None, "wind": None}],
        "misses": [{"row": 0, "view": "weather", "reason": "expired"}],
    }
    at = ["--at", "2026-01-01T04:00:00+00:00", "--json"]
    fresh = json.loads(
        cli("features", "get", "weather", "-e", "origin=JFK", *at, cwd=project).stdout
    )
    assert fresh == {"rows": [{"temp": 43.0, "wind": 3}], "misses": []}
    unknown = json.loads(
        cli("features", "get", "weather:temp", "-e", "origin=SFO", "--json", cwd=project).stdout
    )
    assert unknown == {
        "rows": [{"temp": None}],
        "misses": [{"row": 0, "view": "weather", "reason": "unknown"}],
    }


def test_bad_input_is_one_line_with_what_to_do(cli: Cli, project: Path) -> None:
    assert_user_error(
        cli("features", "show", "wether", cwd=project), "Did you mean 'weather'", "features list"
    )
    assert_user_error(cli("features", "get", "weather", "-e", "JFK", cwd=project), "COLUMN=VALUE")
    assert_user_error(
        cli("features", "get", "weather:tmp", "-e", "origin=JFK", cwd=project),
        "Did you mean 'temp'",
    )
    assert_user_error(
        cli("features", "get", "weather", "-e", "airport=JFK", cwd=project),
        "has no 'origin'",
    )
    assert_user_error(cli("features", "materialize", "nope", cwd=project), "No feature view 'nope'")
