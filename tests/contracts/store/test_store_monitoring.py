"""Monitor windows and monitor states, on every store backend: a recomputed window
replaces its row, windows list newest-limited and oldest first, and a state advances by
compare-and-set (the loser is told, a retried winner is not)."""

from __future__ import annotations

import pytest

from conveyor import store as st
from conveyor.core import ConflictError, InvalidValueError, NotFoundError

pytestmark = pytest.mark.integration


@pytest.fixture
def api(store: st.Store) -> st.DeploymentRecord:
    st.register_model_version(store, "churn")
    return st.upsert_deployment(store, "api", model="churn")


def window(store: st.Store, key: str, end: int, **kw: object) -> st.MonitorWindowRecord:
    args: dict[str, object] = {"status": "ok", "figures": {"share": 0.0}, "n_rows": 10}
    args.update(kw)
    return st.record_monitor_window(
        store,
        "api",
        "drift",
        key,
        start_ms=end - 10,
        end_ms=end,
        **args,  # type: ignore[arg-type]
    )


def test_a_recomputed_window_replaces_its_row(store: st.Store, api: st.DeploymentRecord) -> None:
    first = window(store, "t:0", 100, model="churn", version=1)
    again = window(store, "t:0", 100, status="drift", figures={"share": 0.6}, n_rows=12)
    assert again.id == first.id
    assert (again.status, again.figures, again.n_rows) == ("drift", {"share": 0.6}, 12)
    assert (first.model, first.version) == ("churn", 1)
    assert again.version is None  # the recomputation named no version
    assert [w.window_key for w in st.list_monitor_windows(store, "api")] == ["t:0"]


def test_windows_list_the_newest_oldest_first(store: st.Store, api: st.DeploymentRecord) -> None:
    for i in range(5):
        window(store, f"t:{i}", 100 * (i + 1))
    st.record_monitor_window(
        store,
        "api",
        "performance",
        "t:0",
        start_ms=0,
        end_ms=1000,
        n_rows=1,
        status="ok",
        figures={},
    )
    listed = st.list_monitor_windows(store, "api", monitor="drift", limit=3)
    assert [w.window_key for w in listed] == ["t:2", "t:3", "t:4"]
    assert len(st.list_monitor_windows(store, "api")) == 6
    assert [w.end_ms for w in st.list_monitor_windows(store, "api", since_ms=400)] == [
        400,
        500,
        1000,
    ]


def test_state_advances_by_compare_and_set(store: st.Store, api: st.DeploymentRecord) -> None:
    assert st.get_monitor_state(store, "api", "drift") is None
    one = st.save_monitor_state(store, "api", "drift", {"cursor": 1}, expected_revision=0)
    assert (one.revision, one.state) == (1, {"cursor": 1})
    with pytest.raises(ConflictError):
        st.save_monitor_state(store, "api", "drift", {"cursor": 9}, expected_revision=0)
    two = st.save_monitor_state(
        store,
        "api",
        "drift",
        {"cursor": 2},
        expected_revision=1,
        windows=[st.WindowValues("t:0", 0, 10, 5, "drift", {"share": 1.0}, "churn", 1)],
        events=[("io.conveyor.drift.detected", "deployments/api", {"window": "t:0"})],
    )
    assert two.revision == 2
    # The loser of a race changes nothing: no window, no event.
    with pytest.raises(ConflictError):
        st.save_monitor_state(
            store,
            "api",
            "drift",
            {"cursor": 3},
            expected_revision=1,
            windows=[st.WindowValues("t:1", 10, 20, 5, "ok", {})],
            events=[("io.conveyor.drift.detected", "deployments/api", {"window": "t:1"})],
        )
    state = st.get_monitor_state(store, "api", "drift")
    assert state is not None and (state.revision, state.state) == (2, {"cursor": 2})
    assert [w.window_key for w in st.list_monitor_windows(store, "api")] == ["t:0"]
    events = st.read_events(store, types=["io.conveyor.drift.*"])
    assert [e.data for e in events] == [{"window": "t:0"}]


def test_bad_names_and_unknown_deployments_are_refused(
    store: st.Store, api: st.DeploymentRecord
) -> None:
    with pytest.raises(NotFoundError, match="No deployment 'nope'"):
        st.list_monitor_windows(store, "nope")
    with pytest.raises(InvalidValueError, match="window key"):
        window(store, "", 1)
    with pytest.raises(InvalidValueError, match="monitor's name"):
        st.save_monitor_state(store, "api", "", {}, expected_revision=0)
    with pytest.raises(NotFoundError, match="no version 7"):
        window(store, "t:0", 100, model="churn", version=7)
