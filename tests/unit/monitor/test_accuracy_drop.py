"""The issue's must-show: on a stream with a known accuracy drop and late labels, the drop is
detected within the stated number of labelled predictions, never before it happens, and
every window's coverage is exactly right while labels are still missing.

The stream: one prediction a second, 12,000 of them, 1,000-prediction windows; the model is
right 80% of the time up to prediction 5,000 and 70% from then on. The label of prediction
``i`` arrives 950 s after it, except every tenth (``i % 10 == 7``), which never arrives. The
monitor wakes at the end of each window: it computes every window's figures as of that
moment and feeds the labels that arrived since its last run to ADWIN, whose state it
keeps as JSON in between (as it would across processes).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from conveyor.monitor._adwin import ADWIN
from conveyor.monitor._performance import window_performance

N_PREDICTIONS = 12_000
WINDOW = 1_000
CHANGE = 5_000  # the first prediction of the worse model
DELAY = 950  # seconds from a prediction to its label
# The stated bound for a 10-point drop (0.80 -> 0.70) with ADWIN's defaults. Measured in
# bench/bench_monitor.py over 1,000 streams with 4,000 labelled predictions before the drop
# (this test has 4,500): median 448, 99th percentile 1,152, max 1,664 labelled predictions.
# 2,000 is 20% above that max; docs/monitoring.md states the same figure.
DETECTION_BOUND = 2_000


def never_labelled(i: np.ndarray) -> np.ndarray:
    return i % 10 == 7


def expected_labelled(start: int, end: int, now: int) -> int:
    """Labels of predictions ``start..end-1`` received by ``now``, counted by hand: the
    predictions made by ``now - DELAY``, less the never-labelled tenth."""
    last = min(end - 1, now - DELAY)
    if last < start:
        return 0
    made = np.arange(start, last + 1)
    return int((~never_labelled(made)).sum())


@pytest.mark.parametrize("seed", range(5))
def test_an_accuracy_drop_is_found_in_time_with_exact_coverage(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ids = np.arange(N_PREDICTIONS)
    made = ids.astype(float)  # seconds
    labels = (rng.random(N_PREDICTIONS) < 0.3).astype(int)
    accuracy = np.where(ids < CHANGE, 0.80, 0.70)
    correct = rng.random(N_PREDICTIONS) < accuracy
    predictions = np.where(correct, labels, 1 - labels)
    received = np.where(never_labelled(ids), np.nan, made + DELAY)

    state = ADWIN().to_dict()
    fed_until = -np.inf  # labels received up to this time are in the detector
    labelled_order: list[int] = []  # prediction ids in the order the detector saw them
    changes = []  # (change, the prediction id at which it was found)
    for tick in range(1, N_PREDICTIONS // WINDOW + 1):
        now = tick * WINDOW
        for w in range(tick):
            rows = slice(w * WINDOW, (w + 1) * WINDOW)
            figures = window_performance(
                predictions[rows],
                np.where(received[rows] <= now, labels[rows], -1),
                labelled=received[rows] <= now,
                prediction_times=made[rows],
                label_times=received[rows],
                as_of=float(now),
            )
            expected = expected_labelled(w * WINDOW, (w + 1) * WINDOW, now)
            assert figures.n_predictions == WINDOW
            assert figures.n_labelled == expected
            assert figures.coverage == expected / WINDOW
            assert figures.status == ("ok" if expected >= 100 else "insufficient_labels")
            if figures.latency is not None:
                assert figures.latency.max == DELAY
        # The labels that arrived since the last run, in arrival order.
        arrived = np.flatnonzero((received > fed_until) & (received <= now))
        arrived = arrived[np.argsort(received[arrived], kind="stable")]
        detector = ADWIN.from_dict(json.loads(json.dumps(state)))
        offset = len(labelled_order)
        for change in detector.update_many(correct[arrived]):
            changes.append((change, int(arrived[change.index - offset])))
        labelled_order += arrived.tolist()
        state, fed_until = detector.to_dict(), float(now)

    # The newest window never has enough labels (46 of 1,000); the one before has 900.
    assert expected_labelled(11_000, 12_000, 12_000) == 46
    assert expected_labelled(10_000, 11_000, 12_000) == 900
    assert changes, "the drop was never detected"
    first, prediction_id = changes[0]
    assert prediction_id >= CHANGE, f"a change found at prediction {prediction_id}, before it"
    assert first.is_alarm and first.is_drop and first.mean_before > first.mean_after
    labelled_before = int((~never_labelled(np.arange(CHANGE))).sum())
    labelled_after = first.index - labelled_before + 1
    assert labelled_order[labelled_before] == CHANGE  # the first label after the change
    assert 0 < labelled_after <= DETECTION_BOUND
