"""``conveyor monitor``: compute a deployment's monitors (drift, live performance) over its
prediction log and feedback, and show their windows with the figures behind each verdict."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from ._common import JsonOpt, open_workspace
from ._monitor_performance import print_performance, print_performance_run
from ._output import err, out, print_json, table

if TYPE_CHECKING:
    from ..monitor import MonitorRuns, MonitorWindow

app = typer.Typer(
    help="Monitors: drift of a deployment's traffic against its reference, under a "
    "false-alarm budget, and its live performance from late labels.",
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
    """Run every monitor: drift over the windows closed since the last run, and live
    performance over the windows whose labels may still arrive (recomputed as they do);
    alarms become events (and alerts). A monitor that cannot run does not stop the other.

    Example:
        conveyor monitor run churn
    """
    from ..core import parse_duration
    from ..monitor import run_monitors

    pause = parse_duration(every, what="--every")
    with open_workspace() as ws:
        while True:
            result = run_monitors(ws, deployment)
            if json_:
                print_json(result.to_dict())
            else:
                _print_runs(result)
            if not follow:
                if result.errors:
                    raise typer.Exit(max(e.exit_code for e in result.errors.values()))
                return
            time.sleep(pause)


def _print_runs(result: MonitorRuns) -> None:
    if result.drift is not None:
        _print_run(result.drift.windows, result.drift.alarms)
    if result.performance is not None:
        print_performance_run(result.performance.windows, result.performance.alarms)
    for name, exc in result.errors.items():
        err.print(f"[red]The {name} monitor did not run:[/] {escape(exc.message)}")
        if exc.hint:
            err.print(f"[dim]{escape(exc.hint)}[/]")


def _statistic(column: dict[str, Any]) -> str:
    if column.get("infinite"):
        return "inf"
    return "-" if column["statistic"] is None else f"{column['statistic']:.4g}"


def _print_run(windows: list[MonitorWindow], alarms: list[dict[str, Any]]) -> None:
    if not windows:
        out.print("Drift: no window has closed since the last run.")
        return
    counts: dict[str, int] = {}
    for window in windows:
        counts[window.status] = counts.get(window.status, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    out.print(f"Drift: computed {len(windows)} window(s): {summary}.")
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
    """Show the latest windows of each monitor: drift verdicts, with every column's
    statistic, calibrated p-value and bound for the newest; live performance, with the
    realised figures and their intervals, label coverage and latency, and the estimate
    beside them (labelled as one) with its historical error.

    Example:
        conveyor monitor show churn --last 24
    """
    from ..monitor import DRIFT, PERFORMANCE, monitor_history

    with open_workspace() as ws:
        windows = monitor_history(ws, deployment, monitor=DRIFT, last=last)
        performance = monitor_history(ws, deployment, monitor=PERFORMANCE, last=last)
    if json_:
        print_json([w.to_dict() for w in [*windows, *performance]])
        return
    if not windows and not performance:
        out.print(
            f"No window of deployment {deployment!r} has been computed yet. "
            f"Compute them with: conveyor monitor run {deployment}"
        )
        return
    _print_drift(deployment, windows)
    print_performance(deployment, performance)


def _print_drift(deployment: str, windows: list[MonitorWindow]) -> None:
    if not windows:
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
                _statistic(c),
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
