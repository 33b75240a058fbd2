"""``conveyor predictions list|show`` and ``conveyor feedback ingest``, run as the command
runs, on a project with a logged deployment."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from sklearn.linear_model import LogisticRegression

from conveyor.cli import main
from conveyor.core import Config
from conveyor.registry import register_model
from conveyor.serve.runtime import PredictionLog, set_deployment
from conveyor.workspace import Workspace, init_project
from support.models import frame
from support.prediction_log import chunk

pytestmark = pytest.mark.integration


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list[str]]:
    """A project whose deployment ``api`` logged 30 predictions of churn v1."""
    for var in ("CONVEYOR_STORE", "CONVEYOR_PROJECT", "CONVEYOR_ARTIFACTS"):
        monkeypatch.delenv(var, raising=False)
    root = tmp_path / "p"
    init_project(root, name="p")
    module = "serve_cli_pipes_" + uuid.uuid4().hex[:10]
    (root / "pipelines.py").rename(root / f"{module}.py")
    with open(root / "conveyor.toml", "a") as f:
        f.write(f'\n[pipelines]\nmodules = ["{module}"]\n')
    with Workspace.from_config(Config.load(root)) as ws:
        X, y = frame()
        register_model(ws, "churn", LogisticRegression().fit(X, y))
        set_deployment(ws, "api", model="churn")
        log = PredictionLog(ws, "api")
        rows = [chunk(10, start=10 * i) for i in range(3)]
        for c in rows:
            log.submit(c)
        log.close()
    return root, [i for c in rows for i in c.ids]


def test_predictions_list_and_show(
    capsys: pytest.CaptureFixture[str], project: tuple[Path, list[str]]
) -> None:
    root, ids = project
    code, out, _ = run(
        capsys, "-p", str(root), "predictions", "list", "api", "--limit", "5", "--json"
    )
    assert code == 0
    listed = json.loads(out)
    assert [r["prediction_id"] for r in listed] == ids[::-1][:5]
    assert listed[0]["inputs"]["seq"] == 29
    code, out, _ = run(capsys, "-p", str(root), "predictions", "list", "api", "-n", "3")
    assert code == 0 and ids[-1] in out and "churn/1" in out
    code, out, _ = run(
        capsys, "-p", str(root), "predictions", "list", "api", "--since", "2999-01-01", "--json"
    )
    assert (code, json.loads(out)) == (0, [])
    code, _, err = run(capsys, "-p", str(root), "predictions", "list", "api", "--since", "soon")
    assert code == 1 and "--since must be an ISO-8601 time" in err

    code, out, _ = run(capsys, "-p", str(root), "predictions", "show", ids[4], "--json")
    assert code == 0
    shown = json.loads(out)
    assert (shown["prediction_id"], shown["model"], shown["version"]) == (ids[4], "churn", 1)
    assert shown["inputs"]["seq"] == 4 and shown["label"] is None
    code, out, _ = run(capsys, "-p", str(root), "predictions", "show", ids[4])
    assert code == 0 and f"prediction {ids[4]}" in out and "models:/churn/1" in out
    code, _, err = run(capsys, "-p", str(root), "predictions", "show", "nope")
    assert code == 1 and "must be a UUIDv7" in err and "Traceback" not in err


def test_feedback_ingest(
    capsys: pytest.CaptureFixture[str], project: tuple[Path, list[str]], tmp_path: Path
) -> None:
    root, ids = project
    path = tmp_path / "labels.csv"
    pacsv.write_csv(pa.table({"id": ids, "churned": [i % 2 for i in range(30)]}), path)
    args = ["-p", str(root), "feedback", "ingest", str(path), "--deployment", "api"]
    code, out, _ = run(capsys, *args, "--id-column", "id", "--label-column", "churned")
    assert code == 0 and "Stored 30 label(s) for deployment api" in out
    code, out, _ = run(capsys, *args, "--id-column", "id", "--label-column", "churned", "--json")
    assert (code, json.loads(out)) == (0, {"n_upserted": 30, "deployment": "api"})
    code, out, _ = run(capsys, "-p", str(root), "predictions", "show", ids[3], "--json")
    assert json.loads(out)["label"] == 1
    code, _, err = run(capsys, *args)
    assert code == 1 and "no id column 'prediction_id'" in err and "--id-column" in err
