"""The automation records: typed, immutable, never SQLAlchemy rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ...core import ClaimStatus
    from ..runs import RunRecord

from .._record import Record


@dataclass(frozen=True, slots=True)
class TriggerRecord(Record):
    id: int
    name: str
    kind: str
    pipeline: str
    config: dict[str, Any]
    timezone: str
    next_fire_at: int | None
    enabled: bool
    created_at: int


@dataclass(frozen=True, slots=True)
class TriggerClaimRecord(Record):
    """One firing of a trigger and who holds it.

    ``attempt`` is the fencing token: it grows each time another controller takes the
    firing over after the holder's lease (``lease_expires_at``) lapsed, and the holder
    passes it to ``start_claim`` / ``set_claim_status``.
    """

    id: int
    trigger_id: int
    window_key: str
    status: ClaimStatus
    claimed_by: str
    attempt: int
    lease_expires_at: int | None
    reason: str
    claimed_at: int


@dataclass(frozen=True, slots=True)
class ClaimResult:
    """The outcome of :func:`claim_trigger`: ``won`` for exactly one holder of a firing at
    a time; a loser gets ``won=False`` and the holder's claim, never an error."""

    won: bool
    claim: TriggerClaimRecord


@dataclass(frozen=True, slots=True)
class ClaimStart:
    """The outcome of ``start_claim_unless_busy``: the firing's run, or None when the
    firing was coalesced (``claim.reason`` says into what)."""

    run: RunRecord | None
    claim: TriggerClaimRecord
