"""Run services: start, resume, list and inspect runs of a workspace's pipelines.

The CLI, the REST API and the UI call these (never the store), so all three behave alike.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import store as st
from ..core import RUN_STATES, ExecutorSettings, InvalidValueError, NotFoundError, did_you_mean
from ._discovery import find_pipeline

if TYPE_CHECKING:
    from ..workspace import Workspace
    from ._executor import Executor
    from ._runstate import RunResult

MODES = ("thread", "process")


@dataclass(frozen=True)
class RunDetails:
    """A run with its params, the latest value of each metric, its step runs, and the
    dataset snapshots its steps read and wrote."""

    run: st.RunRecord
    params: dict[str, Any]
    metrics: dict[str, float]
    steps: list[st.StepRunRecord]
    datasets: list[st.SnapshotUseRecord] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return self.run.to_dict() | {
            "params": self.params,
            "metrics": self.metrics,
            "steps": [s.to_dict() for s in self.steps],
            "datasets": [d.to_dict() for d in self.datasets],
        }


@dataclass(frozen=True)
class StepLog:
    """A step run and what its last attempt printed (None if it captured nothing)."""

    step: st.StepRunRecord
    text: str | None


def run_pipeline(
    ws: Workspace,
    pipeline: str,
    params: Mapping[str, Any] | None = None,
    *,
    from_text: bool = False,
    executor: str | None = None,
    mode: str = "thread",
    cache: bool = True,
    fail_fast: bool = False,
    on_change: Callable[[str, str], None] | None = None,
    tags: Mapping[str, Any] | None = None,
) -> RunResult:
    """Run ``pipeline`` to its end and return the result (a failed run is returned, not raised).

    Args:
        params: Overrides of the pipeline's params (strings parsed when ``from_text``).
        executor: ``'local'`` or ``'ray'``; default: the project's ``executor.kind``.
        mode: Local executor: run steps in ``'thread'``s or ``'process'``es.
        cache: Reuse results of steps whose code, inputs and params are unchanged.
        fail_fast: On the first failure, cancel every step not yet started.
        on_change: Called with ``(step name, status)`` as steps change (for live views).
        tags: Recorded on the run (JSON values).
    """
    from ._executor import make_executor
    from ._runner import Runner

    if mode not in MODES:
        raise InvalidValueError(
            f"The executor mode must be one of {list(MODES)}. Got {mode!r}."
            f"{did_you_mean(mode, MODES)}"
        )
    chosen: Executor | None = None  # None: the runner makes (and shuts down) the project's
    if executor is not None:
        try:
            settings = ExecutorSettings(**{**ws.config.executor.model_dump(), "kind": executor})
        except ValueError:
            raise InvalidValueError(
                f"The executor must be 'local' or 'ray'. Got {executor!r}."
            ) from None
        # For this run only: the caller's workspace keeps its configured executor.
        chosen = make_executor(
            settings, store=ws.artifacts, project_root=str(ws.config.root), mode=mode
        )
    try:
        runner = Runner(
            ws,
            find_pipeline(ws.config, pipeline),
            executor=chosen,
            cache=cache,
            fail_fast=fail_fast,
            mode=mode,
            on_change=on_change,
        )
        return runner.start(params, from_text=from_text, tags=tags)
    finally:
        if chosen is not None:
            chosen.shutdown()


def resume_run(
    ws: Workspace,
    run_id: int,
    *,
    force: bool = False,
    on_change: Callable[[str, str], None] | None = None,
) -> RunResult:
    """Continue run ``run_id`` whose runner died: finished steps are kept, the rest run."""
    from ._runner import Runner

    record = st.get_run(ws.store, run_id)
    runner = Runner(ws, find_pipeline(ws.config, record.pipeline), on_change=on_change)
    return runner.resume(run_id, force=force)


def list_runs(
    ws: Workspace,
    *,
    pipeline: str | None = None,
    statuses: Collection[str] = (),
    limit: int = 50,
) -> list[st.RunRecord]:
    """The project's runs, newest first, optionally of one pipeline or in some statuses.

    Raises:
        InvalidValueError: a status is not one a run can have.
    """
    for status in statuses:
        if status not in RUN_STATES:
            raise InvalidValueError(
                f"A run's status is one of {', '.join(RUN_STATES)}. Got {status!r}."
                f"{did_you_mean(status, RUN_STATES)}",
                hint="For example: conveyor runs list --status failed",
            )
    return st.list_runs(ws.store, pipeline=pipeline, statuses=statuses, limit=limit)


def get_run(ws: Workspace, run_id: int) -> st.RunRecord:
    """Run ``run_id``; :class:`~conveyor.core.NotFoundError` if the project has none."""
    return st.get_run(ws.store, run_id)


def describe_run(ws: Workspace, run_id: int) -> RunDetails:
    """Run ``run_id`` with its params, latest metrics, step runs and dataset snapshots."""
    run = st.get_run(ws.store, run_id)
    return RunDetails(
        run=run,
        params=st.get_params(ws.store, run_id) or dict(run.params),
        metrics=st.latest_metrics(ws.store, run_id),
        steps=st.get_step_runs(ws.store, run_id),
        datasets=st.snapshot_uses(ws.store, run_id),
    )


def get_step_run(ws: Workspace, run_id: int, step: str) -> st.StepRunRecord:
    """The step run named ``step`` of run ``run_id`` (a fan-out item is ``name[i]``)."""
    steps = st.get_step_runs(ws.store, st.get_run(ws.store, run_id).id)
    for record in steps:
        if record.name == step:
            return record
    names = [s.name for s in steps]
    raise NotFoundError(
        f"Run {run_id} has no step {step!r}.{did_you_mean(step, names)}",
        hint=f"Its steps: {', '.join(names)}" if names else "The run has no steps yet.",
        run_id=run_id,
    )


def step_logs(ws: Workspace, run_id: int, step: str | None = None) -> list[StepLog]:
    """What each step of run ``run_id`` printed (only ``step``, if given), checksum verified."""
    if step is not None:
        steps = [get_step_run(ws, run_id, step)]
    else:
        steps = st.get_step_runs(ws.store, st.get_run(ws.store, run_id).id)
    return [
        StepLog(
            step=s,
            text=(
                ws.artifacts.get_bytes(s.logs_digest).decode("utf-8", errors="replace")
                if s.logs_digest
                else None
            ),
        )
        for s in steps
    ]


def step_lineage(ws: Workspace, run_id: int, step: str) -> list[st.LineageEdgeRecord]:
    """The artifacts step ``step`` of run ``run_id`` read (``in``) and wrote (``out``)."""
    return st.step_lineage(ws.store, get_step_run(ws, run_id, step).id)


def step_metrics(
    ws: Workspace, run_id: int, step: str, *, attempt: int | None = None
) -> list[st.MetricRecord]:
    """The metrics step ``step`` of run ``run_id`` logged through ``get_step_context()``
    (its current attempt, or ``attempt``), in ``(key, step, time)`` order."""
    return st.step_metrics(ws.store, get_step_run(ws, run_id, step).id, attempt=attempt)


def step_params(
    ws: Workspace, run_id: int, step: str, *, attempt: int | None = None
) -> dict[str, Any]:
    """The params step ``step`` of run ``run_id`` logged through ``get_step_context()``."""
    return st.step_params(ws.store, get_step_run(ws, run_id, step).id, attempt=attempt)
