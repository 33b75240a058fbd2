"""The metadata store: runs, steps, artifacts, lineage, metrics, registry, triggers, events,
alert deliveries.

SQLAlchemy Core over SQLite or PostgreSQL, migrated by Alembic. Every other package reads and
writes metadata only through these functions; no SQL lives outside `conveyor.store`.

A `Store` is opened for one project, and every function is scoped to it: an id of another
project's run, step run, artifact, claim or trigger, whether the main id or a reference
(`inputs`, `source`, `producer_step_run_id` ...), is refused with `NotFoundError` as if it
did not exist, and reads return nothing of another project's. The checks are guards inside
the statement that reads or writes (`_sql.run_in_project` and its siblings).
`referenced_digests` alone spans every project: garbage collection keeps shared blobs
(artifacts and the prediction log's segments).
"""

from __future__ import annotations

from ._engine import Store as Store
from ._migrate import HEAD as HEAD
from ._migrate import current_revision as current_revision
from ._open import open_store as open_store
from ._open import open_store_from_config as open_store_from_config
from ._open import upgrade_store as upgrade_store
from ._signing import signing_key as signing_key
from .automation import ClaimResult as ClaimResult
from .automation import ClaimStart as ClaimStart
from .automation import TriggerClaimRecord as TriggerClaimRecord
from .automation import TriggerRecord as TriggerRecord
from .automation import claim_lapsed as claim_lapsed
from .automation import claim_trigger as claim_trigger
from .automation import get_trigger as get_trigger
from .automation import list_claims as list_claims
from .automation import renew_claim as renew_claim
from .automation import set_claim_status as set_claim_status
from .automation import start_claim as start_claim
from .automation import start_claim_unless_busy as start_claim_unless_busy
from .automation import upsert_trigger as upsert_trigger
from .data import DatasetRecord as DatasetRecord
from .data import DatasetSourceRecord as DatasetSourceRecord
from .data import SnapshotRecord as SnapshotRecord
from .data import SnapshotUseRecord as SnapshotUseRecord
from .data import add_snapshot as add_snapshot
from .data import get_dataset_source as get_dataset_source
from .data import get_snapshot as get_snapshot
from .data import list_datasets as list_datasets
from .data import list_snapshots as list_snapshots
from .data import record_snapshot_read as record_snapshot_read
from .data import set_dataset_source as set_dataset_source
from .data import set_source_state as set_source_state
from .data import snapshot_uses as snapshot_uses
from .events import EventRecord as EventRecord
from .events import append_event as append_event
from .events import emit_event as emit_event
from .events import follow_events as follow_events
from .events import last_event_id as last_event_id
from .events import read_events as read_events
from .features import FeatureViewRecord as FeatureViewRecord
from .features import FeatureViewUseRecord as FeatureViewUseRecord
from .features import MaterializationRecord as MaterializationRecord
from .features import feature_view_uses as feature_view_uses
from .features import get_feature_view as get_feature_view
from .features import last_materialization as last_materialization
from .features import list_feature_views as list_feature_views
from .features import list_materializations as list_materializations
from .features import record_feature_view_use as record_feature_view_use
from .features import record_materialization as record_materialization
from .features import register_feature_view as register_feature_view
from .lineage import ArtifactRecord as ArtifactRecord
from .lineage import LineageEdgeRecord as LineageEdgeRecord
from .lineage import NewArtifact as NewArtifact
from .lineage import artifact_files as artifact_files
from .lineage import artifact_lineage as artifact_lineage
from .lineage import get_artifact as get_artifact
from .lineage import list_artifacts as list_artifacts
from .lineage import record_artifact as record_artifact
from .lineage import referenced_digests as referenced_digests
from .monitoring import MonitorStateRecord as MonitorStateRecord
from .monitoring import MonitorWindowRecord as MonitorWindowRecord
from .monitoring import WindowValues as WindowValues
from .monitoring import get_monitor_state as get_monitor_state
from .monitoring import list_monitor_windows as list_monitor_windows
from .monitoring import record_monitor_window as record_monitor_window
from .monitoring import save_monitor_state as save_monitor_state
from .notify import AlertClaim as AlertClaim
from .notify import AlertClaimDecision as AlertClaimDecision
from .notify import AlertClaimOutcome as AlertClaimOutcome
from .notify import AlertClaimState as AlertClaimState
from .notify import AlertDeliveryRecord as AlertDeliveryRecord
from .notify import advance_alert_cursor as advance_alert_cursor
from .notify import claim_alert_delivery as claim_alert_delivery
from .notify import finish_alert_delivery as finish_alert_delivery
from .notify import get_alert_cursor as get_alert_cursor
from .notify import list_alert_deliveries as list_alert_deliveries
from .notify import record_signal as record_signal
from .registry import AliasMoveRecord as AliasMoveRecord
from .registry import EvaluationRecord as EvaluationRecord
from .registry import ModelRecord as ModelRecord
from .registry import ModelVersionRecord as ModelVersionRecord
from .registry import alias_history as alias_history
from .registry import get_evaluation as get_evaluation
from .registry import get_model as get_model
from .registry import get_model_version as get_model_version
from .registry import list_aliases as list_aliases
from .registry import list_evaluations as list_evaluations
from .registry import list_model_versions as list_model_versions
from .registry import list_models as list_models
from .registry import move_alias as move_alias
from .registry import record_evaluation as record_evaluation
from .registry import register_model_version as register_model_version
from .registry import resolve_alias as resolve_alias
from .registry import set_model_version_status as set_model_version_status
from .runs import MetricRecord as MetricRecord
from .runs import RunRecord as RunRecord
from .runs import StepAttemptRecord as StepAttemptRecord
from .runs import StepCommit as StepCommit
from .runs import StepRunRecord as StepRunRecord
from .runs import acquire_run as acquire_run
from .runs import add_step_runs as add_step_runs
from .runs import claim_runs as claim_runs
from .runs import commit_and_start as commit_and_start
from .runs import commit_step as commit_step
from .runs import count_metrics as count_metrics
from .runs import create_run as create_run
from .runs import fail_attempt as fail_attempt
from .runs import find_cached_step as find_cached_step
from .runs import find_cached_steps as find_cached_steps
from .runs import get_params as get_params
from .runs import get_run as get_run
from .runs import get_step_run as get_step_run
from .runs import get_step_runs as get_step_runs
from .runs import heartbeat as heartbeat
from .runs import latest_metrics as latest_metrics
from .runs import list_runs as list_runs
from .runs import log_metric as log_metric
from .runs import log_metrics as log_metrics
from .runs import log_params as log_params
from .runs import log_step_metrics as log_step_metrics
from .runs import log_step_params as log_step_params
from .runs import mark_steps as mark_steps
from .runs import metric_history as metric_history
from .runs import record_cache_hit as record_cache_hit
from .runs import renew_run_lease as renew_run_lease
from .runs import reset_steps as reset_steps
from .runs import start_attempt as start_attempt
from .runs import start_attempts as start_attempts
from .runs import start_run as start_run
from .runs import step_attempts as step_attempts
from .runs import step_lineage as step_lineage
from .runs import step_metrics as step_metrics
from .runs import step_params as step_params
from .runs import transition_run as transition_run
from .serving import DeploymentRecord as DeploymentRecord
from .serving import FeedbackRecord as FeedbackRecord
from .serving import PredictionSegmentRecord as PredictionSegmentRecord
from .serving import find_prediction_segments as find_prediction_segments
from .serving import get_deployment as get_deployment
from .serving import list_deployments as list_deployments
from .serving import list_feedback as list_feedback
from .serving import list_prediction_segments as list_prediction_segments
from .serving import record_prediction_segment as record_prediction_segment
from .serving import upsert_deployment as upsert_deployment
from .serving import upsert_feedback as upsert_feedback
from .tuning import TrialRecord as TrialRecord
from .tuning import fail_interrupted_trials as fail_interrupted_trials
from .tuning import finish_trial as finish_trial
from .tuning import list_run_trials as list_run_trials
from .tuning import list_trials as list_trials
from .tuning import start_trial as start_trial

