"""The pipeline engine: ``@step`` and ``@pipeline``, materializers, executors and the runner.

Steps form a DAG from how their outputs flow; the runner executes it with retries, time-outs,
caching and crash resume, recording every attempt and its lineage in the store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core._lazy import lazy_attributes
from ._calls import Call as Call
from ._calls import CallResult as CallResult
from ._context import StepContext as StepContext
from ._context import current_step_context as current_step_context
from ._context import get_step_context as get_step_context
from ._discovery import discover as discover
from ._discovery import find_pipeline as find_pipeline
from ._discovery import project_modules as project_modules
from ._graph import Condition as Condition
from ._graph import Graph as Graph
from ._graph import Node as Node
from ._graph import StepOutput as StepOutput
from ._materializers import TRUSTED_SKOPS_TYPES as TRUSTED_SKOPS_TYPES
from ._materializers import Materializer as Materializer
from ._materializers import register_materializer as register_materializer
from ._materializers import register_reference_materializer as register_reference_materializer
from ._pipeline import Pipeline as Pipeline
from ._pipeline import pipeline as pipeline
from ._step import Step as Step
from ._step import StepCall as StepCall
from ._step import StepOptions as StepOptions
from ._step import step as step

if TYPE_CHECKING:
    from ._executor import Executor as Executor
    from ._executor import LocalExecutor as LocalExecutor
    from ._executor import make_executor as make_executor
    from ._runner import Runner as Runner
    from ._runstate import RunResult as RunResult
    from ._runstate import owner_is_dead as owner_is_dead
    from ._services import RunDetails as RunDetails
    from ._services import StepLog as StepLog
    from ._services import describe_run as describe_run
    from ._services import get_run as get_run
    from ._services import get_step_run as get_step_run
    from ._services import list_runs as list_runs
    from ._services import resume_run as resume_run
    from ._services import run_pipeline as run_pipeline
    from ._services import step_lineage as step_lineage
    from ._services import step_logs as step_logs
    from ._services import step_metrics as step_metrics
    from ._services import step_params as step_params
    from ._worker import load_value as load_value
    from ._worker import store_value as store_value

# The runner, executors and run services pull in the store (SQLAlchemy) and process
# pools: imported on first use, so authoring a pipeline (``from conveyor import step,
# pipeline``) stays light.
_LAZY = {
    "Executor": "._executor",
    "LocalExecutor": "._executor",
    "make_executor": "._executor",
    "Runner": "._runner",
    "RunResult": "._runstate",
    "owner_is_dead": "._runstate",
    **dict.fromkeys(
        [
            "RunDetails",
            "StepLog",
            "describe_run",
            "get_run",
            "get_step_run",
            "list_runs",
            "resume_run",
            "run_pipeline",
            "step_lineage",
            "step_logs",
            "step_metrics",
            "step_params",
        ],
        "._services",
    ),
    "load_value": "._worker",
    "store_value": "._worker",
}


__getattr__ = lazy_attributes(__name__, _LAZY, globals())


__all__ = [
    "TRUSTED_SKOPS_TYPES",
    "Call",
    "CallResult",
    "Condition",
    "Executor",
    "Graph",
    "LocalExecutor",
    "Materializer",
    "Node",
    "Pipeline",
    "RunDetails",
    "RunResult",
    "Runner",
    "Step",
    "StepCall",
    "StepContext",
    "StepLog",
    "StepOptions",
    "StepOutput",
    "current_step_context",
    "describe_run",
    "discover",
    "find_pipeline",
    "get_run",
    "get_step_context",
    "get_step_run",
    "list_runs",
    "load_value",
    "make_executor",
    "owner_is_dead",
    "pipeline",
    "project_modules",
    "register_materializer",
    "register_reference_materializer",
    "resume_run",
    "run_pipeline",
    "step",
    "step_lineage",
    "step_logs",
    "step_metrics",
    "step_params",
    "store_value",
]
