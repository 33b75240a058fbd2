"""Monitoring: drift and performance computed over windows of the prediction log and
feedback, with a stated false-alarm budget, and an estimate of performance before labels.

Services over a :class:`~conveyor.workspace.Workspace`; the CLI, the REST API and the UI
call these, never the store.
"""

from __future__ import annotations

__all__: list[str] = []
