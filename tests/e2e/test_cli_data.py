"""``conveyor data``, as a new user runs it: snapshot, list, show, check, diff, schema,
validate, with text and ``--json`` output, exit codes and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from support.cli import Cli, assert_user_error

pytestmark = pytest.mark.e2e


@pytest.fixture
def project(cli: Cli, tmp_path: Path) -> Path:
    assert cli("init", "p", "--name", "p").returncode == 0
    root = tmp_path / "p"
    frame = pd.DataFrame(
        {
            "carrier": ["AA", "DL", "UA", "WN"] * 250,
            "dep_delay": [float(i % 90) - 10 for i in range(1000)],
        }
    )
    frame.to_csv(root / "jan.csv", index=False)
    later = frame.assign(dep_delay=frame["dep_delay"] + 60)
    later.loc[4, "carrier"] = None
    later.to_csv(root / "feb.csv", index=False)
    return root


def test_snapshot_prints_the_version_and_digest_and_dedups(cli: Cli, project: Path) -> None:
    first = cli("data", "snapshot", "jan.csv", "--name", "flights", "--json", cwd=project)
    assert first.returncode == 0, first.stderr
    taken = json.loads(first.stdout)
    assert {"name", "version", "digest", "rows"} <= set(taken)
    assert (taken["name"], taken["version"], taken["rows"], taken["created"]) == (
        "flights",
        1,
        1000,
        True,
    )
    again = cli("data", "snapshot", "jan.csv", "--name", "flights", cwd=project)
    assert again.returncode == 0
    assert (
        again.stdout.startswith("Unchanged: snapshot flights v1")
        and taken["digest"] in again.stdout
    )
    listed = json.loads(cli("data", "list", "--json", cwd=project).stdout)
    assert [(d["name"], d["last_version"]) for d in listed] == [("flights", 1)]
    shown = cli("data", "show", "flights", cwd=project)
    assert shown.returncode == 0
    for text in ("datasets:/flights/1", "1,000 rows", "dep_delay", "AA (250)"):
        assert text in shown.stdout
    stats = json.loads(cli("data", "show", "flights/1", "--json", cwd=project).stdout)
    (delay,) = [c for c in stats["statistics"]["columns"] if c["name"] == "dep_delay"]
    assert (delay["min"], delay["max"]) == (-10.0, 79.0)


def test_check_diff_schema_and_validate(cli: Cli, project: Path) -> None:
    assert cli("data", "snapshot", "jan.csv", "--name", "flights", cwd=project).returncode == 0
    nothing = cli("data", "check", "flights", cwd=project)
    assert nothing.returncode == 0 and nothing.stdout.startswith("Nothing new in flights")
    (project / "jan.csv").write_text((project / "feb.csv").read_text())
    found = json.loads(cli("data", "check", "flights", "--json", cwd=project).stdout)
    assert found["snapshot"]["version"] == 2 and "1 changed" in found["summary"]

    diff = cli("data", "diff", "flights/1", "flights/2", cwd=project)
    assert diff.returncode == 0 and "dep_delay" in diff.stdout
    moved = json.loads(cli("data", "diff", "flights/1", "flights/2", "--json", cwd=project).stdout)
    (delay,) = [c for c in moved["columns"] if c["name"] == "dep_delay"]
    assert delay["psi"] > 1.0

    wrote = cli("data", "schema", "flights/1", cwd=project)
    assert wrote.returncode == 0 and "schemas/flights.yaml" in wrote.stdout
    assert (project / "schemas" / "flights.yaml").is_file()
    good = cli("data", "validate", "flights/1", cwd=project)
    assert good.returncode == 0 and "passed" in good.stdout
    bad = cli(
        "data",
        "validate",
        "feb.csv",
        "--schema",
        "schemas/flights.yaml",
        "--reference",
        "flights/1",
        cwd=project,
    )
    assert bad.returncode == 1
    assert "carrier" in bad.stdout and "nullable" in bad.stdout and "4: None" in bad.stdout
    assert "Skew against datasets:/flights/1" in bad.stdout
    assert_user_error(bad, "broke 1 error rule", "conveyor data validate feb.csv --schema")
    report = json.loads(
        cli(
            "data", "validate", "feb.csv", "--schema", "schemas/flights.yaml", "--json", cwd=project
        ).stdout
    )
    assert report["passed"] is False and report["report"]["n_rows"] == 1000


def test_bad_input_is_one_line_with_what_to_do(cli: Cli, project: Path) -> None:
    assert_user_error(
        cli("data", "snapshot", "missing.csv", "--name", "x", cwd=project), "missing.csv"
    )
    assert_user_error(cli("data", "snapshot", "jan.csv", cwd=project), "needs the dataset's name")
    assert_user_error(
        cli("data", "show", "nope", cwd=project), "No dataset 'nope'", "conveyor data list"
    )
    assert_user_error(cli("data", "diff", "a/b/c", "x", cwd=project), "flights/3")
    assert_user_error(
        cli("data", "validate", "jan.csv", cwd=project), "No schema given", "conveyor data schema"
    )
    (project / "schemas").mkdir()
    (project / "schemas" / "bad.yaml").write_text("dataset: x\ncolumns:\n  a: {tpye: int64}\n")
    assert_user_error(
        cli("data", "validate", "jan.csv", "--schema", "schemas/bad.yaml", cwd=project),
        "columns.a.tpye",
        "Did you mean 'type'",
    )
    assert cli("data", "list", "--json", cwd=project).stdout.strip() == "[]"


PIPELINES = """
from conveyor import Dataset, pipeline, step
from conveyor.data import load_dataset, validate_dataset

@step
def count(data: Dataset) -> int:
    return data.to_arrow().num_rows

@pipeline
def retrain(dataset: str = "flights"):
    count(validate_dataset(load_dataset(dataset)))
"""


def test_a_pipeline_on_the_latest_snapshot_and_the_run_that_shows_it(
    cli: Cli, project: Path
) -> None:
    (project / "pipelines.py").write_text(PIPELINES)
    assert cli("data", "snapshot", "jan.csv", "--name", "flights", cwd=project).returncode == 0
    assert cli("data", "schema", "flights", cwd=project).returncode == 0
    ran = cli("run", "retrain", cwd=project)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    shown = cli("runs", "show", "1", cwd=project)
    assert "Datasets" in shown.stdout and "datasets:/flights/1" in shown.stdout
    assert cli("data", "snapshot", "feb.csv", "--name", "flights", cwd=project).returncode == 0
    halted = cli("run", "retrain", cwd=project)  # v2 has a null carrier: an error rule
    assert halted.returncode == 1
    runs = json.loads(cli("runs", "show", "2", "--json", cwd=project).stdout)
    statuses = {s["name"]: s["status"] for s in runs["steps"]}
    assert statuses == {
        "load_dataset": "succeeded",
        "validate_dataset": "failed",
        "count": "upstream_failed",
    }
