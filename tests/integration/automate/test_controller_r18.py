"""R18: a long-running controller computes 1,000 monitor windows and runs 200 triggered
runs in one process: its memory stops growing and it leaks no file descriptor."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import numpy as np
import pytest

from conveyor.automate import Controller, trigger_now
from conveyor.core import Config
from conveyor.monitor import run_drift_monitor
from conveyor.registry import load_model
from conveyor.workspace import Workspace, init_project
from support.monitoring import log_segment, monitored_project, sample

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PIPELINES = """
from conveyor import pipeline, step

@step
def refit(n: int) -> int:
    return n + 1

@pipeline
def retrain(n: int = 1):
    refit(n)
"""


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_r18_memory_and_descriptors_stay_flat(tmp_path: Path) -> None:
    root = tmp_path / "p"
    init_project(root, name="p")
    (root / "pipes.py").write_text(PIPELINES)
    with open(root / "conveyor.toml", "a") as f:
        f.write(
            '\n[pipelines]\nmodules = ["pipes"]\n[monitor]\nwindow_rows = 50\n'
            '[automate.triggers.again]\nkind = "manual"\npipeline = "retrain"\n'
        )
    with Workspace.from_config(Config.load(root)) as ws:
        monitored_project(ws, n_reference=2_000)
        model = load_model(ws, "models:/churn@champion")
        frame = sample(50_000, seed=9)
        predictions = model.predict(frame)
        for i in range(1_000):
            rows = frame.iloc[i * 50 : (i + 1) * 50]
            log_segment(
                ws,
                rows,
                10**12 + i * 1000 + np.arange(50),
                predictions=predictions[i * 50 : (i + 1) * 50],
            )
        controller = Controller(ws, every_monitor=None)  # the windows are computed below
        rss = {}
        fds = {}
        computed = 0
        for _ in range(10):
            computed += len(run_drift_monitor(ws, "churn", max_windows=100).windows)
            for _run in range(20):  # 200 triggered runs over the ten chunks
                trigger_now(ws, "again", owner=controller.owner)
                tick = controller.tick()
                assert [r["status"] for r in tick.runs] == ["succeeded"]
            gc.collect()
            rss[computed] = rss_mb()
            fds[computed] = open_fds()
    assert computed == 1_000
    growth = rss[1_000] - rss[100]
    print(f"\nR18: RSS {rss[100]:.1f} MB after 100 windows, {rss[1_000]:.1f} MB after 1,000 "
          f"(+{growth:.1f}); descriptors {fds[100]} -> {fds[1_000]}")  # fmt: skip
    assert growth < 20, rss
    assert fds[1_000] <= fds[100], fds
