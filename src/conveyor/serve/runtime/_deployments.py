"""Deployments and their strategies: what each strategy means is a serving rule, kept here;
the store records the deployment and the event in one transaction."""

from __future__ import annotations

import random
import zlib
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


class Strategy:
    """How a deployment splits traffic, from its ``strategy`` and ``config``."""

    def __init__(self, kind: str, config: Mapping[str, Any]) -> None:
        self.kind = kind
        self.second_alias: str | None = None
        self.share = 0.0
        if kind in ("canary", "shadow"):
            self.second_alias = str(config.get("second_alias", "challenger"))
        if kind == "canary":
            share = config.get("share", 0.1)
            if not isinstance(share, int | float) or not 0.0 <= share <= 1.0:
                raise InvalidValueError(
                    f"A canary deployment's share must be a number from 0 to 1. Got {share!r}.",
                    hint="e.g. conveyor deployments set NAME --strategy canary --share 0.1",
                )
            self.share = float(share)

    @property
    def second_role(self) -> str | None:
        return self.kind if self.second_alias is not None else None

    def goes_to_canary(self, key: str | None) -> bool:
        """Whether a request (with sticky ``key``, if the client sent one) goes to the canary."""
        if key:
            return zlib.crc32(key.encode()) % 10_000 < self.share * 10_000
        return random.random() < self.share


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
        InvalidValueError: ``strategy`` is not a deployment strategy, or ``config`` is
            not one for it (``second_alias``: the canary's or shadow's alias, default
            ``challenger``; ``share``: the canary's share of requests, 0 to 1, default 0.1).
        NotFoundError: no model ``model`` is registered.
    """
    kind = check_strategy(strategy)
    Strategy(kind, config or {})  # refuses a bad share before anything is written
    return st.upsert_deployment(
        ws.store, name, model=model, alias=alias, strategy=kind, config=config
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
