"""Deployments and serving: an endpoint bound to ``models:/name@alias``, the strategy it
rolls out new versions with, and the machinery of a server (loaded versions, micro-batching,
hot swap, the prediction log).

Services over a :class:`~conveyor.workspace.Workspace`; the CLI, the REST API and the UI
call these, never the store.
"""

from __future__ import annotations

from ._batcher import Answer as Answer
from ._batcher import Batcher as Batcher
from ._deployments import STRATEGIES as STRATEGIES
from ._deployments import DeploymentStrategy as DeploymentStrategy
from ._deployments import check_strategy as check_strategy
from ._deployments import get_deployment as get_deployment
from ._deployments import list_deployments as list_deployments
from ._deployments import set_deployment as set_deployment
from ._inputs import Batch as Batch
from ._live import LiveDeployment as LiveDeployment
from ._live import SwapFailed as SwapFailed
from ._loaded import LoadedVersion as LoadedVersion

__all__ = [
    "STRATEGIES",
    "Answer",
    "Batch",
    "Batcher",
    "DeploymentStrategy",
    "LiveDeployment",
    "LoadedVersion",
    "SwapFailed",
    "check_strategy",
    "get_deployment",
    "list_deployments",
    "set_deployment",
]
