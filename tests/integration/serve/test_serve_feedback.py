"""Feedback: labels recorded all or nothing, idempotently, from calls and from CSV, Parquet
and JSON Lines files, with errors that name the item (or row) and the field."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from conveyor import store as st
from conveyor.core import InvalidValueError, NotFoundError
from conveyor.serve.runtime import (
    ingest_feedback,
    new_prediction_ids,
    prediction_time_ms,
    record_feedback,
)
from conveyor.workspace import Workspace

pytestmark = pytest.mark.integration


def labels(ws: Workspace) -> dict[str, object]:
    return {r.prediction_id: r.label for r in st.list_feedback(ws.store)}


def test_record_feedback_upserts(ws: Workspace) -> None:
    ids = new_prediction_ids(3)
    items = [{"prediction_id": i, "label": n} for n, i in enumerate(ids)]
    result = record_feedback(ws, items, deployment="api")
    assert (result.n_upserted, result.deployment) == (3, "api")
    assert result.to_dict() == {"n_upserted": 3, "deployment": "api"}
    record_feedback(ws, items)  # again: idempotent
    record_feedback(ws, [{"prediction_id": ids[0], "label": "yes"}])
    assert labels(ws) == {ids[0]: "yes", ids[1]: 1, ids[2]: 2}
    stored = st.list_feedback(ws.store, deployment="api")
    assert [r.prediction_ts for r in stored] == [prediction_time_ms(i) for i in ids]
    # A repeated id in one batch: the last label wins, counted once.
    assert (
        record_feedback(ws, [{"prediction_id": ids[1], "label": v} for v in (5, 6)]).n_upserted == 1
    )
    assert labels(ws)[ids[1]] == 6


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"label": 1}, "Feedback item 1 has no 'prediction_id'"),
        ({"prediction_id": "X"}, "Feedback item 1 has no 'label'"),
        ({"prediction_id": "abc", "label": 1}, "Feedback item 1: A prediction id must be"),
        ({"prediction_id": 7, "label": 1}, "Feedback item 1: 'prediction_id' must be"),
        ({"prediction_idd": "x", "label": 1}, "Did you mean 'prediction_idd'"),
        ("text", "Feedback item 1 must be an object"),
    ],
)
def test_a_bad_item_writes_nothing(ws: Workspace, item: object, message: str) -> None:
    good = {"prediction_id": new_prediction_ids(1)[0], "label": 1}
    with pytest.raises(InvalidValueError, match=message):
        record_feedback(ws, [good, item])  # type: ignore[list-item]
    assert labels(ws) == {}


@pytest.mark.parametrize("label", [None, [1, 2], {"a": 1}, float("nan"), float("inf")])
def test_labels_must_be_json_scalars(ws: Workspace, label: object) -> None:
    (pid,) = new_prediction_ids(1)
    with pytest.raises(InvalidValueError, match="Feedback item 0: 'label' must be a JSON scalar"):
        record_feedback(ws, [{"prediction_id": pid, "label": label}])


def test_an_unknown_deployment(ws: Workspace) -> None:
    (pid,) = new_prediction_ids(1)
    with pytest.raises(NotFoundError, match="No deployment 'apj'.*Did you mean 'api'"):
        record_feedback(ws, [{"prediction_id": pid, "label": 1}], deployment="apj")


def write(path: Path, table: pa.Table) -> Path:
    if path.suffix == ".csv":
        pacsv.write_csv(table, path)
    elif path.suffix == ".parquet":
        pq.write_table(table, path)
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in table.to_pylist()))
    return path


@pytest.mark.parametrize("name", ["labels.csv", "labels.parquet", "labels.jsonl"])
def test_ingest_each_format(ws: Workspace, tmp_path: Path, name: str) -> None:
    ids = new_prediction_ids(4)
    table = pa.table({"id": ids, "churned": [True, False, True, False], "x": [1, 2, 3, 4]})
    path = write(tmp_path / name, table)
    result = ingest_feedback(ws, path, deployment="api", id_column="id", label_column="churned")
    assert result.n_upserted == 4
    assert labels(ws) == dict(zip(ids, [True, False, True, False], strict=True))


def test_ingest_errors(ws: Workspace, tmp_path: Path) -> None:
    ids = new_prediction_ids(2)
    path = write(tmp_path / "labels.csv", pa.table({"prediction_id": ids, "lable": [1, 0]}))
    with pytest.raises(
        InvalidValueError, match="no label column 'label'.*Did you mean 'lable'"
    ) as info:
        ingest_feedback(ws, path)
    assert "--label-column" in str(info.value)
    with pytest.raises(InvalidValueError, match="no id column 'pid'"):
        ingest_feedback(ws, path, id_column="pid", label_column="lable")
    with pytest.raises(NotFoundError, match="No feedback file"):
        ingest_feedback(ws, tmp_path / "missing.csv")
    with pytest.raises(InvalidValueError, match="extension '.txt'"):
        ingest_feedback(ws, tmp_path / "labels.txt")
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet at all")
    with pytest.raises(InvalidValueError, match="Cannot read feedback file .* as PARQUET"):
        ingest_feedback(ws, broken)
    bad_row = write(
        tmp_path / "bad.csv", pa.table({"prediction_id": [ids[0], "nope"], "label": [1, 0]})
    )
    with pytest.raises(InvalidValueError, match="bad.csv', row 1: A prediction id must be"):
        ingest_feedback(ws, bad_row)
    empty_label = tmp_path / "empty.jsonl"
    empty_label.write_text(json.dumps({"prediction_id": ids[1], "label": None}) + "\n")
    with pytest.raises(InvalidValueError, match="row 0: 'label' must be .* Got missing"):
        ingest_feedback(ws, empty_label)
    assert labels(ws) == {}


def test_ingest_100k_rows(ws: Workspace, tmp_path: Path) -> None:
    ids = new_prediction_ids(100_000)
    path = write(
        tmp_path / "labels.parquet",
        pa.table({"prediction_id": ids, "label": [i % 2 for i in range(100_000)]}),
    )
    started = time.perf_counter()
    assert ingest_feedback(ws, path).n_upserted == 100_000
    took = time.perf_counter() - started
    print(f"\ningested 100 000 labels in {took:.2f} s ({100_000 / took:,.0f} rows/s)")
    assert len(st.list_feedback(ws.store)) == 100_000
