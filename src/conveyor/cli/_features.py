"""``conveyor features``: feature views, materialisation into the online store, lookups."""

from __future__ import annotations

import datetime
from typing import Annotated, Any

import typer

from ._common import JsonOpt, open_workspace
from ._output import out, print_json, table, when

app = typer.Typer(
    help="Feature views: list, show, materialize into the online store, get.",
    no_args_is_help=True,
)


@app.command("list")
def list_(json_: JsonOpt = False) -> None:
    """List the feature views the project's modules define.

    Example:
        conveyor features list
    """
    from ..features import list_views

    with open_workspace() as ws:
        views = list_views(ws)
    if json_:
        print_json([v.definition() | {"digest": v.digest} for v in views])
        return
    table(
        ["view", "entities", "timestamp", "features", "ttl", "source"],
        (
            [
                v.name,
                ", ".join(v.entities),
                v.timestamp,
                ", ".join(v.features),
                _ttl(v.ttl_delta),
                v.source,
            ]
            for v in views
        ),
        title="Feature views",
    )


def _ttl(ttl: datetime.timedelta | None) -> str:
    return "-" if ttl is None else str(ttl)


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="The feature view.")], json_: JsonOpt = False
) -> None:
    """Show a feature view: its features and types, TTL, source and materialisations.

    Example:
        conveyor features show weather
    """
    from .. import features

    with open_workspace() as ws:
        view = features.get_view(ws, name)
        runs = features.materializations(ws, name)
        current = features.materialization_key(ws, view)
    if json_:
        print_json(
            view.definition()
            | {"digest": view.digest, "materializations": [m.to_dict() for m in runs]}
        )
        return
    out.print(f"[bold]{view.name}[/] · entities {', '.join(view.entities)} · time {view.timestamp}")
    out.print(f"source {view.source} · ttl {_ttl(view.ttl_delta)} · digest {view.digest[:12]}")
    if view.description:
        out.print(view.description)
    table(["feature", "type"], view.features.items(), title="Features")
    table(
        ["up to (UTC)", "rows", "at (UTC)", "current view and store"],
        (
            [
                when(m.watermark_us // 1000),
                f"{m.n_rows:,}",
                when(m.created_at),
                "yes" if m.digest == current else "no",
            ]
            for m in runs
        ),
        title="Materializations",
    )


@app.command("materialize")
def materialize(
    views: Annotated[
        list[str] | None, typer.Argument(help="Views to materialize (default: all).")
    ] = None,
    end: Annotated[
        datetime.datetime | None,
        typer.Option(
            "--end", help="Rows stamped up to this time (default: now), e.g. 2026-11-30T12:00."
        ),
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Write the latest value per entity into the online store, from each view's last
    watermark up to --end.

    Example:
        conveyor features materialize weather
    """
    from ..features import materialize as run

    with open_workspace() as ws:
        done = run(ws, views or None, end=end)
    if json_:
        print_json([d.to_dict() for d in done])
        return
    for d in done:
        since = "the start" if d.start is None else d.start.isoformat()
        out.print(
            f"{d.view}: {d.n_rows:,} rows from {since} to {d.end.isoformat()}, "
            f"{d.n_written:,} written"
        )


@app.command("get")
def get(
    features: Annotated[
        list[str], typer.Argument(help="view:feature references, or a view for all of it.")
    ],
    entity: Annotated[
        list[str],
        typer.Option("--entity", "-e", help="An entity column's value: -e origin=JFK."),
    ],
    at: Annotated[
        datetime.datetime | None,
        typer.Option("--at", help="Measure TTLs at this time instead of now."),
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Look features up in the online store for one entity.

    Example:
        conveyor features get weather -e origin=JFK
    """
    from ..core import InvalidValueError
    from ..features import get_online_features

    row: dict[str, Any] = {}
    for item in entity:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidValueError(
                f"--entity takes COLUMN=VALUE. Got {item!r}.", hint="e.g. -e origin=JFK"
            )
        row[key] = int(value) if value.lstrip("-").isdigit() else value
    with open_workspace() as ws:
        found = get_online_features(ws, [row], features, now=at)
    if json_:
        print_json(found.to_dict())
        return
    table(["feature", "value"], ([k, repr(v)] for k, v in found.rows[0].items()), title="Values")
    for miss in found.misses:
        out.print(f"[yellow]{miss.view}: {miss.reason}[/]")
