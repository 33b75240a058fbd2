"""A retry never changes an outcome (R19 in the small): every writer, run twice.

Each test drops the acknowledgement of one write transaction after its COMMIT succeeded
(``support.lost_ack``), so the store re-runs the transaction function exactly as it does
after a lost connection, against the state its own first execution committed. The caller
must get the first execution's outcome: no second row, no lost win, no false conflict.
The hook sits in ``Store.transact_once``, above the driver, so the same cut runs on both
backends (``tests/integration/store/test_store_lost_commit_ack.py`` cuts a real PostgreSQL
connection instead).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from sqlalchemy import func, insert, select

from conveyor import store as st
from conveyor.core import ConflictError, now_ms
from conveyor.store import _engine, _schema
from support.lost_ack import LostAcks, lost_acks

pytestmark = pytest.mark.integration


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def cut(store: st.Store) -> Iterator[LostAcks]:
    with lost_acks() as cutter:
        yield cutter
    assert cutter.armed == 0, "an armed acknowledgement was never lost: the test did not write"


def count(store: st.Store, table: object) -> int:
    query = select(func.count()).select_from(table)  # type: ignore[arg-type]
    return int(store.query(lambda c: c.execute(query).scalar_one()))


def events(store: st.Store, type: str) -> list[st.EventRecord]:
    return st.read_events(store, types=[type])


def test_a_lost_ack_is_retried_and_the_retry_is_logged(
    store: st.Store, cut: LostAcks, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="conveyor.store._engine")
    cut.arm()
    st.emit_event(store, "io.conveyor.test.emitted")
    assert cut.n_cut == 1
    assert "transient error, retry 1" in caplog.text
    assert len(events(store, "io.conveyor.test.emitted")) == 1


def test_create_run_without_a_key(store: st.Store, cut: LostAcks) -> None:
    cut.arm()
    run = st.create_run(store, "train", params={"lr": 0.1})
    assert [r.id for r in st.list_runs(store)] == [run.id]
    assert st.get_params(store, run.id) == {"lr": 0.1}
    assert len(events(store, "io.conveyor.run.started")) == 1


def test_create_run_with_a_key(store: st.Store, cut: LostAcks) -> None:
    cut.arm()
    run = st.create_run(store, "train", idempotency_key="k")
    assert [r.id for r in st.list_runs(store)] == [run.id]
    assert len(events(store, "io.conveyor.run.started")) == 1


def test_register_model_version(store: st.Store, cut: LostAcks) -> None:
    st.register_model_version(store, "churn")
    cut.arm()
    v2 = st.register_model_version(store, "churn", flavor="sklearn")
    assert v2.version == 2 and v2.flavor == "sklearn"
    assert [v.version for v in st.list_model_versions(store, "churn")] == [1, 2]
    assert st.get_model(store, "churn").last_version == 2
    assert len(events(store, "io.conveyor.model_version.registered")) == 2


@pytest.mark.parametrize("compare_and_set", [False, True])
def test_move_alias(store: st.Store, cut: LostAcks, compare_and_set: bool) -> None:
    for _ in range(2):
        st.register_model_version(store, "churn")
    st.move_alias(store, "churn", "champion", 1)
    cut.arm()
    moved = st.move_alias(
        store, "churn", "champion", 2, expected_version=1 if compare_and_set else None
    )
    assert moved.reason == "" and st.resolve_alias(store, "churn", "champion").version == 2
    history = st.alias_history(store, "churn", "champion")
    assert [h.id for h in history][-1] == moved.id and len(history) == 2
    assert len(events(store, "io.conveyor.alias.moved")) == 2


def test_log_metrics_and_log_metric(store: st.Store, cut: LostAcks) -> None:
    run = st.create_run(store, "train")
    cut.arm()
    assert st.log_metrics(store, run.id, [("loss", 0.5), ("loss", 0.4, 1, 0)]) == 2
    cut.arm()
    st.log_metric(store, run.id, "auc", 0.9)
    assert st.count_metrics(store, [run.id]) == 3
    assert cut.n_cut == 2


def test_step_metrics_and_params(
    store: st.Store, cut: LostAcks, running_step: st.StepRunRecord
) -> None:
    cut.arm()
    rows = [("loss", 0.5, 0), ("loss", 0.4, 1)]
    assert st.log_step_metrics(store, running_step.id, running_step.attempt, rows) == 2
    cut.arm()
    st.log_step_params(store, running_step.id, running_step.attempt, {"lr": 0.1})
    assert st.count_metrics(store, [running_step.run_id]) == 2
    assert st.step_params(store, running_step.id) == {"lr": 0.1}


def test_emit_event(store: st.Store, cut: LostAcks) -> None:
    cut.arm()
    event_id = st.emit_event(store, "io.conveyor.test.emitted", data={"i": 1})
    assert [e.id for e in events(store, "io.conveyor.test.emitted")] == [event_id]


def test_record_artifact(store: st.Store, cut: LostAcks) -> None:
    cut.arm()
    art = st.record_artifact(store, digest("a"), 1, name="model")
    assert st.list_artifacts(store) == [art]


def test_add_snapshot_still_reports_created(store: st.Store, cut: LostAcks) -> None:
    art = st.record_artifact(store, digest("data"), 1)
    cut.arm()
    snapshot, created = st.add_snapshot(store, "events", artifact_id=art.id, digest=digest("data"))
    assert created and snapshot.version == 1
    assert [s.id for s in st.list_snapshots(store, "events")] == [snapshot.id]
    assert len(events(store, "io.conveyor.snapshot.created")) == 1


def test_upsert_deployment(store: st.Store, cut: LostAcks) -> None:
    st.register_model_version(store, "churn")
    cut.arm()
    deployment = st.upsert_deployment(store, "web", model="churn")
    assert st.list_deployments(store) == [deployment]
    assert len(events(store, "io.conveyor.deployment.updated")) == 1


def test_idempotent_by_construction_writers(store: st.Store, cut: LostAcks) -> None:
    run = st.create_run(store, "train")
    cut.arm()
    st.log_params(store, run.id, {"a": 1})
    cut.arm()
    assert [s.name for s in st.add_step_runs(store, run.id, ["a"])] == ["a"]
    cut.arm()
    trigger = st.upsert_trigger(store, "t", kind="manual", pipeline="train")
    assert st.get_params(store, run.id) == {"a": 1}
    assert st.get_trigger(store, "t") == trigger


@pytest.fixture
def running_step(store: st.Store) -> st.StepRunRecord:
    run = st.create_run(store, "train")
    (step,) = st.add_step_runs(store, run.id, ["train"])
    return st.start_attempt(store, step.id, "worker")


def test_commit_step_is_not_a_false_stale_attempt(
    store: st.Store, cut: LostAcks, running_step: st.StepRunRecord
) -> None:
    data = st.record_artifact(store, digest("in"), 1).id
    model = st.NewArtifact(digest=digest("model"), size=1, name="model")
    cut.arm()
    done, ids = st.commit_step(
        store,
        running_step.id,
        running_step.attempt,
        outputs={"model": model},
        inputs={"data": data},
        cache_key="k",
    )
    assert done.status == "succeeded" and done.attempt == running_step.attempt
    assert done.cache_key == "k"
    assert list(ids) == ["model"] and len(st.list_artifacts(store)) == 2
    edges = [(e.direction, e.name) for e in st.step_lineage(store, running_step.id)]
    assert edges == [("in", "data"), ("out", "model")]
    assert [a.status for a in st.step_attempts(store, running_step.id)] == ["succeeded"]


@pytest.mark.parametrize("will_retry", [False, True])
def test_fail_attempt_is_not_a_false_stale_attempt(
    store: st.Store, cut: LostAcks, running_step: st.StepRunRecord, will_retry: bool
) -> None:
    cut.arm()
    failed = st.fail_attempt(
        store, running_step.id, running_step.attempt, error="OOM", will_retry=will_retry
    )
    assert failed.status == ("pending" if will_retry else "failed") and failed.error == "OOM"
    history = [(a.attempt, a.status) for a in st.step_attempts(store, running_step.id)]
    assert history == [(1, "failed")]


def test_a_repeated_failure_by_the_same_attempt_returns_it(
    store: st.Store, running_step: st.StepRunRecord
) -> None:
    first = st.fail_attempt(store, running_step.id, 1, error="x", will_retry=False)
    assert st.fail_attempt(store, running_step.id, 1, error="x", will_retry=False) == first


@pytest.mark.parametrize("fenced", [False, True])
def test_transition_run_is_not_a_false_conflict(
    store: st.Store, cut: LostAcks, fenced: bool
) -> None:
    run = st.create_run(store, "train", status="queued" if fenced else "running")
    mine = st.acquire_run(store, run.id, "runner") if fenced else run
    cut.arm()
    done = st.transition_run(
        store,
        run.id,
        "succeeded",
        expected=["running"],
        attempt=mine.attempt if fenced else None,
    )
    assert done.status == "succeeded" and st.get_run(store, run.id) == done
    assert len(events(store, "io.conveyor.run.succeeded")) == 1


def test_a_repeated_fenced_transition_returns_the_run_but_a_rival_still_conflicts(
    store: st.Store,
) -> None:
    run = st.create_run(store, "train", status="queued")
    mine = st.acquire_run(store, run.id, "runner")
    done = st.transition_run(store, run.id, "succeeded", expected=["running"], attempt=mine.attempt)
    again = st.transition_run(
        store, run.id, "succeeded", expected=["running"], attempt=mine.attempt
    )
    assert again == done
    with pytest.raises(ConflictError, match="is 'succeeded'"):  # not this call's own move
        st.transition_run(store, run.id, "succeeded", expected=["running"])


def test_claim_trigger_tells_the_winner_it_won(store: st.Store, cut: LostAcks) -> None:
    trigger = st.upsert_trigger(store, "t", kind="drift", pipeline="retrain")
    cut.arm()
    result = st.claim_trigger(store, trigger.id, "w1", "ctl-a")
    assert result.won and result.claim.claimed_by == "ctl-a" and result.claim.attempt == 1
    rival = st.claim_trigger(store, trigger.id, "w1", "ctl-b")
    assert not rival.won and rival.claim == result.claim


def test_start_claim_and_set_claim_status(store: st.Store, cut: LostAcks) -> None:
    trigger = st.upsert_trigger(store, "t", kind="drift", pipeline="retrain")
    claim = st.claim_trigger(store, trigger.id, "w1", "ctl").claim
    cut.arm()
    run = st.start_claim(store, claim.id, claim.attempt)
    assert (run.trigger_claim_id, run.pipeline) == (claim.id, "retrain")
    assert [r.id for r in st.list_runs(store)] == [run.id]
    other = st.claim_trigger(store, trigger.id, "w2", "ctl").claim
    cut.arm()
    coalesced = st.set_claim_status(store, other.id, "coalesced", reason=f"run {run.id}")
    assert coalesced.status == "coalesced"
    assert [c.status for c in st.list_claims(store, trigger.id)] == ["started", "coalesced"]


def test_claim_lapsed(store: st.Store, cut: LostAcks) -> None:
    trigger = st.upsert_trigger(store, "t", kind="drift", pipeline="retrain")
    st.claim_trigger(store, trigger.id, "w1", "dead", lease=0)
    cut.arm()
    (taken,) = st.claim_lapsed(store, "ctl-b", lease=30)
    assert (taken.claimed_by, taken.attempt) == ("ctl-b", 2)


def test_claim_runs(store: st.Store, cut: LostAcks) -> None:
    queued = [st.create_run(store, "train", status="queued").id for _ in range(3)]
    cut.arm()
    claimed = st.claim_runs(store, "ctl-a", limit=2)
    assert [r.id for r in claimed] == queued[:2]
    assert all((r.lease_owner, r.attempt) == ("ctl-a", 1) for r in claimed)
    assert [r.id for r in st.claim_runs(store, "ctl-b")] == queued[2:]


def test_recorded_operations_are_pruned(store: st.Store, monkeypatch: pytest.MonkeyPatch) -> None:
    old = now_ms() - _engine.OPERATION_RETENTION_MS - 1
    ops = _schema.operations
    store.transact(lambda c: c.execute(insert(ops).values(key="old", outcome=1, created_at=old)))
    monkeypatch.setattr(_engine, "_PRUNE_EVERY", 1)  # this write prunes
    st.emit_event(store, "io.conveyor.test.emitted")
    keys = store.query(lambda c: list(c.execute(select(ops.c.key)).scalars()))
    assert len(keys) == 1 and keys != ["old"]


def test_a_fenced_commit_records_no_operation(
    store: st.Store, running_step: st.StepRunRecord
) -> None:
    """The hot path pays nothing: fenced writes recognise their own result by re-reading."""
    before = count(store, _schema.operations)
    st.commit_step(store, running_step.id, running_step.attempt, outputs={})
    assert count(store, _schema.operations) == before


def test_record_cache_hit(store: st.Store, cut: LostAcks) -> None:
    run = st.create_run(store, "train")
    (source,) = st.add_step_runs(store, run.id, ["train"])
    started = st.start_attempt(store, source.id, "w")
    model = st.record_artifact(store, digest("model"), 5).id
    source, _ = st.commit_step(store, source.id, started.attempt, outputs={"m": model})
    later_run = st.create_run(store, "train")
    (later,) = st.add_step_runs(store, later_run.id, ["train"])
    cut.arm(what="cache hit")
    hit = st.record_cache_hit(store, later.id, source)
    assert (hit.status, hit.cached_from_id) == ("succeeded", source.id)
    assert [e.name for e in st.step_lineage(store, later.id)] == ["m"]  # once
