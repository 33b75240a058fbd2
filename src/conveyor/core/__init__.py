"""Configuration, errors, names and paths, hashing, durations and the clock.

The bottom layer: it imports nothing else of conveyor's and no ML or web library.
"""

from __future__ import annotations

from ._clock import now_ms as now_ms
from ._clock import utcnow as utcnow
from ._config import CONFIG_FILE as CONFIG_FILE
from ._config import ArtifactSettings as ArtifactSettings
from ._config import Config as Config
from ._config import ExecutorSettings as ExecutorSettings
from ._config import PipelinesSettings as PipelinesSettings
from ._config import ProjectSettings as ProjectSettings
from ._config import StoreSettings as StoreSettings
from ._config import settings_reference as settings_reference
from ._durations import parse_duration as parse_duration
from ._errors import AlreadyExistsError as AlreadyExistsError
from ._errors import ArtifactError as ArtifactError
from ._errors import ArtifactStoreFullError as ArtifactStoreFullError
from ._errors import ChecksumMismatchError as ChecksumMismatchError
from ._errors import ConfigError as ConfigError
from ._errors import ConflictError as ConflictError
from ._errors import ConveyorError as ConveyorError
from ._errors import InvalidNameError as InvalidNameError
from ._errors import InvalidValueError as InvalidValueError
from ._errors import NotFoundError as NotFoundError
from ._errors import PipelineDefinitionError as PipelineDefinitionError
from ._errors import ProjectNotFoundError as ProjectNotFoundError
from ._errors import StaleAttemptError as StaleAttemptError
from ._errors import StepFailedError as StepFailedError
from ._errors import StepTimeoutError as StepTimeoutError
from ._errors import StoreError as StoreError
from ._errors import StoreUnavailableError as StoreUnavailableError
from ._errors import StoreVersionError as StoreVersionError
from ._errors import UnsafeArchiveError as UnsafeArchiveError
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
from ._pause import pause_point as pause_point
from ._states import CLAIM_TRANSITIONS as CLAIM_TRANSITIONS
from ._states import ClaimStatus as ClaimStatus
from ._states import claim_sources as claim_sources

__all__ = [
    "CLAIM_TRANSITIONS",
    "CONFIG_FILE",
    "AlreadyExistsError",
    "ArtifactError",
    "ArtifactSettings",
    "ArtifactStoreFullError",
    "ChecksumMismatchError",
    "ClaimStatus",
    "Config",
    "ConfigError",
    "ConflictError",
    "ConveyorError",
    "ExecutorSettings",
    "InvalidNameError",
    "InvalidValueError",
    "NotFoundError",
    "PipelineDefinitionError",
    "PipelinesSettings",
    "ProjectNotFoundError",
    "ProjectSettings",
    "StaleAttemptError",
    "StepFailedError",
    "StepTimeoutError",
    "StoreError",
    "StoreSettings",
    "StoreUnavailableError",
    "StoreVersionError",
    "UnsafeArchiveError",
    "canonical_json",
    "check_relative_path",
    "claim_sources",
    "did_you_mean",
    "now_ms",
    "parse_digest",
    "parse_duration",
    "pause_point",
    "redact_url",
    "safe_join",
    "settings_reference",
    "sha256_bytes",
    "sha256_file",
    "sha256_json",
    "sha256_stream",
    "utcnow",
    "validate_name",
]
