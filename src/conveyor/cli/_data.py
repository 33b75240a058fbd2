"""``conveyor data``: datasets and their snapshots: list, show, snapshot, check, diff."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ._common import JsonOpt, open_workspace
from ._output import out, print_json, table, when

if TYPE_CHECKING:
    from ..data import ColumnDiff, DataCheck, Dataset, ProfileDiff

app = typer.Typer(
    help="Datasets: snapshots with statistics, new data, diffs, validation.",
    no_args_is_help=True,
)
RefArg = Annotated[
    str, typer.Argument(help="A dataset, optionally with a version: flights, flights/3.")
]


@app.command("list")
def list_(json_: JsonOpt = False) -> None:
    """List the project's datasets with their latest version.

    Example:
        conveyor data list
    """
    from ..data import list_datasets

    with open_workspace() as ws:
        records = list_datasets(ws)
    if json_:
        print_json([r.to_dict() for r in records])
        return
    table(
        ["name", "versions", "description", "created (UTC)"],
        ([r.name, r.last_version, r.description or "-", when(r.created_at)] for r in records),
        title="Datasets",
    )


@app.command("show")
def show(ref: RefArg, json_: JsonOpt = False) -> None:
    """Show a snapshot (the latest by default): rows, digest, source and column statistics.

    Example:
        conveyor data show flights/3
    """
    from ..data import dataset_profile, get_dataset, list_versions, parse_ref

    name, version = parse_ref(ref)
    with open_workspace() as ws:
        dataset = get_dataset(ws, name, version)
        summary = dataset_profile(ws, name, dataset.version).summary()
        versions = list_versions(ws, name)
    if json_:
        print_json(dataset.to_dict() | {"statistics": summary})
        return
    out.print(f"[bold]{dataset.uri}[/] · {dataset.n_rows:,} rows · {len(dataset.columns)} columns")
    out.print(f"digest sha256:{dataset.digest}")
    if dataset.source:
        out.print(f"source {dataset.source}")
    table(
        ["column", "type", "nulls", "distinct", "min", "median", "max", "top"],
        (_column_row(stats) for stats in summary["columns"]),
        title="Columns",
    )
    table(
        ["version", "rows", "digest", "source"],
        ([v.version, f"{v.n_rows:,}", v.digest[:12], v.source] for v in versions),
        title="Versions",
    )


def _column_row(stats: dict[str, Any]) -> list[str]:
    def fmt(value: Any) -> str:
        if value is None:
            return "-"
        return f"{value:.4g}" if isinstance(value, float) else str(value)

    top = stats.get("top") or []
    top_text = ", ".join(f"{value} ({count})" for value, count in top[:3])
    distinct = fmt(stats.get("distinct"))
    return [
        stats["name"],
        stats["type"],
        f"{stats.get('null_rate', 0.0):.1%}",
        distinct if stats.get("distinct_exact") else f"~{distinct}",
        fmt(stats.get("min")),
        fmt(stats.get("p50")),
        fmt(stats.get("max")),
        top_text or "-",
    ]


@app.command("snapshot")
def snapshot(
    source: Annotated[
        str | None,
        typer.Argument(
            help="A Parquet or CSV file, folder, glob or URL (s3://...), or with --query a "
            "database URL. Omitted: the dataset's registered source, read again."
        ),
    ] = None,
    name: Annotated[str, typer.Option("--name", "-n", help="The dataset's name.")] = "",
    query: Annotated[
        str | None, typer.Option("--query", help="SQL to run on the database URL SOURCE.")
    ] = None,
    watermark: Annotated[
        str | None,
        typer.Option("--watermark", help="With --query: a column that grows with new rows."),
    ] = None,
    format_: Annotated[
        str | None, typer.Option("--format", help="parquet or csv, if the name does not say.")
    ] = None,
    appending: Annotated[
        bool | None,
        typer.Option(
            "--appending/--not-appending",
            help="New-data snapshots hold all the data so far, not only what is new "
            "(default: as registered before).",
        ),
    ] = None,
    description: Annotated[
        str | None, typer.Option("--description", help="A line about the dataset.")
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Snapshot a source as the next version of a dataset (registered if new).

    The same data twice is the same snapshot; a changed row makes a new one.

    Example:
        conveyor data snapshot data/flights.parquet --name flights
    """
    from ..core import InvalidValueError
    from ..data import SqlQuery
    from ..data import snapshot as take

    if not name:
        raise InvalidValueError(
            "conveyor data snapshot needs the dataset's name.",
            hint="Add --name NAME, e.g. conveyor data snapshot data/flights.csv --name flights",
        )
    obj: Any = source
    if query is not None:
        if source is None:
            raise InvalidValueError(
                "--query needs the database URL as SOURCE.",
                hint='e.g. conveyor data snapshot postgresql://host/db --query "SELECT ..." '
                "--name NAME",
            )
        obj = SqlQuery(source, query, watermark=watermark)
    with open_workspace() as ws:
        dataset = take(
            ws,
            obj,
            name=name,
            format=format_,
            appending=appending,
            description=description,
        )
    _print_taken(dataset, json_)


def _print_taken(dataset: Dataset, json_: bool) -> None:
    if json_:
        print_json(dataset.to_dict())
        return
    verb = "Snapshot" if dataset.created else "Unchanged: snapshot"
    out.print(
        f"{verb} {dataset.name} v{dataset.version} · {dataset.n_rows:,} rows · "
        f"sha256:{dataset.digest}"
    )


