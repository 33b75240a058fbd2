"""The model registry: named models, immutable signed versions in safe formats, aliases
moved under a promotion policy, signed evaluations, and lineage.

Services over a :class:`~conveyor.workspace.Workspace`; the CLI, the REST API and the UI
call these, never the store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core._lazy import lazy_attributes
from ._manifest import FLAVORS as FLAVORS
from ._manifest import MANIFEST_NAME as MANIFEST_NAME
from ._manifest import ModelManifest as ModelManifest
from ._manifest import parse_manifest as parse_manifest
from ._model import Model as Model
from ._uris import ModelRef as ModelRef
from ._uris import parse_model_uri as parse_model_uri

if TYPE_CHECKING:
    from ._evaluations import list_evaluations as list_evaluations
    from ._evaluations import record_evaluation as record_evaluation
    from ._evaluations import verify_evaluation as verify_evaluation
    from ._lightgbm import LightGBMModel as LightGBMModel
    from ._lineage import lineage as lineage
    from ._promotion import AliasMove as AliasMove
    from ._promotion import alias_history as alias_history
    from ._promotion import promote as promote
    from ._promotion import rollback as rollback
    from ._services import ModelSummary as ModelSummary
    from ._services import estimator_params as estimator_params
    from ._services import get_model as get_model
    from ._services import list_models as list_models
    from ._services import list_versions as list_versions
    from ._services import load_model as load_model
    from ._services import model_aliases as model_aliases
    from ._services import register_model as register_model
    from ._signature import infer_signature as infer_signature
    from ._signing import report_digest as report_digest

# The services reach the store (SQLAlchemy): imported on first use, so ``from conveyor
# import Model`` in a pipeline module stays light.
_LAZY = {
    **dict.fromkeys(
        ["list_evaluations", "record_evaluation", "verify_evaluation"], "._evaluations"
    ),
    "LightGBMModel": "._lightgbm",
    "lineage": "._lineage",
    **dict.fromkeys(["AliasMove", "alias_history", "promote", "rollback"], "._promotion"),
    **dict.fromkeys(
        [
            "ModelSummary",
            "estimator_params",
            "get_model",
            "list_models",
            "list_versions",
            "load_model",
            "model_aliases",
            "register_model",
        ],
        "._services",
    ),
    "infer_signature": "._signature",
    "report_digest": "._signing",
}


__getattr__ = lazy_attributes(__name__, _LAZY, globals())


__all__ = [
    "FLAVORS",
    "MANIFEST_NAME",
    "AliasMove",
    "LightGBMModel",
    "Model",
    "ModelManifest",
    "ModelRef",
    "ModelSummary",
    "alias_history",
    "estimator_params",
    "get_model",
    "infer_signature",
    "lineage",
    "list_evaluations",
    "list_models",
    "list_versions",
    "load_model",
    "model_aliases",
    "parse_manifest",
    "parse_model_uri",
    "promote",
    "record_evaluation",
    "register_model",
    "report_digest",
    "rollback",
    "verify_evaluation",
]
