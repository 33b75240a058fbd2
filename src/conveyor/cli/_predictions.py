"""``conveyor predictions`` and ``conveyor feedback``: the prediction log, one prediction's
story, and ground-truth labels."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ._common import JsonOpt, open_workspace
from ._output import out, print_json, seconds, table

if TYPE_CHECKING:
    from ..serve.runtime import PredictionExplanation

predictions_app = typer.Typer(
    help="The prediction log: list a deployment's latest predictions, explain one.",
    no_args_is_help=True,
)
feedback_app = typer.Typer(
    help="Ground-truth labels for logged predictions, joined by prediction id.",
    no_args_is_help=True,
)


def _since_ms(text: str | None) -> int | None:
    from ..core import InvalidValueError

    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidValueError(
            f"--since must be an ISO-8601 time such as '2026-12-01T08:00:00Z'. Got {text!r}.",
            hint="A time without an offset is taken as UTC.",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _short(values: dict[str, Any], limit: int = 60) -> str:
    text = ", ".join(f"{k}={v}" for k, v in values.items())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@predictions_app.command("list")
def list_(
    deployment: Annotated[str, typer.Argument(help="The deployment whose log to read.")],
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only predictions made at or after this ISO-8601 time."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many, newest first.")] = 20,
    json_: JsonOpt = False,
) -> None:
    """List a deployment's latest logged predictions, newest first.

    Example:
        conveyor predictions list churn --since 2026-12-01T08:00 --limit 5
    """
    from ..serve.runtime import latest_predictions
    from ..serve.runtime._explain import jsonable

    with open_workspace() as ws:
        rows = latest_predictions(ws, deployment, since_ms=_since_ms(since), limit=limit)
    records = rows.to_pylist()
    if json_:
        print_json([jsonable(r) for r in records])
        return
    table(
        ["prediction id", "time (UTC)", "version", "role", "latency", "output", "inputs"],
        (
            [
                r["prediction_id"],
                r["ts"].strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
                f"{r['model']}/{r['model_version']}",
                r["role"],
                seconds(r["latency_seconds"]),
                _short(r.get("outputs") or {}, 40),
                _short(r.get("inputs") or {}),
            ]
            for r in records
        ),
        title="Predictions",
    )


@predictions_app.command("show")
def show(
    prediction_id: Annotated[str, typer.Argument(help="The prediction id (a UUIDv7).")],
    json_: JsonOpt = False,
) -> None:
    """Explain one prediction: inputs and output, the version that answered, the run that
    trained it with its snapshots and code version, the evaluation that let it through,
    and its label.

    Example:
        conveyor predictions show 0192b3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b
    """
    from ..serve.runtime import explain_prediction

    with open_workspace() as ws:
        found = explain_prediction(ws, prediction_id)
    if json_:
        print_json(found.to_dict())
        return
    _show(found)


def _show(found: PredictionExplanation) -> None:
    data = found.to_dict()
    out.print(f"[bold]prediction {found.prediction_id}[/]")
    out.print(
        f"  {data['time']} · deployment {found.deployment} · "
        f"models:/{found.model}/{found.version} ({found.role}) · "
        f"{seconds(found.latency_seconds)}"
        + (f" · request {found.request_id}" if found.request_id else "")
    )
    out.print(f"  inputs:   {_short(data['inputs'], 200)}")
    if found.features:
        out.print(f"  features: {_short(data['features'], 200)}")
    out.print(f"  outputs:  {_short(data['outputs'], 200)}")
    for other in data["other_answers"]:
        out.print(
            f"  {other['role']} models:/{other['model']}/{other['version']} answered "
            f"{_short(other['outputs'], 120)}"
        )
    label = "-" if found.label is None else f"{found.label} (at {data['labelled_at']})"
    out.print(f"  label:    {label}")
    run = found.run
    if run is None:
        out.print("  run:      - (registered outside a run)")
    else:
        out.print(
            f"  run:      {run['id']} ({run['pipeline']}, {run['status']}) · "
            f"code {found.code_version or '-'}"
        )
    for snap in found.snapshots:
        out.print(
            f"  data:     {snap['uri']} sha256:{str(snap['digest'])[:12]} "
            f"({snap['direction']} by {snap['step']})"
        )
    promotion = found.promotion
    if promotion is None:
        out.print("  served:   - (no alias move to this version before the prediction)")
    else:
        out.print(
            f"  served:   @{promotion['alias']} moved to v{promotion['to_version']} at "
            f"{promotion['moved_at']} ({promotion['reason'] or 'no reason given'})"
        )
    evaluation = found.evaluation
    if evaluation is not None:
        verdict = "passed" if evaluation["passed"] else "failed"
        checked = "signature verified" if evaluation["verified"] else "SIGNATURE DOES NOT VERIFY"
        out.print(f"  gate:     evaluation {evaluation['id']} {verdict}, {checked}")


@feedback_app.command("ingest")
def ingest(
    file: Annotated[Path, typer.Argument(help="A CSV, Parquet or JSON Lines file of labels.")],
    deployment: Annotated[
        str | None, typer.Option("--deployment", "-d", help="The deployment the labels are for.")
    ] = None,
    id_column: Annotated[
        str, typer.Option("--id-column", help="The column holding prediction ids.")
    ] = "prediction_id",
    label_column: Annotated[
        str, typer.Option("--label-column", help="The column holding the labels.")
    ] = "label",
    json_: JsonOpt = False,
) -> None:
    """Store ground-truth labels from a file: all rows or none; sending a label again
    changes nothing, a new label for an id replaces the old one.

    Example:
        conveyor feedback ingest labels.csv --deployment churn --label-column churned
    """
    from ..serve.runtime import ingest_feedback

    with open_workspace() as ws:
        result = ingest_feedback(
            ws, file, deployment=deployment, id_column=id_column, label_column=label_column
        )
    if json_:
        print_json(result.to_dict())
        return
    target = f" for deployment {deployment}" if deployment else ""
    out.print(f"Stored {result.n_upserted:,} label(s){target} from {file}.")
