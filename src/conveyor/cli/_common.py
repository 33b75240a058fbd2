"""Options shared by commands, and opening the workspace the CLI works on."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from ..workspace import Workspace

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of a table.")]
LimitOpt = Annotated[
    int, typer.Option("--limit", "-n", min=1, max=100_000, help="How many rows at most.")
]


class State:
    project: Path | None = None


state = State()


def project_root() -> Path:
    """The project named by ``--project`` / ``CONVEYOR_PROJECT``, or found upwards.

    Raises:
        ProjectNotFoundError: the folder named has no ``conveyor.toml``, or none was found.
    """
    from ..core import CONFIG_FILE, Config, ProjectNotFoundError

    project = state.project or (
        Path(os.environ["CONVEYOR_PROJECT"]) if os.environ.get("CONVEYOR_PROJECT") else None
    )
    if project is None:
        return Config.find()
    if not (project / CONFIG_FILE).is_file():
        raise ProjectNotFoundError(
            f"No {CONFIG_FILE} in {project.resolve()}: it is not a conveyor project.",
            hint=f"Check --project (or CONVEYOR_PROJECT), or create one: conveyor init {project}",
            path=str(project),
        )
    return project


def open_workspace() -> Workspace:
    """Open the project named by ``--project`` / ``CONVEYOR_PROJECT``, or found upwards."""
    from ..workspace import Workspace

    return Workspace.open(project_root())
