"""Every command's ``--help`` renders, shows its example, and lists each of its options."""

from __future__ import annotations

from typing import Any

import pytest
import typer.main

from conveyor.cli._app import app
from support.inprocess_cli import Invoke


def _leaves() -> list[tuple[list[str], Any]]:
    found: list[tuple[list[str], Any]] = []

    def walk(path: list[str], cmd: Any) -> None:
        if getattr(cmd, "commands", None):
            for name, sub in cmd.commands.items():
                walk([*path, name], sub)
        else:
            found.append((path, cmd))

    walk([], typer.main.get_command(app))
    return found


LEAVES = _leaves()


def test_the_cli_has_the_documented_commands() -> None:
    assert {" ".join(path) for path, _ in LEAVES} == {
        "run",
        "init",
        "demo",
        "events",
        "alerts test",
        "alerts list",
        "alerts dispatch",
        "pipelines list",
        "pipelines show",
        "runs list",
        "runs show",
        "runs logs",
        "runs resume",
        "artifacts list",
        "artifacts show",
        "artifacts add",
        "artifacts get",
        "artifacts gc",
        "db upgrade",
        "data list",
        "data show",
        "data snapshot",
        "data check",
        "data diff",
        "data schema",
        "data validate",
        "features list",
        "features show",
        "features materialize",
        "features get",
        "models list",
        "models show",
        "models promote",
        "models rollback",
        "models lineage",
        "models evaluation",
        "models reproduce",
        "models load",
        "predictions list",
        "predictions show",
        "feedback ingest",
        "triggers list",
        "triggers fire",
        "trigger",
        "up",
        "monitor run",
        "monitor show",
        "deployments set",
        "deployments list",
        "serve",
    }


@pytest.mark.parametrize(("path", "command"), LEAVES, ids=[" ".join(p) for p, _ in LEAVES])
def test_help_shows_the_example_and_every_option(
    invoke: Invoke, path: list[str], command: Any
) -> None:
    result = invoke(*path, "--help")
    assert result.code == 0, result
    assert result.out.splitlines()[1].strip().startswith(f"Usage: conveyor {' '.join(path)}")
    example = command.help.split("Example:", 1)[1].strip().splitlines()[0].strip()
    assert example in result.out
    for param in command.params:
        for flag in param.opts:
            if flag.startswith("-"):
                assert flag in result.out, (path, flag)
        if param.help:
            assert param.help.split()[0] in result.out


READS = [
    pytest.param(path, command, id=" ".join(path))
    for path, command in LEAVES
    # These act rather than read: they create, run, resume, serve or write files.
    if " ".join(path)
    not in {"init", "demo", "run", "runs resume", "artifacts get", "data schema", "serve"}
]


@pytest.mark.parametrize(("path", "command"), READS)
def test_every_read_command_offers_json(path: list[str], command: Any) -> None:
    assert "--json" in {flag for param in command.params for flag in param.opts}, path
