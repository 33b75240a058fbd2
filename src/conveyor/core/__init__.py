"""Configuration, errors, names and paths, hashing, durations, the clock, states and event types.

The bottom layer: it imports nothing else of conveyor's and no ML or web library.
"""

from __future__ import annotations

from ._clock import now_ms as now_ms
from ._clock import utcnow as utcnow
from ._config import CONFIG_FILE as CONFIG_FILE
from ._config import STORE_RETRY_BACKOFF as STORE_RETRY_BACKOFF
from ._config import STORE_RETRY_MAX_DELAY as STORE_RETRY_MAX_DELAY
from ._config import Config as Config
from ._config import lease_problem as lease_problem
from ._config import settings_reference as settings_reference
from ._config import worst_store_call as worst_store_call
from ._durations import parse_duration as parse_duration
from ._errors import AlreadyExistsError as AlreadyExistsError
from ._errors import ArtifactError as ArtifactError
from ._errors import ArtifactStoreFullError as ArtifactStoreFullError
from ._errors import ChecksumMismatchError as ChecksumMismatchError
from ._errors import ConfigError as ConfigError
from ._errors import ConflictError as ConflictError
from ._errors import ConveyorError as ConveyorError
from ._errors import DataSourceError as DataSourceError
from ._errors import DataValidationError as DataValidationError
from ._errors import InvalidNameError as InvalidNameError
from ._errors import InvalidValueError as InvalidValueError
from ._errors import NotFittedError as NotFittedError
from ._errors import NotFoundError as NotFoundError
from ._errors import PipelineDefinitionError as PipelineDefinitionError
from ._errors import ProjectNotFoundError as ProjectNotFoundError
from ._errors import PromotionRefusedError as PromotionRefusedError
from ._errors import SignatureMismatchError as SignatureMismatchError
from ._errors import StaleAttemptError as StaleAttemptError
from ._errors import StepContextError as StepContextError
from ._errors import StepFailedError as StepFailedError
from ._errors import StepTimeoutError as StepTimeoutError
from ._errors import StoreError as StoreError
from ._errors import StoreUnavailableError as StoreUnavailableError
from ._errors import StoreVersionError as StoreVersionError
from ._errors import UnsafeArchiveError as UnsafeArchiveError
from ._errors import UnsafeURLError as UnsafeURLError
from ._errors import UntrustedModelError as UntrustedModelError
from ._event_types import ALERT_FAILED as ALERT_FAILED
from ._event_types import ALERT_SENT as ALERT_SENT
from ._event_types import ALERT_SUPPRESSED as ALERT_SUPPRESSED
from ._event_types import ALIAS_MOVED as ALIAS_MOVED
from ._event_types import DECAY_DETECTED as DECAY_DETECTED
from ._event_types import DEPLOYMENT_FAILED as DEPLOYMENT_FAILED
from ._event_types import DEPLOYMENT_SWAPPED as DEPLOYMENT_SWAPPED
from ._event_types import DEPLOYMENT_UPDATED as DEPLOYMENT_UPDATED
from ._event_types import DRIFT_DETECTED as DRIFT_DETECTED
from ._event_types import DRIFT_SUSPECTED as DRIFT_SUSPECTED
from ._event_types import EVALUATION_FAILED as EVALUATION_FAILED
from ._event_types import EVALUATION_PASSED as EVALUATION_PASSED
from ._event_types import EVENT_PREFIX as EVENT_PREFIX
from ._event_types import MODEL_VERSION_ARCHIVED as MODEL_VERSION_ARCHIVED
from ._event_types import MODEL_VERSION_EVENT_TYPES as MODEL_VERSION_EVENT_TYPES
from ._event_types import MODEL_VERSION_FAILED as MODEL_VERSION_FAILED
from ._event_types import MODEL_VERSION_READY as MODEL_VERSION_READY
from ._event_types import MODEL_VERSION_REGISTERED as MODEL_VERSION_REGISTERED
from ._event_types import RUN_CANCELLED as RUN_CANCELLED
from ._event_types import RUN_EVENT_TYPES as RUN_EVENT_TYPES
from ._event_types import RUN_FAILED as RUN_FAILED
from ._event_types import RUN_QUEUED as RUN_QUEUED
from ._event_types import RUN_STARTED as RUN_STARTED
from ._event_types import RUN_SUCCEEDED as RUN_SUCCEEDED
from ._event_types import SIGNAL_RECEIVED as SIGNAL_RECEIVED
from ._event_types import SNAPSHOT_CREATED as SNAPSHOT_CREATED
from ._event_types import VALIDATION_FAILED as VALIDATION_FAILED
from ._event_types import VALIDATION_PASSED as VALIDATION_PASSED
from ._hashing import canonical_json as canonical_json
from ._hashing import parse_digest as parse_digest
from ._hashing import sha256_bytes as sha256_bytes
from ._hashing import sha256_file as sha256_file
from ._hashing import sha256_json as sha256_json
from ._hashing import sha256_stream as sha256_stream
from ._names import check_relative_path as check_relative_path
from ._names import did_you_mean as did_you_mean
from ._names import redact_url as redact_url
from ._names import safe_join as safe_join
from ._names import validate_name as validate_name
from ._outbound import BLOCKED_RANGES as BLOCKED_RANGES
from ._outbound import CheckedURL as CheckedURL
from ._outbound import OutboundPolicy as OutboundPolicy
from ._outbound import Resolver as Resolver
from ._outbound import blocked_range as blocked_range
from ._outbound import check_target as check_target
from ._outbound import check_url as check_url
from ._outbound import legacy_ipv4 as legacy_ipv4
from ._outbound import parse_networks as parse_networks
from ._pause import pause_point as pause_point
from ._settings import ArtifactSettings as ArtifactSettings
from ._settings import ExecutorSettings as ExecutorSettings
from ._settings import FeaturesSettings as FeaturesSettings
from ._settings import PipelinesSettings as PipelinesSettings
from ._settings import ProjectSettings as ProjectSettings
from ._settings import RegistrySettings as RegistrySettings
from ._settings import StoreSettings as StoreSettings
from ._settings import TrainSettings as TrainSettings
from ._settings_automate import AutomateSettings as AutomateSettings
from ._settings_automate import TriggerSettings as TriggerSettings
from ._settings_loop import NotifyChannelSettings as NotifyChannelSettings
from ._settings_loop import NotifySettings as NotifySettings
from ._settings_loop import webhook_secret_problem as webhook_secret_problem
from ._states import ALERT_DELIVERY_STATES as ALERT_DELIVERY_STATES
from ._states import ALIASABLE as ALIASABLE
from ._states import ATTEMPT_STATES as ATTEMPT_STATES
from ._states import CLAIM_STATES as CLAIM_STATES
from ._states import CLAIM_TRANSITIONS as CLAIM_TRANSITIONS
from ._states import MODEL_VERSION_STATES as MODEL_VERSION_STATES
from ._states import MODEL_VERSION_TRANSITIONS as MODEL_VERSION_TRANSITIONS
from ._states import RUN_FINISHED as RUN_FINISHED
from ._states import RUN_STATES as RUN_STATES
from ._states import RUN_TRANSITIONS as RUN_TRANSITIONS
from ._states import STEP_DONE as STEP_DONE
from ._states import STEP_NOT_RUN as STEP_NOT_RUN
from ._states import STEP_STATES as STEP_STATES
from ._states import STEP_TRANSITIONS as STEP_TRANSITIONS
from ._states import STEP_UNSUCCESSFUL as STEP_UNSUCCESSFUL
from ._states import TRIAL_STATES as TRIAL_STATES
from ._states import AlertDeliveryStatus as AlertDeliveryStatus
from ._states import AttemptStatus as AttemptStatus
from ._states import ClaimStatus as ClaimStatus
from ._states import ModelVersionStatus as ModelVersionStatus
from ._states import RunStatus as RunStatus
from ._states import StepStatus as StepStatus
from ._states import TrialStatus as TrialStatus
from ._states import can_move as can_move
from ._states import sources as sources

