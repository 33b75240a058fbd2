"""The types of the events conveyor appends to its log (CloudEvents ``type``).

Named ``io.conveyor.<noun>.<past-tense verb>``; every emitter and every filter uses these
constants, so a type is spelled once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from ._states import ModelVersionStatus, RunStatus

__all__ = [
    "ALERT_FAILED",
    "ALERT_SENT",
    "ALERT_SUPPRESSED",
    "ALIAS_MOVED",
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
    "RUN_CANCELLED",
    "RUN_EVENT_TYPES",
    "RUN_FAILED",
    "RUN_QUEUED",
    "RUN_STARTED",
    "RUN_SUCCEEDED",
    "SIGNAL_RECEIVED",
    "SNAPSHOT_CREATED",
    "VALIDATION_FAILED",
    "VALIDATION_PASSED",
]

EVENT_PREFIX: Final = "io.conveyor."

RUN_QUEUED: Final = "io.conveyor.run.queued"
RUN_STARTED: Final = "io.conveyor.run.started"
RUN_SUCCEEDED: Final = "io.conveyor.run.succeeded"
RUN_FAILED: Final = "io.conveyor.run.failed"
RUN_CANCELLED: Final = "io.conveyor.run.cancelled"
MODEL_VERSION_REGISTERED: Final = "io.conveyor.model_version.registered"
MODEL_VERSION_READY: Final = "io.conveyor.model_version.ready"
MODEL_VERSION_FAILED: Final = "io.conveyor.model_version.failed"
MODEL_VERSION_ARCHIVED: Final = "io.conveyor.model_version.archived"
ALIAS_MOVED: Final = "io.conveyor.alias.moved"
DEPLOYMENT_UPDATED: Final = "io.conveyor.deployment.updated"
# A server switched to a new version (one event per server process), or refused one.
DEPLOYMENT_SWAPPED: Final = "io.conveyor.deployment.swapped"
DEPLOYMENT_FAILED: Final = "io.conveyor.deployment.failed"
SNAPSHOT_CREATED: Final = "io.conveyor.snapshot.created"
VALIDATION_PASSED: Final = "io.conveyor.validation.passed"
VALIDATION_FAILED: Final = "io.conveyor.validation.failed"
# An evaluation's gates passed or failed (the gate decision behind a promotion).
EVALUATION_PASSED: Final = "io.conveyor.evaluation.passed"
EVALUATION_FAILED: Final = "io.conveyor.evaluation.failed"
# Monitoring: a warning level (may start a challenger) and a confirmed drift (asks the gate);
# a drop in live performance measured on labelled predictions.
DRIFT_SUSPECTED: Final = "io.conveyor.drift.suspected"
DRIFT_DETECTED: Final = "io.conveyor.drift.detected"
DECAY_DETECTED: Final = "io.conveyor.decay.detected"
# Notifications: one event per alert delivered, given up on, or held back (a duplicate
# within the de-duplication window, or over the channel's rate limit) per channel; an alert
# from outside (Alertmanager, Grafana) posted to conveyor.
ALERT_SENT: Final = "io.conveyor.alert.sent"
ALERT_FAILED: Final = "io.conveyor.alert.failed"
ALERT_SUPPRESSED: Final = "io.conveyor.alert.suppressed"
SIGNAL_RECEIVED: Final = "io.conveyor.signal.received"

# The event a run emits on entering each state.
RUN_EVENT_TYPES: Final[Mapping[RunStatus, str]] = {
    "queued": RUN_QUEUED,
    "running": RUN_STARTED,
    "succeeded": RUN_SUCCEEDED,
    "failed": RUN_FAILED,
    "cancelled": RUN_CANCELLED,
}

# The event a model version emits on entering each status (registration aside).
MODEL_VERSION_EVENT_TYPES: Final[Mapping[ModelVersionStatus, str]] = {
    "ready": MODEL_VERSION_READY,
    "failed": MODEL_VERSION_FAILED,
    "archived": MODEL_VERSION_ARCHIVED,
}
