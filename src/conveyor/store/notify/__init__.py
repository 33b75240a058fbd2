"""Alert deliveries (claims, de-duplication keys, rate windows), the alert dispatchers'
cursors, and the alerts received from outside."""

from __future__ import annotations

from ._alerts import advance_alert_cursor as advance_alert_cursor
from ._alerts import claim_alert_delivery as claim_alert_delivery
from ._alerts import finish_alert_delivery as finish_alert_delivery
from ._alerts import get_alert_cursor as get_alert_cursor
from ._alerts import list_alert_deliveries as list_alert_deliveries
from ._records import AlertClaim as AlertClaim
from ._records import AlertClaimDecision as AlertClaimDecision
from ._records import AlertClaimOutcome as AlertClaimOutcome
from ._records import AlertClaimState as AlertClaimState
from ._records import AlertDeliveryRecord as AlertDeliveryRecord
from ._signals import record_signal as record_signal

__all__ = [
    "AlertClaim",
    "AlertClaimDecision",
    "AlertClaimOutcome",
    "AlertClaimState",
    "AlertDeliveryRecord",
    "advance_alert_cursor",
    "claim_alert_delivery",
    "finish_alert_delivery",
    "get_alert_cursor",
    "list_alert_deliveries",
    "record_signal",
]
