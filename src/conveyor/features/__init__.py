"""Features: feature views over datasets, point-in-time correct training data, and an
online store (SQLite or Redis) that serving reads.

Services over a :class:`~conveyor.workspace.Workspace`; the CLI, the REST API and the UI
call these, never the store.
"""

from __future__ import annotations

__all__: list[str] = []
