"""From the event log to alerts: each alertable event goes out once per channel, across
restarts and across two dispatcher processes reading the same log at the same instant."""

from __future__ import annotations

import json

import pytest
from standardwebhooks.webhooks import Webhook

from conveyor import store as st
from conveyor.core import (
    ALIAS_MOVED,
    DRIFT_DETECTED,
    EVALUATION_FAILED,
    RUN_FAILED,
    RUN_SUCCEEDED,
    SNAPSHOT_CREATED,
    VALIDATION_FAILED,
)
from conveyor.notify import alert_for_event, dispatch_alerts, send_alert
from support import notify_workers
from support.alerts import FAST, SECRET, MakeNotifyProject
from support.procs import SPAWN, run_processes
from support.receivers import http_receiver

pytestmark = pytest.mark.integration


def project(make: MakeNotifyProject, url: str, extra: str = "") -> object:
    return make(
        f"""
[notify]
allowed_hosts = ["127.0.0.1"]
{FAST}{extra}
[notify.channels.hooks]
kind = "webhook"
url = "{url}/hook"
secret = "{SECRET}"
[notify.channels.audit]
kind = "log"
"""
    )


def emit(ws, n: int, start: int = 0) -> list[int]:  # type: ignore[no-untyped-def]
    """``n`` alertable events (each about another run, so none is a duplicate), with two
    events that make no alert between each."""
    ids = []
    for i in range(start, start + n):
        st.emit_event(ws.store, RUN_SUCCEEDED, subject=f"runs/{1000 + i}")
        ids.append(
            st.emit_event(
                ws.store,
                RUN_FAILED,
                subject=f"runs/{i}",
                data={"run_id": i, "pipeline": "train", "error": f"boom {i}"},
            )
        )
        st.emit_event(ws.store, SNAPSHOT_CREATED, subject="datasets/x")
    return ids


def test_each_kind_of_event_reaches_the_receiver_once(
    notify_project: MakeNotifyProject,
) -> None:
    with http_receiver() as receiver:
        ws = project(notify_project, receiver.url)
        store = ws.store  # type: ignore[attr-defined]
        st.emit_event(store, RUN_FAILED, subject="runs/1", data={"run_id": 1, "pipeline": "t"})
        st.emit_event(
            store, VALIDATION_FAILED, subject="datasets/orders", data={"dataset": "orders"}
        )
        st.emit_event(
            store,
            EVALUATION_FAILED,
            subject="models/churn/versions/2",
            data={"model": "churn", "version": 2, "evaluation_id": 5},
        )
        st.emit_event(store, DRIFT_DETECTED, subject="deployments/api", data={"psi": 0.4})
        st.emit_event(
            store,
            ALIAS_MOVED,
            subject="models/churn/versions/2",
            data={"model": "churn", "alias": "champion", "from_version": 1, "to_version": 2},
        )
        st.emit_event(
            store,
            ALIAS_MOVED,
            subject="models/churn/versions/1",
            data={
                "model": "churn",
                "alias": "champion",
                "from_version": 2,
                "to_version": 1,
                "reason": "rollback: latency",
            },
        )
        result = dispatch_alerts(ws)  # type: ignore[arg-type]
        again = dispatch_alerts(ws)  # type: ignore[arg-type]
    assert (result.n_events, result.n_alerts, len(result.deliveries)) == (6, 6, 12)
    assert (again.n_events, again.n_alerts, again.cursor) == (0, 0, result.cursor)
    types = sorted(Webhook(SECRET).verify(r.body, r.headers)["type"] for r in receiver.received)
    assert types == [
        "io.conveyor.drift.detected",
        "io.conveyor.evaluation.failed",
        "io.conveyor.model.promoted",
        "io.conveyor.model.rolled_back",
        "io.conveyor.run.failed",
        "io.conveyor.validation.failed",
    ]


