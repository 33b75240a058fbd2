"""The opened project at run time: config, metadata store and artifact store, wired together.

It wires and holds no domain logic; services live in the domain packages. Also: creating a
project folder, and bringing a store's schema up to date.
"""

from __future__ import annotations

from ._scaffold import init_project as init_project
from ._workspace import Workspace as Workspace
from ._workspace import upgrade_schema as upgrade_schema

__all__ = [
    "Workspace",
    "init_project",
    "upgrade_schema",
]
