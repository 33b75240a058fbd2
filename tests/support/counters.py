"""Steps that count their completed executions, for crash-resume tests.

A generated project's steps call ``body(name, value)``: it stops at the pause point
``step.<name>`` (where a test kills the runner), then bumps ``name``'s counter in a side
table beside the project. A finished step recomputed after a resume would count 2.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

# The head of a generated ``pipelines.py``: imports and ``body``; tests append their steps.
COUNTING_STEPS = """
import sqlite3
from pathlib import Path
from conveyor.core import pause_point
from conveyor import pipeline, step

COUNTERS = Path(__file__).parent / "counters.db"

def body(name, value):
    pause_point(f"step.{name}")
    with sqlite3.connect(COUNTERS, timeout=30) as db:
        db.execute("CREATE TABLE IF NOT EXISTS n (step TEXT PRIMARY KEY, count INT)")
        db.execute(
            "INSERT INTO n VALUES (?, 1) ON CONFLICT(step) DO UPDATE SET count = count + 1",
            (name,),
        )
    return value
"""


def counters(root: Path) -> dict[str, int]:
    """Completed executions per step of the project at ``root`` (empty before any)."""
    path = root / "counters.db"
    if not path.exists():
        return {}
    with sqlite3.connect(path) as db:
        return dict(db.execute("SELECT step, count FROM n").fetchall())
