"""The opened project at run time: config, metadata store and artifact store, wired together.

Plus the few services that need both stores at once (store an artifact and record it;
garbage-collect unreferenced blobs). No domain logic lives here.
"""

from __future__ import annotations

from ._scaffold import init_project as init_project
from ._services import collect_garbage as collect_garbage
from ._services import export_artifact as export_artifact
from ._services import put_artifact as put_artifact
from ._workspace import Workspace as Workspace

__all__ = [
    "Workspace",
    "collect_garbage",
    "export_artifact",
    "init_project",
    "put_artifact",
]
