"""The root command: help, version, finding the project, and the one map from errors to exit
codes (0 ok, 1 a user error in one line, 2 usage, 70 a bug)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor import __version__
from conveyor.core import CONFIG_FILE
from support.inprocess_cli import Invoke, MakeCliProject


def test_no_arguments_prints_the_commands_and_exits_2(invoke: Invoke) -> None:
    result = invoke()
    assert result.code == 2
    for command in ("run", "init", "demo", "events", "pipelines", "runs", "artifacts", "db"):
        assert command in result.out


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_exits_0_and_names_the_global_options(invoke: Invoke, flag: str) -> None:
    result = invoke(flag)
    assert result.code == 0
    assert "--project" in result.out and "CONVEYOR_PROJECT" in result.out
    assert "--verbose" in result.out and "--version" in result.out


@pytest.mark.parametrize(
    ("group", "commands"),
    [
        ("runs", ["list", "show", "logs", "resume"]),
        ("artifacts", ["list", "show", "add", "get", "gc"]),
        ("pipelines", ["list", "show"]),
        ("db", ["upgrade"]),
    ],
)
def test_a_group_without_a_command_shows_its_commands(
    invoke: Invoke, group: str, commands: list[str]
) -> None:
    result = invoke(group)
    assert result.code == 2
    for command in commands:
        assert command in result.out


def test_command_help_shows_its_example(invoke: Invoke) -> None:
    result = invoke("runs", "list", "--help")
    assert result.code == 0
    assert "conveyor runs list --status failed --limit 10" in result.out


def test_version_is_the_packages_and_runs_before_anything_else(invoke: Invoke) -> None:
    # Eager: no project is needed and the command after it is not run.
    result = invoke("--version", "runs", "list")
    assert (result.code, result.out) == (0, f"conveyor {__version__}\n")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["no-such-command"], "No such command 'no-such-command'"),
        (["runs", "show"], "Missing argument 'run_id'"),
        (["runs", "show", "seven"], "Invalid value for 'run_id': Input should be a valid integer"),
        (["runs", "list", "--limit", "0"], "'--limit' / '-n': Input should be greater than or"),
        (["runs", "list", "--limit", "100001"], "less than or equal to 100000"),
        (["runs", "list", "--no-such-option"], "No such option: --no-such-option"),
        (["events", "--after", "soon"], "Invalid value for '--after'"),
        (["artifacts", "get", "7"], "Missing option '--output'"),
    ],
)
def test_usage_errors_exit_2_and_say_what_was_wrong(
    invoke: Invoke, args: list[str], fragment: str
) -> None:
    result = invoke(*args)
    assert result.code == 2, result
    assert fragment in result.err
    assert "Try 'conveyor" in result.err and "-h' for help" in result.err
    assert "Traceback" not in result.err


def test_outside_a_project_every_command_says_how_to_start(
    invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for args in (["runs", "list"], ["artifacts", "list"], ["events"], ["pipelines", "list"]):
        result = invoke(*args)
        assert result.code == 1, args
        assert f"No {CONFIG_FILE} in {tmp_path.resolve()}" in result.err
        assert "conveyor init" in result.err
    assert not (tmp_path / ".conveyor").exists()  # nothing was created


def test_the_project_is_found_upwards_from_the_current_folder(
    invoke: Invoke, make_project: MakeCliProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_project()
    nested = root / "src" / "deep"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)
    result = invoke("pipelines", "list", "--json")
    assert result.code == 0, result.err
    assert '"name": "train"' in result.out


@pytest.mark.parametrize("how", ["option", "short option", "environment"])
def test_the_project_can_be_named_from_anywhere(
    invoke: Invoke,
    make_project: MakeCliProject,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    how: str,
) -> None:
    root = make_project()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    if how == "environment":
        monkeypatch.setenv("CONVEYOR_PROJECT", str(root))
        args: list[str] = []
    else:
        args = ["--project" if how == "option" else "-p", str(root)]
    result = invoke(*args, "pipelines", "list", "--json")
    assert result.code == 0, result.err
    assert '"name": "train"' in result.out


@pytest.mark.parametrize("command", [["runs", "list"], ["db", "upgrade"]])
def test_a_project_option_naming_a_folder_without_a_project_creates_nothing(
    invoke: Invoke, tmp_path: Path, command: list[str]
) -> None:
    typo = tmp_path / "not-a-project"
    typo.mkdir()
    result = invoke("-p", str(typo), *command)
    assert result.code == 1
    assert f"No {CONFIG_FILE} in {typo.resolve()}" in result.err
    assert f"conveyor init {typo}" in result.err
    assert list(typo.iterdir()) == []  # no store laid into a folder that is not a project


def test_a_project_option_naming_a_file_is_a_usage_error(invoke: Invoke, tmp_path: Path) -> None:
    (tmp_path / "conveyor.toml").write_text("")
    result = invoke("-p", str(tmp_path / "conveyor.toml"), "runs", "list")
    assert result.code == 2
    assert "is a file" in result.err


def test_invalid_settings_are_one_line_with_the_hint(
    invoke: Invoke, make_project: MakeCliProject
) -> None:
    root = make_project()
    config = (root / CONFIG_FILE).read_text()
    bad = config.replace('kind = "local"', 'kind = "local"\nmax_workers = -3')
    (root / CONFIG_FILE).write_text(bad)
    result = invoke("-p", str(root), "runs", "list")
    assert result.code == 1
    first, hint = result.err.splitlines()
    assert first.startswith("Error: Invalid settings in ")
    assert "key 'executor.max_workers'" in first and "Got -3" in first
    assert hint == "See the configuration reference in the README."


def test_a_bad_environment_override_names_the_setting(
    invoke: Invoke, make_project: MakeCliProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_project()
    monkeypatch.setenv("CONVEYOR_STORE", "mysql://localhost/x")
    result = invoke("-p", str(root), "runs", "list")
    assert result.code == 1
    assert "store.url" in result.err and "sqlite:/// or postgresql://" in result.err


def test_an_exception_in_the_users_pipeline_function_is_a_user_error_not_a_bug(
    invoke: Invoke, make_project: MakeCliProject
) -> None:
    root = make_project(
        """
        from conveyor import pipeline, step

        @step
        def one(n: int) -> int:
            return n

        @pipeline
        def picky(n: int = 1):
            if n > 5:
                raise ValueError("n must be at most 5")
            one(n)
        """
    )
    result = invoke("-p", str(root), "run", "picky", "--param", "n=9")
    assert result.code == 1, result
    assert "Pipeline 'picky' raised ValueError: n must be at most 5" in result.err
    assert "Internal error" not in result.err and "Traceback" not in result.err
    assert invoke("-p", str(root), "runs", "list", "--json").out == "[]\n"  # nothing ran


def test_a_pipeline_module_that_fails_to_import_is_named(
    invoke: Invoke, make_project: MakeCliProject
) -> None:
    root = make_project("import not_a_module_anyone_has\n")
    result = invoke("-p", str(root), "pipelines", "list")
    assert result.code == 1
    assert "Importing pipeline module" in result.err
    assert "not_a_module_anyone_has" in result.err
    assert "Install the missing package" in result.err


def test_a_pipeline_module_that_raises_on_import_says_how_to_reproduce(
    invoke: Invoke, make_project: MakeCliProject
) -> None:
    root = make_project("raise RuntimeError('half-written module')\n")
    result = invoke("-p", str(root), "pipelines", "list")
    assert result.code == 1
    assert "raised RuntimeError: half-written module" in result.err
    assert "python -c 'import cli_pipes_" in result.err


def test_a_missing_pipeline_module_says_where_it_was_looked_for(
    invoke: Invoke, make_project: MakeCliProject
) -> None:
    root = make_project()
    with open(root / CONFIG_FILE, "a") as f:
        f.write('modules_note = "x"\n')  # a typo'd key is refused by name ...
    result = invoke("-p", str(root), "pipelines", "list")
    assert result.code == 1 and "pipelines.modules_note" in result.err
    text = (root / CONFIG_FILE).read_text().replace('modules_note = "x"\n', "")
    (root / CONFIG_FILE).write_text(text.replace('modules = ["cli_pipes_', 'modules = ["gone_'))
    result = invoke("-p", str(root), "pipelines", "list")  # ... and a missing module by path
    assert result.code == 1
    assert "Pipeline module 'gone_" in result.err and str(root.resolve()) in result.err
