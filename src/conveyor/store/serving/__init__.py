"""Deployments: endpoints bound to a model alias."""

from __future__ import annotations

from ._deployments import get_deployment as get_deployment
from ._deployments import list_deployments as list_deployments
from ._deployments import upsert_deployment as upsert_deployment
from ._records import DeploymentRecord as DeploymentRecord

__all__ = [
    "DeploymentRecord",
    "get_deployment",
    "list_deployments",
    "upsert_deployment",
]
