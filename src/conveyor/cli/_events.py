"""``conveyor events``: read or follow the append-only event log."""

from __future__ import annotations

from typing import Annotated

import typer

from ._common import JsonOpt, LimitOpt, open_workspace
from ._output import out, print_json, print_json_line, table, when


def events(
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new events.")
    ] = False,
    type_: Annotated[
        list[str] | None,
        typer.Option("--type", "-t", help="Only this type; a trailing * matches a prefix."),
    ] = None,
    after: Annotated[
        int | None, typer.Option("--after", min=0, help="Only events after this id.")
    ] = None,
    limit: LimitOpt = 100,
    json_: JsonOpt = False,
) -> None:
    """Print the event log (CloudEvents); --follow keeps polling for new ones.

    Without --after, shows the last --limit events. With --json, prints one CloudEvent
    JSON object per line when following, else a JSON list.

    Example:
        conveyor events --follow --type 'io.conveyor.run.*'
    """
    from ..lineage import follow_events, last_event_id, read_events

    with open_workspace() as ws:
        # ``--after 0`` is a cursor like any other (everything from the start), not "unset".
        if follow:
            start = after if after is not None else last_event_id(ws)
            try:
                for ev in follow_events(ws, after=start, types=type_ or ()):
                    if json_:
                        print_json_line(ev.to_cloudevent())
                    else:
                        out.print(
                            f"{ev.id:>6}  {when(ev.time)}  {ev.type}  {ev.subject}  {ev.data}"
                        )
            except KeyboardInterrupt:
                return
            return
        start = after if after is not None else max(0, last_event_id(ws) - limit)
        batch = read_events(ws, after=start, types=type_ or (), limit=limit)
    if json_:
        print_json([e.to_cloudevent() for e in batch])
        return
    table(
        ["id", "time (UTC)", "type", "subject"],
        ([e.id, when(e.time), e.type, e.subject] for e in batch),
        title="Events",
    )
