"""The drift monitor end to end on a deployment's prediction log: over a long stationary
stretch its false alarms match the budget it states (neither more nor far fewer), a
sudden shift at a known window raises the drift alarm within the persistence it needs,
alarms are events once, and a run resumes where the last one stopped."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from conveyor import store as st
from conveyor.core import DRIFT_DETECTED, DRIFT_SUSPECTED, Config
from conveyor.monitor import alarm_levels, monitor_history, run_drift_monitor
from conveyor.registry import load_model
from conveyor.workspace import Workspace
from support.monitoring import log_segment, monitor_racer, monitored_project, sample
from support.prediction_log import open_workspace
from support.procs import SPAWN, run_processes

pytestmark = pytest.mark.integration

T0 = 1_780_000_000_000
ROWS = 100


def workspace(tmp_path: Path, monitor: str) -> Workspace:
    open_workspace(tmp_path / "p", f"sqlite:///{tmp_path}/c.db").close()  # creates the project
    toml = tmp_path / "p" / "conveyor.toml"
    toml.write_text(toml.read_text() + "\n[monitor]\n" + monitor)
    return Workspace.from_config(
        Config.load(tmp_path / "p", env={"CONVEYOR_STORE": f"sqlite:///{tmp_path}/c.db"})
    )


def log_windows(ws: Workspace, n: int, *, first: int = 0, shift_from: int | None = None) -> None:
    model = load_model(ws, "models:/churn@champion")
    for i in range(first, first + n):
        shifted = shift_from is not None and i >= shift_from
        frame = sample(ROWS, seed=1000 + i, shift=1.0 if shifted else 0.0)
        log_segment(ws, frame, T0 + i * 1000 + np.arange(ROWS), predictions=model.predict(frame))


def poisson_bounds(mean: float) -> tuple[int, int]:
    # Far tails (about 4 standard deviations): a calibrated monitor fails this rarely.
    spread = 4 * math.sqrt(mean)
    return max(0, math.floor(mean - spread)), math.ceil(mean + spread)


@pytest.mark.slow
def test_false_alarms_on_stationary_data_match_the_stated_budget(tmp_path: Path) -> None:
    ws = workspace(
        tmp_path,
        f"window_rows = {ROWS}\nwarning_every = 25\nwarning_persistence = [2, 3]\n"
        "drift_every = 80\ndrift_persistence = [3, 4]\ncooldown = 2\n",
    )
    monitored_project(ws, n_reference=20_000)
    n_windows = 600
    log_windows(ws, n_windows)
    run = run_drift_monitor(ws, "churn", max_windows=n_windows)
    assert len(run.windows) == n_windows
    warning, drift = alarm_levels(ws)
    # One event per window at most; a drift alarm is not also counted as a warning.
    counts = {
        "warning": sum(a["level"] == "warning" for a in run.alarms),
        "drift": sum(a["level"] == "drift" for a in run.alarms),
    }
    for level in (warning, drift):
        # Windows in which this level could alarm: the other level's drift alarm hides
        # the warning of the same window (rare), which the bounds absorb.
        low, high = poisson_bounds(n_windows / level.ert)
        assert low <= counts[level.name] <= high, (level.name, counts, n_windows / level.ert)
    events = st.read_events(ws.store, types=[DRIFT_SUSPECTED, DRIFT_DETECTED])
    assert len(events) == len(run.alarms)
    # The flagged share of windows is the per-window level the budget implies.
    flagged = sum(w.figures["levels"]["warning"]["flagged"] for w in run.windows)
    expected = warning.window_p * n_windows
    assert abs(flagged - expected) <= 4 * math.sqrt(expected), (flagged, expected)


def test_a_sudden_shift_raises_the_drift_alarm_within_its_persistence(tmp_path: Path) -> None:
    ws = workspace(
        tmp_path,
        f"window_rows = {ROWS}\nwarning_every = 200\nwarning_persistence = [2, 3]\n"
        "drift_every = 1000\ndrift_persistence = [3, 3]\ncooldown = 5\n",
    )
    monitored_project(ws, n_reference=20_000)
    change = 40
    log_windows(ws, 60, shift_from=change)
    run = run_drift_monitor(ws, "churn", max_windows=25)  # two runs: resumes at window 25
    run2 = run_drift_monitor(ws, "churn")
    windows = run.windows + run2.windows
    assert [w.key for w in windows] == [f"n:{i}:{ROWS}" for i in range(60)]
    drift = [
        int(a["window"].split(":")[1]) for a in run.alarms + run2.alarms if a["level"] == "drift"
    ]
    warnings = [
        int(a["window"].split(":")[1]) for a in run.alarms + run2.alarms if a["level"] == "warning"
    ]
    # Three shifted windows in a row make the first drift alarm; nothing before the change.
    assert drift and drift[0] == change + 2, drift
    assert all(i >= change for i in drift + warnings), (drift, warnings)
    assert warnings[0] == change + 1  # two of the last three
    shifted = windows[change + 2]
    x0 = next(c for c in shifted.figures["columns"] if c["column"] == "x0")
    assert x0["flagged"]["drift"] and x0["drifted"] and x0["method"] == "wasserstein"
    assert shifted.status == "drift"
    # The alarm names the shifted column and the prediction it moved, not the others.
    alarm = next(a for a in run2.alarms if a["level"] == "drift")
    assert "x0" in alarm["columns"] and not {"x1", "x2", "x3", "region"} & set(alarm["columns"])
    # Nothing new: the next run computes nothing and raises nothing.
    assert run_drift_monitor(ws, "churn").windows == []
    assert len(monitor_history(ws, "churn", last=100)) == 60


def test_time_windows_and_too_few_rows(tmp_path: Path) -> None:
    ws = workspace(tmp_path, 'window = "1m"\ngrace = "10s"\nmin_rows = 50\n')
    monitored_project(ws, n_reference=5_000)
    model = load_model(ws, "models:/churn@champion")
    minute = 60_000
    start = T0 // minute * minute
    for i, n in enumerate([120, 20, 120]):
        frame = sample(n, seed=i)
        log_segment(ws, frame, start + i * minute + np.arange(n), predictions=model.predict(frame))
    run = run_drift_monitor(ws, "churn", now=start + 3 * minute + 10_000)
    assert [(w.n_rows, w.status) for w in run.windows] == [
        (120, "ok"),
        (20, "insufficient"),
        (120, "ok"),
    ]
    assert run.windows[1].figures == {"n_rows": 20, "min_rows": 50}
    # Calibrated at the power of 2**(1/4) at or below the window's size.
    assert run.windows[0].figures["calibration"]["rows"] == 107  # 2 ** 6.75


def test_two_processes_racing_on_one_monitor_commit_its_windows_and_alarms_once(
    tmp_path: Path, store_url: str
) -> None:
    open_workspace(tmp_path / "p", store_url).close()  # creates the project
    toml = tmp_path / "p" / "conveyor.toml"
    toml.write_text(
        toml.read_text()
        + f"\n[monitor]\nwindow_rows = {ROWS}\nwarning_every = 10\nwarning_persistence = [1, 1]\n"
        "drift_every = 30\ndrift_persistence = [2, 3]\ncooldown = 0\n"
    )
    with Workspace.from_config(
        Config.load(tmp_path / "p", env={"CONVEYOR_STORE": store_url})
    ) as ws:
        monitored_project(ws, n_reference=5_000)
        log_windows(ws, 40, shift_from=30)
    barrier = SPAWN.Barrier(2)
    args = (str(tmp_path / "p"), store_url, barrier)
    one, two = run_processes(monitor_racer, [args, args], barrier=barrier, timeout=180)
    ws = Workspace.from_config(Config.load(tmp_path / "p", env={"CONVEYOR_STORE": store_url}))
    # Either one process won the race, or they ran one after the other; either way every
    # window is computed once and each alarm is one event.
    assert sorted([one["windows"], two["windows"]]) == [0, 40]
    winner = one if one["windows"] else two
    events = st.read_events(ws.store, types=[DRIFT_SUSPECTED, DRIFT_DETECTED])
    assert [e.data["window"] for e in events] == winner["alarms"]
    assert len(winner["alarms"]) >= 2  # the shift alarms
    assert len(monitor_history(ws, "churn", last=100)) == 40
    ws.close()


def test_enriched_features_are_monitored_from_the_logs_features(tmp_path: Path) -> None:
    ws = workspace(
        tmp_path,
        f'window_rows = {ROWS}\nreference = "datasets:/enriched/1"\nwarning_every = 200\n'
        "drift_every = 1000\ndrift_persistence = [2, 2]\ncooldown = 0\n",
    )
    monitored_project(ws, n_reference=5_000)
    from conveyor.data import snapshot
    from conveyor.serve.runtime import set_deployment

    frame = sample(5_000, seed=0)
    frame["tenure_days"] = np.random.default_rng(5).exponential(300, size=len(frame))
    snapshot(ws, frame, name="enriched")
    set_deployment(ws, "churn", model="churn", config={"features": ["customers:tenure_days"]})
    model = load_model(ws, "models:/churn@champion")
    for i in range(6):
        rows = sample(ROWS, seed=50 + i)
        days = np.random.default_rng(i).exponential(300 if i < 3 else 900, size=ROWS)
        log_segment(
            ws,
            rows,
            T0 + i * 1000 + np.arange(ROWS),
            predictions=model.predict(rows),
            features={"tenure_days": days},
        )
    run = run_drift_monitor(ws, "churn")
    columns = [c["column"] for c in run.windows[0].figures["columns"]]
    assert "tenure_days" in columns and "outputs.prediction" in columns
    assert [w.status for w in run.windows][:3] == ["ok", "ok", "ok"]
    (alarm,) = [a for a in run.alarms if a["level"] == "drift"]
    assert alarm["window"] == f"n:4:{ROWS}" and alarm["columns"] == ["tenure_days"]


def test_a_category_the_reference_never_saw_is_stored_on_every_backend(
    tmp_path: Path, store_url: str
) -> None:
    # A reference of at most 1,000 rows: categories are tested with chi-square, whose
    # statistic is infinite for a category only the window holds (JSONB has no Infinity).
    open_workspace(tmp_path / "p", store_url).close()
    toml = tmp_path / "p" / "conveyor.toml"
    toml.write_text(toml.read_text() + f"\n[monitor]\nwindow_rows = {ROWS}\n")
    with Workspace.from_config(
        Config.load(tmp_path / "p", env={"CONVEYOR_STORE": store_url})
    ) as ws:
        monitored_project(ws, n_reference=800)
        model = load_model(ws, "models:/churn@champion")
        frame = sample(ROWS, seed=3)
        frame.loc[:9, "region"] = "antarctica"
        log_segment(ws, frame, T0 + np.arange(ROWS), predictions=model.predict(frame))
        (window,) = run_drift_monitor(ws, "churn").windows
        region = next(c for c in window.figures["columns"] if c["column"] == "region")
        assert region["method"] == "chisquare"
        assert region["statistic"] is None and region["infinite"] is True
        assert region["p_value"] < 0.01 and region["out_of_range_rate"] == 0.1
        (stored,) = monitor_history(ws, "churn")
        assert stored.figures == window.figures
