"""Types for running the ``conveyor`` command in the test's own process (tests/unit/cli)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class Result:
    """What one command did: its exit code and what it printed."""

    code: int
    out: str
    err: str


class Invoke(Protocol):
    def __call__(self, *args: str) -> Result: ...


class MakeCliProject(Protocol):
    def __call__(self, source: str | None = None, *, name: str = "p") -> Path: ...
