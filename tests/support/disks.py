"""Mount points for the disk-full tests."""

from __future__ import annotations

from pathlib import Path


def mounted(path: Path) -> bool:
    """Whether a file system is mounted at ``path``."""
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        return any(line.split()[1] == str(path) for line in mounts)
