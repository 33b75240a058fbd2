"""What each channel sends, built without any I/O: the CloudEvents 1.0 envelope and its
Standard Webhooks signature, the Slack message, the email."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Final

from ._alert import Alert

CLOUDEVENTS_CONTENT_TYPE: Final = "application/cloudevents+json; charset=utf-8"
_SLACK_MARK = {"critical": ":red_circle:", "warning": ":warning:", "info": ":information_source:"}
# Slack's limits: a header block's text, a section's text.
_SLACK_HEADER_MAX, _SLACK_SECTION_MAX = 150, 3000


def rfc3339(ms: int) -> str:
    return (
        datetime.fromtimestamp(ms / 1000, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def cloudevent(alert: Alert, *, id: str, project: str) -> dict[str, Any]:
    """``alert`` as a CloudEvents 1.0 event in structured mode.

    ``type`` is ``io.conveyor.<kind>``, ``source`` the alert's (default
    ``/projects/<project>/alerts``), ``id`` unique within that source (it is also the
    ``webhook-id``, the same for every try of one delivery, so receivers can drop repeats).
    """
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": id,
        "source": alert.source or f"/projects/{project}/alerts",
        "type": alert.type,
        "time": rfc3339(alert.time_ms),
        "datacontenttype": "application/json",
    }
    if alert.subject:
        event["subject"] = alert.subject
    event["data"] = {
        "project": project,
        "kind": alert.kind,
        "severity": alert.severity,
        "title": alert.title,
        "text": alert.text,
        "subject": alert.subject,
        "event_id": alert.event_id,
        "details": dict(alert.details),
    }
    return event


def encode(value: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON: the exact bytes sent, and signed."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def sign(secrets: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header: ``v1,<base64 HMAC-SHA256>`` of
    ``"<msg_id>.<timestamp>.<body>"`` under each ``whsec_`` secret, space-separated (so a
    receiver keeps verifying while the secret rotates)."""
    signatures = []
    for secret in secrets.split():
        key = base64.b64decode(secret.removeprefix("whsec_"))
        mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256)
        signatures.append("v1," + base64.b64encode(mac.digest()).decode())
    return " ".join(signatures)


def webhook_headers(secrets: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers of a signed CloudEvents webhook."""
    return {
        "content-type": CLOUDEVENTS_CONTENT_TYPE,
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secrets, msg_id, timestamp, body),
    }


def message_id(key: bytes, project: str, delivery_id: int) -> str:
    """A delivery's message id: stable across its tries, unique across stores and projects
    (keyed by the project's secret), with no ``.`` (Standard Webhooks)."""
    mac = hmac.new(key, f"{project}\0{delivery_id}".encode(), hashlib.sha256)
    return "msg_" + mac.hexdigest()[:32]


def _slack_escape(text: str) -> str:
    # Slack reads &, < and > as markup (links, mentions): send them as entities.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_body(alert: Alert, *, project: str) -> dict[str, Any]:
    """A Slack incoming-webhook message: ``text`` (the notification's fallback) and
    Block Kit ``blocks`` (a header, the text, and a context line)."""
    mark = _SLACK_MARK[alert.severity]
    title = _slack_escape(alert.title)
    context = [f"*{alert.severity}*", f"`{alert.kind}`", f"project {_slack_escape(project)}"]
    if alert.subject:
        context.insert(2, _slack_escape(alert.subject))
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _cut(alert.title, _SLACK_HEADER_MAX)},
        }
    ]
    if alert.text:
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": _cut(_slack_escape(alert.text), _SLACK_SECTION_MAX),
                },
            }
        )
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(context)}]}
    )
    return {"text": f"{mark} [{alert.severity}] {title}", "blocks": blocks}


def email_message(
    alert: Alert,
    *,
    project: str,
    sender: str,
    to: Sequence[str],
    message_id: str,
) -> EmailMessage:
    """The alert as a plain-text email; its Message-ID is the delivery's, the same on
    every try."""
    message = EmailMessage()
    message["Subject"] = f"[conveyor {project}] {alert.severity.upper()}: {alert.title}"
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Date"] = format_datetime(datetime.fromtimestamp(alert.time_ms / 1000, UTC))
    message["Message-ID"] = f"<{message_id}@{sender.rsplit('@', 1)[-1] or 'conveyor'}>"
    lines = [alert.title, ""]
    if alert.text:
        lines += [alert.text, ""]
    lines += [
        f"Severity: {alert.severity}",
        f"Kind:     {alert.kind} ({alert.type})",
        f"Project:  {project}",
    ]
    if alert.subject:
        lines.append(f"Subject:  {alert.subject}")
    if alert.event_id is not None:
        lines.append(f"Event:    {alert.event_id} (conveyor events --after {alert.event_id - 1})")
    if alert.details:
        lines += ["", "Details:", json.dumps(dict(alert.details), indent=2, sort_keys=True)]
    message.set_content("\n".join(lines) + "\n")
    return message
