"""The Typer application and the one place errors become exit codes."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from . import (
    _alerts,
    _artifacts,
    _data,
    _events,
    _features,
    _models,
    _monitor,
    _pipelines,
    _predictions,
    _project,
    _runs,
    _serve,
    _triggers,
)
from . import _models_checks as _models_checks  # adds its commands to `models`
from ._common import state
from ._output import err

app = typer.Typer(
    name="conveyor",
    help="MLOps automation: validate, train, evaluate, register, deploy, serve, monitor, retrain.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(_pipelines.app, name="pipelines")
app.add_typer(_runs.app, name="runs")
_runs.app.command("logs")(_pipelines.logs)
_runs.app.command("resume")(_pipelines.resume)
app.command("run")(_pipelines.run)
app.add_typer(_artifacts.app, name="artifacts")
app.add_typer(_data.app, name="data")
app.add_typer(_features.app, name="features")
app.add_typer(_models.app, name="models")
app.add_typer(_serve.app, name="deployments")
app.command("serve")(_serve.serve)
app.add_typer(_predictions.predictions_app, name="predictions")
app.add_typer(_predictions.feedback_app, name="feedback")
app.add_typer(_monitor.app, name="monitor")
app.add_typer(_triggers.app, name="triggers")
app.command("trigger")(_triggers.trigger)
app.command("up")(_triggers.up)
app.add_typer(_project.db_app, name="db")
app.command("init")(_project.init)
app.command("demo")(_project.demo)
app.command("events")(_events.events)
app.add_typer(_alerts.app, name="alerts")


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"conveyor {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    project: Annotated[
        Path | None,
        typer.Option(
            "--project",
            "-p",
            help="Project folder (default: nearest conveyor.toml upwards).",
            envvar="CONVEYOR_PROJECT",
            file_okay=False,
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what happens.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    state.project = project
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit code (and exit with it when called as a script)."""
    code = run(argv)
    if argv is None:
        sys.exit(code)
    return code


def run(argv: list[str] | None = None) -> int:
    from ..core import ConveyorError

    try:
        # Without standalone mode, an Exit raised by a command comes back as the return value.
        code = app(args=argv, prog_name="conveyor", standalone_mode=False)
        if isinstance(code, int):
            return code
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        err.print("Aborted.")
        return 1
    except typer.TyperException as exc:  # usage errors: bad option, missing argument (exit 2)
        exc.show()  # type: ignore[attr-defined]
        return int(exc.exit_code)
    except ConveyorError as exc:
        from rich.markup import escape

        # Escaped: messages quote settings tables such as [notify.channels].
        err.print(f"[red]Error:[/] {escape(exc.message)}", markup=True)
        if exc.hint:
            err.print(exc.hint, markup=False)
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("Interrupted.")
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: say so, keep locals (URLs, tokens) out of the output
        if os.environ.get("CONVEYOR_DEBUG"):
            import traceback

            traceback.print_exc()
        err.print(
            f"Internal error: {type(exc).__name__}: {exc}. This is a bug in conveyor; rerun "
            "with CONVEYOR_DEBUG=1 to see the traceback and report it.",
            markup=False,
        )
        return 70
    return 0
