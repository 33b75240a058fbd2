"""``conveyor artifacts``: list, inspect, add, export and garbage-collect artifacts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._common import JsonOpt, LimitOpt, open_workspace
from ._output import out, print_json, size, table, when

app = typer.Typer(
    help="Content-addressed artifacts: list, show, add, get, gc.", no_args_is_help=True
)
RefArg = Annotated[
    str, typer.Argument(help="Artifact id, or digest (sha256:... or a hex prefix of 8+).")
]


@app.command("list")
def list_(
    name: Annotated[
        str | None, typer.Option("--name", help="Only artifacts with this name.")
    ] = None,
    limit: LimitOpt = 100,
    json_: JsonOpt = False,
) -> None:
    """List artifacts, newest first.

    Example:
        conveyor artifacts list --name model
    """
    from ..lineage import list_artifacts

    with open_workspace() as ws:
        records = list_artifacts(ws, limit=limit, name=name)
    if json_:
        print_json([r.to_dict() for r in records])
        return
    table(
        ["id", "name", "kind", "size", "digest", "created (UTC)"],
        (
            [r.id, r.name or "-", r.kind, size(r.size), r.digest[:12], when(r.created_at)]
            for r in records
        ),
        title="Artifacts",
    )


@app.command("show")
def show(ref: RefArg, json_: JsonOpt = False) -> None:
    """Show one artifact: digest, size, files (for directories) and lineage.

    Example:
        conveyor artifacts show 7
    """
    from ..lineage import describe_artifact

    with open_workspace() as ws:
        details = describe_artifact(ws, ref)
    if json_:
        print_json(details.to_dict())
        return
    record, files, lineage = details.artifact, details.files, details.lineage
    out.print(
        f"[bold]Artifact {record.id}[/] {record.name or ''} · {record.kind} · {size(record.size)}"
    )
    out.print(f"digest sha256:{record.digest}")
    if record.type_name:
        out.print(f"type {record.type_name}")
    if files:
        table(
            ["path", "size", "digest"], ([p, size(s), d[:12]] for p, d, s in files), title="Files"
        )
    if lineage:
        table(
            ["step run", "role", "as"],
            (
                [e.step_run_id, "produced by" if e.direction == "out" else "read by", e.name]
                for e in lineage
            ),
            title="Lineage",
        )


@app.command("add")
def add(
    path: Annotated[Path, typer.Argument(help="A file or directory to store.", exists=False)],
    name: Annotated[
        str | None, typer.Option("--name", help="Name to record (default: the file name).")
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Store a file or directory as an artifact (content-addressed; duplicates share bytes).

    Example:
        conveyor artifacts add data/customers.csv --name customers
    """
    from ..lineage import put_artifact

    with open_workspace() as ws:
        record = put_artifact(ws, path, name=name)
    if json_:
        print_json(record.to_dict())
    else:
        out.print(
            f"Stored artifact {record.id} ({record.kind}, {size(record.size)}) "
            f"sha256:{record.digest}"
        )


@app.command("get")
def get(
    ref: RefArg,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write it (must not exist).")
    ],
) -> None:
    """Write a verified copy of an artifact to a new path.

    Example:
        conveyor artifacts get 7 -o model-copy
    """
    from ..lineage import export_artifact

    with open_workspace() as ws:
        path = export_artifact(ws, ref, output)
    out.print(f"Wrote {path}")


@app.command("gc")
def gc(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only report what would be deleted.")
    ] = False,
    grace: Annotated[
        str,
        typer.Option("--grace", help="Keep unreferenced blobs younger than this (e.g. 1h, 0s)."),
    ] = "1h",
    json_: JsonOpt = False,
) -> None:
    """Delete stored blobs that no artifact references.

    Blobs younger than --grace are kept so writes in progress are never collected.

    Example:
        conveyor artifacts gc --dry-run
    """
    from ..core import ConfigError, parse_duration
    from ..lineage import collect_garbage

    try:
        older_than = parse_duration(grace, what="--grace")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    with open_workspace() as ws:
        result = collect_garbage(ws, older_than=older_than, dry_run=dry_run)
    if json_:
        print_json(
            {
                "deleted": list(result.deleted),
                "n_deleted": result.n_deleted,
                "bytes_freed": result.bytes_freed,
                "n_kept": result.n_kept,
                "dry_run": dry_run,
            }
        )
        return
    verb = "Would delete" if dry_run else "Deleted"
    out.print(
        f"{verb} {result.n_deleted} blobs ({size(result.bytes_freed)}); kept {result.n_kept}."
    )
