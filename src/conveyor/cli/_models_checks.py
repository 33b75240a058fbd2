"""``conveyor models evaluation`` and ``conveyor models reproduce``: what a version was judged
on, and whether the run that trained it gives the same figures again."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ..core import NotFoundError
from ._common import JsonOpt, open_workspace
from ._models import app
from ._output import out, print_json, table


@app.command("evaluation")
def evaluation(
    uri: Annotated[str, typer.Argument(help="NAME/VERSION or NAME@ALIAS: its newest evaluation.")],
    evaluation_id: Annotated[
        int | None, typer.Option("--id", min=1, help="One evaluation by its id instead.")
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Show an evaluation: each gate's figure, threshold, interval and reason, and whether
    the store's signature still verifies.

    Example:
        conveyor models evaluation churn/3
    """
    from ..registry import get_model, list_evaluations, verify_evaluation

    with open_workspace() as ws:
        model = get_model(ws, uri)
        if evaluation_id is None:
            found = list_evaluations(ws, model.name, model.version)
            if not found:
                raise NotFoundError(
                    f"{model.uri} has not been evaluated.",
                    hint="Evaluate it with conveyor.train.evaluate in a pipeline step.",
                )
            evaluation_id = found[-1].id
        record = verify_evaluation(ws, evaluation_id)
    report = dict(record.report)
    if json_:
        print_json(record.to_dict())
        return
    verdict = "[green]passed[/]" if record.passed else "[red]failed[/]"
    baseline = f" against version {record.baseline_version}" if record.baseline_version else ""
    out.print(
        f"Evaluation {record.id} of models:/{record.model}/{record.version}{baseline}: "
        f"{verdict} · {report.get('n', '?')} rows of {report.get('data', '?')} · "
        f"signature verifies · digest {record.digest[:12]}"
    )
    table(
        ["gate", "result", "figure", "baseline", "threshold", "interval", "reason"],
        (
            [
                g["name"],
                "skip" if g.get("skipped") else ("pass" if g["passed"] else "[red]FAIL[/]"),
                _figure(g.get("figure")),
                _figure(g.get("baseline")),
                _figure(g.get("threshold")),
                _interval(g.get("interval")),
                g["reason"],
            ]
            for g in report.get("gates", [])
        ),
        title="Gates",
    )
    baseline_metrics = report.get("baseline_metrics") or {}
    table(
        ["metric", "this version", "baseline"],
        (
            [k, _figure(v), _figure(baseline_metrics.get(k))]
            for k, v in dict(report.get("metrics", {})).items()
        ),
        title="Metrics on the holdout",
    )


def _figure(value: Any) -> str:
    return "-" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


def _interval(value: Any) -> str:
    if not value:
        return "-"
    low, high = value
    return f"[{_figure(low)}, {_figure(high)}]"


@app.command("reproduce")
def reproduce(
    uri: Annotated[str, typer.Argument(help="The version: NAME/VERSION or NAME@ALIAS.")],
    tolerance: Annotated[
        float,
        typer.Option("--tolerance", min=0.0, help="Relative and absolute tolerance (0: equal)."),
    ] = 0.0,
    allow_code_change: Annotated[
        bool,
        typer.Option(
            "--allow-code-change", help="Run even if the code is not the recorded version."
        ),
    ] = False,
    json_: JsonOpt = False,
) -> None:
    """Re-run the pipeline run that trained a version, on the snapshots it read, with its
    params and seed, and compare the metrics; exit 1 if they differ.

    The reproduction registers a new version tagged ``reproduction_of``; no alias moves.

    Example:
        conveyor models reproduce churn/3
    """
    from ..train import reproduce as repeat

    with open_workspace() as ws:
        found = repeat(ws, uri, tolerance=tolerance, allow_code_change=allow_code_change)
    if json_:
        print_json(found.to_dict())
    else:
        again = (
            f"run {found.reproduced_run_id}, version {found.reproduced_version or '-'}"
            if found.reproduced_run_id
            else "no run"
        )
        verdict = "[green]reproduced[/]" if found.matched else "[red]did not reproduce[/]"
        out.print(
            f"models:/{found.model}/{found.version} (run {found.run_id}) → {again}: {verdict}"
        )
        rows = [*([found.code] if found.code else []), *found.datasets, *found.metrics]
        table(
            ["what", "recorded", "reproduced", "same"],
            (
                [
                    c.name,
                    _figure(c.recorded),
                    _figure(c.reproduced),
                    "yes" if c.same else "[red]no[/]",
                ]
                for c in rows
            ),
            title="Comparison",
        )
        for reason in found.reasons:
            out.print(f"[red]·[/] {reason}")
    if not found.matched:
        raise typer.Exit(1)
