"""A model version moves only along its state machine, and an alias never points at a version
that is not ready (issue item 1.7), on both backends."""

from __future__ import annotations

import pytest

from conveyor import store as st
from conveyor.core import ConflictError, InvalidValueError, NotFoundError

pytestmark = pytest.mark.integration


@pytest.fixture
def churn(store: st.Store) -> st.Store:
    for _ in range(3):
        st.register_model_version(store, "churn")
    st.move_alias(store, "churn", "champion", 1)
    return store


def test_legal_moves_and_their_events(churn: st.Store) -> None:
    assert st.set_model_version_status(churn, "churn", 2, "archived").status == "archived"
    assert st.set_model_version_status(churn, "churn", 2, "ready").status == "ready"
    assert st.set_model_version_status(churn, "churn", 3, "failed", reason="warm-up").status == (
        "failed"
    )
    assert st.set_model_version_status(churn, "churn", 3, "archived").status == "archived"
    again = st.set_model_version_status(churn, "churn", 3, "archived")  # a repeat: no-op
    assert again.status == "archived"
    types = [e.type for e in st.read_events(churn, types=["io.conveyor.model_version.*"])]
    assert types[-4:] == [
        "io.conveyor.model_version.archived",
        "io.conveyor.model_version.ready",
        "io.conveyor.model_version.failed",
        "io.conveyor.model_version.archived",
    ]


def test_illegal_moves_are_refused_and_change_nothing(churn: st.Store) -> None:
    st.set_model_version_status(churn, "churn", 3, "failed")
    with pytest.raises(ConflictError, match="is failed; it cannot become ready"):
        st.set_model_version_status(churn, "churn", 3, "ready")
    with pytest.raises(InvalidValueError, match="Did you mean 'archived'"):
        st.set_model_version_status(churn, "churn", 2, "archive")
    with pytest.raises(NotFoundError, match="no version 9"):
        st.set_model_version_status(churn, "churn", 9, "archived")
    assert [v.status for v in st.list_model_versions(churn, "churn")] == [
        "ready",
        "ready",
        "failed",
    ]


def test_an_alias_points_only_at_a_ready_version(churn: st.Store) -> None:
    st.set_model_version_status(churn, "churn", 2, "archived")
    st.set_model_version_status(churn, "churn", 3, "failed")
    for version in (2, 3):
        with pytest.raises(ConflictError, match="an alias may only point at a ready version"):
            st.move_alias(churn, "churn", "champion", version)
    assert st.resolve_alias(churn, "churn", "champion").version == 1
    assert len(st.alias_history(churn, "churn", "champion")) == 1  # no move recorded


def test_a_served_version_cannot_leave_ready(churn: st.Store) -> None:
    for status in ("archived", "failed"):
        with pytest.raises(ConflictError, match=r"target of alias\(es\) \['champion'\]"):
            st.set_model_version_status(churn, "churn", 1, status)
    assert st.get_model_version(churn, "churn", 1).status == "ready"
    st.move_alias(churn, "churn", "champion", 2)
    assert st.set_model_version_status(churn, "churn", 1, "archived").status == "archived"
