"""Triggers: upsert, lookup, and exactly one claim per (trigger, window)."""

from __future__ import annotations

import pytest

from conveyor import store as st
from conveyor.core import ConflictError, InvalidNameError, NotFoundError, StoreError


@pytest.fixture
def trigger(sqlite_store: st.Store) -> st.TriggerRecord:
    return st.upsert_trigger(
        sqlite_store, "nightly", kind="schedule", pipeline="train", config={"cron": "@daily"}
    )


def test_upsert_creates_then_updates(sqlite_store: st.Store, trigger: st.TriggerRecord) -> None:
    assert (trigger.kind, trigger.pipeline, trigger.timezone, trigger.enabled) == (
        "schedule",
        "train",
        "UTC",
        True,
    )
    updated = st.upsert_trigger(
        sqlite_store,
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
    assert st.get_trigger(sqlite_store, "nightly") == updated


def test_bad_trigger_input(sqlite_store: st.Store, trigger: st.TriggerRecord) -> None:
    with pytest.raises(ConflictError, match="Did you mean 'schedule'"):
        st.upsert_trigger(sqlite_store, "x", kind="schedul", pipeline="train")
    with pytest.raises(InvalidNameError, match="trigger name"):
        st.upsert_trigger(sqlite_store, "a b", kind="drift", pipeline="train")
    with pytest.raises(NotFoundError, match="Did you mean 'nightly'") as info:
        st.get_trigger(sqlite_store, "nigthly")
    assert "conveyor triggers list" in str(info.value)


def test_one_claim_per_window(sqlite_store: st.Store, trigger: st.TriggerRecord) -> None:
    won = st.claim_trigger(sqlite_store, trigger.id, "2026-11-24T10:00", "ctl-a")
    lost = st.claim_trigger(sqlite_store, trigger.id, "2026-11-24T10:00", "ctl-b")
    next_window = st.claim_trigger(sqlite_store, trigger.id, "2026-11-24T11:00", "ctl-b")
    assert won.won and not lost.won and next_window.won
    assert lost.claim == won.claim and lost.claim.claimed_by == "ctl-a"
    assert (won.claim.status, won.claim.window_key) == ("claimed", "2026-11-24T10:00")
    assert [c.window_key for c in st.list_claims(sqlite_store, trigger.id)] == [
        "2026-11-24T10:00",
        "2026-11-24T11:00",
    ]


def test_claim_status(sqlite_store: st.Store, trigger: st.TriggerRecord) -> None:
    claim = st.claim_trigger(sqlite_store, trigger.id, "w", "ctl").claim
    st.set_claim_status(sqlite_store, claim.id, "coalesced", reason="retrain 3 in flight")
    (after,) = st.list_claims(sqlite_store, trigger.id)
    assert (after.status, after.reason) == ("coalesced", "retrain 3 in flight")
    with pytest.raises(NotFoundError, match="No trigger claim 999"):
        st.set_claim_status(sqlite_store, 999, "started")
    with pytest.raises(StoreError, match="ck_trigger_claims_status_valid"):
        st.set_claim_status(sqlite_store, claim.id, "exploded")
