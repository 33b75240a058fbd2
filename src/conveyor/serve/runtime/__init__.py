"""Deployments: an endpoint bound to ``models:/name@alias`` and the strategy it rolls out
new versions with.

Services over a :class:`~conveyor.workspace.Workspace`; the CLI, the REST API and the UI
call these, never the store.
"""

from __future__ import annotations

from ._deployments import STRATEGIES as STRATEGIES
from ._deployments import DeploymentStrategy as DeploymentStrategy
from ._deployments import check_strategy as check_strategy
from ._deployments import list_deployments as list_deployments
from ._deployments import set_deployment as set_deployment

__all__ = [
    "STRATEGIES",
    "DeploymentStrategy",
    "check_strategy",
    "list_deployments",
    "set_deployment",
]
