"""Every id is scoped to the store's project (issue 1.8), on both backends.

The cross-project probe builds a full set of entities in project A, then, from a store
opened on project B over the same database, calls every public store function with A's
ids, as the main id and as references. Each call must refuse with ``NotFoundError`` (as
if the id did not exist) or, for reads and lists, return nothing of A's; A's rows
(and B's) must be byte-for-byte unchanged afterwards. A public function that takes an id
and has no probe fails the test, so a new one cannot slip past.
"""

from __future__ import annotations

import hashlib
import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from conveyor import store as st
from conveyor.core import NotFoundError
from conveyor.store import _schema

pytestmark = pytest.mark.integration

# Public functions that take no id of any project's entity, and why they need no probe.
NO_ID = {
    "open_store": "opens a store for a project by name",
    "open_store_from_config": "opens a store for a project by name",
    "upgrade_store": "migrates the schema; no project data",
    "current_revision": "reads the schema revision; no project data",
    "emit_event": "writes an event to the caller's own project; ``source`` is a CloudEvents "
    "source text, not an id",
    "append_event": "writes an event to the caller's own project; ``source`` is a CloudEvents "
    "source text, not an id",
    "start_run": "creates a run in the caller's own project; takes no id",
    "upsert_trigger": "names are per project: the same name makes the caller's own trigger",
    "set_dataset_source": "names are per project: the same name makes the caller's own dataset",
    "register_feature_view": "names are per project: the same name makes the caller's own view",
    "signing_key": "returns the caller's own project's key (made on first use); takes no id",
    "record_signal": "records a signal in the caller's own project; ``key`` is the caller's "
    "idempotency text and ``source`` a CloudEvents source text, not ids",
    "referenced_digests": "garbage collection roots: spans every project by design (blobs "
    "are shared); returns digests, no ids or records",
}
# A prediction id of project A's log (prediction ids are UUIDv7 text).
PREDICTION = "00000000-0001-7000-8000-000000000000"
# Parameter names that carry an id (or a record or mapping of ids) of an entity.
ID_PARAMETERS = {"ref", "source", "outputs", "inputs"}


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class A:
    """Project A's entities."""

    queued: st.RunRecord
    run: st.RunRecord
    load: st.StepRunRecord
    fit: st.StepRunRecord
    score: st.StepRunRecord
    data: int
    reports: int
    trigger: int
    claim: int
    snapshot: int
    evaluation: int
    event: int
    delivery: int


@dataclass
class B:
    """Project B's own entities, to pass A's ids as references next to B's ids."""

    run: st.RunRecord
    step: st.StepRunRecord  # running at attempt 1
    pending: st.StepRunRecord
    artifact: int


