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


def open_workspace() -> Workspace:
    """Open the project named by ``--project`` / ``CONVEYOR_PROJECT``, or found upwards."""
    from ..workspace import Workspace

    project = state.project or (
        Path(os.environ["CONVEYOR_PROJECT"]) if os.environ.get("CONVEYOR_PROJECT") else None
    )
    return Workspace.open(project)
