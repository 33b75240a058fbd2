"""Feature views as registered, their materialisation watermarks and their uses by runs."""

from __future__ import annotations

import pytest

from conveyor import store as st
from conveyor.core import InvalidNameError, NotFoundError

pytestmark = pytest.mark.integration

D1, D2 = "1" * 64, "2" * 64


def test_a_view_is_registered_once_and_updated_only_when_its_digest_changes(
    store: st.Store,
) -> None:
    made = st.register_feature_view(store, "weather", digest=D1, definition={"ttl": 7200})
    again = st.register_feature_view(store, "weather", digest=D1, definition={"ttl": 7200})
    assert again == made  # unchanged: not even its updated_at moves
    changed = st.register_feature_view(store, "weather", digest=D2, definition={"ttl": 3600})
    assert (changed.id, changed.digest, changed.definition) == (made.id, D2, {"ttl": 3600})
    assert changed.updated_at >= made.updated_at and changed.created_at == made.created_at
    st.register_feature_view(store, "airports", digest=D1, definition={})
    assert [v.name for v in st.list_feature_views(store)] == ["airports", "weather"]
    assert st.get_feature_view(store, "weather") == changed
    with pytest.raises(NotFoundError, match="Did you mean 'weather'") as info:
        st.get_feature_view(store, "wether")
    assert "conveyor features list" in str(info.value.hint)
    with pytest.raises(InvalidNameError, match="feature view name"):
        st.register_feature_view(store, "a b", digest=D1, definition={})


def test_the_watermark_is_per_definition(store: st.Store) -> None:
    st.register_feature_view(store, "weather", digest=D1, definition={})
    assert st.last_materialization(store, "weather", D1) is None
    st.record_materialization(
        store, "weather", digest=D1, start_us=None, watermark_us=100, n_rows=5, source="x"
    )
    later = st.record_materialization(
        store, "weather", digest=D1, start_us=100, watermark_us=250, n_rows=2
    )
    assert st.last_materialization(store, "weather", D1) == later
    assert (later.start_us, later.watermark_us, later.n_rows) == (100, 250, 2)
    assert st.last_materialization(store, "weather", D2) is None  # a new definition: from 0
    with pytest.raises(NotFoundError):
        st.record_materialization(store, "nope", digest=D1, start_us=None, watermark_us=1, n_rows=0)


def test_a_run_shows_the_views_its_steps_read(store: st.Store) -> None:
    st.register_feature_view(store, "weather", digest=D1, definition={})
    run = st.create_run(store, "train")
    (join,) = st.add_step_runs(store, run.id, ["join"])
    st.record_feature_view_use(store, "weather", join.id, D1)
    st.record_feature_view_use(store, "weather", join.id, D1)  # a retry: one row
    uses = st.feature_view_uses(store, run.id)
    assert [(u.step, u.view, u.digest) for u in uses] == [("join", "weather", D1)]
    assert st.feature_view_uses(store, st.create_run(store, "other").id) == []
    with pytest.raises(NotFoundError, match="No step run"):
        st.record_feature_view_use(store, "weather", 10**9, D1)
