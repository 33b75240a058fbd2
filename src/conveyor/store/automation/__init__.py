"""Triggers and their firings (claims), each started as exactly one run."""

from __future__ import annotations

from ._records import ClaimResult as ClaimResult
from ._records import ClaimStart as ClaimStart
from ._records import TriggerClaimRecord as TriggerClaimRecord
from ._records import TriggerRecord as TriggerRecord
from ._triggers import claim_lapsed as claim_lapsed
from ._triggers import claim_trigger as claim_trigger
from ._triggers import get_trigger as get_trigger
from ._triggers import list_claims as list_claims
from ._triggers import renew_claim as renew_claim
from ._triggers import set_claim_status as set_claim_status
from ._triggers import start_claim as start_claim
from ._triggers import start_claim_unless_busy as start_claim_unless_busy
from ._triggers import upsert_trigger as upsert_trigger

__all__ = [
    "ClaimResult",
    "ClaimStart",
    "TriggerClaimRecord",
    "TriggerRecord",
    "claim_lapsed",
    "claim_trigger",
    "get_trigger",
    "list_claims",
    "renew_claim",
    "set_claim_status",
    "start_claim",
    "start_claim_unless_busy",
    "upsert_trigger",
]