def build_a(a: st.Store) -> A:
    queued = st.create_run(a, "train", status="queued", params={"lr": 0.1}, idempotency_key="q")
    run = st.start_run(a, "train", "runner-a", params={"depth": 3})
    load, fit, score = st.add_step_runs(a, run.id, ["load", "fit", "score"])
    (started,) = st.start_attempts(a, [load.id], "worker-a", run_attempt=run.attempt)
    load, outs = st.commit_step(
        a,
        load.id,
        started.attempt,
        outputs={"data": st.NewArtifact(digest=digest("data"), size=4, name="data")},
        cache_key="key-load",
        run_attempt=run.attempt,
    )
    (fit,) = st.start_attempts(a, [fit.id], "worker-a", run_attempt=run.attempt)
    st.log_step_metrics(a, fit.id, fit.attempt, [("loss", 0.5, 0)])
    st.log_step_params(a, fit.id, fit.attempt, {"depth": 3})
    st.start_trial(a, fit.id, fit.attempt, 0, params={"depth": 3})
    st.finish_trial(a, fit.id, fit.attempt, 0, state="complete", value=0.5)
    st.start_trial(a, fit.id, fit.attempt, 1)
    st.log_params(a, run.id, {"seed": 7})
    st.log_metrics(a, run.id, [("acc", 0.9)])
    reports = st.record_artifact(
        a,
        digest("reports"),
        5,
        kind="dir",
        name="reports",
        files=[("eval.json", digest("eval"), 5)],
        producer_step_run_id=load.id,
    )
    snapshot, _ = st.add_snapshot(
        a, "customers", artifact_id=outs["data"], digest=digest("data"), run_id=run.id
    )
    st.set_dataset_source(a, "customers", spec={"kind": "files", "url": "customers.csv"})
    st.set_source_state(a, "customers", {"files": {}})
    st.record_snapshot_read(a, snapshot.id, fit.id)
    st.register_feature_view(a, "weather", digest=digest("view"), definition={"name": "weather"})
    st.record_materialization(
        a, "weather", digest=digest("view"), start_us=None, watermark_us=1, n_rows=1
    )
    st.record_feature_view_use(a, "weather", fit.id, digest("view"))
    st.register_model_version(a, "churn", artifact_id=outs["data"], run_id=run.id)
    evaluation = st.record_evaluation(
        a,
        "churn",
        1,
        step_run_id=fit.id,
        passed=True,
        report={},
        digest="a" * 64,
        signature="b" * 64,
    )
    st.move_alias(a, "churn", "champion", 1, evaluation_id=evaluation.id)
    st.upsert_deployment(a, "api", model="churn", alias="champion")
    st.record_prediction_segment(
        a,
        "api",
        digest=digest("segment"),
        n_rows=1,
        n_bytes=1,
        first_id=PREDICTION,
        last_id=PREDICTION,
        min_ts=1,
        max_ts=1,
        model="churn",
        version=1,
    )
    st.upsert_feedback(a, [(PREDICTION, 1, 1)], deployment="api")
    st.record_monitor_window(
        a, "api", "drift", "w1", start_ms=1, end_ms=2, n_rows=1, status="ok", figures={}
    )
    st.save_monitor_state(a, "api", "drift", {"cursor": 1}, expected_revision=0)
    trigger = st.upsert_trigger(a, "nightly", kind="schedule", pipeline="train")
    # A lease of 0: the firing's holder counts as dead, so claim_lapsed could take it.
    claim = st.claim_trigger(a, trigger.id, "2026-11-30", "controller-a", lease=0.0).claim
    event = st.emit_event(a, "io.conveyor.test.emitted", subject="a")
    delivery = st.claim_alert_delivery(
        a, "ops", kind="test.emitted", dedupe_key="k", decide=_send, lease=60, event_id=event
    ).delivery
    st.finish_alert_delivery(a, delivery.id, claims=delivery.claims, sent=True, attempts=1)
    st.advance_alert_cursor(a, "default", event)
    st.record_signal(a, "f" * 64, subject="signals/alertmanager/x")
    time.sleep(0.01)
    return A(
        queued,
        run,
        load,
        fit,
        score,
        outs["data"],
        reports.id,
        trigger.id,
        claim.id,
        snapshot.id,
        evaluation.id,
        event,
        delivery.id,
    )


def _send(state: st.AlertClaimState) -> st.AlertClaimDecision:
    return st.AlertClaimDecision("send", state.now, 1)


def build_b(b: st.Store) -> B:
    run = st.start_run(b, "train", "runner-b")
    step, pending = st.add_step_runs(b, run.id, ["s", "t"])
    (step,) = st.start_attempts(b, [step.id], "worker-b", run_attempt=run.attempt)
    artifact = st.record_artifact(b, digest("b"), 1, name="b").id
    st.register_model_version(b, "mine")
    st.start_trial(b, step.id, step.attempt, 0)
    return B(run, step, pending, artifact)


