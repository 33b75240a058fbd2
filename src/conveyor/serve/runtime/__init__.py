"""Deployments: an endpoint bound to ``models:/name@alias`` and the strategy it rolls out
new versions with; and the rules a prediction request's data must follow (the model's
signature, MLflow's way) before the model sees it.

Services over a :class:`~conveyor.workspace.Workspace`; the CLI, the REST API and the UI
call these, never the store.
"""

from __future__ import annotations

from ._deployments import STRATEGIES as STRATEGIES
from ._deployments import DeploymentStrategy as DeploymentStrategy
from ._deployments import check_strategy as check_strategy
from ._deployments import list_deployments as list_deployments
from ._deployments import set_deployment as set_deployment
from ._inputs import MAX_ERRORS as MAX_ERRORS
from ._inputs import Batch as Batch
from ._inputs import FieldError as FieldError
from ._inputs import InputError as InputError
from ._inputs import check_rows as check_rows
from ._inputs import conform as conform
from ._inputs import conform_matrix as conform_matrix
from ._inputs import field_name as field_name
from ._inputs import input_error as input_error
from ._inputs import signature_inputs as signature_inputs
from ._inputs import signature_names as signature_names

__all__ = [
    "MAX_ERRORS",
    "STRATEGIES",
    "Batch",
    "DeploymentStrategy",
    "FieldError",
    "InputError",
    "check_rows",
    "check_strategy",
    "conform",
    "conform_matrix",
    "field_name",
    "input_error",
    "list_deployments",
    "set_deployment",
    "signature_inputs",
    "signature_names",
]
