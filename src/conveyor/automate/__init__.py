"""The closed loop: triggers that start pipelines, the policies that gate promotion and
rollback, and the controller that runs them.

Services over a :class:`~conveyor.workspace.Workspace`; the CLI, the REST API and the UI
call these, never the store.
"""

from __future__ import annotations

from ._controller import Controller as Controller
from ._controller import Tick as Tick
from ._controller import controller_name as controller_name
from ._firing import FIRING_TAG as FIRING_TAG
from ._firing import REASON_TAG as REASON_TAG
from ._firing import TRIGGER_TAG as TRIGGER_TAG
from ._firing import Firing as Firing
from ._firing import fire_triggers as fire_triggers
from ._firing import sync_triggers as sync_triggers
from ._firing import trigger_history as trigger_history
from ._firing import trigger_now as trigger_now
from ._rollback import Verdict as Verdict
from ._rollback import judge_promotions as judge_promotions
from ._rollback import worse_beyond_margin as worse_beyond_margin
from ._triggers import TRIGGER_KINDS as TRIGGER_KINDS
from ._triggers import TriggerKind as TriggerKind
from ._triggers import check_trigger_kind as check_trigger_kind
from ._triggers import get_trigger as get_trigger
from ._triggers import set_trigger as set_trigger

__all__ = [
    "FIRING_TAG",
    "REASON_TAG",
    "TRIGGER_KINDS",
    "TRIGGER_TAG",
    "Controller",
    "Firing",
    "Tick",
    "TriggerKind",
    "Verdict",
    "check_trigger_kind",
    "controller_name",
    "fire_triggers",
    "get_trigger",
    "judge_promotions",
    "set_trigger",
    "sync_triggers",
    "trigger_history",
    "trigger_now",
    "worse_beyond_margin",
]
