"""The test's side of a pause point (``conveyor.core.pause_point``): a FIFO barrier."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest


class PauseBarrier:
    """The test's side of a pause point (see ``conveyor.core.pause_point``)."""

    def __init__(self, fifo: Path) -> None:
        self.fifo = fifo

    def _run(self, target: Callable[[], None], what: str, timeout: float) -> None:
        errors: list[BaseException] = []

        def guarded() -> None:
            try:
                target()
            except BaseException as exc:  # reported below
                errors.append(exc)

        thread = threading.Thread(target=guarded, daemon=True)
        thread.start()
        thread.join(timeout)
        if thread.is_alive():
            self.release()
            thread.join(5)
            pytest.fail(f"pause point: timed out waiting to {what}")
        if errors:
            raise errors[0]

    def wait_reached(self, timeout: float = 30.0) -> None:
        received: list[str] = []

        def read() -> None:
            with open(self.fifo, encoding="utf-8") as f:
                received.append(f.read())

        self._run(read, "reach the pause point", timeout)
        assert received == ["reached\n"], received

    def resume(self, timeout: float = 30.0) -> None:
        def write() -> None:
            with open(self.fifo, "w", encoding="utf-8") as f:
                f.write("go\n")

        self._run(write, "resume", timeout)

    def release(self) -> None:
        """Unblock anyone stuck opening the FIFO (non-blocking opens of both ends)."""
        for flags in (os.O_RDONLY | os.O_NONBLOCK, os.O_WRONLY | os.O_NONBLOCK):
            try:
                os.close(os.open(self.fifo, flags))
            except OSError:
                pass
