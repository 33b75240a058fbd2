"""Sending an alert: to every channel whose filter takes it, once per key and window,
within the channel's rate limit, retried with back-off, each delivery recorded as an event.

Per channel: a claim in the store decides (``ClaimRules``) and records the delivery, so
processes sharing a store share the de-duplication and the limit, and an event's alert goes
out once per channel however many dispatchers read it; the holder then tries
(``RetryPolicy``) and records the outcome with its ``io.conveyor.alert.sent`` or
``.failed`` event. Channels are served in parallel, so a slow one delays no other.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

from .. import store as st
from ..core import (
    ALERT_FAILED,
    ALERT_SENT,
    ALERT_SUPPRESSED,
    ConveyorError,
    NotFoundError,
    Resolver,
    UnsafeURLError,
    did_you_mean,
)
from ._alert import Alert
from ._channels import build_channel
from ._envelope import message_id
from ._policy import ClaimRules, RetryPolicy, TryResult, takes

if TYPE_CHECKING:
    from ..workspace import Workspace

log = logging.getLogger(__name__)
DeliveryOutcome = Literal["sent", "failed", "duplicate", "rate_limited", "done", "taken_over"]
# Beyond its retries, how long a sender may hold a delivery before another process may
# take it over (it presumably died).
_LEASE_MARGIN = 30.0
_ALERT_TYPES = (ALERT_SENT, ALERT_FAILED, ALERT_SUPPRESSED)


@dataclass(frozen=True)
class Delivery:
    """What became of an alert on one channel.

    Attributes:
        channel: The channel's name.
        outcome: ``sent``, ``failed``, ``duplicate`` or ``rate_limited`` (held back, and
            recorded as suppressed), ``done`` (this event was already alerted on this
            channel, or another process is sending it), or ``taken_over`` (another process
            took the delivery over while this one was still trying).
        attempts: Tries made.
        status_code: The last HTTP status or SMTP reply code, if any.
        reason: Why it failed or was held back; never a URL or a secret.
        delivery_id: The delivery's id in the store.
    """

    channel: str
    outcome: DeliveryOutcome
    attempts: int = 0
    status_code: int | None = None
    reason: str = ""
    delivery_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def send_alert(
    ws: Workspace,
    alert: Alert,
    *,
    channels: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    resolver: Resolver | None = None,
) -> list[Delivery]:
    """Send ``alert`` to every configured channel whose filter takes it (or to the
    ``channels`` named, whatever their filters); one :class:`Delivery` per channel.

    Args:
        env: Where channels read the secrets they name (default: the process environment).
        resolver: Resolves host names for the URL guard (default: the system's).

    Raises:
        NotFoundError: a channel named is not configured.

    Example:
        >>> send_alert(ws, Alert("run.failed", "critical", "Run 42 failed"))  # doctest: +SKIP
        [Delivery(channel='ops', outcome='sent', attempts=1, status_code=200, ...)]
    """
    configured = ws.config.notify.channels
    if channels is None:
        names = [name for name, channel in configured.items() if takes(channel, alert)]
    else:
        for name in channels:
            if name not in configured:
                raise NotFoundError(
                    f"No alert channel {name!r} in [notify.channels]."
                    f"{did_you_mean(name, configured)}",
                    hint="Known channels: "
                    + (", ".join(sorted(configured)) or "none")
                    + ". Add one as [notify.channels.NAME] in conveyor.toml.",
                    channel=name,
                )
        names = list(channels)
    if len(names) <= 1:
        return [_deliver(ws, name, alert, env, resolver) for name in names]
    with ThreadPoolExecutor(max_workers=min(len(names), 8), thread_name_prefix="alert") as pool:
        return list(pool.map(lambda name: _deliver(ws, name, alert, env, resolver), names))


def _deliver(
    ws: Workspace,
    name: str,
    alert: Alert,
    env: Mapping[str, str] | None,
    resolver: Resolver | None,
) -> Delivery:
    settings = ws.config.notify
    retry = RetryPolicy.from_settings(settings)
    summary = {**alert.summary(), "channel_kind": settings.channels[name].kind}
    claim = st.claim_alert_delivery(
        ws.store,
        name,
        kind=alert.kind,
        dedupe_key=alert.key,
        decide=ClaimRules.from_settings(settings).decide,
        lease=retry.max_time + 2 * settings.timeout + _LEASE_MARGIN,
        event_id=alert.event_id,
        subject=alert.subject,
        data=summary,
    )
    record = claim.delivery
    if claim.outcome != "send":
        if claim.outcome != "done":
            log.info("alert %s on %s held back: %s", alert.kind, name, record.reason)
        return Delivery(
            name, claim.outcome, record.attempts, record.status_code, record.reason, record.id
        )
    mid = message_id(st.signing_key(ws.store), ws.store.project, record.id)
    try:
        channel = build_channel(name, settings, ws.store.project, env=env, resolver=resolver)
    except ConveyorError as exc:  # a missing secret, a refused URL: no try can succeed
        tries, result = 0, TryResult(False, reason=exc.message)
    else:
        tries, result = _try(channel.send, alert, mid, retry)
    finished = st.finish_alert_delivery(
        ws.store,
        record.id,
        claims=record.claims,
        sent=result.ok,
        attempts=tries,
        status_code=result.status_code,
        reason=result.reason,
        subject=alert.subject,
        data=summary,
    )
    if not finished:
        return Delivery(name, "taken_over", tries, result.status_code, result.reason, record.id)
    if not result.ok:
        log.warning("alert %s on %s failed: %s", alert.kind, name, result.reason)
    outcome: DeliveryOutcome = "sent" if result.ok else "failed"
    return Delivery(name, outcome, tries, result.status_code, result.reason, record.id)


def _try(
    send: Callable[..., TryResult], alert: Alert, mid: str, retry: RetryPolicy
) -> tuple[int, TryResult]:
    """Try until delivered, not worth another try, or out of tries or time."""
    started = time.monotonic()
    tries = 0
    while True:
        tries += 1
        try:
            result = send(alert, message_id=mid)
        except UnsafeURLError as exc:  # the name resolved into a blocked range
            result = TryResult(False, False, reason=exc.message)
        if result.ok:
            return tries, result
        elapsed = time.monotonic() - started
        wait = retry.next_delay(tries, elapsed, result)
        if wait is None:
            if result.retryable:
                result = TryResult(
                    False,
                    True,
                    result.status_code,
                    f"{result.reason}; gave up after {tries} tries in {elapsed:.1f}s",
                )
            return tries, result
        log.info(
            "alert %s: try %d failed (%s); next in %.2fs", alert.kind, tries, result.reason, wait
        )
        time.sleep(wait)


def send_test_alert(
    ws: Workspace,
    channel: str,
    *,
    env: Mapping[str, str] | None = None,
    resolver: Resolver | None = None,
) -> Delivery:
    """Send a test alert (kind ``alert.tested``) to ``channel``, whatever its filter; it
    is never a duplicate of an earlier test.

    Raises:
        NotFoundError: no such channel is configured.

    Example:
        >>> send_test_alert(ws, "ops").outcome  # doctest: +SKIP
        'sent'
    """
    alert = Alert(
        kind="alert.tested",
        severity="info",
        title=f"Test alert from conveyor project {ws.store.project!r}",
        text=f"If you read this, the channel {channel!r} works.",
        subject=f"channels/{channel}",
        dedupe_key=f"alert.tested:{uuid.uuid4().hex}",
    )
    return send_alert(ws, alert, channels=[channel], env=env, resolver=resolver)[0]


def list_alert_events(ws: Workspace, *, limit: int = 50) -> list[st.EventRecord]:
    """The latest ``limit`` alert events (sent, failed, suppressed), oldest first."""
    latest: deque[st.EventRecord] = deque(maxlen=limit)
    cursor = 0
    while batch := st.read_events(ws.store, after=cursor, types=_ALERT_TYPES):
        latest.extend(batch)
        cursor = batch[-1].id
    return list(latest)
