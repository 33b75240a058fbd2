"""Runs and their steps, attempts, params and metrics: creation, guarded transitions,
fenced step commits, the run queue."""

from __future__ import annotations

from ._metrics import count_metrics as count_metrics
from ._metrics import latest_metrics as latest_metrics
from ._metrics import log_metric as log_metric
from ._metrics import log_metrics as log_metrics
from ._metrics import metric_history as metric_history
from ._records import MetricRecord as MetricRecord
from ._records import RunRecord as RunRecord
from ._records import StepAttemptRecord as StepAttemptRecord
from ._records import StepRunRecord as StepRunRecord
from ._runs import acquire_run as acquire_run
from ._runs import claim_runs as claim_runs
from ._runs import create_run as create_run
from ._runs import get_params as get_params
from ._runs import get_run as get_run
from ._runs import insert_run as insert_run
from ._runs import list_runs as list_runs
from ._runs import log_params as log_params
from ._runs import renew_run_lease as renew_run_lease
from ._runs import run_of_claim as run_of_claim
from ._runs import run_values as run_values
from ._runs import start_run as start_run
from ._runs import transition_run as transition_run
from ._step_metrics import log_step_metrics as log_step_metrics
from ._step_metrics import log_step_params as log_step_params
from ._step_metrics import step_metrics as step_metrics
from ._step_metrics import step_params as step_params
from ._steps import StepCommit as StepCommit
from ._steps import add_step_runs as add_step_runs
from ._steps import commit_and_start as commit_and_start
from ._steps import commit_step as commit_step
from ._steps import fail_attempt as fail_attempt
from ._steps import find_cached_step as find_cached_step
from ._steps import find_cached_steps as find_cached_steps
from ._steps import get_step_run as get_step_run
from ._steps import get_step_runs as get_step_runs
from ._steps import heartbeat as heartbeat
from ._steps import mark_steps as mark_steps
from ._steps import record_cache_hit as record_cache_hit
from ._steps import reset_steps as reset_steps
from ._steps import start_attempt as start_attempt
from ._steps import start_attempts as start_attempts
from ._steps import step_attempts as step_attempts
from ._steps import step_lineage as step_lineage

__all__ = [
    "MetricRecord",
    "RunRecord",
    "StepAttemptRecord",
    "StepCommit",
    "StepRunRecord",
    "acquire_run",
    "add_step_runs",
    "claim_runs",
    "commit_and_start",
    "commit_step",
    "count_metrics",
    "create_run",
    "fail_attempt",
    "find_cached_step",
    "find_cached_steps",
    "get_params",
    "get_run",
    "get_step_run",
    "get_step_runs",
    "heartbeat",
    "insert_run",
    "latest_metrics",
    "list_runs",
    "log_metric",
    "log_metrics",
    "log_params",
    "log_step_metrics",
    "log_step_params",
    "mark_steps",
    "metric_history",
    "record_cache_hit",
    "renew_run_lease",
    "reset_steps",
    "run_of_claim",
    "run_values",
    "start_attempt",
    "start_attempts",
    "start_run",
    "step_attempts",
    "step_lineage",
    "step_metrics",
    "step_params",
    "transition_run",
]
