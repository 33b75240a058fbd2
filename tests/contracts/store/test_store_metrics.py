"""Metrics: single and batched logging, history order, latest values, input validation."""

from __future__ import annotations

import pytest

from conveyor import store as st
from conveyor.core import InvalidNameError, InvalidValueError

pytestmark = pytest.mark.integration


@pytest.fixture
def run_id(store: st.Store) -> int:
    return st.create_run(store, "train").id


def test_log_metric_and_history_in_step_order(store: st.Store, run_id: int) -> None:
    st.log_metric(store, run_id, "loss", 0.5, step=2, timestamp=1_000)
    st.log_metric(store, run_id, "loss", 0.9, step=1, timestamp=2_000)
    st.log_metric(store, run_id, "loss", 0.4, step=2, timestamp=500)
    st.log_metric(store, run_id, "acc", 1)
    history = st.metric_history(store, run_id, "loss")
    assert [(m.step, m.timestamp, m.value) for m in history] == [
        (1, 2_000, 0.9),
        (2, 500, 0.4),
        (2, 1_000, 0.5),
    ]
    (acc,) = st.metric_history(store, run_id, "acc")
    assert acc.key == "acc" and acc.value == 1.0 and isinstance(acc.value, float)
    assert acc.step == 0 and acc.timestamp > 1_600_000_000_000  # stamped now, in ms
    assert st.metric_history(store, run_id, "missing") == []


def test_log_metrics_batch_counts_and_accepts_both_shapes(store: st.Store, run_id: int) -> None:
    rows = [("loss", 1.0), ("loss", 0.5, 1, 10), ("acc", 0.7, 1, 10)]
    assert st.log_metrics(store, run_id, rows) == 3
    assert st.log_metrics(store, run_id, []) == 0
    assert st.log_metrics(store, run_id, (("x", i) for i in range(500))) == 500
    assert st.count_metrics(store) == 503
    assert st.count_metrics(store, [run_id]) == 503
    assert st.count_metrics(store, [run_id + 1]) == 0
    assert [(m.step, m.value) for m in st.metric_history(store, run_id, "loss")] == [
        (0, 1.0),
        (1, 0.5),
    ]


def test_latest_is_the_last_logged_not_the_highest_step(store: st.Store, run_id: int) -> None:
    st.log_metrics(store, run_id, [("loss", 0.1, 9, 1), ("acc", 0.5, 0, 1)])
    st.log_metric(store, run_id, "loss", 0.3, step=1)
    assert st.latest_metrics(store, run_id) == {"loss": 0.3, "acc": 0.5}
    assert st.latest_metrics(store, run_id + 1) == {}


def test_metrics_attach_to_a_step_run(store: st.Store, run_id: int) -> None:
    (step,) = st.add_step_runs(store, run_id, ["train"])
    st.log_metric(store, run_id, "loss", 1.0, step_run_id=step.id)
    st.log_metrics(store, run_id, [("loss", 2.0)], step_run_id=step.id)
    assert len(st.metric_history(store, run_id, "loss")) == 2


@pytest.mark.parametrize("key", ["", "k" * 251, None, 3])
def test_bad_keys_are_rejected(store: st.Store, run_id: int, key: object) -> None:
    with pytest.raises(InvalidNameError, match="metric key"):
        st.log_metric(store, run_id, key, 1.0)  # type: ignore[arg-type]
    with pytest.raises(InvalidNameError, match="metric key"):
        st.log_metrics(store, run_id, [(key, 1.0)])  # type: ignore[list-item]


@pytest.mark.parametrize("value", ["1.0", None, True, [1.0]])
def test_bad_values_are_rejected(store: st.Store, run_id: int, value: object) -> None:
    with pytest.raises(InvalidValueError, match="'loss' must be a number"):
        st.log_metric(store, run_id, "loss", value)  # type: ignore[arg-type]


def test_one_bad_item_rejects_the_whole_batch(store: st.Store, run_id: int) -> None:
    with pytest.raises(InvalidValueError):
        st.log_metrics(store, run_id, [("a", 1.0), ("b", "x")])  # type: ignore[list-item]
    assert st.count_metrics(store) == 0


def test_key_of_250_characters_is_fine(store: st.Store, run_id: int) -> None:
    st.log_metric(store, run_id, "k" * 250, float("inf"))
    assert st.latest_metrics(store, run_id) == {"k" * 250: float("inf")}
