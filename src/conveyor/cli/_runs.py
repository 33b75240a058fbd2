"""``conveyor runs``: list and inspect pipeline runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from ._common import JsonOpt, LimitOpt, open_workspace
from ._output import out, print_json, seconds, status, table, when

if TYPE_CHECKING:
    from ..core import Config
    from ..store import RunRecord, StepRunRecord

app = typer.Typer(help="List and inspect pipeline runs.", no_args_is_help=True)


@app.command("list")
def list_(
    pipeline: Annotated[str | None, typer.Option("--pipeline", help="Only this pipeline.")] = None,
    status_: Annotated[
        list[str] | None,
        typer.Option("--status", help="Only runs in this status (repeatable)."),
    ] = None,
    limit: LimitOpt = 50,
    json_: JsonOpt = False,
) -> None:
    """List runs, newest first.

    Example:
        conveyor runs list --status failed --limit 10
    """
    from ..pipelines import list_runs

    with open_workspace() as ws:
        runs = list_runs(ws, pipeline=pipeline, statuses=status_ or (), limit=limit)
    if json_:
        print_json([r.to_dict() for r in runs])
        return
    table(
        ["run", "pipeline", "status", "started (UTC)", "duration"],
        (
            [r.id, r.pipeline, status(r.status), when(r.started_at), seconds(r.duration)]
            for r in runs
        ),
        title="Runs",
    )


@app.command("show")
def show(
    run_id: Annotated[int, typer.Argument(help="The run's number (see `conveyor runs list`).")],
    json_: JsonOpt = False,
) -> None:
    """Show one run: status, params, metrics, its steps, the snapshots they read and wrote,
    and the trials of each step that ran a tuning study.

    Example:
        conveyor runs show 42
    """
    from ..pipelines import describe_run
    from ..train import tuning_trials

    with open_workspace() as ws:
        ws_config = ws.config
        details = describe_run(ws, run_id)
        trials = tuning_trials(ws, run_id)
    if json_:
        print_json(
            details.to_dict()
            | {"trials": {step: [t.to_dict() for t in rows] for step, rows in trials.items()}}
        )
        return
    run, params, metrics, steps = details.run, details.params, details.metrics, details.steps
    out.print(f"[bold]Run {run.id}[/] · pipeline [bold]{run.pipeline}[/] · {status(run.status)}")
    out.print(
        f"started {when(run.started_at)} · finished {when(run.finished_at)} · "
        f"{seconds(run.duration)}"
    )
    code = run.code_version
    if code.get("git_sha"):
        dirty = " (dirty)" if code.get("dirty") else ""
        out.print(f"code {code['git_sha'][:12]}{dirty}")
    if run.error:
        out.print(f"[red]error:[/] {run.error}", markup=True)
    if params:
        table(["param", "value"], sorted(params.items()), title="Params")
    if metrics:
        table(["metric", "last value"], sorted(metrics.items()), title="Metrics")
    if steps:
        tree = _dag(ws_config, run, steps)
        if tree is not None:
            out.print(tree)
        else:
            table(
                ["step", "status", "attempt", "duration"],
                (
                    [
                        s.name + (" (cached)" if s.cached_from_id else ""),
                        status(s.status),
                        s.attempt,
                        seconds(_step_seconds(s)),
                    ]
                    for s in steps
                ),
                title="Steps",
            )
    if details.datasets:
        table(
            ["step", "", "snapshot", "digest"],
            (
                [u.step, u.direction, f"datasets:/{u.dataset}/{u.version}", u.digest[:12]]
                for u in details.datasets
            ),
            title="Datasets",
        )
    for step, rows in trials.items():
        table(
            ["trial", "state", "value", "params", "duration", "attempt", "error"],
            (
                [
                    t.number,
                    status(t.state),
                    "-" if t.value is None else f"{t.value:.6g}",
                    _params(t.params),
                    seconds(t.duration),
                    t.attempt,
                    t.error or "",
                ]
                for t in rows
            ),
            title=f"Trials of {step}",
        )


def _params(params: dict[str, Any]) -> str:
    return " ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()
    )


def _step_seconds(s: StepRunRecord) -> float | None:
    if s.finished_at is None or s.started_at is None:
        return None
    return (s.finished_at - s.started_at) / 1000


def _dag(config: Config, run: RunRecord, steps: list[StepRunRecord]) -> Any:
    """The run's DAG with each step's status, or None if the pipeline cannot be loaded."""
    from ..core import ConveyorError
    from ..pipelines import find_pipeline
    from ._pipelines import _tree

    try:
        graph = find_pipeline(config, run.pipeline).build(run.params)
    except ConveyorError:
        return None
    by_name = {s.name: s for s in steps}
    labels: dict[str, str] = {}
    for name in graph.nodes:
        s = by_name.get(name)
        if s is None:
            continue
        items = [x for x in steps if x.name.startswith(name + "[")]
        text = s.status
        if items:
            done = sum(1 for x in items if x.status == "succeeded")
            text += f" {done}/{len(items)} items"
        if s.cached_from_id:
            text += " (cached)"
        elif s.attempt > 1:
            text += f" after {s.attempt} attempts"
        duration = _step_seconds(s)
        if duration is not None:
            text += f" {seconds(duration)}"
        labels[name] = text
    return _tree(graph, labels)
