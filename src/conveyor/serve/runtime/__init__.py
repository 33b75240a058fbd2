"""Deployments and serving: an endpoint bound to ``models:/name@alias`` and the strategy it
rolls out new versions with; the machinery of a server (loaded versions, micro-batching, hot
swap); prediction ids, the prediction log, feedback, and explaining one prediction.

Services over a :class:`~conveyor.workspace.Workspace`; the CLI, the REST API and the UI
call these, never the store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...core._lazy import lazy_attributes
from ._deployments import STRATEGIES as STRATEGIES
from ._deployments import DeploymentStrategy as DeploymentStrategy
from ._deployments import check_strategy as check_strategy
from ._deployments import get_deployment as get_deployment
from ._deployments import list_deployments as list_deployments
from ._deployments import set_deployment as set_deployment
from ._ids import new_prediction_ids as new_prediction_ids
from ._ids import prediction_time_ms as prediction_time_ms

if TYPE_CHECKING:
    from ._batcher import Answer as Answer
    from ._batcher import Batcher as Batcher
    from ._explain import LOG_COLUMNS as LOG_COLUMNS
    from ._explain import PredictionExplanation as PredictionExplanation
    from ._explain import explain_prediction as explain_prediction
    from ._explain import latest_predictions as latest_predictions
    from ._explain import prediction_log_table as prediction_log_table
    from ._explain import read_segment as read_segment
    from ._feedback import FEEDBACK_FORMATS as FEEDBACK_FORMATS
    from ._feedback import FeedbackResult as FeedbackResult
    from ._feedback import ingest_feedback as ingest_feedback
    from ._feedback import record_feedback as record_feedback
    from ._inputs import MAX_ERRORS as MAX_ERRORS
    from ._inputs import Batch as Batch
    from ._inputs import FieldError as FieldError
    from ._inputs import InputError as InputError
    from ._inputs import conform as conform
    from ._inputs import conform_matrix as conform_matrix
    from ._live import LiveDeployment as LiveDeployment
    from ._live import SwapFailed as SwapFailed
    from ._loaded import Enrichment as Enrichment
    from ._loaded import LoadedVersion as LoadedVersion
    from ._predlog import SEGMENT_FORMAT as SEGMENT_FORMAT
    from ._predlog import LogChunk as LogChunk
    from ._predlog import PredictionLog as PredictionLog

# The server's machinery, the prediction log and its readers need numpy and pyarrow:
# imported on first use.
_LAZY = {
    **dict.fromkeys(["Answer", "Batcher"], "._batcher"),
    **dict.fromkeys(
        ["MAX_ERRORS", "Batch", "FieldError", "InputError", "conform", "conform_matrix"],
        "._inputs",
    ),
    **dict.fromkeys(["LiveDeployment", "SwapFailed"], "._live"),
    **dict.fromkeys(["Enrichment", "LoadedVersion"], "._loaded"),
    **dict.fromkeys(
        [
            "LOG_COLUMNS",
            "PredictionExplanation",
            "explain_prediction",
            "latest_predictions",
            "prediction_log_table",
            "read_segment",
        ],
        "._explain",
    ),
    **dict.fromkeys(
        ["FEEDBACK_FORMATS", "FeedbackResult", "ingest_feedback", "record_feedback"],
        "._feedback",
    ),
    **dict.fromkeys(["SEGMENT_FORMAT", "LogChunk", "PredictionLog"], "._predlog"),
}

__all__ = [
    "FEEDBACK_FORMATS",
    "LOG_COLUMNS",
    "MAX_ERRORS",
    "SEGMENT_FORMAT",
    "STRATEGIES",
    "Answer",
    "Batch",
    "Batcher",
    "DeploymentStrategy",
    "Enrichment",
    "FeedbackResult",
    "FieldError",
    "InputError",
    "LiveDeployment",
    "LoadedVersion",
    "LogChunk",
    "PredictionExplanation",
    "PredictionLog",
    "SwapFailed",
    "check_strategy",
    "conform",
    "conform_matrix",
    "explain_prediction",
    "get_deployment",
    "ingest_feedback",
    "latest_predictions",
    "list_deployments",
    "new_prediction_ids",
    "prediction_log_table",
    "prediction_time_ms",
    "read_segment",
    "record_feedback",
    "set_deployment",
]

__getattr__ = lazy_attributes(__name__, _LAZY, globals())
