"""Triggers: upsert, lookup, and exactly one claim per (trigger, window)."""

from __future__ import annotations

import pytest

from conveyor import store as st
from conveyor.core import (
    CLAIM_TRANSITIONS,
    ConflictError,
    InvalidNameError,
    InvalidValueError,
    NotFoundError,
    StaleAttemptError,
    StoreError,
)
from support.waits import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def trigger(store: st.Store) -> st.TriggerRecord:
    return st.upsert_trigger(
        store, "nightly", kind="schedule", pipeline="train", config={"cron": "@daily"}
    )


def test_upsert_creates_then_updates(store: st.Store, trigger: st.TriggerRecord) -> None:
    assert (trigger.kind, trigger.pipeline, trigger.timezone, trigger.enabled) == (
        "schedule",
        "train",
        "UTC",
        True,
    )
    updated = st.upsert_trigger(
        store,
        "nightly",
        kind="schedule",
        pipeline="retrain",
        timezone="Europe/Paris",
        next_fire_at=123,
        enabled=False,
    )
    assert updated.id == trigger.id and updated.created_at == trigger.created_at
    assert (updated.pipeline, updated.timezone, updated.next_fire_at, updated.enabled) == (
        "retrain",
        "Europe/Paris",
        123,
        False,
    )
    assert updated.config == {}
    assert st.get_trigger(store, "nightly") == updated


def test_bad_trigger_input(store: st.Store, trigger: st.TriggerRecord) -> None:
    with pytest.raises(InvalidNameError, match="trigger name"):
        st.upsert_trigger(store, "a b", kind="drift", pipeline="train")
    with pytest.raises(NotFoundError, match="Did you mean 'nightly'") as info:
        st.get_trigger(store, "nigthly")
    assert "conveyor triggers list" in str(info.value)


def test_one_claim_per_window(store: st.Store, trigger: st.TriggerRecord) -> None:
    won = st.claim_trigger(store, trigger.id, "2026-11-24T10:00", "ctl-a")
    lost = st.claim_trigger(store, trigger.id, "2026-11-24T10:00", "ctl-b")
    next_window = st.claim_trigger(store, trigger.id, "2026-11-24T11:00", "ctl-b")
    assert won.won and not lost.won and next_window.won
    assert lost.claim == won.claim and lost.claim.claimed_by == "ctl-a"
    assert (won.claim.status, won.claim.window_key) == ("claimed", "2026-11-24T10:00")
    assert (won.claim.attempt, won.claim.claimed_by) == (1, "ctl-a")
    assert [c.window_key for c in st.list_claims(store, trigger.id)] == [
        "2026-11-24T10:00",
        "2026-11-24T11:00",
    ]


def test_claim_status(store: st.Store, trigger: st.TriggerRecord) -> None:
    claim = st.claim_trigger(store, trigger.id, "w", "ctl").claim
    coalesced = st.set_claim_status(
        store, claim.id, "coalesced", reason="retrain 3 in flight", attempt=claim.attempt
    )
    (after,) = st.list_claims(store, trigger.id)
    assert after == coalesced
    assert (after.status, after.reason, after.lease_expires_at) == (
        "coalesced",
        "retrain 3 in flight",
        None,
    )
    with pytest.raises(NotFoundError, match="No trigger claim 999"):
        st.set_claim_status(store, 999, "failed")
    with pytest.raises(InvalidValueError, match="Got 'exploded'"):
        st.set_claim_status(store, claim.id, "exploded")  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="start_claim"):
        st.set_claim_status(store, claim.id, "started")


@pytest.mark.parametrize("final", ["coalesced", "failed", "started"])
def test_a_final_claim_moves_nowhere(
    store: st.Store, trigger: st.TriggerRecord, final: str
) -> None:
    """Only ``claimed`` has outgoing edges (core.CLAIM_TRANSITIONS); losers of an illegal
    move get a ConflictError and change nothing."""
    assert CLAIM_TRANSITIONS[final] == frozenset()  # type: ignore[index]
    claim = st.claim_trigger(store, trigger.id, "w", "ctl").claim
    if final == "started":
        st.start_claim(store, claim.id, claim.attempt)
    else:
        st.set_claim_status(store, claim.id, final)  # type: ignore[arg-type]
    for to in ("coalesced", "failed"):
        if to != final:
            with pytest.raises(ConflictError, match=f"is '{final}'; it cannot become '{to}'"):
                st.set_claim_status(store, claim.id, to)  # type: ignore[arg-type]
    if final != "started":
        with pytest.raises(ConflictError, match=f"is '{final}'"):
            st.start_claim(store, claim.id, claim.attempt)
    # A lapsed lease does not reopen a final claim.
    assert not st.claim_trigger(store, trigger.id, "w", "ctl-b").won
    assert st.claim_lapsed(store, "ctl-b") == []
    assert [c.status for c in st.list_claims(store, trigger.id)] == [final]


