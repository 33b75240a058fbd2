"""The event log: typed CloudEvents, read by cursor, filtered by type or prefix, followed."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest

from conveyor import store as st
from conveyor.core import InvalidValueError

pytestmark = pytest.mark.integration


def test_emit_returns_increasing_cursors(store: st.Store) -> None:
    ids = [st.emit_event(store, "io.conveyor.drift.detected") for _ in range(3)]
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert st.last_event_id(store) == ids[-1]


def test_last_event_id_of_an_empty_log(store: st.Store) -> None:
    assert st.last_event_id(store) == 0


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "drift.detected",
        "io.conveyor.drift",
        "io.conveyor.Drift.detected",
        "io.conveyor.drift.detected.",
        "com.example.drift.detected",
        "io.conveyor.drift-x.detected",
        "io.conveyor.drift.detected\n",
    ],
)
def test_event_types_are_validated(store: st.Store, bad: str) -> None:
    with pytest.raises(InvalidValueError, match="io.conveyor.<noun>.<past-tense verb>"):
        st.emit_event(store, bad)
    assert st.last_event_id(store) == 0


def test_read_by_cursor(store: st.Store) -> None:
    ids = [st.emit_event(store, "io.conveyor.test.emitted", data={"i": i}) for i in range(5)]
    assert [e.id for e in st.read_events(store)] == ids
    assert [e.data["i"] for e in st.read_events(store, after=ids[1])] == [2, 3, 4]
    assert [e.data["i"] for e in st.read_events(store, after=ids[1], limit=2)] == [2, 3]
    assert st.read_events(store, after=ids[-1]) == []


def test_type_filters_exact_and_prefix(store: st.Store) -> None:
    run = st.create_run(store, "train")
    st.transition_run(store, run.id, "succeeded", expected=["running"])
    st.emit_event(store, "io.conveyor.runner.started")
    st.emit_event(store, "io.conveyor.drift.detected")

    def types(*filters: str) -> list[str]:
        return [e.type for e in st.read_events(store, types=filters)]

    assert types("io.conveyor.run.*") == ["io.conveyor.run.started", "io.conveyor.run.succeeded"]
    assert types("io.conveyor.drift.detected") == ["io.conveyor.drift.detected"]
    assert types("io.conveyor.drift.detected", "io.conveyor.run.*") == [
        "io.conveyor.run.started",
        "io.conveyor.run.succeeded",
        "io.conveyor.drift.detected",
    ]
    assert types("io.conveyor.*") == types()


def test_prefix_filter_matches_underscores_literally(store: st.Store) -> None:
    st.emit_event(store, "io.conveyor.model_version.registered")
    st.emit_event(store, "io.conveyor.modelxversion.registered")
    found = st.read_events(store, types=["io.conveyor.model_version.*"])
    assert [e.type for e in found] == ["io.conveyor.model_version.registered"]


def test_events_are_scoped_per_project(store: st.Store) -> None:
    st.emit_event(store, "io.conveyor.test.emitted")
    with st.open_store(store.url, project="other") as other:
        st.emit_event(other, "io.conveyor.other.emitted", data={"mine": True})
        assert [e.type for e in st.read_events(other)] == ["io.conveyor.other.emitted"]
        assert st.read_events(other)[0].source == "/projects/other"
    assert [e.type for e in st.read_events(store)] == ["io.conveyor.test.emitted"]


def test_cloudevents_shape(store: st.Store) -> None:
    st.emit_event(
        store,
        "io.conveyor.alias.moved",
        subject="models/churn/versions/3",
        data={"alias": "champion"},
    )
    (event,) = st.read_events(store)
    ce = event.to_cloudevent()
    assert ce == {
        "specversion": "1.0",
        "id": str(event.id),
        "type": "io.conveyor.alias.moved",
        "source": "/projects/test",
        "subject": "models/churn/versions/3",
        "time": ce["time"],
        "datacontenttype": "application/json",
        "data": {"alias": "champion"},
    }
    assert datetime.fromisoformat(ce["time"]).utcoffset() is not None  # RFC 3339 with offset
    custom = st.read_events(store)[0]
    assert custom.source == "/projects/test"


def test_custom_source(store: st.Store) -> None:
    st.emit_event(store, "io.conveyor.test.emitted", source="/projects/test/monitors/m")
    assert st.read_events(store)[0].source == "/projects/test/monitors/m"


def test_follow_events_yields_old_and_new_then_stops(store: st.Store) -> None:
    first = st.emit_event(store, "io.conveyor.test.emitted", data={"i": 0})
    st.emit_event(store, "io.conveyor.other.emitted")
    later = threading.Timer(
        0.1, lambda: st.emit_event(store, "io.conveyor.test.emitted", data={"i": 1})
    )
    later.start()
    try:
        seen = [
            e.data["i"]
            for e in st.follow_events(
                store,
                after=first - 1,
                types=["io.conveyor.test.*"],
                poll_interval=0.02,
                stop_after=0.6,
            )
        ]
    finally:
        later.join(timeout=5)
    assert seen == [0, 1]


def test_follow_events_resumes_after_the_cursor(store: st.Store) -> None:
    cursor = st.emit_event(store, "io.conveyor.test.emitted")
    events = list(st.follow_events(store, after=cursor, poll_interval=0.01, stop_after=0.1))
    assert events == []


def test_append_event_commits_with_its_transaction(store: st.Store) -> None:
    class Abort(Exception):
        pass

    def fails(conn: object) -> None:
        st.append_event(conn, store, "io.conveyor.test.emitted")  # type: ignore[arg-type]
        raise Abort

    with pytest.raises(Abort):
        store.transact(fails)
    assert st.read_events(store) == []
    cursor = store.transact(
        lambda conn: st.append_event(conn, store, "io.conveyor.test.emitted", subject="x")
    )
    assert [(e.id, e.subject) for e in st.read_events(store)] == [(cursor, "x")]
    with pytest.raises(InvalidValueError):
        store.transact(lambda conn: st.append_event(conn, store, "bad"))
