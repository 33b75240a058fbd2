"""Windows of the prediction log: by time (aligned, closed after the grace, empty stretches
skipped) and by count (in indexing order, resumed exactly where the last run stopped);
shadow rows are not traffic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conveyor.monitor._log import count_windows, time_windows
from conveyor.workspace import Workspace
from support.monitoring import log_segment, monitored_project, sample
from support.prediction_log import open_workspace

pytestmark = pytest.mark.integration

HOUR = 3_600_000
T0 = 1_780_000_000_000 // HOUR * HOUR  # an hour boundary


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    ws = open_workspace(tmp_path / "p", f"sqlite:///{tmp_path}/c.db")
    monitored_project(ws, n_reference=500)
    return ws


def test_time_windows_align_close_after_grace_and_skip_empty_stretches(ws: Workspace) -> None:
    # Hour 0: 30 rows; hour 1: 20 rows in two segments; hours 2-4 empty; hour 5: 10 rows.
    log_segment(ws, sample(30, seed=1), T0 + np.arange(30) * 1000)
    log_segment(ws, sample(10, seed=2), T0 + HOUR + np.arange(10))
    log_segment(ws, sample(10, seed=3), T0 + HOUR + 60_000 + np.arange(10))
    log_segment(ws, sample(10, seed=4), T0 + 5 * HOUR + np.arange(10))
    # A shadow's rows repeat requests: never counted.
    log_segment(ws, sample(10, seed=5), T0 + np.arange(10), role="shadow")
    args = {"width_ms": HOUR, "grace_ms": 30_000, "max_windows": 100}

    windows, nxt = time_windows(
        ws, "churn", now_ms=T0 + 2 * HOUR + 29_999, next_start_ms=None, **args
    )
    assert [(w.key, w.n_rows) for w in windows] == [(f"t:{T0}:{HOUR}", 30)]
    assert nxt == T0 + HOUR  # hour 1 is not closed until its grace has passed

    windows, nxt = time_windows(ws, "churn", now_ms=T0 + 7 * HOUR, next_start_ms=nxt, **args)
    assert [(w.start_ms, w.end_ms, w.n_rows) for w in windows] == [
        (T0 + HOUR, T0 + 2 * HOUR, 20),
        (T0 + 5 * HOUR, T0 + 6 * HOUR, 10),
    ]
    assert set(windows[0].rows.column_names) >= {"x0", "plan", "outputs.prediction", "ts_ms"}
    assert nxt == T0 + 6 * HOUR
    again, _ = time_windows(ws, "churn", now_ms=T0 + 7 * HOUR, next_start_ms=nxt, **args)
    assert again == []


def test_count_windows_resume_exactly_where_they_stopped(ws: Workspace) -> None:

    # Rows numbered 0..24 in x3, written in four segments (one late: older times).
    numbers = np.arange(25, dtype=float)
    start = 0
    for n, t in zip([7, 5, 9, 4], [T0 + 10, T0 + 20, T0 + 5, T0 + 30], strict=True):
        frame = sample(n, seed=n)
        frame["x3"] = numbers[start : start + n]
        log_segment(ws, frame, np.full(n, t))
        start += n
    log_segment(ws, sample(3, seed=9), np.full(3, T0), role="shadow")

    windows, cursor = count_windows(ws, "churn", rows=6, cursor=None, max_windows=2)
    got = [w.rows.column("x3").to_pylist() for w in windows]
    assert got == [list(range(0, 6)), list(range(6, 12))]
    assert [w.key for w in windows] == ["n:0:6", "n:1:6"]
    windows, cursor = count_windows(ws, "churn", rows=6, cursor=cursor, max_windows=10)
    assert [w.rows.column("x3").to_pylist() for w in windows] == [
        list(range(12, 18)),
        list(range(18, 24)),
    ]
    assert cursor["index"] == 4
    # Row 24 waits for five more.
    log_segment(ws, sample(5, seed=3), np.full(5, T0 + 40))
    windows, cursor = count_windows(ws, "churn", rows=6, cursor=cursor, max_windows=10)
    assert [w.n_rows for w in windows] == [6]
    assert windows[0].rows.column("x3").to_pylist()[0] == 24.0
    windows, _ = count_windows(ws, "churn", rows=6, cursor=cursor, max_windows=10)
    assert windows == []