def test_a_restart_neither_resends_nor_skips(notify_project: MakeNotifyProject) -> None:
    with http_receiver() as receiver:
        ws = project(notify_project, receiver.url)
        ids = emit(ws, 7)
        # A first dispatcher handles three events and stops (its process ends).
        first = dispatch_alerts(ws, limit=3)  # type: ignore[arg-type]
        assert (first.n_events, first.cursor) == (3, ids[2])
        # One that crashed after sending event 4's alert, before moving its cursor.
        event4 = st.read_events(ws.store, after=ids[3] - 1, limit=1)[0]  # type: ignore[attr-defined]
        alert = alert_for_event(event4)
        assert alert is not None
        assert {d.outcome for d in send_alert(ws, alert)} == {"sent"}  # type: ignore[arg-type]
        # The restarted dispatcher reads event 4 again: it is not sent twice.
        rest = dispatch_alerts(ws)  # type: ignore[arg-type]
    assert rest.n_events == 4 and rest.cursor == ids[-1]
    assert (
        sorted(d.outcome for d in rest.deliveries if d.channel == "hooks")
        == ["done"] + ["sent"] * 3
    )
    sent = [json.loads(r.body)["data"]["event_id"] for r in receiver.received]
    assert sorted(sent) == ids  # every event once: none skipped, none twice
    deliveries = st.list_alert_deliveries(ws.store, channel="hooks")  # type: ignore[attr-defined]
    assert len(deliveries) == 7 and {d.status for d in deliveries} == {"sent"}


@pytest.mark.slow
def test_two_dispatchers_in_lockstep_alert_each_event_once(
    notify_project: MakeNotifyProject, store_url: str
) -> None:
    n = 30
    with http_receiver() as receiver:
        ws = project(notify_project, receiver.url)
        ids = emit(ws, n)
        root = str(ws.config.root)  # type: ignore[attr-defined]
        barrier = SPAWN.Barrier(2)
        results = run_processes(
            notify_workers.dispatcher,
            [(root, store_url, barrier, 7), (root, store_url, barrier, 7)],
            barrier=barrier,
        )
        # A third start, after both: nothing is left to send.
        after = dispatch_alerts(ws)  # type: ignore[arg-type]
    hits = [json.loads(r.body)["data"]["event_id"] for r in receiver.received]
    assert sorted(hits) == ids  # 30 alerts received, 0 duplicates, 0 lost
    sent = sum(r["counts"].get("sent", 0) for r in results)
    done = sum(r["counts"].get("done", 0) for r in results)
    assert sent == 2 * n  # two channels, each event once
    assert sent + done == sum(2 * r["n_events"] for r in results)
    assert after.n_events == 0 and after.cursor == ids[-1]
    events = st.read_events(ws.store, types=["io.conveyor.alert.*"])  # type: ignore[attr-defined]
    assert len(events) == 2 * n  # one event per delivery
    keys = {(e.data["channel"], e.data["source_event_id"]) for e in events}
    assert len(keys) == 2 * n
    print(
        f"\ntwo dispatchers: {n} events, {len(hits)} webhook deliveries, "
        f"{done} found already handled, 0 duplicates"
    )


def test_old_events_are_skipped_not_alerted(notify_project: MakeNotifyProject) -> None:
    with http_receiver() as receiver:
        ws = project(notify_project, receiver.url, 'max_age = "1ms"\n')
        emit(ws, 2)
        import time

        time.sleep(0.01)
        result = dispatch_alerts(ws)  # type: ignore[arg-type]
    assert (result.n_events, result.n_stale, result.n_alerts) == (2, 2, 0)
    assert receiver.received == []


def test_follow_keeps_dispatching_new_events(notify_project: MakeNotifyProject) -> None:
    import threading

    with http_receiver() as receiver:
        ws = project(notify_project, receiver.url, 'dispatch_interval = "50ms"\n')
        seen: list[str] = []
        done = threading.Event()

        def follow() -> None:
            dispatch_alerts(
                ws, follow=True, stop_after=3.0, on_delivery=lambda d: seen.append(d.outcome)
            )  # type: ignore[arg-type]
            done.set()

        thread = threading.Thread(target=follow)
        thread.start()
        from support.waits import wait_for

        emit(ws, 2)
        wait_for(lambda: len(receiver.received) >= 2, timeout=10, what="two alerts")
        emit(ws, 1, start=2)
        wait_for(lambda: len(receiver.received) >= 3, timeout=10, what="a third alert")
        thread.join(10)
    assert done.is_set()
    assert len(receiver.received) == 3
    assert seen.count("sent") == 6
