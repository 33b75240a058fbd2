"""Notifications: alerts delivered to the channels people already read (log, signed
CloudEvents webhooks, Slack, email), rate-limited, de-duplicated and retried; and alerts
received from Alertmanager or Grafana.

Services over a :class:`~conveyor.workspace.Workspace`; the CLI and the prediction server
call these, never the store.
"""

from __future__ import annotations

from ._alert import SEVERITIES as SEVERITIES
from ._alert import Alert as Alert
from ._alert import Severity as Severity
from ._channels import ALERT_LOGGER as ALERT_LOGGER
from ._channels import build_channel as build_channel
from ._dispatch import ALERTED_EVENTS as ALERTED_EVENTS
from ._dispatch import DispatchResult as DispatchResult
from ._dispatch import alert_for_event as alert_for_event
from ._dispatch import dispatch_alerts as dispatch_alerts
from ._envelope import CLOUDEVENTS_CONTENT_TYPE as CLOUDEVENTS_CONTENT_TYPE
from ._envelope import cloudevent as cloudevent
from ._envelope import sign as sign
from ._envelope import slack_body as slack_body
from ._policy import ClaimRules as ClaimRules
from ._policy import RetryPolicy as RetryPolicy
from ._policy import TryResult as TryResult
from ._service import Delivery as Delivery
from ._service import list_alert_events as list_alert_events
from ._service import send_alert as send_alert
from ._service import send_test_alert as send_test_alert
from ._signals import SignalReceipt as SignalReceipt
from ._signals import parse_alertmanager as parse_alertmanager
from ._signals import receive_alertmanager as receive_alertmanager

__all__ = [
    "ALERTED_EVENTS",
    "ALERT_LOGGER",
    "CLOUDEVENTS_CONTENT_TYPE",
    "SEVERITIES",
    "Alert",
    "ClaimRules",
    "Delivery",
    "DispatchResult",
    "RetryPolicy",
    "Severity",
    "SignalReceipt",
    "TryResult",
    "alert_for_event",
    "build_channel",
    "cloudevent",
    "dispatch_alerts",
    "list_alert_events",
    "parse_alertmanager",
    "receive_alertmanager",
    "send_alert",
    "send_test_alert",
    "sign",
    "slack_body",
]
