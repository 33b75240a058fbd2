"""Validation services on each store backend: a project schema inferred from a snapshot,
data checked against it (report artifact and event), skew against a reference, and a
validation step that halts its pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from conveyor import store as st
from conveyor.core import DataValidationError, NotFoundError
from conveyor.data import (
    check_skew,
    dataset_profile,
    infer_dataset_schema,
    load_schema,
    schema_path,
    snapshot,
    validate,
)
from conveyor.lineage import read_artifact
from conveyor.pipelines import run_pipeline
from support.projects import MakeProject

pytestmark = pytest.mark.integration


def flights(
    n: int = 300, *, shift: float = 0.0, carriers: tuple[str, ...] = ("AA", "DL")
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "flight": range(n),
            "carrier": [carriers[i % len(carriers)] for i in range(n)],
            "dep_delay": [float(i % 60) + shift for i in range(n)],
        }
    )


def test_an_inferred_project_schema_passes_its_own_data(make_project: MakeProject) -> None:
    ws = make_project("")
    snapshot(ws, flights(), name="flights")
    path = infer_dataset_schema(ws, "flights")
    assert path == schema_path(ws, "flights") == ws.config.root / "schemas" / "flights.yaml"
    text = path.read_text()
    assert text.startswith(
        "# conveyor data schema for 'flights', inferred from datasets:/flights/1"
    )
    schema = load_schema(path)
    assert set(schema.columns) == {"flight", "carrier", "dep_delay"}

    check = validate(ws, "flights")  # the latest snapshot, against the project's schema
    assert check.passed and check.report.violations == ()
    assert check.schema_path == "schemas/flights.yaml" and check.source == "flights"
    check.raise_for_errors()  # passes quietly
    stored = json.loads(read_artifact(ws, check.artifact_id or 0))
    assert stored["passed"] is True and stored["report"]["n_rows"] == 300
    (event,) = st.read_events(ws.store, types=["io.conveyor.validation.passed"])
    assert event.data["dataset"] == "flights" and event.data["errors"] == []


def test_broken_error_rules_fail_the_check_with_the_rows_to_look_at(
    make_project: MakeProject, tmp_path: Path
) -> None:
    ws = make_project("")
    snapshot(ws, flights(), name="flights")
    infer_dataset_schema(ws, "flights")
    bad = flights()
    bad["flight"] = bad["flight"].astype(float)  # wrong type: an error rule
    bad.loc[3, "carrier"] = None  # a null where none is allowed: an error rule too
    path = tmp_path / "bad.parquet"
    bad.to_parquet(path, index=False)
    check = validate(ws, str(path), schema=schema_path(ws, "flights"))
    assert not check.passed
    rules = {(v.column, v.rule): v for v in check.report.errors}
    assert ("flight", "type") in rules and ("carrier", "nullable") in rules
    assert rules[("carrier", "nullable")].n_failed == 1
    assert rules[("carrier", "nullable")].examples[0].row == 3
    with pytest.raises(DataValidationError, match="broke 2 error rules") as info:
        check.raise_for_errors()
    assert f"conveyor data validate {path} --schema schemas/flights.yaml" in str(info.value.hint)
    assert info.value.report is check.report
    (event,) = st.read_events(ws.store, types=["io.conveyor.validation.failed"])
    assert {(e["column"], e["rule"]) for e in event.data["errors"]} == set(rules)


def test_warnings_are_recorded_and_do_not_fail(make_project: MakeProject) -> None:
    ws = make_project("")
    snapshot(ws, flights(), name="flights")
    infer_dataset_schema(ws, "flights")
    late = flights(shift=1000.0)  # past the inferred max: a warning by default
    check = validate(ws, late, schema=schema_path(ws, "flights"))
    assert check.passed
    assert [(v.column, v.rule, v.severity) for v in check.report.warnings] == [
        ("dep_delay", "max", "warning")
    ]


def test_skew_against_a_reference_names_the_columns_that_moved(
    make_project: MakeProject,
) -> None:
    ws = make_project("")
    snapshot(ws, flights(2000), name="flights")
    infer_dataset_schema(ws, "flights")
    moved = flights(2000, shift=45.0, carriers=("AA", "AA", "AA", "DL"))
    check = validate(ws, moved, schema=schema_path(ws, "flights"), reference="flights/1")
    assert check.skew is not None and check.skew.reference == "datasets:/flights/1"
    by_column = {c.column: c for c in check.skew.columns}
    assert by_column["dep_delay"].measure == "psi" and by_column["dep_delay"].moved
    assert by_column["carrier"].measure == "jensen_shannon" and by_column["carrier"].moved
    assert not by_column["flight"].moved
    same = validate(ws, flights(2000), schema=schema_path(ws, "flights"), reference="flights")
    assert same.skew is not None and same.skew.moved == ()
    profile = dataset_profile(ws, "flights")
    assert check_skew(profile, profile).moved == ()


def test_no_schema_says_how_to_make_one(make_project: MakeProject) -> None:
    ws = make_project("")
    snapshot(ws, flights(), name="flights")
    with pytest.raises(NotFoundError, match="has no schema at schemas/flights.yaml") as info:
        validate(ws, "flights")
    assert "conveyor data schema flights" in str(info.value.hint)
    with pytest.raises(NotFoundError, match="No schema given"):
        validate(ws, flights())


PIPELINE = """
from conveyor import Dataset, pipeline, step
from conveyor.data import load_dataset, validate_dataset

@step
def train(data: Dataset) -> int:
    return int(data.to_arrow().num_rows)

@step
def register(rows: int) -> str:
    return f"model trained on {rows} rows"

@pipeline
def retrain(dataset: str = "flights"):
    register(train(validate_dataset(load_dataset(dataset))))
"""


def test_a_failed_validation_step_halts_everything_after_it(
    make_project: MakeProject,
) -> None:
    ws = make_project(PIPELINE)
    snapshot(ws, flights(), name="flights")
    infer_dataset_schema(ws, "flights")
    good = run_pipeline(ws, "retrain", {}, from_text=True)
    good.raise_for_status()
    assert good.output("register") == "model trained on 300 rows"

    bad = flights()
    bad.loc[0, "carrier"] = None
    snapshot(ws, bad, name="flights")
    halted = run_pipeline(ws, "retrain", {}, from_text=True)
    assert not halted.succeeded
    assert halted.statuses["validate_dataset"] == "failed"
    assert halted.statuses["train"] == halted.statuses["register"] == "upstream_failed"
    assert "DataValidationError" in (halted.errors.get("validate_dataset") or "")
    failed = st.read_events(ws.store, types=["io.conveyor.validation.failed"])
    assert [e.data["dataset"] for e in failed] == ["flights"]
