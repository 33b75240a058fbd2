"""Datasets: named sources, immutable content-hashed snapshots with mergeable statistics,
new-data detection, schemas that halt a pipeline, and training/serving skew.

Services over a :class:`~conveyor.workspace.Workspace`; the CLI, the REST API and the UI
call these, never the store.
"""

from __future__ import annotations

__all__: list[str] = []
