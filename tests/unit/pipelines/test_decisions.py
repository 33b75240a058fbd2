"""The runner's decisions, without a store: readiness, skip reasons, retries, fan-out
totals, the run's outcome, time-outs, and how a resume acquires its run."""

from __future__ import annotations

import pytest

from conveyor.pipelines import _decisions as decide


@pytest.mark.parametrize(
    ("upstream", "fail_fast_tripped", "verdict"),
    [
        ({}, False, "go"),
        ({"a": "succeeded", "b": "succeeded"}, False, "go"),
        ({"a": "succeeded", "b": "running"}, False, "wait"),
        ({"a": "pending"}, False, "wait"),
        ({"a": "failed", "b": "running"}, False, "upstream_failed"),  # no need to wait
        ({"a": "upstream_failed"}, False, "upstream_failed"),
        ({"a": "cancelled", "b": "succeeded"}, False, "cancelled"),
        ({"a": "succeeded"}, True, "cancelled"),
        ({"a": "failed"}, True, "upstream_failed"),  # its own cause wins over fail-fast
        ({"a": "skipped", "b": "succeeded"}, False, "skipped"),
        ({"a": "skipped", "b": "running"}, False, "wait"),
    ],
)
def test_readiness(upstream: dict[str, str], fail_fast_tripped: bool, verdict: str) -> None:
    assert decide.readiness(upstream, fail_fast_tripped=fail_fast_tripped) == verdict


@pytest.mark.parametrize(
    ("value", "negate", "holds"),
    [(True, False, True), (0, False, False), ([], True, True), ("yes", True, False)],
)
def test_condition_holds(value: object, negate: bool, holds: bool) -> None:
    assert decide.condition_holds(value, negate=negate) is holds


def test_skip_reason_names_the_upstream_step_that_decided() -> None:
    upstream = {"b": "failed", "a": "upstream_failed", "c": "succeeded"}
    assert decide.skip_reason("upstream_failed", upstream) == "upstream step 'a' failed"
    assert decide.skip_reason("skipped", {"x": "skipped"}) == "upstream step 'x' was skipped"
    assert decide.skip_reason("cancelled", {"x": "cancelled"}) == "upstream step 'x' was cancelled"


def test_skip_reason_without_an_upstream_cause() -> None:
    ref = "<output of check.ok>"
    assert decide.skip_reason("skipped", {"check": "succeeded"}, (ref, True)) == (
        "condition ~<output of check.ok> was false"
    )
    assert decide.skip_reason("skipped", {}, (ref, False)) == (
        "condition <output of check.ok> was false"
    )
    assert decide.skip_reason("cancelled", {"a": "succeeded"}) == (
        "cancelled by fail_fast after a failure"
    )


@pytest.mark.parametrize(
    ("attempt", "base", "retries", "final", "retry"),
    [
        (1, 0, 0, False, False),  # no retries: the first failure is the last
        (1, 0, 2, False, True),
        (2, 0, 2, False, True),
        (3, 0, 2, False, False),  # 1 + 2 retries made
        (4, 3, 1, False, True),  # a resumed run counts from where it took over
        (5, 3, 1, False, False),
        (1, 0, 5, True, False),  # a final failure (a fan-out's items) is never retried
    ],
)
def test_will_retry(attempt: int, base: int, retries: int, final: bool, retry: bool) -> None:
    assert decide.will_retry(attempt, base, retries, final=final) is retry


def test_gather_waits_then_totals_the_items() -> None:
    assert decide.gather([("f[0]", "succeeded", None), ("f[1]", "running", None)]) == (
        "wait",
        None,
    )
    assert decide.gather([("f[0]", "succeeded", None), ("f[1]", "succeeded", None)]) == (
        "succeeded",
        None,
    )
    assert decide.gather([]) == ("succeeded", None)  # a fan-out over nothing
    items = [("f[0]", "failed", "ValueError: x"), ("f[1]", "succeeded", None)]
    status, error = decide.gather([*items, ("f[2]", "cancelled", "")])
    assert status == "failed"
    assert error == "2 of 3 items failed; first: f[0]: ValueError: x"


def test_unfinished_and_run_outcome() -> None:
    statuses = {"a": "succeeded", "b": "skipped", "c": "pending", "d": "running"}
    assert decide.unfinished(statuses) == ["c", "d"]
    assert decide.run_outcome({"a": "succeeded", "b": "skipped"}, {}) == ("succeeded", None)
    failed = {"a": "succeeded", "b": "upstream_failed", "c": "failed"}
    assert decide.run_outcome(failed, {"c": "ValueError: bad"}) == (
        "failed",
        "step 'c' failed: ValueError: bad",
    )
    assert decide.run_outcome({"a": "cancelled"}, {}) == ("failed", "step 'a' cancelled")


def test_timed_out_allows_a_grace() -> None:
    assert not decide.timed_out(None, 1e9)
    assert not decide.timed_out(10.0, 10.0 + decide.TIMEOUT_GRACE / 2)
    assert decide.timed_out(10.0, 10.0 + decide.TIMEOUT_GRACE)


def test_next_wakeup() -> None:
    assert decide.next_wakeup(5.0, []) is None
    assert decide.next_wakeup(5.0, [9.0, 7.5]) == 2.5
    assert decide.next_wakeup(5.0, [4.0]) == 0.0


NOW = 1_000_000


def plan(
    status: str, expires: int | None, *, force: bool = False, dead: bool = False
) -> decide.Acquisition:
    return decide.plan_acquisition(
        status, "host:1:a", 3, expires, now_ms=NOW, force=force, holder_dead=dead, lease=30.0
    )


def test_plan_acquisition_takes_over_only_the_holder_seen() -> None:
    assert plan("running", NOW + 20_000, dead=True) == decide.Acquisition(("host:1:a", 3))
    assert plan("running", NOW + 20_000, force=True) == decide.Acquisition(("host:1:a", 3))


def test_plan_acquisition_waits_out_a_live_lease_bounded_by_our_own() -> None:
    assert plan("running", NOW + 2_000) == decide.Acquisition(wait=2.2)
    assert plan("running", NOW + 600_000).wait == 31.0
    assert plan("running", NOW - 1) == decide.Acquisition()  # expired: acquire now
    assert plan("running", None) == decide.Acquisition()


@pytest.mark.parametrize("status", ["queued", "failed", "succeeded"])
def test_plan_acquisition_of_a_run_nobody_holds(status: str) -> None:
    assert plan(status, None, force=True, dead=True) == decide.Acquisition()


def test_lost_to_another_compares_attempts() -> None:
    assert decide.lost_to_another(("dead", 3), ("other", 4))
    assert decide.lost_to_another((None, 0), ("other", 1))
    assert not decide.lost_to_another(("alive", 3), ("alive", 3))
