"""The notify records: typed, immutable, never SQLAlchemy rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from ...core import AlertDeliveryStatus

from .._record import Record

AlertClaimOutcome = Literal["send", "duplicate", "rate_limited", "done"]


@dataclass(frozen=True, slots=True)
class AlertDeliveryRecord(Record):
    """One alert on one channel.

    ``claims`` is the fencing token the sender passes to ``finish_alert_delivery``; it
    grows when another process takes a lapsed ``sending`` delivery over.
    """

    id: int
    channel: str
    event_id: int | None
    kind: str
    dedupe_key: str
    status: AlertDeliveryStatus
    reason: str
    attempts: int
    status_code: int | None
    claims: int
    claimed_at: int
    created_at: int
    finished_at: int | None


@dataclass(frozen=True, slots=True)
class AlertClaimState:
    """What a claim is decided on, read inside the claim's transaction under the
    channel's lock: the time, when the alert's de-duplication key was last let through on
    the channel (None: never, or that delivery failed), and the channel's rate window."""

    now: int
    last_sent_at: int | None
    window_started_at: int | None
    n_in_window: int


@dataclass(frozen=True, slots=True)
class AlertClaimDecision:
    """A claim's verdict and the channel's rate window after it."""

    outcome: Literal["send", "duplicate", "rate_limited"]
    window_started_at: int | None
    n_in_window: int
    reason: str = ""


@dataclass(frozen=True, slots=True)
class AlertClaim:
    """The outcome of ``claim_alert_delivery``: ``send`` (the caller holds the delivery
    and sends it), ``duplicate`` or ``rate_limited`` (recorded as suppressed), or
    ``done`` (the event was already handled on this channel, or another live process is
    sending it)."""

    outcome: AlertClaimOutcome
    delivery: AlertDeliveryRecord
