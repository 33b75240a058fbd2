"""``conveyor monitor``: compute a deployment's monitors over its prediction log, and show
their windows with the figures behind each verdict."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ._common import JsonOpt, open_workspace
from ._output import out, print_json, table

if TYPE_CHECKING:
    from ..monitor import MonitorWindow

app = typer.Typer(
    help="Monitors: drift of a deployment's traffic against its reference, under a "
    "false-alarm budget.",
    no_args_is_help=True,
)

_STYLE = {"drift": "bold red", "warning": "yellow", "flagged": "cyan", "insufficient": "dim"}


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


@app.command("run")
def run(
    deployment: Annotated[str, typer.Argument(help="The deployment whose log to monitor.")],
    follow: Annotated[
        bool, typer.Option("--follow", help="Keep running: compute new windows as they close.")
    ] = False,
    every: Annotated[
        str, typer.Option("--every", help="With --follow, how often to look for closed windows.")
    ] = "1m",
    json_: JsonOpt = False,
) -> None:
    """Compute the windows closed since the last run; alarms become events (and alerts).

    Example:
        conveyor monitor run churn
    """
    from ..core import parse_duration
    from ..monitor import run_drift_monitor

    pause = parse_duration(every, what="--every")
    with open_workspace() as ws:
        while True:
            result = run_drift_monitor(ws, deployment)
            if json_:
                print_json(result.to_dict())
            else:
                _print_run(result.windows, result.alarms)
            if not follow:
                return
            time.sleep(pause)


def _print_run(windows: list[MonitorWindow], alarms: list[dict[str, Any]]) -> None:
    if not windows:
        out.print("No window has closed since the last run.")
        return
    counts: dict[str, int] = {}
    for window in windows:
        counts[window.status] = counts.get(window.status, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    out.print(f"Computed {len(windows)} window(s): {summary}.")
    for alarm in alarms:
        out.print(
            f"[bold]{alarm['level']}[/] in window {alarm['window']} "
            f"({_when(alarm['start_ms'])}): {', '.join(alarm['columns'])}"
        )


@app.command("show")
def show(
    deployment: Annotated[str, typer.Argument(help="The deployment whose windows to show.")],
    last: Annotated[int, typer.Option("--last", "-n", help="How many windows, newest last.")] = 12,
    json_: JsonOpt = False,
) -> None:
    """Show the latest windows: each verdict, and for the newest window every column's
    statistic, calibrated p-value and the bound it was held to.

    Example:
        conveyor monitor show churn --last 24
    """
    from ..monitor import monitor_history

    with open_workspace() as ws:
        windows = monitor_history(ws, deployment, last=last)
    if json_:
        print_json([w.to_dict() for w in windows])
        return
    if not windows:
        out.print(
            f"No window of deployment {deployment!r} has been computed yet. "
            f"Compute them with: conveyor monitor run {deployment}"
        )
        return
    table(
        ["window (UTC)", "rows", "version", "status", "flagged columns", "share drifted"],
        (
            [
                _when(w.start_ms),
                f"{w.n_rows:,}",
                "-" if w.version is None else f"{w.model}/{w.version}",
                f"[{_STYLE.get(w.status, '')}]{w.status}[/]" if w.status in _STYLE else w.status,
                ", ".join(
                    c["column"] for c in w.figures.get("columns", []) if c["flagged"]["warning"]
                )
                or "-",
                "-" if "share_drifted" not in w.figures else f"{w.figures['share_drifted']:.0%}",
            ]
            for w in windows
        ),
        title=f"Drift of {deployment}",
    )
    newest = next((w for w in reversed(windows) if w.figures.get("columns")), None)
    if newest is None:
        return
    levels = newest.figures["levels"]
    table(
        ["column", "method", "statistic", "textbook", "p-value", "null rate", "out of range"],
        (
            [
                c["column"],
                c["method"],
                f"{c['statistic']:.4g}",
                "drift" if c["drifted"] else "-",
                f"{c['p_value']:.4f}" + (" *" if c["flagged"]["warning"] else ""),
                f"{c['null_rate']:.1%}",
                "-" if c.get("out_of_range_rate") is None else f"{c['out_of_range_rate']:.1%}",
            ]
            for c in newest.figures["columns"]
        ),
        title=(
            f"Window {_when(newest.start_ms)}: * = at or below "
            f"{levels['warning']['column_p']:.2g} (warning) against "
            f"{newest.figures['reference']}"
        ),
    )
    for name, level in levels.items():
        out.print(
            f"{name}: k={level['k']} of n={level['n']}, cooldown {level['cooldown']}, "
            f"one false alarm per {level['ert_windows']:g} windows expected "
            f"(window level {level['window_p']:.3g}, column level {level['column_p']:.2g})"
        )
