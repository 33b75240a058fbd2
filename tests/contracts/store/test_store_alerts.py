"""The store side of alerts, on each backend: claims unique per (channel, event), a lapsed
claim taken over and the old holder fenced out, keys released on failure, the cursor that
only moves forward, and signals recorded once per key."""

from __future__ import annotations

import time

import pytest

from conveyor import store as st
from conveyor.core import InvalidValueError, NotFoundError
from conveyor.notify import ClaimRules

pytestmark = pytest.mark.integration
RULES = ClaimRules(dedupe_window_ms=600_000, rate_limit=100, rate_period_ms=3_600_000)


def claim(
    store: st.Store, event_id: int | None, *, lease: float = 60.0, key: str = "k"
) -> st.AlertClaim:
    return st.claim_alert_delivery(
        store,
        "ops",
        kind="run.failed",
        dedupe_key=key,
        decide=RULES.decide,
        lease=lease,
        event_id=event_id,
        subject="runs/1",
        data={"kind": "run.failed"},
    )


def test_an_event_is_claimed_once_per_channel(store: st.Store) -> None:
    event = st.emit_event(store, "io.conveyor.run.failed", subject="runs/1")
    first = claim(store, event, key="a")
    again = claim(store, event, key="b")
    assert (first.outcome, again.outcome) == ("send", "done")
    assert again.delivery.id == first.delivery.id
    other = st.claim_alert_delivery(
        store,
        "audit",
        kind="run.failed",
        dedupe_key="a",
        decide=RULES.decide,
        lease=60,
        event_id=event,
    )
    assert other.outcome == "send"  # another channel claims it for itself


def test_a_lapsed_claim_is_taken_over_and_the_old_holder_fenced_out(store: st.Store) -> None:
    event = st.emit_event(store, "io.conveyor.run.failed", subject="runs/1")
    first = claim(store, event, lease=0.05)
    assert first.outcome == "send" and first.delivery.claims == 1
    assert claim(store, event, lease=0.05).outcome == "done"  # still held
    time.sleep(0.1)
    taken = claim(store, event, lease=0.05)
    assert (taken.outcome, taken.delivery.id, taken.delivery.claims) == (
        "send",
        first.delivery.id,
        2,
    )
    late = st.finish_alert_delivery(store, first.delivery.id, claims=1, sent=True, attempts=1)
    assert late is False
    assert st.finish_alert_delivery(store, taken.delivery.id, claims=2, sent=True, attempts=1)
    assert claim(store, event).outcome == "done"
    events = st.read_events(store, types=["io.conveyor.alert.*"])
    assert [(e.type, e.data["delivery_id"]) for e in events] == [
        ("io.conveyor.alert.sent", first.delivery.id)
    ]
    (record,) = st.list_alert_deliveries(store, event_id=event)
    assert (record.status, record.claims, record.attempts) == ("sent", 2, 1)


def test_a_failed_delivery_frees_its_key(store: st.Store) -> None:
    first = claim(store, None)
    assert claim(store, None).outcome == "duplicate"
    st.finish_alert_delivery(
        store, first.delivery.id, claims=1, sent=False, attempts=3, reason="answered HTTP 503"
    )
    assert claim(store, None).outcome == "send"
    failed = st.read_events(store, types=["io.conveyor.alert.failed"])
    assert [(e.data["attempts"], e.data["reason"]) for e in failed] == [(3, "answered HTTP 503")]


def test_the_decision_sees_the_channel_state(store: st.Store) -> None:
    seen: list[st.AlertClaimState] = []

    def decide(state: st.AlertClaimState) -> st.AlertClaimDecision:
        seen.append(state)
        return RULES.decide(state)

    for key in ("a", "b", "a"):
        st.claim_alert_delivery(store, "ops", kind="x.y", dedupe_key=key, decide=decide, lease=60)
    assert [s.n_in_window for s in seen] == [0, 1, 2]
    assert seen[0].window_started_at is None and seen[1].window_started_at == seen[0].now
    assert seen[2].last_sent_at == seen[0].now  # key "a" was let through first


def test_the_cursor_only_moves_forward(store: st.Store) -> None:
    ids = [st.emit_event(store, "io.conveyor.run.failed") for _ in range(3)]
    assert st.get_alert_cursor(store) == 0
    assert st.advance_alert_cursor(store, "default", ids[1]) == ids[1]
    assert st.advance_alert_cursor(store, "default", ids[0]) == ids[1]
    assert st.advance_alert_cursor(store, "other", ids[2]) == ids[2]
    assert st.get_alert_cursor(store, "default") == ids[1]
    with pytest.raises(NotFoundError, match="No event 999999"):
        st.advance_alert_cursor(store, "default", 999_999)


def test_a_signal_is_recorded_once_per_key(store: st.Store) -> None:
    first = st.record_signal(store, "a" * 64, subject="signals/alertmanager/X", data={"n": 1})
    again = st.record_signal(store, "a" * 64, subject="signals/alertmanager/X", data={"n": 2})
    assert first[1] is True and again == (first[0], False)
    (event,) = st.read_events(store, types=["io.conveyor.signal.received"])
    assert (event.id, event.data) == (first[0], {"n": 1})
    with pytest.raises(InvalidValueError):
        st.record_signal(store, "")


def test_bad_claims_are_refused(store: st.Store) -> None:
    with pytest.raises(NotFoundError, match="No event 424242"):
        claim(store, 424_242)
    with pytest.raises(InvalidValueError, match="de-duplication key"):
        claim(store, None, key="")
    with pytest.raises(NotFoundError, match="No alert delivery 77"):
        st.finish_alert_delivery(store, 77, claims=1, sent=True, attempts=1)


# A retry never changes an outcome (R19): each writer with its COMMIT acknowledgement lost.


def test_a_claim_whose_acknowledgement_is_lost_still_sends_once(store: st.Store) -> None:
    from support.lost_ack import lost_acks

    event = st.emit_event(store, "io.conveyor.run.failed", subject="runs/1")
    with lost_acks() as cut:
        cut.arm(what="alert claim")
        first = claim(store, event)
        cut.arm(what="alert claim")
        repeat = claim(store, None)
        cut.arm(what="alert delivery finish")
        finished = st.finish_alert_delivery(
            store, first.delivery.id, claims=1, sent=True, attempts=1
        )
        cut.arm(what="alert cursor")
        cursor = st.advance_alert_cursor(store, "default", event)
        cut.arm(what="signal record")
        signal = st.record_signal(store, "b" * 64)
        assert cut.n_cut == 5
    assert first.outcome == "send"  # not "done": the first execution was this call's
    assert repeat.outcome == "duplicate"  # the key "k" went out with the first
    assert finished is True and cursor == event and signal[1] is True
    assert len(st.list_alert_deliveries(store)) == 2
    types = [e.type for e in st.read_events(store, after=event)]
    assert types == [
        "io.conveyor.alert.suppressed",
        "io.conveyor.alert.sent",
        "io.conveyor.signal.received",
    ]


def test_an_evaluation_whose_acknowledgement_is_lost_emits_one_event(store: st.Store) -> None:
    from support.lost_ack import lost_acks

    st.register_model_version(store, "churn")
    with lost_acks() as cut:
        cut.arm(what="evaluation record")
        st.record_evaluation(
            store, "churn", 1, passed=False, report={}, digest="a" * 64, signature="b" * 64
        )
        assert cut.n_cut == 1
    assert len(st.read_events(store, types=["io.conveyor.evaluation.failed"])) == 1
