"""Helpers shared by the artifact tests (unit and integration): canaries, pause barriers."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import fsspec

from support.pause import PauseBarrier as PauseBarrier


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


def memory_url() -> str:
    return f"memory://conveyor-tests-{uuid.uuid4().hex[:12]}/store"


def drop_memory(url: str) -> None:
    fs = fsspec.filesystem("memory")
    root = "/" + url.removeprefix("memory://").split("/")[0]
    if fs.exists(root):
        fs.rm(root, recursive=True)
