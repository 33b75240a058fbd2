"""Triggers: what starts a pipeline run, and which kinds of event exist.

The kinds are a domain rule and live here; the store keeps whatever kind this package
checked, and claims each firing exactly once whatever its kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, Literal, get_args

from .. import store as st
from ..core import InvalidValueError, did_you_mean

if TYPE_CHECKING:
    from ..store import TriggerRecord
    from ..workspace import Workspace

TriggerKind = Literal["schedule", "new_data", "drift", "decay", "manual", "webhook"]
TRIGGER_KINDS: Final[tuple[TriggerKind, ...]] = get_args(TriggerKind)


def check_trigger_kind(kind: str) -> TriggerKind:
    """``kind`` if it is a trigger kind, else :class:`InvalidValueError` saying which exist."""
    if kind not in TRIGGER_KINDS:
        raise InvalidValueError(
            f"A trigger's kind must be one of {', '.join(map(repr, TRIGGER_KINDS))}. Got "
            f"{kind!r}.{did_you_mean(str(kind), TRIGGER_KINDS)}",
            hint="Pick the kind of event that should start the pipeline.",
            kind=kind,
        )
    return kind


def set_trigger(
    ws: Workspace,
    name: str,
    *,
    kind: str,
    pipeline: str,
    config: Mapping[str, Any] | None = None,
    timezone: str = "UTC",
    enabled: bool = True,
) -> TriggerRecord:
    """Create or update trigger ``name``, which starts ``pipeline`` when its event happens.

    Raises:
        InvalidValueError: ``kind`` is not a trigger kind.
        InvalidNameError: ``name`` has characters a name may not have.
    """
    return st.upsert_trigger(
        ws.store,
        name,
        kind=check_trigger_kind(kind),
        pipeline=pipeline,
        config=config,
        timezone=timezone,
        enabled=enabled,
    )


def get_trigger(ws: Workspace, name: str) -> TriggerRecord:
    """Trigger ``name`` of this project.

    Raises:
        NotFoundError: there is no trigger by that name.
    """
    return st.get_trigger(ws.store, name)
