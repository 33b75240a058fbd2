"""Notifications: alerts delivered to the channels people already read (log, signed
CloudEvents webhooks, Slack, email), rate-limited, de-duplicated and retried."""

from __future__ import annotations

__all__: list[str] = []
