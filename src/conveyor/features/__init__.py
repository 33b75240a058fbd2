"""Features: feature views over datasets, point-in-time correct training data, and an
online store (SQLite or Redis) that serving reads.

Services over a :class:`~conveyor.workspace.Workspace`; the CLI, the REST API and the UI
call these, never the store.
"""

from __future__ import annotations

from ._offline import ViewData as ViewData
from ._offline import point_in_time_join as point_in_time_join

__all__ = [
    "ViewData",
    "point_in_time_join",
]
