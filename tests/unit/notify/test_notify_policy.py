"""The pure decisions: which channel takes an alert, send or hold back (de-duplication,
rate limit), and whether and when to try again."""

from __future__ import annotations

import pytest

from conveyor.core import NotifyChannelSettings
from conveyor.notify import Alert, ClaimRules, RetryPolicy, TryResult
from conveyor.notify._policy import MAX_DELAY, retryable_status, takes
from conveyor.store import AlertClaimState

RULES = ClaimRules(dedupe_window_ms=600_000, rate_limit=3, rate_period_ms=3_600_000)


def state(
    now: int, last: int | None = None, window: int | None = None, n: int = 0
) -> AlertClaimState:
    return AlertClaimState(now=now, last_sent_at=last, window_started_at=window, n_in_window=n)


def test_the_first_alert_opens_a_rate_window() -> None:
    decision = RULES.decide(state(1_000))
    assert (decision.outcome, decision.window_started_at, decision.n_in_window) == (
        "send",
        1_000,
        1,
    )


def test_a_repeat_within_the_window_is_a_duplicate_and_costs_no_rate() -> None:
    decision = RULES.decide(state(1_000 + 599_999, last=1_000, window=1_000, n=1))
    assert decision.outcome == "duplicate"
    assert (decision.window_started_at, decision.n_in_window) == (1_000, 1)
    assert "within the de-duplication window of 600s" in decision.reason
    after = RULES.decide(state(1_000 + 600_000, last=1_000, window=1_000, n=1))
    assert (after.outcome, after.n_in_window) == ("send", 2)


def test_the_rate_limit_holds_back_the_excess_until_the_period_ends() -> None:
    sent = [RULES.decide(state(10_000 + i, window=10_000, n=i)) for i in range(1, 4)]
    assert [d.outcome for d in sent] == ["send", "send", "rate_limited"]
    assert sent[-1].reason == "the channel sent its limit of 3 alerts in 3600s"
    assert (sent[-1].window_started_at, sent[-1].n_in_window) == (10_000, 3)
    renewed = RULES.decide(state(10_000 + 3_600_000, window=10_000, n=3))
    assert (renewed.outcome, renewed.window_started_at, renewed.n_in_window) == (
        "send",
        3_610_000,
        1,
    )


def test_a_released_key_is_no_duplicate() -> None:
    assert RULES.decide(state(5_000, last=None, window=5_000, n=1)).outcome == "send"


def test_the_rules_come_from_the_settings() -> None:
    from conveyor.core import NotifySettings

    rules = ClaimRules.from_settings(
        NotifySettings(dedupe_window=30, rate_limit=7, rate_period=60)  # type: ignore[arg-type]
    )
    assert rules == ClaimRules(30_000, 7, 60_000)


@pytest.mark.parametrize(
    ("code", "retry"),
    [(408, True), (425, True), (429, True), (500, True), (502, True), (503, True), (599, True)]
    + [(400, False), (401, False), (403, False), (404, False), (410, False), (422, False)]
    + [(301, False), (302, False)],
)
def test_which_answers_are_tried_again(code: int, retry: bool) -> None:
    assert retryable_status(code) is retry


POLICY = RetryPolicy(attempts=5, backoff=1.0, max_time=60.0)
FAILED = TryResult(False, True, 503, "answered HTTP 503")


def test_backoff_doubles_and_is_jittered_between_half_and_all() -> None:
    low = [POLICY.delay(n, random=lambda: 0.0) for n in range(1, 5)]
    high = [POLICY.delay(n, random=lambda: 1.0) for n in range(1, 5)]
    assert low == [0.5, 1.0, 2.0, 4.0]
    assert high == [1.0, 2.0, 4.0, 8.0]
    assert POLICY.delay(20, random=lambda: 1.0) == MAX_DELAY


def test_tries_stop_when_delivered_refused_out_of_tries_or_out_of_time() -> None:
    one = lambda: 1.0  # noqa: E731
    assert POLICY.next_delay(1, 0.0, TryResult(True), one) is None
    assert POLICY.next_delay(1, 0.0, TryResult(False, False, 404), one) is None
    assert POLICY.next_delay(4, 0.0, FAILED, one) == 8.0
    assert POLICY.next_delay(5, 0.0, FAILED, one) is None  # five tries made
    assert POLICY.next_delay(4, 52.0, FAILED, one) == 8.0  # ends at 60 s exactly
    assert POLICY.next_delay(4, 52.1, FAILED, one) is None  # would end past 60 s


def test_retry_after_lengthens_the_wait_but_not_past_the_time_bound() -> None:
    slow = TryResult(False, True, 429, "answered HTTP 429", retry_after=20.0)
    assert POLICY.next_delay(1, 0.0, slow, lambda: 1.0) == 20.0
    quick = TryResult(False, True, 429, "answered HTTP 429", retry_after=0.1)
    assert POLICY.next_delay(1, 0.0, quick, lambda: 1.0) == 1.0
    assert POLICY.next_delay(1, 45.0, slow, lambda: 1.0) is None


def channel(**kwargs: object) -> NotifyChannelSettings:
    return NotifyChannelSettings(kind="log", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("events", "min_severity", "kind", "severity", "taken"),
    [
        (["*"], "info", "run.failed", "info", True),
        (["drift.*"], "info", "drift.detected", "warning", True),
        (["drift.*"], "info", "decay.detected", "warning", False),
        (["run.failed", "model.*"], "info", "model.rolled_back", "warning", True),
        (["*.failed"], "info", "evaluation.failed", "warning", True),
        (["*"], "warning", "model.promoted", "info", False),
        (["*"], "warning", "run.failed", "critical", True),
        (["*"], "critical", "drift.detected", "warning", False),
        (["drift.?etected"], "info", "drift.detected", "info", True),
    ],
)
def test_a_channel_takes_the_kinds_and_severities_it_asks_for(
    events: list[str], min_severity: str, kind: str, severity: str, taken: bool
) -> None:
    alert = Alert(kind, severity, "t")  # type: ignore[arg-type]
    assert takes(channel(events=events, min_severity=min_severity), alert) is taken
