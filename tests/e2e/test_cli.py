"""The installed ``conveyor`` command, as a new user runs it."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from conveyor.store import create_run, open_store
from support.cli import CONVEYOR, Cli, _env, assert_user_error

pytestmark = pytest.mark.e2e
README = Path(__file__).resolve().parents[2] / "README.md"


def test_help_and_version(cli: Cli) -> None:
    result = cli("--help")
    assert result.returncode == 0
    for command in ("init", "demo", "runs", "artifacts", "events", "db"):
        assert command in result.stdout
    version = cli("--version")
    assert version.returncode == 0 and version.stdout.startswith("conveyor ")


def test_usage_errors_exit_2(cli: Cli) -> None:
    assert cli("no-such-command").returncode == 2
    assert cli("runs", "show", "not-a-number").returncode == 2
    assert cli("runs", "list", "--limit", "0").returncode == 2


def test_init_creates_a_project_and_refuses_to_overwrite(cli: Cli, tmp_path: Path) -> None:
    result = cli("init", "churn", "--name", "churn")
    assert result.returncode == 0, result.stderr
    project = tmp_path / "churn"
    assert (project / "conveyor.toml").is_file()
    assert (project / "pipelines.py").is_file()
    assert ".conveyor/" in (project / ".gitignore").read_text()
    assert (project / ".conveyor" / "conveyor.db").is_file()
    before = (project / "conveyor.toml").read_text()
    again = cli("init", "churn")
    assert_user_error(again, "never overwrites", "conveyor init NEW_FOLDER")
    assert (project / "conveyor.toml").read_text() == before


def test_init_rejects_a_bad_project_name(cli: Cli, tmp_path: Path) -> None:
    assert_user_error(cli("init", "x", "--name", "../evil"), "project name")
    assert not (tmp_path / "x").exists()


def test_commands_outside_a_project_say_how_to_start(cli: Cli) -> None:
    assert_user_error(cli("runs", "list"), "No conveyor.toml", "conveyor init")


def test_invalid_config_is_one_line_naming_the_key(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "conveyor.toml").write_text('[store]\nulr = "sqlite:///x.db"\n')
    assert_user_error(cli("runs", "list"), "store.ulr", "Did you mean 'url'?")
    bad_env = cli("runs", "list", env={"CONVEYOR_EXECUTOR": "spark"})
    assert_user_error(bad_env, "executor.kind")


def test_runs_and_artifacts_round_trip(cli: Cli, tmp_path: Path) -> None:
    assert cli("init", "p").returncode == 0
    project = tmp_path / "p"
    assert json.loads(cli("runs", "list", "--json", cwd=project).stdout) == []
    with open_store(f"sqlite:///{project}/.conveyor/conveyor.db", project="p") as store:
        run = create_run(store, "train", params={"depth": 3})
    runs = json.loads(cli("runs", "list", "--json", cwd=project).stdout)
    assert [r["id"] for r in runs] == [run.id]
    shown = json.loads(cli("runs", "show", str(run.id), "--json", cwd=project).stdout)
    assert shown["pipeline"] == "train" and shown["status"] == "running"
    assert "train" in cli("runs", "show", str(run.id), cwd=project).stdout
    assert_user_error(cli("runs", "show", "999", cwd=project), "No run 999", "conveyor runs list")

    data = project / "data"
    data.mkdir()
    (data / "a.csv").write_text("x,y\n1,2\n")
    (data / "nested").mkdir()
    (data / "nested" / "b.txt").write_text("hello")
    added = json.loads(cli("artifacts", "add", "data", "--json", cwd=project).stdout)
    assert added["kind"] == "dir" and added["name"] == "data"
    single = json.loads(
        cli("artifacts", "add", "data/a.csv", "--name", "a", "--json", cwd=project).stdout
    )
    listed = json.loads(cli("artifacts", "list", "--json", cwd=project).stdout)
    assert {a["id"] for a in listed} == {added["id"], single["id"]}
    shown = json.loads(cli("artifacts", "show", added["digest"][:12], "--json", cwd=project).stdout)
    assert sorted(f["path"] for f in shown["files"]) == ["a.csv", "nested/b.txt"]
    assert cli("artifacts", "get", str(added["id"]), "-o", "copy", cwd=project).returncode == 0
    assert (project / "copy" / "nested" / "b.txt").read_text() == "hello"
    assert_user_error(
        cli("artifacts", "get", str(added["id"]), "-o", "copy", cwd=project), "already exists"
    )
    assert_user_error(cli("artifacts", "show", "nope", cwd=project), "sha256")
    assert_user_error(cli("artifacts", "add", "missing.txt", cwd=project), "missing.txt")

    dry = json.loads(
        cli("artifacts", "gc", "--grace", "0s", "--dry-run", "--json", cwd=project).stdout
    )
    assert dry["n_deleted"] == 0  # everything stored is referenced
    assert_user_error(cli("artifacts", "gc", "--grace", "soon", cwd=project), "--grace")


@pytest.mark.parametrize(
    "name",
    ["../../etc/passwd", "%2e%2e%2fx", "/etc/passwd", "a/../../b", "..\\x", "file:///etc/passwd"],
)
def test_traversal_names_are_refused_by_the_cli(cli: Cli, tmp_path: Path, name: str) -> None:
    assert cli("init", "p").returncode == 0
    project = tmp_path / "p"
    (project / "f.txt").write_text("x")
    assert_user_error(
        cli("artifacts", "add", "f.txt", "--name", name, cwd=project), "artifact name"
    )
    listed = json.loads(cli("artifacts", "list", "--json", cwd=project).stdout)
    assert listed == []


def test_events_lists_and_follows(cli: Cli, tmp_path: Path) -> None:
    assert cli("init", "p").returncode == 0
    project = tmp_path / "p"
    url = f"sqlite:///{project}/.conveyor/conveyor.db"
    with open_store(url, project="p") as store:
        create_run(store, "first")
    listed = json.loads(cli("events", "--json", cwd=project).stdout)
    assert [e["type"] for e in listed] == ["io.conveyor.run.started"]
    assert listed[0]["specversion"] == "1.0" and listed[0]["source"] == "/projects/p"

    with subprocess.Popen(
        [CONVEYOR, "events", "--follow", "--json", "--type", "io.conveyor.run.*"],
        cwd=project,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as follower:
        time.sleep(1.5)  # let it start polling (the test asserts content, not timing)
        with open_store(url, project="p") as store:
            run = create_run(store, "second")
        assert follower.stdout is not None
        line = follower.stdout.readline()
        event = json.loads(line)
        follower.terminate()
        follower.wait(timeout=10)
        assert event["subject"] == f"runs/{run.id}"


def test_db_upgrade_reports_the_revision(cli: Cli, tmp_path: Path) -> None:
    assert cli("init", "p").returncode == 0
    result = cli("db", "upgrade", "--json", cwd=tmp_path / "p")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["upgraded"] is False


def test_demo_runs_and_never_reuses_a_folder(cli: Cli, tmp_path: Path) -> None:
    first = cli("demo")
    assert first.returncode == 0, first.stderr
    assert "succeeded" in first.stdout and "checksum verified" in first.stdout
    second = cli("demo")
    assert second.returncode == 0, second.stderr
    assert (tmp_path / "conveyor-demo").is_dir() and (tmp_path / "conveyor-demo-2").is_dir()
    runs = json.loads(cli("runs", "list", "--json", cwd=tmp_path / "conveyor-demo").stdout)
    assert runs[0]["status"] == "succeeded"


def test_readme_quickstart_runs(cli: Cli, tmp_path: Path) -> None:
    text = README.read_text()
    blocks = re.findall(r"```console\n(.*?)```", text, re.S)
    assert blocks, "README has no console block"
    cwd = tmp_path
    for line in (ln for b in blocks for ln in b.splitlines() if ln.startswith("$ ")):
        words = line[2:].split()
        if words[0] == "cd":
            cwd = cwd / words[1]
            continue
        assert words[0] == "conveyor", line
        result = cli(*words[1:], cwd=cwd)
        assert result.returncode == 0, (line, result.stderr)


def test_pipelines_run_logs_and_show(cli: Cli, tmp_path: Path) -> None:
    assert cli("init", "p").returncode == 0
    project = tmp_path / "p"
    listed = json.loads(cli("pipelines", "list", "--json", cwd=project).stdout)
    assert [p["name"] for p in listed] == ["train"]
    assert {s["name"] for s in listed[0]["steps"]} >= {"make_customers", "evaluate"}
    shown = cli("pipelines", "show", "train", cwd=project)
    assert shown.returncode == 0 and "score_threshold (map)" in shown.stdout
    assert_user_error(cli("pipelines", "show", "trian", cwd=project), "Did you mean 'train'?")

    ran = cli("run", "train", "--param", "n_rows=300", "--json", cwd=project)
    assert ran.returncode == 0, ran.stderr
    summary = json.loads(ran.stdout)
    assert summary["status"] == "succeeded" and summary["steps"]["alert"] == "skipped"
    strict = cli("run", "train", "--param", "min_accuracy=0.99", cwd=project)
    assert strict.returncode == 0, strict.stderr
    assert "succeeded" in strict.stdout and "Run 2" in strict.stdout

    assert_user_error(
        cli("run", "train", "--param", "n_rows=many", cwd=project), "'n_rows'", "type int"
    )
    assert_user_error(
        cli("run", "train", "--param", "nrows=3", cwd=project), "Did you mean 'n_rows'?"
    )
    assert_user_error(cli("run", "train", "--param", "oops", cwd=project), "KEY=VALUE")
    assert_user_error(cli("run", "nope", cwd=project), "No pipeline 'nope'")

    shown_run = cli("runs", "show", "1", cwd=project)
    assert "make_customers" in shown_run.stdout and "6/6 items" in shown_run.stdout
    logs = cli("runs", "logs", "1", "validate", cwd=project)
    assert logs.returncode == 0 and "validate" in logs.stdout
    assert_user_error(cli("runs", "logs", "1", "validat", cwd=project), "Did you mean 'validate'?")


def test_a_failing_pipeline_exits_1_and_points_to_logs_and_resume(cli: Cli, tmp_path: Path) -> None:
    assert cli("init", "p").returncode == 0
    project = tmp_path / "p"
    (project / "pipelines.py").write_text(
        "from conveyor import pipeline, step\n\n"
        "@step\ndef boom() -> int:\n    print('about to fail')\n"
        "    raise ValueError('bad data')\n\n"
        "@pipeline\ndef broken():\n    boom()\n"
    )
    result = cli("run", "broken", cwd=project)
    assert result.returncode == 1
    assert "ValueError: bad data" in result.stderr and "conveyor runs resume 1" in result.stdout
    logs = cli("runs", "logs", "1", cwd=project).stdout
    assert "about to fail" in logs and "Traceback" in logs and "bad data" in logs
    (project / "pipelines.py").write_text(
        "from conveyor import pipeline, step\n\n"
        "@step\ndef boom() -> int:\n    return 1\n\n"
        "@pipeline\ndef broken():\n    boom()\n"
    )
    fixed = cli("runs", "resume", "1", cwd=project)
    assert fixed.returncode == 0, fixed.stderr
    assert json.loads(cli("runs", "list", "--json", cwd=project).stdout)[0]["status"] == "succeeded"


def test_definition_errors_are_one_line_before_anything_runs(cli: Cli, tmp_path: Path) -> None:
    assert cli("init", "p").returncode == 0
    project = tmp_path / "p"
    (project / "pipelines.py").write_text(
        "from conveyor import pipeline, step\n\n"
        "@step\ndef a(x: int) -> int:\n    return x\n\n"
        "@pipeline\ndef cyclic():\n    first = a(1)\n    second = a(first)\n    second >> first\n"
    )
    assert_user_error(cli("run", "cyclic", cwd=project), "cycle")
    assert json.loads(cli("runs", "list", "--json", cwd=project).stdout) == []


def test_config_params_and_cache_misses_when_code_changes(cli: Cli, tmp_path: Path) -> None:
    assert cli("init", "p").returncode == 0
    project = tmp_path / "p"
    with open(project / "conveyor.toml", "a") as f:
        f.write("\n[pipelines.params.train]\nn_rows = 400\nmin_accuracy = 0.5\n")
    first = json.loads(cli("run", "train", "--json", cwd=project).stdout)
    assert first["params"] == {"n_rows": 400, "seed": 7, "min_accuracy": 0.5}
    override = json.loads(
        cli("run", "train", "--param", "n_rows=500", "--json", cwd=project).stdout
    )
    assert override["params"]["n_rows"] == 500

    def cached_steps(run_id: int) -> set[str]:
        shown = json.loads(cli("runs", "show", str(run_id), "--json", cwd=project).stdout)
        return {s["name"] for s in shown["steps"] if s["cached_from_id"]}

    assert cli("run", "train", cwd=project).returncode == 0
    assert {"make_customers", "validate", "evaluate"} <= cached_steps(3)
    source = (project / "pipelines.py").read_text()
    (project / "pipelines.py").write_text(
        source.replace(
            'return {"accuracy": model["accuracy"], "passed"',
            'return {"accuracy": round(model["accuracy"], 6), "passed"',
        )
    )
    assert cli("run", "train", cwd=project).returncode == 0
    changed = cached_steps(4)
    assert "evaluate" not in changed and "make_customers" in changed  # only the edited step reran

    config = (project / "conveyor.toml").read_text()
    (project / "conveyor.toml").write_text(config.replace("n_rows = 400", "n_rows = 'many'"))
    assert_user_error(cli("run", "train", cwd=project), "'n_rows'", "type int")
