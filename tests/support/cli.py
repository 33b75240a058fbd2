"""Running the installed ``conveyor`` command in tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

CONVEYOR = str(Path(sys.executable).parent / "conveyor")


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env["NO_COLOR"] = "1"
    env["COLUMNS"] = "200"
    env.update(extra or {})
    return env


Cli = Callable[..., subprocess.CompletedProcess[str]]


def make_cli(default_cwd: Path) -> Cli:
    """Run the installed ``conveyor`` command in ``default_cwd`` (or ``cwd=``)."""

    def run(
        *args: str,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CONVEYOR, *args],
            cwd=cwd or default_cwd,
            env=_env(env),
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run


def assert_user_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


def run_all(cli: Cli, commands: Sequence[Sequence[str]], cwd: Path) -> None:
    for args in commands:
        result = cli(*args, cwd=cwd)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
