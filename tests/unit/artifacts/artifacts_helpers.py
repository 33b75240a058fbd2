"""Helpers shared by the artifact tests (unit and integration): canaries, pause barriers."""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import fsspec
import pytest


class Canary:
    """A random file outside every root, plus a snapshot of the files around it.

    ``check()`` asserts the canary's hash is unchanged and that no file or directory
    appeared or disappeared under ``area`` outside the ``allowed`` roots.
    """

    def __init__(self, area: Path, allowed: list[Path]) -> None:
        self.area = area
        self.allowed = allowed
        self.path = area / "canary.bin"
        self.path.write_bytes(os.urandom(4096))
        self.digest = hashlib.sha256(self.path.read_bytes()).hexdigest()
        self.before = self.snapshot()

    def snapshot(self) -> set[str]:
        found = set()
        for dirpath, dirnames, filenames in os.walk(self.area):
            here = Path(dirpath)
            dirnames[:] = [d for d in dirnames if here / d not in self.allowed]
            for name in dirnames + filenames:
                found.add(str((here / name).relative_to(self.area)))
        return found

    def check(self) -> None:
        assert hashlib.sha256(self.path.read_bytes()).hexdigest() == self.digest, "canary changed"
        after = self.snapshot()
        assert after == self.before, f"files changed outside the roots: {after ^ self.before}"


class PauseBarrier:
    """The test's side of a pause point (see ``conveyor.artifacts._pause``)."""

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


def memory_url() -> str:
    return f"memory://conveyor-tests-{uuid.uuid4().hex[:12]}/store"


def drop_memory(url: str) -> None:
    fs = fsspec.filesystem("memory")
    root = "/" + url.removeprefix("memory://").split("/")[0]
    if fs.exists(root):
        fs.rm(root, recursive=True)
