"""``conveyor init``, ``conveyor db``, ``conveyor demo``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._common import JsonOpt, project_root
from ._output import out, print_json

db_app = typer.Typer(help="The metadata store's schema.", no_args_is_help=True)


def init(
    folder: Annotated[
        Path, typer.Argument(help="Folder for the new project.", file_okay=False)
    ] = Path("."),
    name: Annotated[
        str | None, typer.Option("--name", help="Project name (default: folder name).")
    ] = None,
) -> None:
    """Create a project: conveyor.toml, an example pipelines.py, .gitignore, and its store.

    Refuses to overwrite any existing file.

    Example:
        conveyor init churn --name churn
    """
    from ..workspace import Workspace, init_project

    written = init_project(folder, name=name)
    with Workspace.open(folder) as ws:
        url = ws.store.display_url
    for path in written:
        out.print(f"created {path}")
    out.print(f"store ready at {url}")
    hint = f"cd {folder} && " if Path(folder) != Path(".") else ""
    out.print(f"Next: {hint}conveyor runs list")


@db_app.command("upgrade")
def db_upgrade(json_: JsonOpt = False) -> None:
    """Bring the metadata store's schema to the newest revision (safe to run concurrently).

    Example:
        CONVEYOR_STORE=postgresql://postgres@127.0.0.1/conveyor conveyor db upgrade
    """
    from ..core import Config, redact_url
    from ..workspace import upgrade_schema

    config = Config.load(project_root())
    before, head = upgrade_schema(config)
    url = redact_url(config.store.url)
    if json_:
        print_json({"store": url, "from": before, "to": head, "upgraded": before != head})
    elif before == head:
        out.print(f"{url} is already at schema revision {head} (head).")
    else:
        out.print(f"Upgraded {url} from {before or 'empty'} to {head} (head).")


def demo(
    folder: Annotated[
        Path | None,
        typer.Argument(
            help="Where to create the demo project (default: a new ./conveyor-demo[-N]).",
            file_okay=False,
        ),
    ] = None,
) -> None:
    """Create a sample project and walk through what conveyor records.

    Example:
        conveyor demo /tmp/conveyor-demo
    """
    from ._demo import run_demo

    if folder is None:
        folder = Path("conveyor-demo")
        n = 1
        while folder.exists():
            n += 1
            folder = Path(f"conveyor-demo-{n}")
    run_demo(folder)
