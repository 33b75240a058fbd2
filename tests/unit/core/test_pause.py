"""Pause points: a no-op unless the environment names them, a FIFO barrier when it does."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from conveyor.core import pause_point
from conveyor.core._pause import PIPE_ENV, POINT_ENV
from support.pause import PauseBarrier


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pause.fifo"
    os.mkfifo(path)
    return path


def test_a_named_point_blocks_until_the_test_resumes_it(
    fifo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(POINT_ENV, "runner.before_commit.train")
    monkeypatch.setenv(PIPE_ENV, str(fifo))
    passed = threading.Event()

    def runner() -> None:
        pause_point("runner.before_commit.train")
        passed.set()

    thread = threading.Thread(target=runner, daemon=True)
    thread.start()
    barrier = PauseBarrier(fifo)
    try:
        barrier.wait_reached()
        assert not passed.is_set()  # held at the point until resumed
        barrier.resume()
        thread.join(10)
        assert passed.is_set()
    finally:
        barrier.release()


@pytest.mark.parametrize(
    "env",
    [
        {},  # nothing asked
        {POINT_ENV: "runner.before_acquire"},  # another point
        {POINT_ENV: "trigger.claimed"},  # this point, but no pipe to report on
    ],
)
def test_a_point_not_asked_for_returns_at_once(
    env: dict[str, str], fifo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(POINT_ENV, raising=False)
    monkeypatch.delenv(PIPE_ENV, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    if env.get(POINT_ENV) == "runner.before_acquire":
        monkeypatch.setenv(PIPE_ENV, str(fifo))  # a pipe for another point: not opened
    pause_point("trigger.claimed")  # would block forever on the FIFO if it opened it
