"""The prediction log's index and feedback labels, on every store backend: segments found by
time and by id, idempotent records, upserted labels, and garbage collection keeping
segment blobs."""

from __future__ import annotations

import time

import pytest

from conveyor import store as st
from conveyor.core import InvalidValueError, NotFoundError

pytestmark = pytest.mark.integration


def pid(ms: int, n: int) -> str:
    """A UUIDv7-shaped id for time ``ms`` and counter ``n`` (sorts as (ms, n) does)."""
    stamp = f"{ms:012x}"
    return f"{stamp[:8]}-{stamp[8:]}-7{n:03x}-8000-000000000000"


@pytest.fixture
def api(store: st.Store) -> st.DeploymentRecord:
    st.register_model_version(store, "churn")
    st.register_model_version(store, "churn")
    return st.upsert_deployment(store, "api", model="churn")


def segment(
    store: st.Store, digest: str, first: int, last: int, *, version: int | None = 1
) -> st.PredictionSegmentRecord:
    return st.record_prediction_segment(
        store,
        "api",
        digest=digest * 64,
        n_rows=10,
        n_bytes=1000,
        first_id=pid(first, 0),
        last_id=pid(last, 9),
        min_ts=first,
        max_ts=last,
        role="serve" if version == 1 else "canary",
        model=None if version is None else "churn",
        version=version,
    )


def test_segments_are_listed_by_time_and_found_by_id(
    store: st.Store, api: st.DeploymentRecord
) -> None:
    a = segment(store, "a", 1000, 1999)
    b = segment(store, "b", 2000, 2999, version=2)
    c = segment(store, "c", 3000, 3999, version=None)
    assert (a.deployment, a.model, a.version, a.role, a.n_rows, a.n_bytes) == (
        "api",
        "churn",
        1,
        "serve",
        10,
        1000,
    )
    assert (b.version, b.role, c.model, c.version) == (2, "canary", None, None)
    listed = st.list_prediction_segments(store, "api")
    assert [x.id for x in listed] == [a.id, b.id, c.id]
    assert [x.id for x in st.list_prediction_segments(store, "api", since_ms=2500)] == [b.id, c.id]
    assert [x.id for x in st.list_prediction_segments(store, "api", until_ms=2000)] == [a.id, b.id]
    window = st.list_prediction_segments(store, "api", since_ms=2100, until_ms=2200)
    assert [x.id for x in window] == [b.id]
    # Indexed after a segment, in the order indexed (a late segment of older predictions
    # comes last), at most `limit`.
    late = segment(store, "d", 500, 900)
    after = st.list_prediction_segments(store, "api", after_id=a.id)
    assert [x.id for x in after] == [b.id, c.id, late.id]
    assert [x.id for x in st.list_prediction_segments(store, "api", after_id=0, limit=2)] == [
        a.id,
        b.id,
    ]
    assert [x.id for x in st.find_prediction_segments(store, pid(2500, 3))] == [b.id]
    assert [x.id for x in st.find_prediction_segments(store, pid(1000, 0))] == [a.id]
    assert [x.id for x in st.find_prediction_segments(store, pid(3999, 9))] == [c.id]
    assert st.find_prediction_segments(store, pid(999, 0)) == []
    assert st.find_prediction_segments(store, pid(5000, 0)) == []


def test_recording_a_segment_again_returns_the_first_row(
    store: st.Store, api: st.DeploymentRecord
) -> None:
    first = segment(store, "a", 1000, 1999)
    again = segment(store, "a", 1000, 1999)
    assert again == first
    assert len(st.list_prediction_segments(store, "api")) == 1


def test_segment_errors_name_what_is_wrong(store: st.Store, api: st.DeploymentRecord) -> None:
    with pytest.raises(NotFoundError, match="No deployment 'apj'.*Did you mean 'api'"):
        st.list_prediction_segments(store, "apj")
    with pytest.raises(NotFoundError, match="has no version 7"):
        st.record_prediction_segment(
            store,
            "api",
            digest="d" * 64,
            n_rows=1,
            n_bytes=1,
            first_id=pid(1, 0),
            last_id=pid(1, 0),
            min_ts=1,
            max_ts=1,
            model="churn",
            version=7,
        )
    with pytest.raises(InvalidValueError, match="must not be after its last"):
        st.record_prediction_segment(
            store,
            "api",
            digest="d" * 64,
            n_rows=1,
            n_bytes=1,
            first_id=pid(2, 0),
            last_id=pid(1, 0),
            min_ts=1,
            max_ts=2,
        )
    assert st.list_prediction_segments(store, "api") == []


def test_referenced_digests_keep_segment_blobs(store: st.Store, api: st.DeploymentRecord) -> None:
    segment(store, "e", 1, 2)
    assert "e" * 64 in st.referenced_digests(store)


def test_feedback_upserts_are_idempotent_and_replace_labels(
    store: st.Store, api: st.DeploymentRecord
) -> None:
    rows = [(pid(1000 + i, 0), i % 2, 1000 + i) for i in range(5)]
    assert st.upsert_feedback(store, rows, deployment="api") == 5
    first = st.list_feedback(store)
    assert [(r.prediction_id, r.label, r.prediction_ts, r.deployment) for r in first] == [
        (p, label, ts, "api") for p, label, ts in rows
    ]
    time.sleep(0.005)
    # The same labels again: nothing changes, not even updated_at.
    assert st.upsert_feedback(store, rows) == 5
    assert st.list_feedback(store) == first
    # A new label for one id replaces it; the others stay as they were.
    time.sleep(0.005)
    st.upsert_feedback(store, [(rows[0][0], "churned", rows[0][2])])
    after = st.list_feedback(store)
    assert len(after) == 5
    changed = after[0]
    assert (changed.label, changed.deployment, changed.received_at) == (
        "churned",
        "api",
        first[0].received_at,
    )
    assert changed.updated_at > first[0].updated_at
    assert after[1:] == first[1:]


def test_feedback_filters(store: st.Store, api: st.DeploymentRecord) -> None:
    st.upsert_feedback(store, [(pid(1000, 0), 1.5, 1000), (pid(2000, 0), True, 2000)])
    st.upsert_feedback(store, [(pid(3000, 0), "yes", 3000)], deployment="api")
    assert [r.label for r in st.list_feedback(store)] == [1.5, True, "yes"]
    assert [r.prediction_ts for r in st.list_feedback(store, deployment="api")] == [3000]
    assert [r.prediction_ts for r in st.list_feedback(store, since_ms=2000)] == [2000, 3000]
    assert [r.prediction_ts for r in st.list_feedback(store, until_ms=2000)] == [1000, 2000]
    ids = [pid(3000, 0), pid(1000, 0), pid(9000, 0)]
    assert [r.prediction_ts for r in st.list_feedback(store, ids=ids)] == [1000, 3000]
    many = [pid(10_000 + i, 0) for i in range(1200)]
    st.upsert_feedback(store, [(p, 0, 10_000 + i) for i, p in enumerate(many)])
    assert len(st.list_feedback(store, ids=many)) == 1200
    assert st.upsert_feedback(store, []) == 0
    with pytest.raises(NotFoundError, match="No deployment 'web'"):
        st.upsert_feedback(store, [(pid(1, 0), 1, 1)], deployment="web")
    assert st.list_feedback(store, ids=[pid(1, 0)]) == []
