"""The schema as migrated on each backend, the error boundary, and one pass over each
domain: the cross-cutting part of the store's contract (the domain modules beside this one
go into detail)."""

from __future__ import annotations

import hashlib
import math

import pytest
import sqlalchemy.exc
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text, update

from conveyor import store as st
from conveyor.core import (
    ConflictError,
    NotFoundError,
    StaleAttemptError,
    StoreError,
    StoreVersionError,
)
from conveyor.store import _schema
from support.store_cases import escaped_errors
from support.waits import wait_for

pytestmark = pytest.mark.integration


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def test_migrated_schema_equals_the_metadata(store: st.Store) -> None:
    """Alembic's migrations and ``_schema.metadata`` agree exactly: empty autogenerate diff."""
    assert store.query(st.current_revision) == st.HEAD
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, _schema.metadata) == []


def test_reopen_is_a_no_op_and_a_newer_store_is_refused(store: st.Store) -> None:
    with st.open_store(store.url, project="test") as again:
        assert again.project_id == store.project_id
    store.transact(lambda c: c.execute(text("UPDATE alembic_version SET version_num = '9999'")))
    with pytest.raises(StoreVersionError, match="'9999', newer") as info:
        st.open_store(store.url, project="test")
    assert "pip install -U conveyor" in str(info.value)


def test_no_driver_error_escapes(store: st.Store) -> None:
    """Constraint, FK and binding failures are one-line ConveyorErrors on every backend."""
    assert escaped_errors(store) == {}


def test_a_constraint_violation_is_a_store_error_naming_the_store(store: st.Store) -> None:
    run = st.create_run(store, "train")
    # A bug slipping past the store's own checks: the database's CHECK constraint still holds.
    explode = update(_schema.metadata.tables["runs"]).values(status="exploded")
    with pytest.raises(StoreError) as info:
        store.transact(lambda conn: conn.execute(explode), what=f"run {run.id} -> exploded")
    assert type(info.value) is StoreError
    assert isinstance(info.value.__cause__, sqlalchemy.exc.IntegrityError)
    assert f"during run {run.id} -> exploded" in str(info.value)
    assert store.url in str(info.value)


def test_transitions_and_fencing(store: st.Store) -> None:
    run = st.create_run(store, "train", status="queued")
    (claimed,) = st.claim_runs(store, "ctl-a", lease=0.05)
    (again,) = wait_for(lambda: st.claim_runs(store, "ctl-b", lease=30), what="lease expiry")
    assert (claimed.attempt, again.attempt) == (1, 2)
    with pytest.raises(StaleAttemptError):
        st.transition_run(store, run.id, "running", expected=["queued"], attempt=1)
    st.transition_run(store, run.id, "running", expected=["queued"], attempt=2)
    st.transition_run(store, run.id, "succeeded", expected=["running"])
    with pytest.raises(ConflictError, match="is 'succeeded'"):
        st.transition_run(store, run.id, "failed", expected=["running"])
    with st.open_store(store.url, project="other") as other, pytest.raises(NotFoundError):
        st.transition_run(other, run.id, "failed", expected=["running"])


def test_claims_never_hand_out_a_run_twice(store: st.Store) -> None:
    runs = [st.create_run(store, "train", status="queued") for _ in range(5)]
    batches = [st.claim_runs(store, f"ctl-{i}", limit=2, lease=60) for i in range(4)]
    claimed = [r.id for batch in batches for r in batch]
    assert sorted(claimed) == [r.id for r in runs]


def test_idempotent_creation(store: st.Store) -> None:
    a = st.create_run(store, "train", idempotency_key="k")
    assert st.create_run(store, "train", idempotency_key="k") == a


def test_zombie_commit_is_fenced(store: st.Store) -> None:
    run = st.create_run(store, "train")
    (step,) = st.add_step_runs(store, run.id, ["train"])
    zombie = st.start_attempt(store, step.id, "w1", lease=0.05)

    def take_over() -> st.StepRunRecord | None:
        try:
            return st.start_attempt(store, step.id, "w2", lease=30)
        except ConflictError:
            return None

    live = wait_for(take_over, what="lease expiry")
    art = st.record_artifact(store, digest("2"), 1)
    st.commit_step(store, step.id, live.attempt, outputs={"model": art.id})
    with pytest.raises(StaleAttemptError):
        st.commit_step(store, step.id, zombie.attempt, outputs={})
    assert [(a.attempt, a.status) for a in st.step_attempts(store, step.id)] == [
        (1, "superseded"),
        (2, "succeeded"),
    ]
    key = "c" * 64
    run2 = st.create_run(store, "train")
    (later,) = st.add_step_runs(store, run2.id, ["train"])
    source = st.get_step_run(store, step.id)
    assert st.find_cached_step(store, key) is None
    hit = st.record_cache_hit(store, later.id, source)
    assert [e.artifact_id for e in st.step_lineage(store, hit.id)] == [art.id]


