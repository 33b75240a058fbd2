"""The alert: what happened, how bad it is, and what a person needs to act on it."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, get_args

from ..core import EVENT_PREFIX, InvalidValueError, now_ms

Severity = Literal["info", "warning", "critical"]
SEVERITIES: Final[tuple[Severity, ...]] = get_args(Severity)
_KIND = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
_TITLE_MAX = 200
_KEY_MAX = 256


@dataclass(frozen=True)
class Alert:
    """One alert, sent to every channel whose filter takes it.

    Attributes:
        kind: What happened, ``<noun>.<past-tense verb>`` such as ``drift.detected``,
            ``run.failed``, ``model.promoted``; channels filter on it (``drift.*``), and a
            webhook's CloudEvents type is ``io.conveyor.<kind>``.
        severity: ``info``, ``warning`` or ``critical``.
        title: One line (at most 200 characters).
        text: The details a person reads, in plain text.
        subject: What it is about, e.g. ``models/churn/versions/3`` or ``runs/42``.
        event_id: The event it was made from, if any: each channel alerts on an event once.
        dedupe_key: Alerts with the same key on the same channel within
            ``notify.dedupe_window`` are sent once; default ``<kind>:<subject>``.
        details: JSON data for machines (a webhook's ``data.details``).
        source: The CloudEvents source, ``/projects/<project>/...``; default
            ``/projects/<project>/alerts``.
        time_ms: When it happened (epoch milliseconds); default now.
    """

    kind: str
    severity: Severity
    title: str
    text: str = ""
    subject: str = ""
    event_id: int | None = None
    dedupe_key: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""
    time_ms: int = field(default_factory=now_ms)

    def __post_init__(self) -> None:
        if not isinstance(self.kind, str) or not _KIND.fullmatch(self.kind):
            raise InvalidValueError(
                "An alert's kind must be '<noun>.<past-tense verb>' in lower case, such as "
                f"'drift.detected'. Got {self.kind!r}.",
                hint="Name what happened, e.g. kind='run.failed'.",
            )
        if self.severity not in SEVERITIES:
            raise InvalidValueError(
                f"An alert's severity must be one of {list(SEVERITIES)}. Got {self.severity!r}.",
                hint="Use 'critical' for what needs a person now, 'warning' for what needs "
                "a look, 'info' for the record.",
            )
        if not isinstance(self.title, str) or not self.title.strip():
            raise InvalidValueError(
                "An alert needs a title: one line saying what happened. Got an empty one.",
                hint="For example title='Drift detected on churn@champion'.",
            )
        if len(self.title) > _TITLE_MAX or "\n" in self.title:
            raise InvalidValueError(
                f"An alert's title must be one line of at most {_TITLE_MAX} characters. Got "
                f"{len(self.title)} characters.",
                hint="Put the details in text=.",
            )
        if len(self.key) > _KEY_MAX:
            raise InvalidValueError(
                f"An alert's de-duplication key must be at most {_KEY_MAX} characters. Got "
                f"{len(self.key)}.",
                hint="Pass a shorter dedupe_key=.",
            )
        try:
            json.dumps(dict(self.details), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidValueError(
                f"An alert's details must be JSON (no NaN or infinity): {exc}.",
                hint="Convert the values to str, int, float, bool, None, lists or dicts.",
            ) from None

    @property
    def key(self) -> str:
        """The de-duplication key: ``dedupe_key``, or ``<kind>:<subject>``."""
        return self.dedupe_key or f"{self.kind}:{self.subject}"

    @property
    def type(self) -> str:
        """The CloudEvents type: ``io.conveyor.<kind>``."""
        return EVENT_PREFIX + self.kind

    def summary(self) -> dict[str, Any]:
        """What an alert event records about the alert (never a URL or a secret)."""
        return {
            "kind": self.kind,
            "severity": self.severity,
            "title": self.title,
            "subject": self.subject,
            "source_event_id": self.event_id,
            "dedupe_key": self.key,
        }
