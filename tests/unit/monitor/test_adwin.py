"""ADWIN: the same detections as River's, a resumable state, drops alarmed and rises only
reported, no false alarm on a long stationary stream, bad input refused."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.core import InvalidValueError
from conveyor.monitor._adwin import ADWIN, Change

try:
    from river import drift as river_drift
except ImportError:  # river comes with the dev extra; without it only the comparisons skip
    river_drift = None

needs_river = pytest.mark.skipif(river_drift is None, reason="river is not installed")


def river_first_detection(stream: np.ndarray, **params: object) -> tuple[int, int] | None:
    """River's first detection: (index, window width after it)."""
    detector = river_drift.ADWIN(**params)
    for i, value in enumerate(stream.tolist()):
        detector.update(value)
        if detector.drift_detected:
            return i, int(detector.width)
    return None


def first_detection(stream: np.ndarray, **params: object) -> tuple[int, int] | None:
    changes = ADWIN(**params).update_many(stream)  # type: ignore[arg-type]
    return (changes[0].index, changes[0].n_after) if changes else None


def shifted_streams() -> list[np.ndarray]:
    streams = []
    for seed in range(40):
        rng = np.random.default_rng(seed)
        before, after = 0.8, (0.7, 0.75, 0.9, 0.8)[seed % 4]
        n_before = int(rng.integers(300, 6000))
        correct = np.r_[rng.random(n_before) < before, rng.random(4000) < after]
        streams.append(correct.astype(float))
    for seed in range(10):  # real-valued: a loss stream whose mean moves by 0.3 sd
        rng = np.random.default_rng(100 + seed)
        streams.append(np.r_[rng.normal(0, 1, 3000), rng.normal(0.3, 1, 3000)])
    return streams


@needs_river
def test_the_first_detection_is_rivers_to_the_index_and_window() -> None:
    """River (the paper's ADWIN2 with the same defaults) on 50 streams: drops, rises, none,
    and real values. River restarts after a detection, so first detections are compared."""
    streams = shifted_streams()
    ours = [first_detection(s) for s in streams]
    assert ours == [river_first_detection(s) for s in streams]
    assert sum(d is not None for d in ours) >= 30  # the comparison covers detections


@needs_river
@pytest.mark.parametrize(
    "params", [{"delta": 0.05, "clock": 1}, {"max_buckets": 3, "min_window_length": 20}]
)
def test_other_parameters_match_river_too(params: dict[str, float]) -> None:
    streams = shifted_streams()[::5]
    assert [first_detection(s, **params) for s in streams] == [
        river_first_detection(s, **params) for s in streams
    ]


def test_a_worked_example_one_change_dropped_in_steps() -> None:
    """2,000 correct then 200 wrong: found at the first check after the change whose window
    holds enough wrong values (index 2015, clock 32), then the rest of the old regime is
    dropped at the next checks until only the new one remains."""
    changes = ADWIN().update_many([1] * 2000 + [0] * 200)
    assert [(c.index, c.n_before, c.n_after) for c in changes] == [
        (2015, 1920, 96),
        (2047, 64, 64),
        (2111, 16, 112),
    ]
    assert changes[0].mean_before == 1.0 and changes[0].mean_after == pytest.approx(80 / 96)
    assert changes[-1].mean_after == 0.0
    assert all(c.is_drop and c.is_alarm for c in changes)
    assert changes[0].start_index == 1920


def test_a_rise_is_reported_but_not_alarmed_unless_asked() -> None:
    stream = [0.0] * 1000 + [1.0] * 200
    rise = ADWIN().update_many(stream)[0]
    assert not rise.is_drop and not rise.is_alarm
    assert ADWIN(alarm_on="increase").update_many(stream)[0].is_alarm
    assert ADWIN(alarm_on="both").update_many(stream)[0].is_alarm
    assert not ADWIN(alarm_on="increase").update_many(stream[::-1])[0].is_alarm


def test_checks_run_every_clock_values_only() -> None:
    rng = np.random.default_rng(4)
    stream = np.r_[rng.random(3000) < 0.9, rng.random(3000) < 0.5].astype(float)
    for clock in (1, 7, 32):
        changes = ADWIN(clock=clock).update_many(stream)
        assert changes and all((c.index + 1) % clock == 0 for c in changes)
        assert all(c.index >= 3000 for c in changes)


def test_update_many_is_update_one_value_at_a_time() -> None:
    rng = np.random.default_rng(2)
    stream = np.r_[rng.random(4000) < 0.8, rng.random(4000) < 0.6].astype(float)
    one_by_one = ADWIN()
    singles = [c for v in stream for c in [one_by_one.update(v)] if c is not None]
    batch = ADWIN()
    assert batch.update_many(stream) == singles
    assert batch.to_dict() == one_by_one.to_dict()


