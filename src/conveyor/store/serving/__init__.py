"""Deployments: endpoints bound to a model alias; the index of their prediction logs and
the feedback labels of their predictions."""

from __future__ import annotations

from ._deployments import get_deployment as get_deployment
from ._deployments import list_deployments as list_deployments
from ._deployments import upsert_deployment as upsert_deployment
from ._predictions import find_prediction_segments as find_prediction_segments
from ._predictions import list_feedback as list_feedback
from ._predictions import list_prediction_segments as list_prediction_segments
from ._predictions import record_prediction_segment as record_prediction_segment
from ._predictions import upsert_feedback as upsert_feedback
from ._records import DeploymentRecord as DeploymentRecord
from ._records import FeedbackRecord as FeedbackRecord
from ._records import PredictionSegmentRecord as PredictionSegmentRecord

__all__ = [
    "DeploymentRecord",
    "FeedbackRecord",
    "PredictionSegmentRecord",
    "find_prediction_segments",
    "get_deployment",
    "list_deployments",
    "list_feedback",
    "list_prediction_segments",
    "record_prediction_segment",
    "upsert_deployment",
    "upsert_feedback",
]
