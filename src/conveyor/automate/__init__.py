"""The closed loop: triggers that start pipelines, the policies that gate promotion and
rollback, and the controller that runs them.

Services over a :class:`~conveyor.workspace.Workspace`; the CLI, the REST API and the UI
call these, never the store.
"""

from __future__ import annotations

from ._triggers import TRIGGER_KINDS as TRIGGER_KINDS
from ._triggers import TriggerKind as TriggerKind
from ._triggers import check_trigger_kind as check_trigger_kind
from ._triggers import get_trigger as get_trigger
from ._triggers import set_trigger as set_trigger

__all__ = [
    "TRIGGER_KINDS",
    "TriggerKind",
    "check_trigger_kind",
    "get_trigger",
    "set_trigger",
]