__all__ = [
    "HEAD",
    "AlertClaim",
    "AlertClaimDecision",
    "AlertClaimOutcome",
    "AlertClaimState",
    "AlertDeliveryRecord",
    "AliasMoveRecord",
    "ArtifactRecord",
    "ClaimResult",
    "ClaimStart",
    "DatasetRecord",
    "DatasetSourceRecord",
    "DeploymentRecord",
    "EvaluationRecord",
    "EventRecord",
    "FeatureViewRecord",
    "FeatureViewUseRecord",
    "FeedbackRecord",
    "LineageEdgeRecord",
    "MaterializationRecord",
    "MetricRecord",
    "ModelRecord",
    "ModelVersionRecord",
    "MonitorStateRecord",
    "MonitorWindowRecord",
    "NewArtifact",
    "PredictionSegmentRecord",
    "RunRecord",
    "SnapshotRecord",
    "SnapshotUseRecord",
    "StepAttemptRecord",
    "StepCommit",
    "StepRunRecord",
    "Store",
    "TrialRecord",
    "TriggerClaimRecord",
    "TriggerRecord",
    "WindowValues",
    "acquire_run",
    "add_snapshot",
    "add_step_runs",
    "advance_alert_cursor",
    "alias_history",
    "append_event",
    "artifact_files",
    "artifact_lineage",
    "claim_alert_delivery",
    "claim_lapsed",
    "claim_runs",
    "claim_trigger",
    "commit_and_start",
    "commit_step",
    "count_metrics",
    "create_run",
    "current_revision",
    "emit_event",
    "fail_attempt",
    "fail_interrupted_trials",
    "feature_view_uses",
    "find_cached_step",
    "find_cached_steps",
    "find_prediction_segments",
    "finish_alert_delivery",
    "finish_trial",
    "follow_events",
    "get_alert_cursor",
    "get_artifact",
    "get_dataset_source",
    "get_deployment",
    "get_evaluation",
    "get_feature_view",
    "get_model",
    "get_model_version",
    "get_monitor_state",
    "get_params",
    "get_run",
    "get_snapshot",
    "get_step_run",
    "get_step_runs",
    "get_trigger",
    "heartbeat",
    "last_event_id",
    "last_materialization",
    "latest_metrics",
    "list_alert_deliveries",
    "list_aliases",
    "list_artifacts",
    "list_claims",
    "list_datasets",
    "list_deployments",
    "list_evaluations",
    "list_feature_views",
    "list_feedback",
    "list_materializations",
    "list_model_versions",
    "list_models",
    "list_monitor_windows",
    "list_prediction_segments",
    "list_run_trials",
    "list_runs",
    "list_snapshots",
    "list_trials",
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
    "record_evaluation",
    "record_feature_view_use",
    "record_materialization",
    "record_monitor_window",
    "record_prediction_segment",
    "record_signal",
    "record_snapshot_read",
    "referenced_digests",
    "register_feature_view",
    "register_model_version",
    "renew_claim",
    "renew_run_lease",
    "reset_steps",
    "resolve_alias",
    "save_monitor_state",
    "set_claim_status",
    "set_dataset_source",
    "set_model_version_status",
    "set_source_state",
    "signing_key",
    "snapshot_uses",
    "start_attempt",
    "start_attempts",
    "start_claim",
    "start_claim_unless_busy",
    "start_run",
    "start_trial",
    "step_attempts",
    "step_lineage",
    "step_metrics",
    "step_params",
    "transition_run",
    "upgrade_store",
    "upsert_deployment",
    "upsert_feedback",
    "upsert_trigger",
]