@app.command("check")
def check(
    name: Annotated[str, typer.Argument(help="A dataset with a registered source.")],
    json_: JsonOpt = False,
) -> None:
    """Look for new data in a dataset's source, and snapshot it if there is some.

    Checking again with nothing new does nothing.

    Example:
        conveyor data check flights
    """
    from ..data import check_new_data

    with open_workspace() as ws:
        found = check_new_data(ws, name)
    if json_:
        print_json(found.to_dict())
    elif found.snapshot is None:
        out.print(f"Nothing new in {name}: {found.summary}.")
    else:
        out.print(f"New data in {name}: {found.summary}.")
        _print_taken(found.snapshot, False)


@app.command("diff")
def diff(
    a: Annotated[str, typer.Argument(help="The reference snapshot: flights/3.")],
    b: Annotated[str, typer.Argument(help="The snapshot compared with it: flights/4.")],
    json_: JsonOpt = False,
) -> None:
    """Compare two snapshots from their statistics: schema changes and, per column, shifts
    in quantiles, null rate and categories, with PSI.

    Example:
        conveyor data diff flights/3 flights/4
    """
    from ..data import diff_datasets

    with open_workspace() as ws:
        result = diff_datasets(ws, a, b)
    if json_:
        print_json(result.to_dict())
        return
    _print_diff(a, b, result)


def _print_diff(a: str, b: str, result: ProfileDiff) -> None:
    before, after = result.n_rows
    out.print(f"[bold]{a}[/] → [bold]{b}[/] · rows {before:,} → {after:,}")
    for label, names in (("added", result.added), ("removed", result.removed)):
        if names:
            out.print(f"columns {label}: {', '.join(names)}")
    for column, old, new in result.retyped:
        out.print(f"column {column} retyped: {old} → {new}")
    table(
        ["column", "PSI", "nulls", "p50", "p95", "categories"],
        (_diff_row(column) for column in result.columns),
        title="Columns",
    )


def _diff_row(column: ColumnDiff) -> list[str]:
    def pair(values: tuple[Any, Any] | None, fmt: str = "{:.4g}") -> str:
        if values is None or values[0] is None or values[1] is None:
            return "-"
        return f"{fmt.format(values[0])} → {fmt.format(values[1])}"

    quantiles = column.quantiles
    changes = []
    if column.new_categories:
        changes.append("new: " + ", ".join(str(v) for v, _ in column.new_categories[:3]))
    if column.vanished_categories:
        changes.append("gone: " + ", ".join(str(v) for v, _ in column.vanished_categories[:3]))
    return [
        column.name,
        "-" if column.psi is None else f"{column.psi:.3f}",
        pair(column.null_rate, "{:.1%}"),
        pair(quantiles.get("p50")),
        pair(quantiles.get("p95")),
        "; ".join(changes) or "-",
    ]


@app.command("schema")
def schema(
    ref: RefArg,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Where to write it (default schemas/NAME.yaml)."),
    ] = None,
) -> None:
    """Infer a schema from a snapshot and save it as an editable YAML file.

    Types, nullability and uniqueness are error rules; ranges and categories, which new
    data legitimately moves, are warnings. Edit the file to taste.

    Example:
        conveyor data schema flights
    """
    from ..data import infer_dataset_schema, parse_ref

    name, version = parse_ref(ref)
    with open_workspace() as ws:
        path = infer_dataset_schema(ws, name, version, path=output)
    out.print(f"Wrote {path}")


@app.command("validate")
def validate(
    source: Annotated[
        str,
        typer.Argument(help="A snapshot (flights, flights/3) or a file, folder, glob or URL."),
    ],
    schema_file: Annotated[
        Path | None,
        typer.Option("--schema", help="The schema file (default: schemas/DATASET.yaml)."),
    ] = None,
    reference: Annotated[
        str | None,
        typer.Option("--reference", help="A snapshot to check skew against: flights/3."),
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Validate data against a schema (and skew against a reference); exit 1 if an error
    rule broke.

    Every broken rule is listed with its column, severity, row count and example rows.
    The report is also stored as an artifact and announced as an event.

    Example:
        conveyor data validate data/new.parquet --schema schemas/flights.yaml
    """
    from ..data import validate as check_data

    with open_workspace() as ws:
        check = check_data(ws, source, schema=schema_file, reference=reference)
    if json_:
        print_json(check.to_dict())
    else:
        _print_check(check)
    check.raise_for_errors()


def _print_check(check: DataCheck) -> None:
    report = check.report
    verdict = "[green]passed[/]" if check.passed else "[red]failed[/]"
    out.print(
        f"Validation of {check.source} {verdict} · {report.n_rows:,} rows · "
        f"{len(report.errors)} errors, {len(report.warnings)} warnings"
        + (f" · schema {check.schema_path}" if check.schema_path else "")
    )
    table(
        ["severity", "column", "rule", "rows", "examples (row: value)"],
        (
            [
                v.severity,
                v.column or "-",
                v.rule,
                f"{v.n_failed:,}",
                ", ".join(f"{e.row}: {e.value!r}" for e in v.examples) or "-",
            ]
            for v in report.violations
        ),
        title="Violations",
    )
    if check.skew is not None:
        table(
            ["column", "measure", "value", "threshold", "moved"],
            (
                [
                    c.column,
                    c.measure,
                    f"{c.value:.3f}",
                    f"{c.threshold:g}",
                    "yes" if c.moved else "",
                ]
                for c in check.skew.columns
            ),
            title=f"Skew against {check.skew.reference}",
        )