def test_start_claim_creates_exactly_one_run(store: st.Store, trigger: st.TriggerRecord) -> None:
    claim = st.claim_trigger(store, trigger.id, "w", "ctl").claim
    run = st.start_claim(store, claim.id, claim.attempt, params={"window": "w"})
    assert (run.pipeline, run.status, run.trigger_claim_id) == ("train", "running", claim.id)
    assert st.get_params(store, run.id) == {"window": "w"}
    # The same holder repeating itself gets the same run; nobody gets a second one.
    assert st.start_claim(store, claim.id, claim.attempt) == run
    (after,) = st.list_claims(store, trigger.id)
    assert (after.status, after.lease_expires_at) == ("started", None)
    with pytest.raises(StoreError, match="uq_runs_trigger_claim_id|UNIQUE"):
        st.create_run(store, "train", trigger_claim_id=claim.id)
    assert len(st.list_runs(store)) == 1
    assert len(st.read_events(store, types=["io.conveyor.run.started"])) == 1


def test_start_claim_can_queue_and_name_the_pipeline(
    store: st.Store, trigger: st.TriggerRecord
) -> None:
    claim = st.claim_trigger(store, trigger.id, "w", "ctl").claim
    run = st.start_claim(store, claim.id, claim.attempt, pipeline="other", status="queued")
    assert (run.pipeline, run.status, run.started_at) == ("other", "queued", None)


def test_a_lapsed_claim_is_taken_over_and_its_old_holder_fenced(
    store: st.Store, trigger: st.TriggerRecord
) -> None:
    """The holder died between claiming and starting: after its lease a rival re-claims the
    firing (attempt 2) and starts it; the old holder, if it wakes up, can change nothing."""
    old = st.claim_trigger(store, trigger.id, "w", "ctl-a", lease=0.05).claim
    assert (old.attempt, old.claimed_by) == (1, "ctl-a") and old.lease_expires_at is not None
    taken = wait_for(
        lambda: (r := st.claim_trigger(store, trigger.id, "w", "ctl-b")).won and r,
        what="the lease to lapse",
    ).claim
    assert (taken.id, taken.attempt, taken.claimed_by) == (old.id, 2, "ctl-b")
    lost = st.claim_trigger(store, trigger.id, "w", "ctl-a")
    assert not lost.won and lost.claim == taken
    with pytest.raises(StaleAttemptError, match="re-claimed by ctl-b \\(attempt 2\\)"):
        st.start_claim(store, old.id, old.attempt)
    with pytest.raises(StaleAttemptError):
        st.set_claim_status(store, old.id, "failed", attempt=old.attempt)
    with pytest.raises(StaleAttemptError):
        st.renew_claim(store, old.id, old.attempt)
    st.renew_claim(store, taken.id, taken.attempt, lease=60)
    run = st.start_claim(store, taken.id, taken.attempt)
    assert run.trigger_claim_id == taken.id and len(st.list_runs(store)) == 1
    with pytest.raises(ConflictError, match="is 'started'"):
        st.renew_claim(store, taken.id, taken.attempt)


def test_claim_lapsed_sweeps_only_lapsed_unstarted_claims(
    store: st.Store, trigger: st.TriggerRecord
) -> None:
    dead = [st.claim_trigger(store, trigger.id, f"w{i}", "dead", lease=0).claim for i in range(3)]
    live = st.claim_trigger(store, trigger.id, "live", "ctl-a").claim
    started = st.claim_trigger(store, trigger.id, "done", "ctl-a", lease=0).claim
    st.start_claim(store, started.id, started.attempt)
    first = wait_for(lambda: st.claim_lapsed(store, "ctl-b", limit=2), what="lapse")
    rest = st.claim_lapsed(store, "ctl-b", limit=2)
    assert [c.id for c in first + rest] == [c.id for c in dead]
    assert all((c.claimed_by, c.attempt) == ("ctl-b", 2) for c in first + rest)
    assert st.claim_lapsed(store, "ctl-c") == []
    assert live.id not in {c.id for c in first + rest}


def test_claims_are_scoped_to_the_project(store: st.Store, trigger: st.TriggerRecord) -> None:
    claim = st.claim_trigger(store, trigger.id, "w", "ctl", lease=0).claim
    with st.open_store(store.url, project="other") as other:
        with pytest.raises(NotFoundError, match="No trigger"):
            st.claim_trigger(other, trigger.id, "w2", "ctl")
        with pytest.raises(NotFoundError, match="No trigger claim"):
            st.start_claim(other, claim.id, claim.attempt)
        with pytest.raises(NotFoundError, match="No trigger claim"):
            st.set_claim_status(other, claim.id, "failed")
        with pytest.raises(NotFoundError, match="No trigger claim"):
            st.renew_claim(other, claim.id, claim.attempt)
        assert st.list_claims(other, trigger.id) == []
        assert st.claim_lapsed(other, "ctl") == []
    assert st.list_claims(store, trigger.id) == [claim]
