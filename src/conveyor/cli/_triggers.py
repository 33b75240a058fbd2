"""``conveyor triggers`` and ``conveyor trigger``: the triggers of ``[automate.triggers]``,
their firings, and firing them from the event log or by hand."""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from ._common import JsonOpt, open_workspace
from ._output import out, print_json, table

if TYPE_CHECKING:
    from ..automate import Firing, Tick

app = typer.Typer(
    help="Triggers: what starts a pipeline (drift, decay, new data, an alert, a person).",
    no_args_is_help=True,
)


def _owner() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}"


def _print_firings(fired: list[Firing], *, quiet: bool = False) -> None:
    if not fired:
        if not quiet:
            out.print("Nothing to fire: no new event matches a trigger.")
        return
    for f in fired:
        if f.outcome == "started":
            out.print(f"[bold]{f.trigger}[/] fired ({f.cause}): run {f.run_id} queued")
        elif f.outcome == "coalesced":
            out.print(f"{f.trigger} coalesced ({f.cause}): {f.reason}")
        elif not quiet:
            out.print(f"[dim]{f.trigger}: {f.key} already fired ({f.reason})[/]")


@app.command("list")
def list_(json_: JsonOpt = False) -> None:
    """List the triggers and their latest firings.

    Example:
        conveyor triggers list
    """
    from .. import automate

    with open_workspace() as ws:
        rows = automate.trigger_history(ws)
    if json_:
        print_json(rows)
        return
    if not rows:
        out.print(
            escape("No triggers. Declare them in conveyor.toml under [automate.triggers.NAME].")
        )
        return
    table(
        ["trigger", "kind", "pipeline", "on", "firings", "latest", "outcome"],
        (
            [
                r["name"],
                r["kind"],
                r["pipeline"],
                "yes" if r["enabled"] else "no",
                str(r["n_firings"]),
                "-" if r["latest"] is None else r["latest"]["claimed_at"][:16].replace("T", " "),
                "-" if r["latest"] is None else r["latest"]["reason"] or r["latest"]["status"],
            ]
            for r in rows
        ),
        title="Triggers",
    )


@app.command("fire")
def fire(json_: JsonOpt = False) -> None:
    """Fire every trigger on the events logged since their max age (a firing already
    claimed is not fired again, so this is safe to run from cron).

    Example:
        conveyor triggers fire
    """
    from ..automate import fire_triggers

    with open_workspace() as ws:
        fired, _ = fire_triggers(ws, owner=_owner())
    if json_:
        print_json([f.to_dict() for f in fired])
        return
    _print_firings(fired)


def trigger(
    name: Annotated[str, typer.Argument(help="The trigger to fire.")],
    reason: Annotated[
        str, typer.Option("--reason", help="Why, recorded on the run.")
    ] = "fired by hand",
    json_: JsonOpt = False,
) -> None:
    """Fire a trigger by hand: its pipeline's run is queued, or the firing is coalesced
    into a run in flight (the reason says which).

    Example:
        conveyor trigger retrain --reason "new labels from the audit"
    """
    from ..automate import trigger_now

    with open_workspace() as ws:
        fired = trigger_now(ws, name, owner=_owner(), reason=reason)
    if json_:
        print_json(fired.to_dict())
        return
    _print_firings([fired])


def up(
    every: Annotated[str, typer.Option("--every", help="Time between ticks.")] = "5s",
    monitor_every: Annotated[
        str, typer.Option("--monitor-every", help="Time between monitor runs.")
    ] = "1m",
    once: Annotated[bool, typer.Option("--once", help="One tick, then exit.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Run the controller until stopped: monitors, triggers, queued runs, alerts.

    Example:
        conveyor up --every 10s --monitor-every 5m
    """
    import signal
    import threading

    from ..automate import Controller
    from ..core import parse_duration

    pause = parse_duration(every, what="--every")
    with open_workspace() as ws:
        monitor_pause = parse_duration(monitor_every, what="--monitor-every")
        controller = Controller(ws, every_monitor=monitor_pause)

        def show(tick: Tick) -> None:
            if json_:
                print_json(tick.to_dict())
            elif not tick.quiet:
                _print_tick(tick)

        if once:
            show(controller.tick())
            return
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        out.print(
            f"conveyor up: controller {controller.owner} on {ws.store.display_url}; "
            f"a tick every {pause:g} s, monitors every {monitor_pause:g} s. "
            "Ctrl-C stops it."
        )
        controller.run(every=pause, stop=stop, on_tick=show)
        out.print("Stopped.")


def _print_tick(tick: Tick) -> None:
    for name, m in tick.monitors.items():
        if m.get("error"):
            out.print(f"monitor {name}: {m['error']}")
            continue
        for alarm in m.get("alarms", []):
            what = alarm.get("level") or "decay"
            out.print(f"[bold]{what}[/] on {name} ({alarm.get('window', '')})")
        if m.get("windows"):
            out.print(f"monitor {name}: {m['windows']} window(s) computed")
    for verdict in tick.verdicts:
        if verdict.outcome == "rolled_back":
            where = f"{verdict.model} on {verdict.deployment}"
            out.print(f"[bold red]rolled back[/] {where}: {verdict.reason}")
    _print_firings(tick.firings, quiet=True)
    for run in tick.runs:
        out.print(f"run {run['run_id']} ({run['pipeline']}): {run['status']}")
    if tick.alerts:
        out.print(f"{tick.alerts} alert delivery(ies)")