def test_params_are_immutable_and_json_normalised(store: st.Store) -> None:
    run = st.create_run(store, "train")
    params = {"shape": (3, 4), "classes": {1: "a"}, "lr": 0.1, "big": 2**53 + 1}
    st.log_params(store, run.id, params)
    st.log_params(store, run.id, params)
    with pytest.raises(ConflictError, match=r"\['lr'\]"):
        st.log_params(store, run.id, {"lr": 0.2})
    assert st.get_params(store, run.id) == {
        "shape": [3, 4],
        "classes": {"1": "a"},
        "lr": 0.1,
        "big": 2**53 + 1,
    }


def test_metrics(store: st.Store) -> None:
    run = st.create_run(store, "train")
    st.log_metrics(store, run.id, [("loss", 1.0, 2, 5), ("loss", 2.0, 1, 5)])
    st.log_metric(store, run.id, "loss", 3.0, step=0)
    st.log_metric(store, run.id, "inf", float("inf"))
    assert [m.value for m in st.metric_history(store, run.id, "loss")] == [3.0, 2.0, 1.0]
    assert st.latest_metrics(store, run.id) == {"loss": 3.0, "inf": float("inf")}
    assert st.count_metrics(store, [run.id]) == 4


def test_nan_metric_round_trips(store: st.Store) -> None:
    """A diverging loss is NaN; logging it must not fail the run (MLflow stores NaN)."""
    run = st.create_run(store, "train")
    st.log_metric(store, run.id, "loss", float("nan"))
    st.log_metrics(store, run.id, [("loss", float("nan"), 1, 0), ("loss", 0.5, 2, 0)])
    history = st.metric_history(store, run.id, "loss")
    assert [math.isnan(m.value) for m in history] == [True, True, False]
    assert st.latest_metrics(store, run.id)["loss"] == 0.5


def test_registry(store: st.Store) -> None:
    for _ in range(3):
        st.register_model_version(store, "churn")
    assert [v.version for v in st.list_model_versions(store, "churn")] == [1, 2, 3]
    st.move_alias(store, "churn", "champion", 1, expected_version=0)
    with pytest.raises(ConflictError):
        st.move_alias(store, "churn", "champion", 2, expected_version=0)
    st.move_alias(store, "churn", "champion", 3, expected_version=1)
    assert st.resolve_alias(store, "churn", "champion").version == 3
    with pytest.raises(NotFoundError, match="Did you mean 'champion'"):
        st.resolve_alias(store, "churn", "champoin")
    with pytest.raises(NotFoundError, match="Did you mean 'churn'"):
        st.get_model(store, "chrun")
    history = st.alias_history(store, "churn", "champion")
    events = st.read_events(store, types=["io.conveyor.alias.*"])
    assert [h.to_version_id for h in history] == [
        st.get_model_version(store, "churn", e.data["to_version"]).id for e in events
    ]


def test_datasets(store: st.Store) -> None:
    art = st.record_artifact(store, digest("a"), 1)
    results = [
        st.add_snapshot(store, "d", artifact_id=art.id, digest=digest(c))[1] for c in "aabab c"
    ]
    assert results == [True, False, True, False, False, True, True]
    assert [s.version for s in st.list_snapshots(store, "d")] == [1, 2, 3, 4]


def test_trigger_claims(store: st.Store) -> None:
    trigger = st.upsert_trigger(store, "drift", kind="drift", pipeline="train")
    assert st.claim_trigger(store, trigger.id, "w1", "a").won
    lost = st.claim_trigger(store, trigger.id, "w1", "b")
    assert not lost.won and lost.claim.claimed_by == "a"
    assert len(st.list_claims(store, trigger.id)) == 1


def test_events(store: st.Store) -> None:
    st.emit_event(store, "io.conveyor.model_version.registered")
    st.emit_event(store, "io.conveyor.modelxversion.registered")
    run = st.create_run(store, "train")
    st.transition_run(store, run.id, "failed", expected=["running"], error="x")
    found = st.read_events(store, types=["io.conveyor.model_version.*", "io.conveyor.run.*"])
    assert [e.type for e in found] == [
        "io.conveyor.model_version.registered",
        "io.conveyor.run.started",
        "io.conveyor.run.failed",
    ]
    cursor = found[0].id
    assert [e.type for e in st.read_events(store, after=cursor)] == [
        "io.conveyor.modelxversion.registered",
        "io.conveyor.run.started",
        "io.conveyor.run.failed",
    ]
    followed = list(st.follow_events(store, after=cursor, poll_interval=0.01, stop_after=0.1))
    assert len(followed) == 3
    ce = followed[-1].to_cloudevent()
    assert ce["specversion"] == "1.0" and ce["source"] == "/projects/test"
