"""Models, their dense versions, aliases that move atomically, and signed evaluations."""

from __future__ import annotations

from ._evaluations import get_evaluation as get_evaluation
from ._evaluations import list_evaluations as list_evaluations
from ._evaluations import record_evaluation as record_evaluation
from ._records import AliasMoveRecord as AliasMoveRecord
from ._records import EvaluationRecord as EvaluationRecord
from ._records import ModelRecord as ModelRecord
from ._records import ModelVersionRecord as ModelVersionRecord
from ._registry import alias_history as alias_history
from ._registry import find_model_id as find_model_id
from ._registry import get_model as get_model
from ._registry import get_model_version as get_model_version
from ._registry import list_aliases as list_aliases
from ._registry import list_model_versions as list_model_versions
from ._registry import list_models as list_models
from ._registry import move_alias as move_alias
from ._registry import register_model_version as register_model_version
from ._registry import resolve_alias as resolve_alias
from ._registry import set_model_version_status as set_model_version_status

__all__ = [
    "AliasMoveRecord",
    "EvaluationRecord",
    "ModelRecord",
    "ModelVersionRecord",
    "alias_history",
    "find_model_id",
    "get_evaluation",
    "get_model",
    "get_model_version",
    "list_aliases",
    "list_evaluations",
    "list_model_versions",
    "list_models",
    "move_alias",
    "record_evaluation",
    "register_model_version",
    "resolve_alias",
    "set_model_version_status",
]
