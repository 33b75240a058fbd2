"""``conveyor alerts``: send a test alert, list what was sent, dispatch alerts from events."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ._common import JsonOpt, LimitOpt, open_workspace
from ._output import err, out, print_json, print_json_line, table, when

if TYPE_CHECKING:
    from ..notify import Delivery

app = typer.Typer(
    help="Alerts: test a channel, list recent alerts, dispatch alerts from the event log.",
    no_args_is_help=True,
)

_STYLE = {"sent": "green", "failed": "red", "duplicate": "yellow", "rate_limited": "yellow"}


def _line(delivery: Delivery) -> str:
    from rich.markup import escape

    style = _STYLE.get(delivery.outcome, "dim")
    parts = [f"[{style}]{delivery.outcome}[/]", escape(f"on {delivery.channel!r}")]
    if delivery.attempts:
        parts.append(f"after {delivery.attempts} tr{'y' if delivery.attempts == 1 else 'ies'}")
    if delivery.status_code is not None:
        parts.append(f"(status {delivery.status_code})")
    if delivery.reason:
        parts.append(escape(f"- {delivery.reason}"))
    return " ".join(parts)


@app.command("test")
def test(
    channel: Annotated[str, typer.Argument(help="The channel to test, from [notify.channels].")],
    json_: JsonOpt = False,
) -> None:
    """Send a test alert to CHANNEL (whatever its filter) and print how it went.

    Exits 1 if it was not delivered. The delivery is recorded as an event like any alert.

    Example:
        conveyor alerts test ops
    """
    from ..notify import send_test_alert

    with open_workspace() as ws:
        delivery = send_test_alert(ws, channel)
    if json_:
        print_json(delivery.to_dict())
    else:
        out.print("Test alert " + _line(delivery), markup=True)
    if delivery.outcome != "sent":
        raise typer.Exit(1)


@app.command("list")
def list_(limit: LimitOpt = 20, json_: JsonOpt = False) -> None:
    """List the latest alert events: sent, failed and suppressed, per channel.

    Example:
        conveyor alerts list --limit 50
    """
    from ..notify import list_alert_events

    with open_workspace() as ws:
        events = list_alert_events(ws, limit=limit)
    if json_:
        print_json([e.to_cloudevent() for e in events])
        return
    from rich.markup import escape

    table(
        ["id", "time (UTC)", "outcome", "channel", "kind", "subject", "tries", "reason"],
        (
            [
                e.id,
                when(e.time),
                e.type.rsplit(".", 1)[-1],
                e.data.get("channel", ""),
                e.data.get("kind", ""),
                escape(e.subject),
                e.data.get("attempts", ""),
                escape(str(e.data.get("reason", ""))),
            ]
            for e in events
        ),
        title="Alerts",
    )


@app.command("dispatch")
def dispatch(
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep dispatching new events until Ctrl-C.")
    ] = False,
    json_: JsonOpt = False,
) -> None:
    """Alert on the events since the last dispatch (failed runs, validation and gates,
    drift, decay, promotions, rollbacks, failed deployments), then move the cursor.

    Several dispatchers may run at once: each event is alerted once per channel. Run it
    from cron, or with --follow as a service.

    Example:
        conveyor alerts dispatch --follow
    """
    from ..notify import dispatch_alerts

    def show(delivery: Delivery) -> None:
        if json_:
            print_json_line(delivery.to_dict())
        else:
            out.print(_line(delivery), markup=True)

    with open_workspace() as ws:
        if follow:
            err.print("Dispatching alerts (Ctrl-C to stop)...")
            try:
                dispatch_alerts(ws, follow=True, on_delivery=show)
            except KeyboardInterrupt:
                return
            return
        result = dispatch_alerts(ws)
    if json_:
        print_json(result.to_dict())
        return
    for delivery in result.deliveries:
        show(delivery)
    out.print(
        f"{result.n_events} event(s) read, {result.n_alerts} alert(s), "
        f"{len(result.deliveries)} deliver{'y' if len(result.deliveries) == 1 else 'ies'}"
        + (f", {result.n_stale} too old to alert" if result.n_stale else "")
        + f"; cursor at event {result.cursor}."
    )
