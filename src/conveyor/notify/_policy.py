"""The decisions behind a delivery, kept pure: which channels take an alert, whether a
claim sends it or holds it back (de-duplication, rate limit), and whether and when a
failed try is tried again (exponential back-off within a bounded time)."""

from __future__ import annotations

import fnmatch
import random as _random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..store import AlertClaimDecision, AlertClaimState
from ._alert import SEVERITIES, Alert

if TYPE_CHECKING:
    from ..core import NotifyChannelSettings, NotifySettings

# The longest wait between two tries, whatever the back-off has grown to.
MAX_DELAY = 30.0
# Answers worth another try: a time-out, too many requests, "too early", server errors.
_RETRYABLE_4XX = frozenset({408, 425, 429})


def takes(channel: NotifyChannelSettings, alert: Alert) -> bool:
    """Whether ``channel``'s filter takes ``alert``: its kind matches one of the
    channel's globs and it is at least as severe as the channel's minimum."""
    severe = SEVERITIES.index(alert.severity) >= SEVERITIES.index(channel.min_severity)
    return severe and any(fnmatch.fnmatchcase(alert.kind, glob) for glob in channel.events)


@dataclass(frozen=True)
class ClaimRules:
    """The de-duplication window and the rate limit, in milliseconds."""

    dedupe_window_ms: int
    rate_limit: int
    rate_period_ms: int

    @classmethod
    def from_settings(cls, settings: NotifySettings) -> ClaimRules:
        return cls(
            dedupe_window_ms=int(settings.dedupe_window * 1000),
            rate_limit=settings.rate_limit,
            rate_period_ms=int(settings.rate_period * 1000),
        )

    def decide(self, state: AlertClaimState) -> AlertClaimDecision:
        """Send, or hold back as a duplicate or as over the rate limit.

        A duplicate is an alert whose key was let through on the channel less than the
        window ago; it costs no rate. The rate window is fixed: it starts with the first
        alert let through after the previous window ended and lets ``rate_limit`` through.
        """
        window, n = state.window_started_at, state.n_in_window
        if (
            state.last_sent_at is not None
            and state.now - state.last_sent_at < self.dedupe_window_ms
        ):
            age = (state.now - state.last_sent_at) / 1000
            return AlertClaimDecision(
                "duplicate",
                window,
                n,
                reason=f"the same alert went out {age:.0f}s ago, within the de-duplication "
                f"window of {self.dedupe_window_ms / 1000:g}s",
            )
        if window is None or state.now - window >= self.rate_period_ms:
            return AlertClaimDecision("send", state.now, 1)
        if n < self.rate_limit:
            return AlertClaimDecision("send", window, n + 1)
        return AlertClaimDecision(
            "rate_limited",
            window,
            n,
            reason=f"the channel sent its limit of {self.rate_limit} alerts in "
            f"{self.rate_period_ms / 1000:g}s",
        )


@dataclass(frozen=True)
class TryResult:
    """How one try of a delivery went.

    Attributes:
        ok: Delivered.
        retryable: A later try may succeed (a time-out, 408, 429, 5xx, a lost connection).
        status_code: The HTTP status or SMTP reply code, if the server answered.
        reason: One line a person can act on; never a URL or a secret.
        retry_after: The wait the server asked for (``Retry-After``), in seconds.
    """

    ok: bool
    retryable: bool = False
    status_code: int | None = None
    reason: str = ""
    retry_after: float | None = None


def retryable_status(code: int) -> bool:
    """Whether an HTTP answer with ``code`` is worth another try: 408, 425, 429 and 5xx.
    Other 4xx say the request itself is wrong; 3xx are redirects, never followed."""
    return code in _RETRYABLE_4XX or 500 <= code <= 599


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long a delivery is tried.

    Attributes:
        attempts: Tries in all, the first included.
        backoff: The wait after the first try; it doubles after each (up to 30 s),
            jittered to between half and all of it.
        max_time: The most time tries and waits may take together.
    """

    attempts: int
    backoff: float
    max_time: float

    @classmethod
    def from_settings(cls, settings: NotifySettings) -> RetryPolicy:
        return cls(settings.retry_attempts, settings.retry_backoff, settings.retry_max_time)

    def delay(self, tries: int, random: Callable[[], float] = _random.random) -> float:
        """The wait after the ``tries``-th failed try (``tries`` from 1)."""
        full = min(self.backoff * 2.0 ** (tries - 1), MAX_DELAY)
        return full / 2 + random() * full / 2

    def next_delay(
        self,
        tries: int,
        elapsed: float,
        result: TryResult,
        random: Callable[[], float] = _random.random,
    ) -> float | None:
        """How long to wait before the next try, or None to stop: delivered, not worth
        another try, out of tries, or the wait would end past ``max_time``. A server's
        ``Retry-After`` lengthens the wait, never shortens it."""
        if result.ok or not result.retryable or tries >= self.attempts:
            return None
        wait = self.delay(tries, random)
        if result.retry_after is not None:
            wait = max(wait, result.retry_after)
        if elapsed + wait > self.max_time:
            return None
        return wait