def test_the_state_resumes_across_windows_and_processes() -> None:
    """Cut the stream anywhere, write the state as JSON, read it back: same changes, same
    state as the uninterrupted detector."""
    rng = np.random.default_rng(9)
    stream = np.r_[rng.random(5000) < 0.8, rng.random(5000) < 0.7, rng.random(5000) < 0.8]
    stream = stream.astype(float)
    whole = ADWIN()
    expected = whole.update_many(stream)
    cuts = [0, 1, 33, 1000, 4999, 5000, 7777, 12000, 15000]
    detector, found = ADWIN(), []
    for start, end in zip(cuts, cuts[1:], strict=False):
        found += detector.update_many(stream[start:end])
        state = json.loads(json.dumps(detector.to_dict()))
        detector = ADWIN.from_dict(state)
    assert found == expected and len(expected) >= 2
    assert detector.to_dict() == whole.to_dict()
    assert len(json.dumps(whole.to_dict())) < 4000  # a small dict, whatever the stream length


def test_no_false_alarm_on_a_long_stationary_stream() -> None:
    """delta bounds false detections; on 3 x 100,000 Bernoulli(0.8) values none is expected
    (none was found over 10 x 1,000,000 in bench/bench_monitor.py)."""
    for seed in range(3):
        rng = np.random.default_rng(seed)
        detector = ADWIN()
        assert detector.update_many(rng.random(100_000) < 0.8) == []
        assert detector.width_ == 100_000 and detector.mean_ == pytest.approx(0.8, abs=0.01)


def test_state_and_repr_describe_the_window() -> None:
    detector = ADWIN()
    assert detector.mean_ is None
    detector.update_many([True, False, True, True])
    assert (detector.width_, detector.mean_, detector.n_seen_) == (4, 0.75, 4)
    assert detector.variance_ == pytest.approx(np.var([1, 0, 1, 1]) * 4)
    assert "width=4" in repr(detector)
    assert Change(10, 0.8, 0.7, 5, 6, True, True).to_dict()["start_index"] == 5


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([1.0, float("nan")], "1 missing or infinite value(s) out of 2, the first at position 1"),
        (["right", "wrong"], "Got values that are not numbers"),
        ([[1, 0], [0, 1]], "1-D sequence"),
    ],
)
def test_bad_values_are_refused_and_nothing_is_added(values: list, message: str) -> None:
    detector = ADWIN()
    with pytest.raises(InvalidValueError) as caught:
        detector.update_many(values)
    assert message in str(caught.value)
    assert detector.n_seen_ == 0


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"delta": 0}, "delta must be a number between 0 and 1"),
        ({"delta": 1.5}, "delta must be a number between 0 and 1"),
        ({"clock": 0}, "clock must be an integer >= 1"),
        ({"max_buckets": 1}, "max_buckets must be an integer >= 2"),
        ({"alarm_on": "decreased"}, "Did you mean 'decrease'?"),
    ],
)
def test_bad_parameters_are_refused(params: dict, message: str) -> None:
    with pytest.raises(InvalidValueError) as caught:
        ADWIN(**params)
    assert message in str(caught.value)


def test_a_state_that_is_not_adwins_is_refused() -> None:
    detector = ADWIN()
    detector.update_many([1.0] * 100)
    good = detector.to_dict()
    for bad, message in (
        ({"width": 3}, "must have the keys"),
        ({**good, "version": 99}, "version 99"),
        ({**good, "width": 99}, "do not add up to its width"),
        ({**good, "n_seen": -1}, "malformed"),
        ({**good, "params": {**good["params"], "delta": 2}}, "delta must be"),
    ):
        with pytest.raises(InvalidValueError, match=message):
            ADWIN.from_dict(bad)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    cuts=st.lists(st.integers(1, 5_999), max_size=6, unique=True),
)
def test_any_split_of_the_stream_gives_the_same_changes(seed: int, cuts: list[int]) -> None:
    rng = np.random.default_rng(seed)
    stream = np.r_[rng.random(3000) < 0.85, rng.random(3000) < 0.6].astype(float)
    whole = ADWIN()
    expected = whole.update_many(stream)
    bounds = [0, *sorted(cuts), len(stream)]
    detector, found = ADWIN(), []
    for start, end in zip(bounds, bounds[1:], strict=False):
        found += detector.update_many(stream[start:end])
        detector = ADWIN.from_dict(detector.to_dict())
    assert found == expected
    assert detector.to_dict() == whole.to_dict()


def test_the_window_keeps_exact_statistics_in_few_buckets() -> None:
    rng = np.random.default_rng(14)
    values = rng.normal(3.0, 2.0, 50_000)
    detector = ADWIN()
    assert detector.update_many(values) == []
    assert detector.total_ == pytest.approx(values.sum())
    assert detector.variance_ == pytest.approx(values.var() * len(values), rel=1e-9)
    # The exponential histogram: at most max_buckets per level, log2(width) levels.
    assert detector.n_buckets_ <= 5 * (int(np.log2(50_000)) + 1)
