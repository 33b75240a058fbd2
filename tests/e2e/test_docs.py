"""The README documents every command and setting; every command's help has an example."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer.main

from conveyor.cli._app import app
from conveyor.core import settings_reference

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def _commands() -> list[tuple[str, Any]]:
    root = typer.main.get_command(app)
    found: list[tuple[str, Any]] = []

    def walk(prefix: str, cmd: Any) -> None:
        if getattr(cmd, "commands", None):
            for name, sub in cmd.commands.items():
                walk(f"{prefix} {name}".strip(), sub)
        else:
            found.append((prefix, cmd))

    walk("", root)
    return found


def test_every_command_is_in_the_cli_reference() -> None:
    names = [name for name, _ in _commands()]
    assert len(names) >= 10
    missing = [n for n in names if f"`conveyor {n}" not in README]
    assert not missing, f"README's CLI reference lacks: {missing}"


def test_every_command_help_has_an_example() -> None:
    missing = [n for n, cmd in _commands() if "Example:" not in (cmd.help or "")]
    assert not missing, f"commands without an Example: {missing}"


def test_the_configuration_reference_is_the_settings_as_the_code_describes_them() -> None:
    # Every row exactly as generated: the README's table cannot drift from the code.
    for key, env, default, description in settings_reference():
        row = f"| `{key}` | `{env}` | `{default}` | {description} |"
        assert row in README.splitlines(), f"README row for {key} should read:\n{row}"


def test_readme_python_blocks_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    from conveyor.workspace import init_project

    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    assert len(blocks) >= 2
    monkeypatch.chdir(tmp_path)
    init_project(tmp_path / "churn", name="churn")
    (tmp_path / "pipelines.py").write_text("x = 1\n")  # the API example stores a file
    for block in blocks:
        namespace: dict[str, object] = {"__name__": "readme_example"}
        exec(compile(block, "README.md", "exec"), namespace)
        pipelines = [v for v in namespace.values() if type(v).__name__ == "Pipeline"]
        for p in pipelines:
            assert p.build().nodes  # type: ignore[attr-defined]