def probes(a: A, b: B) -> dict[str, list[Callable[[st.Store], Any]]]:
    """For each public function, calls from project B with A's ids."""
    ra = a.run.attempt if a is not None else 0
    return {
        "acquire_run": [
            lambda s: st.acquire_run(s, a.queued.id, "x"),
            lambda s: st.acquire_run(s, a.run.id, "x", take_over_from=("runner-a", ra)),
        ],
        "add_snapshot": [
            lambda s: st.add_snapshot(s, "customers", artifact_id=a.data, digest=digest("data")),
            lambda s: st.add_snapshot(
                s, "mine", artifact_id=b.artifact, digest=digest("b"), run_id=a.run.id
            ),
            lambda s: st.add_snapshot(
                s, "mine", artifact_id=b.artifact, digest=digest("b"), step_run_id=a.fit.id
            ),
        ],
        "add_step_runs": [lambda s: st.add_step_runs(s, a.run.id, ["new"])],
        "advance_alert_cursor": [lambda s: st.advance_alert_cursor(s, "default", a.event)],
        "claim_alert_delivery": [
            lambda s: st.claim_alert_delivery(
                s, "ops", kind="x.y", dedupe_key="k", decide=_send, lease=60, event_id=a.event
            )
        ],
        "finish_alert_delivery": [
            lambda s: st.finish_alert_delivery(s, a.delivery, claims=1, sent=False, attempts=1)
        ],
        "get_alert_cursor": [lambda s: st.get_alert_cursor(s)],
        "list_alert_deliveries": [
            lambda s: st.list_alert_deliveries(s),
            lambda s: st.list_alert_deliveries(s, channel="ops"),
            lambda s: st.list_alert_deliveries(s, event_id=a.event),
        ],
        "alias_history": [lambda s: st.alias_history(s, "churn")],
        "artifact_files": [lambda s: st.artifact_files(s, a.reports)],
        "artifact_lineage": [lambda s: st.artifact_lineage(s, a.data)],
        "claim_lapsed": [lambda s: st.claim_lapsed(s, "controller-b")],
        "claim_runs": [lambda s: st.claim_runs(s, "controller-b")],
        "claim_trigger": [lambda s: st.claim_trigger(s, a.trigger, "2026-12-01", "ctl-b")],
        "commit_step": [
            lambda s: st.commit_step(s, a.fit.id, a.fit.attempt, outputs={}),
            lambda s: st.commit_step(s, a.fit.id, a.fit.attempt, outputs={}, run_attempt=ra),
            lambda s: st.commit_step(s, b.step.id, b.step.attempt, outputs={"m": a.data}),
            lambda s: st.commit_step(
                s, b.step.id, b.step.attempt, outputs={}, inputs={"x": a.data}
            ),
        ],
        "commit_and_start": [
            lambda s: st.commit_and_start(
                s, [st.StepCommit(a.fit.id, a.fit.attempt, outputs={})], [], "x"
            ),
            lambda s: st.commit_and_start(s, [], [a.score.id], "x", run_attempt=ra),
            lambda s: st.commit_and_start(
                s, [st.StepCommit(b.step.id, b.step.attempt, outputs={"m": a.data})], [], "x"
            ),
        ],
        "count_metrics": [
            lambda s: st.count_metrics(s),
            lambda s: st.count_metrics(s, [a.run.id]),
        ],
        "create_run": [lambda s: st.create_run(s, "train", trigger_claim_id=a.claim)],
        "fail_interrupted_trials": [
            lambda s: st.fail_interrupted_trials(s, a.fit.id, a.fit.attempt)
        ],
        "finish_trial": [
            lambda s: st.finish_trial(s, a.fit.id, a.fit.attempt, 1, state="failed"),
            lambda s: st.finish_trial(
                s, b.step.id, b.step.attempt, 0, state="complete", value=1.0, artifact=a.data
            ),
        ],
        "fail_attempt": [
            lambda s: st.fail_attempt(s, a.fit.id, a.fit.attempt, error="x", will_retry=False),
            lambda s: st.fail_attempt(
                s, a.fit.id, a.fit.attempt, error="x", will_retry=True, run_attempt=ra
            ),
        ],
        "find_prediction_segments": [lambda s: st.find_prediction_segments(s, PREDICTION)],
        "find_cached_step": [lambda s: st.find_cached_step(s, "key-load")],
        "find_cached_steps": [lambda s: st.find_cached_steps(s, ["key-load"])],
        "follow_events": [lambda s: list(st.follow_events(s, stop_after=0.05, poll_interval=0.01))],
        "get_artifact": [
            lambda s: st.get_artifact(s, a.data),
            lambda s: st.get_artifact(s, f"sha256:{digest('data')}"),
        ],
        "get_evaluation": [lambda s: st.get_evaluation(s, a.evaluation)],
        "get_model": [lambda s: st.get_model(s, "churn")],
        "get_model_version": [lambda s: st.get_model_version(s, "churn", 1)],
        "get_params": [lambda s: st.get_params(s, a.run.id)],
        "get_run": [lambda s: st.get_run(s, a.run.id)],
        "get_step_run": [lambda s: st.get_step_run(s, a.fit.id)],
        "get_step_runs": [lambda s: st.get_step_runs(s, a.run.id)],
        "get_trigger": [lambda s: st.get_trigger(s, "nightly")],
        "heartbeat": [
            lambda s: st.heartbeat(s, a.fit.id, a.fit.attempt),
            lambda s: st.heartbeat(s, a.fit.id, a.fit.attempt, run_attempt=ra),
        ],
        "last_event_id": [lambda s: st.last_event_id(s)],
        "latest_metrics": [lambda s: st.latest_metrics(s, a.run.id)],
        "list_artifacts": [
            lambda s: st.list_artifacts(s),
            lambda s: st.list_artifacts(s, name="data"),
        ],
        "list_claims": [lambda s: st.list_claims(s, a.trigger)],
        "list_datasets": [lambda s: st.list_datasets(s)],
        "list_feedback": [
            lambda s: st.list_feedback(s),
            lambda s: st.list_feedback(s, ids=[PREDICTION]),
            lambda s: st.list_feedback(s, deployment="api"),
        ],
        "list_prediction_segments": [lambda s: st.list_prediction_segments(s, "api")],
        "list_monitor_windows": [lambda s: st.list_monitor_windows(s, "api")],
        "get_monitor_state": [lambda s: st.get_monitor_state(s, "api", "drift")],
        "record_monitor_window": [
            lambda s: st.record_monitor_window(
                s, "api", "drift", "w2", start_ms=1, end_ms=2, n_rows=1, status="ok", figures={}
            ),
        ],
        "save_monitor_state": [
            lambda s: st.save_monitor_state(s, "api", "drift", {}, expected_revision=1)
        ],
        "list_deployments": [lambda s: st.list_deployments(s)],
        "get_deployment": [lambda s: st.get_deployment(s, "api")],
        "list_aliases": [lambda s: st.list_aliases(s, "churn")],
        "list_evaluations": [
            lambda s: st.list_evaluations(s, "churn"),
            lambda s: st.list_evaluations(s, "churn", 1),
        ],
        "list_model_versions": [lambda s: st.list_model_versions(s, "churn")],
        "list_models": [lambda s: st.list_models(s)],
        "list_run_trials": [lambda s: st.list_run_trials(s, a.run.id)],
        "list_trials": [lambda s: st.list_trials(s, a.fit.id)],
        "list_runs": [lambda s: st.list_runs(s), lambda s: st.list_runs(s, statuses=["queued"])],
        "list_snapshots": [lambda s: st.list_snapshots(s, "customers")],
        "get_snapshot": [
            lambda s: st.get_snapshot(s, "customers"),
            lambda s: st.get_snapshot(s, "customers", 1),
        ],
        "get_dataset_source": [lambda s: st.get_dataset_source(s, "customers")],
        "set_source_state": [lambda s: st.set_source_state(s, "customers", {"files": {"x": 1}})],
        "record_snapshot_read": [
            lambda s: st.record_snapshot_read(s, a.snapshot, b.step.id),
            lambda s: st.record_snapshot_read(s, a.snapshot, a.fit.id),
        ],
        "snapshot_uses": [lambda s: st.snapshot_uses(s, a.run.id)],
        "get_feature_view": [lambda s: st.get_feature_view(s, "weather")],
        "last_materialization": [lambda s: st.last_materialization(s, "weather", digest("view"))],
        "record_materialization": [
            lambda s: st.record_materialization(
                s, "weather", digest=digest("view"), start_us=None, watermark_us=2, n_rows=1
            )
        ],
        "record_feature_view_use": [
            lambda s: st.record_feature_view_use(s, "weather", b.step.id, digest("view")),
            lambda s: st.record_feature_view_use(s, "weather", a.fit.id, digest("view")),
        ],
        "feature_view_uses": [lambda s: st.feature_view_uses(s, a.run.id)],
        "list_feature_views": [lambda s: st.list_feature_views(s)],
        "list_materializations": [lambda s: st.list_materializations(s, "weather")],
        "log_metric": [
            lambda s: st.log_metric(s, a.run.id, "x", 1.0),
            lambda s: st.log_metric(s, b.run.id, "x", 1.0, step_run_id=a.fit.id),
        ],
        "log_metrics": [
            lambda s: st.log_metrics(s, a.run.id, [("x", 1.0)]),
            lambda s: st.log_metrics(s, b.run.id, [("x", 1.0)], step_run_id=a.fit.id),
        ],
        "log_params": [lambda s: st.log_params(s, a.run.id, {"x": 1})],
        "log_step_metrics": [
            lambda s: st.log_step_metrics(s, a.fit.id, a.fit.attempt, [("x", 1.0, 0)])
        ],
        "log_step_params": [lambda s: st.log_step_params(s, a.fit.id, a.fit.attempt, {"x": 1})],
        "mark_steps": [
            lambda s: st.mark_steps(s, a.run.id, ["score"], "skipped"),
            lambda s: st.mark_steps(s, a.run.id, ["score"], "cancelled", run_attempt=ra),
        ],
        "metric_history": [lambda s: st.metric_history(s, a.run.id, "acc")],
        "move_alias": [
            lambda s: st.move_alias(s, "churn", "champion", 1),
            lambda s: st.move_alias(s, "mine", "champion", 1, evaluation_id=a.evaluation),
        ],
        "record_evaluation": [
            lambda s: st.record_evaluation(
                s, "churn", 1, passed=True, report={}, digest="a" * 64, signature="b" * 64
            ),
            lambda s: st.record_evaluation(
                s,
                "mine",
                1,
                step_run_id=a.fit.id,
                passed=True,
                report={},
                digest="a" * 64,
                signature="b" * 64,
            ),
        ],
        "set_model_version_status": [
            lambda s: st.set_model_version_status(s, "churn", 1, "archived")
        ],
        "read_events": [lambda s: st.read_events(s)],
        "record_prediction_segment": [
            lambda s: st.record_prediction_segment(
                s,
                "api",
                digest=digest("other"),
                n_rows=1,
                n_bytes=1,
                first_id=PREDICTION,
                last_id=PREDICTION,
                min_ts=1,
                max_ts=1,
                model="churn",
                version=1,
            )
        ],
        "record_artifact": [
            lambda s: st.record_artifact(s, digest("x"), 1, producer_step_run_id=a.load.id)
        ],
        "record_cache_hit": [
            lambda s: st.record_cache_hit(s, a.score.id, a.load),
            lambda s: st.record_cache_hit(s, a.score.id, a.load, run_attempt=ra),
            lambda s: st.record_cache_hit(s, b.pending.id, a.load),
            lambda s: st.record_cache_hit(s, b.pending.id, a.load, run_attempt=b.run.attempt),
        ],
        "register_model_version": [
            lambda s: st.register_model_version(s, "churn", artifact_id=a.data),
            lambda s: st.register_model_version(s, "mine", run_id=a.run.id),
            lambda s: st.register_model_version(s, "churn", parent_version=1),
        ],
        "renew_claim": [lambda s: st.renew_claim(s, a.claim, 1)],
        "renew_run_lease": [lambda s: st.renew_run_lease(s, a.run.id, "runner-a", ra, lease=30)],
        "reset_steps": [lambda s: st.reset_steps(s, a.run.id, run_attempt=ra)],
        "resolve_alias": [lambda s: st.resolve_alias(s, "churn", "champion")],
        "set_claim_status": [
            lambda s: st.set_claim_status(s, a.claim, "coalesced"),
            lambda s: st.set_claim_status(s, a.claim, "failed", attempt=1),
        ],
        "start_attempt": [lambda s: st.start_attempt(s, a.score.id, "w", take_over=True)],
        "start_attempts": [
            lambda s: st.start_attempts(s, [a.score.id], "w"),
            lambda s: st.start_attempts(s, [a.score.id], "w", run_attempt=ra),
        ],
        "start_trial": [lambda s: st.start_trial(s, a.fit.id, a.fit.attempt, 5)],
        "start_claim": [lambda s: st.start_claim(s, a.claim, 1)],
        "start_claim_unless_busy": [lambda s: st.start_claim_unless_busy(s, a.claim, 1)],
        "step_attempts": [lambda s: st.step_attempts(s, a.fit.id)],
        "step_lineage": [lambda s: st.step_lineage(s, a.load.id)],
        "step_metrics": [
            lambda s: st.step_metrics(s, a.fit.id),
            lambda s: st.step_metrics(s, a.fit.id, attempt=a.fit.attempt),
        ],
        "step_params": [
            lambda s: st.step_params(s, a.fit.id),
            lambda s: st.step_params(s, a.fit.id, attempt=a.fit.attempt),
        ],
        "transition_run": [
            lambda s: st.transition_run(s, a.run.id, "cancelled", expected=["running"]),
            lambda s: st.transition_run(s, a.queued.id, "running", expected=["queued"]),
        ],
        "upsert_deployment": [lambda s: st.upsert_deployment(s, "api", model="churn")],
        "upsert_feedback": [
            lambda s: st.upsert_feedback(s, [(PREDICTION, 2, 1)], deployment="api")
        ],
    }


