"""What was made and what happened: artifacts with their lineage, and the event log.

Services over a :class:`~conveyor.workspace.Workspace`; the CLI, the REST API and the UI
call these, never the store.
"""

from __future__ import annotations

from ._artifacts import ArtifactDetails as ArtifactDetails
from ._artifacts import collect_garbage as collect_garbage
from ._artifacts import describe_artifact as describe_artifact
from ._artifacts import export_artifact as export_artifact
from ._artifacts import list_artifacts as list_artifacts
from ._artifacts import put_artifact as put_artifact
from ._artifacts import read_artifact as read_artifact
from ._events import follow_events as follow_events
from ._events import last_event_id as last_event_id
from ._events import read_events as read_events

__all__ = [
    "ArtifactDetails",
    "collect_garbage",
    "describe_artifact",
    "export_artifact",
    "follow_events",
    "last_event_id",
    "list_artifacts",
    "put_artifact",
    "read_artifact",
    "read_events",
]
