"""The metadata store: runs, steps, artifacts, lineage, metrics, registry, triggers, events.

SQLAlchemy Core over SQLite or PostgreSQL, migrated by Alembic. Every other package reads and
writes metadata only through these functions; no SQL lives outside `conveyor.store`.
"""

from __future__ import annotations

from ._artifacts import artifact_files as artifact_files
from ._artifacts import artifact_lineage as artifact_lineage
from ._artifacts import get_artifact as get_artifact
from ._artifacts import list_artifacts as list_artifacts
from ._artifacts import record_artifact as record_artifact
from ._artifacts import referenced_digests as referenced_digests
from ._datasets import add_snapshot as add_snapshot
from ._datasets import list_datasets as list_datasets
from ._datasets import list_snapshots as list_snapshots
from ._engine import Store as Store
from ._events import append_event as append_event
from ._events import emit_event as emit_event
from ._events import follow_events as follow_events
from ._events import last_event_id as last_event_id
from ._events import read_events as read_events
from ._metrics import count_metrics as count_metrics
from ._metrics import latest_metrics as latest_metrics
from ._metrics import log_metric as log_metric
from ._metrics import log_metrics as log_metrics
from ._metrics import metric_history as metric_history
from ._migrate import HEAD as HEAD
from ._migrate import current_revision as current_revision
from ._open import open_store as open_store
from ._open import open_store_from_config as open_store_from_config
from ._open import upgrade_store as upgrade_store
from ._records import AliasMoveRecord as AliasMoveRecord
from ._records import ArtifactRecord as ArtifactRecord
from ._records import ClaimResult as ClaimResult
from ._records import DatasetRecord as DatasetRecord
from ._records import DeploymentRecord as DeploymentRecord
from ._records import EventRecord as EventRecord
from ._records import LineageEdgeRecord as LineageEdgeRecord
from ._records import MetricRecord as MetricRecord
from ._records import ModelRecord as ModelRecord
from ._records import ModelVersionRecord as ModelVersionRecord
from ._records import NewArtifact as NewArtifact
from ._records import RunRecord as RunRecord
from ._records import SnapshotRecord as SnapshotRecord
from ._records import StepAttemptRecord as StepAttemptRecord
from ._records import StepRunRecord as StepRunRecord
from ._records import TriggerClaimRecord as TriggerClaimRecord
from ._records import TriggerRecord as TriggerRecord
from ._registry import alias_history as alias_history
from ._registry import get_model as get_model
from ._registry import get_model_version as get_model_version
from ._registry import list_deployments as list_deployments
from ._registry import list_model_versions as list_model_versions
from ._registry import list_models as list_models
from ._registry import move_alias as move_alias
from ._registry import register_model_version as register_model_version
from ._registry import resolve_alias as resolve_alias
from ._registry import upsert_deployment as upsert_deployment
from ._runs import acquire_run as acquire_run
from ._runs import claim_runs as claim_runs
from ._runs import create_run as create_run
from ._runs import get_params as get_params
from ._runs import get_run as get_run
from ._runs import list_runs as list_runs
from ._runs import log_params as log_params
from ._runs import renew_run_lease as renew_run_lease
from ._runs import start_run as start_run
from ._runs import transition_run as transition_run
from ._step_metrics import log_step_metrics as log_step_metrics
from ._step_metrics import log_step_params as log_step_params
from ._step_metrics import step_metrics as step_metrics
from ._step_metrics import step_params as step_params
from ._steps import add_step_runs as add_step_runs
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
from ._triggers import claim_lapsed as claim_lapsed
from ._triggers import claim_trigger as claim_trigger
from ._triggers import get_trigger as get_trigger
from ._triggers import list_claims as list_claims
from ._triggers import renew_claim as renew_claim
from ._triggers import set_claim_status as set_claim_status
from ._triggers import start_claim as start_claim
from ._triggers import upsert_trigger as upsert_trigger

__all__ = [
    "HEAD",
    "AliasMoveRecord",
    "ArtifactRecord",
    "ClaimResult",
    "DatasetRecord",
    "DeploymentRecord",
    "EventRecord",
    "LineageEdgeRecord",
    "MetricRecord",
    "ModelRecord",
    "ModelVersionRecord",
    "NewArtifact",
    "RunRecord",
    "SnapshotRecord",
    "StepAttemptRecord",
    "StepRunRecord",
    "Store",
    "TriggerClaimRecord",
    "TriggerRecord",
    "acquire_run",
    "add_snapshot",
    "add_step_runs",
    "alias_history",
    "append_event",
    "artifact_files",
    "artifact_lineage",
    "claim_lapsed",
    "claim_runs",
    "claim_trigger",
    "commit_step",
    "count_metrics",
    "create_run",
    "current_revision",
    "emit_event",
    "fail_attempt",
    "find_cached_step",
    "find_cached_steps",
    "follow_events",
    "get_artifact",
    "get_model",
    "get_model_version",
    "get_params",
    "get_run",
    "get_step_run",
    "get_step_runs",
    "get_trigger",
    "heartbeat",
    "last_event_id",
    "latest_metrics",
    "list_artifacts",
    "list_claims",
    "list_datasets",
    "list_deployments",
    "list_model_versions",
    "list_models",
    "list_runs",
    "list_snapshots",
    "log_metric",
    "log_metrics",
    "log_params",
    "log_step_metrics",
    "log_step_params",
    "mark_steps",
    "metric_history",
    "move_alias",
    "open_store",
    "open_store_from_config",
    "read_events",
    "record_artifact",
    "record_cache_hit",
    "referenced_digests",
    "register_model_version",
    "renew_claim",
    "renew_run_lease",
    "reset_steps",
    "resolve_alias",
    "set_claim_status",
    "start_attempt",
    "start_attempts",
    "start_claim",
    "start_run",
    "step_attempts",
    "step_lineage",
    "step_metrics",
    "step_params",
    "transition_run",
    "upgrade_store",
    "upsert_deployment",
    "upsert_trigger",
]