def public_functions() -> dict[str, Callable[..., Any]]:
    return {name: getattr(st, name) for name in st.__all__ if inspect.isfunction(getattr(st, name))}


def test_every_public_function_is_probed_or_takes_no_id() -> None:
    covered = set(probes(None, None))  # type: ignore[arg-type]
    functions = public_functions()
    unprobed = sorted(set(functions) - covered - set(NO_ID))
    assert unprobed == [], f"public store functions with no project-scope probe: {unprobed}"
    assert covered <= set(functions), sorted(covered - set(functions))
    for name in NO_ID:
        params = inspect.signature(functions[name]).parameters
        ids = [p for p in params if p.endswith(("_id", "_ids")) or p in ID_PARAMETERS]
        if name in ("emit_event", "append_event", "record_signal"):
            ids.remove("source")
        assert ids == [], f"{name} takes {ids}: it needs a probe, not an exemption"


def rows(store: st.Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but the operation log, in key order."""

    def read(conn: Any) -> dict[str, list[tuple[Any, ...]]]:
        out = {}
        for table in _schema.metadata.sorted_tables:
            if table.name == "operations":
                continue
            key = list(table.primary_key.columns)
            out[table.name] = [tuple(r) for r in conn.execute(select(table).order_by(*key))]
        return out

    return store.query(read)


def ids_of_a(a: st.Store) -> set[tuple[str, int]]:
    """(record type, id) of everything project A can list."""
    found: set[tuple[str, int]] = set()
    records: list[Any] = [
        *st.list_runs(a),
        *st.list_artifacts(a),
        *st.read_events(a),
        *st.list_models(a),
        *st.list_datasets(a),
        *st.list_deployments(a),
        *st.list_feature_views(a),
        *st.list_evaluations(a, "churn"),
        *st.list_prediction_segments(a, "api"),
        *st.list_feedback(a),
        *st.list_monitor_windows(a, "api"),
        *st.list_alert_deliveries(a),
    ]
    for run in st.list_runs(a):
        records += st.get_step_runs(a, run.id)
        records += st.list_run_trials(a, run.id)
    found |= {(type(r).__name__, r.id) for r in records}
    return found


def leaked(result: Any, a_ids: set[tuple[str, int]]) -> list[Any]:
    """The parts of a read's result that are A's."""
    if result is None or isinstance(result, int | float | str):
        return []
    if isinstance(result, dict):
        return leaked(list(result.values()), a_ids) if result else []
    if isinstance(result, list | tuple | set):
        return [r for r in result if (type(r).__name__, getattr(r, "id", None)) in a_ids]
    return [result]


def test_another_projects_ids_are_refused_everywhere(store_url: str) -> None:
    with (
        st.open_store(store_url, project="a") as a_store,
        st.open_store(store_url, project="b") as b_store,
    ):
        a = build_a(a_store)
        b = build_b(b_store)
        a_ids = ids_of_a(a_store)
        a_events = {e.id for e in st.read_events(a_store)}
        before = rows(a_store)

        calls = refusals = empties = 0
        failures = []
        for name, variants in sorted(probes(a, b).items()):
            for i, call in enumerate(variants):
                calls += 1
                try:
                    result = call(b_store)
                except NotFoundError as exc:
                    refusals += 1
                    # As if it did not exist: the message never names A or its project.
                    assert "project 'a'" not in str(exc), (name, i, str(exc))
                    continue
                except Exception as exc:
                    failures.append(f"{name}[{i}] raised {type(exc).__name__}: {exc}")
                    continue
                if name == "last_event_id":
                    bad = [result] if result in a_events else []
                else:
                    bad = leaked(result, a_ids)
                if bad or (name in ("count_metrics",) and result != 0):
                    failures.append(f"{name}[{i}] returned A's data: {result!r}")
                else:
                    empties += 1
        after = rows(a_store)

    assert failures == []
    changed = {t: (before[t], after[t]) for t in before if before[t] != after[t]}
    assert changed == {}, changed
    print(
        f"\nproject-scope probe: {len(probes(a, b))} functions, {calls} calls, "
        f"{refusals} NotFoundError, {empties} empty reads, 0 leaks, 0 rows changed"
    )
    assert refusals + empties == calls
