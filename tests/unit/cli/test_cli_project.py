"""``conveyor init``, ``conveyor db upgrade`` and ``conveyor pipelines list|show``."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from conveyor.core import CONFIG_FILE
from support.inprocess_cli import Invoke, MakeCliProject

# -- conveyor init -----------------------------------------------------------------------


def test_init_creates_the_files_and_the_store_and_says_what_next(
    invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("init", "churn", "--name", "churn-model")
    assert result.code == 0, result
    assert result.out.splitlines() == [
        "created churn/conveyor.toml",
        "created churn/pipelines.py",
        "created churn/.gitignore",
        f"store ready at sqlite:///{tmp_path.resolve()}/churn/.conveyor/conveyor.db",
        "Next: cd churn && conveyor runs list",
    ]
    assert 'name = "churn-model"' in (tmp_path / "churn" / CONFIG_FILE).read_text()
    listed = invoke("-p", "churn", "pipelines", "list", "--json")
    assert [p["name"] for p in json.loads(listed.out)] == ["train"]


def test_init_in_the_current_folder_names_the_project_after_it(
    invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "Churn Model (v2)!"
    folder.mkdir()
    monkeypatch.chdir(folder)
    result = invoke("init")
    assert result.code == 0, result
    assert result.out.splitlines()[-1] == "Next: conveyor runs list"
    assert 'name = "Churn-Model-v2"' in (folder / CONFIG_FILE).read_text()


def test_init_refuses_any_existing_file_and_writes_nothing(invoke: Invoke, tmp_path: Path) -> None:
    folder = tmp_path / "taken"
    folder.mkdir()
    (folder / ".gitignore").write_text("mine\n")
    result = invoke("init", str(folder))
    assert result.code == 1
    assert f"{folder.resolve()} already has .gitignore; conveyor init never overwrites." in (
        result.err
    )
    assert "Choose an empty folder: conveyor init NEW_FOLDER" in result.err
    assert sorted(p.name for p in folder.iterdir()) == [".gitignore"]
    assert (folder / ".gitignore").read_text() == "mine\n"


@pytest.mark.parametrize("name", ["../up", "has space", "-dash-first", "a" * 129, "x..y"])
def test_init_refuses_a_bad_project_name_with_an_example(
    invoke: Invoke, tmp_path: Path, name: str
) -> None:
    result = invoke("init", str(tmp_path / "new"), "--name", name)
    assert result.code == 1
    assert f"The project name {name!r} is not valid" in result.err
    assert "For example: '" in result.err
    assert not (tmp_path / "new").exists()


def test_init_refuses_a_file_as_the_folder(invoke: Invoke, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    result = invoke("init", str(tmp_path / "file"))
    assert result.code == 2 and "is a file" in result.err


# -- conveyor db upgrade -------------------------------------------------------------------


def revision(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        (value,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return str(value)


def test_db_upgrade_of_a_current_store_changes_nothing(
    invoke: Invoke, make_project: MakeCliProject
) -> None:
    root = make_project()
    db = root / ".conveyor" / "conveyor.db"
    head = revision(db)
    result = invoke("-p", str(root), "db", "upgrade")
    assert result.code == 0, result
    assert result.out == f"sqlite:///{db} is already at schema revision {head} (head).\n"
    as_json = json.loads(invoke("-p", str(root), "db", "upgrade", "--json").out)
    assert as_json == {"store": f"sqlite:///{db}", "from": head, "to": head, "upgraded": False}


def test_db_upgrade_of_an_empty_store_creates_the_schema(
    invoke: Invoke, make_project: MakeCliProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_project()
    fresh = tmp_path / "fresh.db"
    monkeypatch.setenv("CONVEYOR_STORE", f"sqlite:///{fresh}")
    result = invoke("-p", str(root), "db", "upgrade", "--json")
    assert result.code == 0, result
    report = json.loads(result.out)
    assert report["from"] is None and report["upgraded"] is True
    assert report["to"] == revision(fresh) == revision(root / ".conveyor" / "conveyor.db")
    again = invoke("-p", str(root), "db", "upgrade")
    assert "is already at schema revision" in again.out

    other = tmp_path / "other.db"
    monkeypatch.setenv("CONVEYOR_STORE", f"sqlite:///{other}")
    text = invoke("-p", str(root), "db", "upgrade").out
    assert text == f"Upgraded sqlite:///{other} from empty to {report['to']} (head).\n"


def test_db_upgrade_finds_the_project_upwards(
    invoke: Invoke, make_project: MakeCliProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_project()
    (root / "sub").mkdir()
    monkeypatch.chdir(root / "sub")
    result = invoke("db", "upgrade", "--json")
    assert result.code == 0, result
    assert json.loads(result.out)["store"] == f"sqlite:///{root}/.conveyor/conveyor.db"


# -- conveyor pipelines list | show --------------------------------------------------------

PIPELINES = '''
from conveyor import pipeline, step

@step
def load(n: int) -> list:
    return list(range(n))

@step(retries=2, timeout="30s")
def train(rows: list, depth: int) -> dict:
    return {"depth": depth, "n": len(rows)}

@step
def score(x: int) -> int:
    return x

@step
def report(model: dict) -> str:
    return "ok"

@step
def alert(model: dict) -> str:
    return "alert"

@pipeline
def retrain(n: int = 10, depth: int = 3):
    """Train a model on fresh rows.

    More words that the list does not show.
    """
    rows = load(n)
    model = train(rows, depth)
    score.map(rows)
    report(model, when=model.depth)
    alert(model, when=~model.depth)

@pipeline
def needs_input(n: int):
    load(n)
'''


def described(invoke: Invoke, root: Path, *args: str) -> Any:
    result = invoke("-p", str(root), "pipelines", *args, "--json")
    assert result.code == 0, result
    return json.loads(result.out)


def test_pipelines_list_json_describes_each_pipeline(
    invoke: Invoke, make_project: MakeCliProject
) -> None:
    root = make_project(PIPELINES)
    found = {p["name"]: p for p in described(invoke, root, "list")}
    assert set(found) == {"retrain", "needs_input"}
    retrain = found["retrain"]
    assert retrain["module"].startswith("cli_pipes_")
    assert retrain["description"].startswith("Train a model on fresh rows.")
    assert retrain["params"] == {"n": 10, "depth": 3}
    steps = {s["name"]: s for s in retrain["steps"]}
    assert list(steps)[0] == "load"
    assert steps["train"] == {
        "name": "train",
        "step": "train",
        "upstream": ["load"],
        "when": None,
        "map": False,
        "retries": 2,
        "timeout": 30.0,
    }
    assert steps["score"]["map"] is True
    assert steps["report"]["when"] == "<output of train.depth>"
    assert steps["alert"]["when"] == "~<output of train.depth>"
    # A required parameter has no value, and no graph can be drawn without one.
    assert found["needs_input"]["params"] == {"n": None}
    assert found["needs_input"]["steps"] == []


def test_pipelines_list_table(invoke: Invoke, make_project: MakeCliProject) -> None:
    root = make_project(PIPELINES)
    lines = invoke("-p", str(root), "pipelines", "list").out.splitlines()
    assert lines[0] == "Pipelines"
    rows = {
        cells[0]: cells
        for cells in ([c.strip() for c in line.split("│")[1:-1]] for line in lines)
        if cells and cells[0]
    }
    assert rows["retrain"][1:3] == ["5", "n=10, depth=3"]
    assert rows["retrain"][4] == "Train a model on fresh rows."
    assert rows["needs_input"][1:3] == ["0", "n=None"]


def test_pipelines_list_of_a_project_without_pipelines(
    invoke: Invoke, make_project: MakeCliProject
) -> None:
    root = make_project("x = 1\n")
    assert invoke("-p", str(root), "pipelines", "list").out == "No pipelines.\n"
    assert described(invoke, root, "list") == []


def test_pipelines_show_draws_the_dag(invoke: Invoke, make_project: MakeCliProject) -> None:
    root = make_project(PIPELINES)
    result = invoke("-p", str(root), "pipelines", "show", "retrain")
    assert result.code == 0, result
    lines = result.out.splitlines()
    assert lines[0].startswith("retrain (cli_pipes_") and "Train a model on fresh rows." in lines[0]
    assert lines[1] == "retrain"
    assert lines[2] == "└── load"
    assert any(line.strip(" │├└─") == "train" for line in lines)
    assert any("score (map)" in line for line in lines)
    assert any("report when <output of train.depth>" in line for line in lines)
    assert any("alert when ~<output of train.depth>" in line for line in lines)
    assert described(invoke, root, "show", "retrain")["params"] == {"n": 10, "depth": 3}


def test_pipelines_show_of_an_unknown_pipeline(
    invoke: Invoke, make_project: MakeCliProject
) -> None:
    root = make_project(PIPELINES)
    result = invoke("-p", str(root), "pipelines", "show", "retrian")
    assert result.code == 1
    assert "No pipeline 'retrian'" in result.err and "Did you mean 'retrain'?" in result.err


def test_pipelines_show_labels_conditions_fan_outs_and_joins(
    invoke: Invoke, make_project: MakeCliProject
) -> None:
    root = make_project()  # the example pipeline of conveyor init
    text = invoke("-p", str(root), "pipelines", "show", "train").out
    assert (
        "score_threshold (map) when <output of validate.ok> after make_customers, validate" in text
    )
    assert "promote when <output of evaluate.passed> after evaluate, pick_best" in text
    assert "alert when ~<output of evaluate.passed>" in text
