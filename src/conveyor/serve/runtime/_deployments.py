"""Deployments and their strategies: what each strategy means is a serving rule, kept here;
the store records the deployment and the event in one transaction."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, Literal, get_args

from ... import store as st
from ...core import InvalidValueError, did_you_mean

if TYPE_CHECKING:
    from ...store import DeploymentRecord
    from ...workspace import Workspace

# replace: the alias's new version takes all traffic once it is warm. canary: a share of
# traffic goes to the challenger. shadow: the challenger sees a copy of the traffic and its
# answers are logged, never returned.
DeploymentStrategy = Literal["replace", "canary", "shadow"]
STRATEGIES: Final[tuple[DeploymentStrategy, ...]] = get_args(DeploymentStrategy)


def check_strategy(strategy: str) -> DeploymentStrategy:
    """``strategy`` if it is a deployment strategy, else :class:`InvalidValueError`."""
    if strategy not in STRATEGIES:
        raise InvalidValueError(
            f"A deployment's strategy must be 'replace', 'canary' or 'shadow'. Got "
            f"{strategy!r}.{did_you_mean(str(strategy), STRATEGIES)}",
            hint="Use 'replace' to swap versions, 'canary' or 'shadow' to try one on traffic.",
            strategy=strategy,
        )
    return strategy


def set_deployment(
    ws: Workspace,
    name: str,
    *,
    model: str,
    alias: str = "champion",
    strategy: str = "replace",
    config: Mapping[str, Any] | None = None,
) -> DeploymentRecord:
    """Create or update deployment ``name``, serving ``models:/model@alias``.

    Raises:
        InvalidValueError: ``strategy`` is not a deployment strategy.
        NotFoundError: no model ``model`` is registered.
    """
    return st.upsert_deployment(
        ws.store, name, model=model, alias=alias, strategy=check_strategy(strategy), config=config
    )


def list_deployments(ws: Workspace) -> list[DeploymentRecord]:
    """This project's deployments, by name."""
    return st.list_deployments(ws.store)


def get_deployment(ws: Workspace, name: str) -> DeploymentRecord:
    """Deployment ``name``.

    Raises:
        NotFoundError: no such deployment (the hint says how to create one).
    """
    return st.get_deployment(ws.store, name)