__all__ = [
    "ALERT_DELIVERY_STATES",
    "ALERT_FAILED",
    "ALERT_SENT",
    "ALERT_SUPPRESSED",
    "ALIASABLE",
    "ALIAS_MOVED",
    "ATTEMPT_STATES",
    "BLOCKED_RANGES",
    "CLAIM_STATES",
    "CLAIM_TRANSITIONS",
    "CONFIG_FILE",
    "DECAY_DETECTED",
    "DEPLOYMENT_FAILED",
    "DEPLOYMENT_SWAPPED",
    "DEPLOYMENT_UPDATED",
    "DRIFT_DETECTED",
    "DRIFT_SUSPECTED",
    "EVALUATION_FAILED",
    "EVALUATION_PASSED",
    "EVENT_PREFIX",
    "MODEL_VERSION_ARCHIVED",
    "MODEL_VERSION_EVENT_TYPES",
    "MODEL_VERSION_FAILED",
    "MODEL_VERSION_READY",
    "MODEL_VERSION_REGISTERED",
    "MODEL_VERSION_STATES",
    "MODEL_VERSION_TRANSITIONS",
    "RUN_CANCELLED",
    "RUN_EVENT_TYPES",
    "RUN_FAILED",
    "RUN_FINISHED",
    "RUN_QUEUED",
    "RUN_STARTED",
    "RUN_STATES",
    "RUN_SUCCEEDED",
    "RUN_TRANSITIONS",
    "SIGNAL_RECEIVED",
    "SNAPSHOT_CREATED",
    "STEP_DONE",
    "STEP_NOT_RUN",
    "STEP_STATES",
    "STEP_TRANSITIONS",
    "STEP_UNSUCCESSFUL",
    "STORE_RETRY_BACKOFF",
    "STORE_RETRY_MAX_DELAY",
    "TRIAL_STATES",
    "VALIDATION_FAILED",
    "VALIDATION_PASSED",
    "AlertDeliveryStatus",
    "AlreadyExistsError",
    "ArtifactError",
    "ArtifactSettings",
    "ArtifactStoreFullError",
    "AttemptStatus",
    "AutomateSettings",
    "CheckedURL",
    "ChecksumMismatchError",
    "ClaimStatus",
    "Config",
    "ConfigError",
    "ConflictError",
    "ConveyorError",
    "DataSourceError",
    "DataValidationError",
    "ExecutorSettings",
    "FeaturesSettings",
    "InvalidNameError",
    "InvalidValueError",
    "ModelVersionStatus",
    "NotFittedError",
    "NotFoundError",
    "NotifyChannelSettings",
    "NotifySettings",
    "OutboundPolicy",
    "PipelineDefinitionError",
    "PipelinesSettings",
    "ProjectNotFoundError",
    "ProjectSettings",
    "PromotionRefusedError",
    "RegistrySettings",
    "Resolver",
    "RunStatus",
    "SignatureMismatchError",
    "StaleAttemptError",
    "StepContextError",
    "StepFailedError",
    "StepStatus",
    "StepTimeoutError",
    "StoreError",
    "StoreSettings",
    "StoreUnavailableError",
    "StoreVersionError",
    "TrainSettings",
    "TrialStatus",
    "TriggerSettings",
    "UnsafeArchiveError",
    "UnsafeURLError",
    "UntrustedModelError",
    "blocked_range",
    "can_move",
    "canonical_json",
    "check_relative_path",
    "check_target",
    "check_url",
    "did_you_mean",
    "lease_problem",
    "legacy_ipv4",
    "now_ms",
    "parse_digest",
    "parse_duration",
    "parse_networks",
    "pause_point",
    "redact_url",
    "safe_join",
    "settings_reference",
    "sha256_bytes",
    "sha256_file",
    "sha256_json",
    "sha256_stream",
    "sources",
    "utcnow",
    "validate_name",
    "webhook_secret_problem",
    "worst_store_call",
]
