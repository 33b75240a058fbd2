"""Features: feature views over datasets, point-in-time correct training data, and an
online store (SQLite or Redis) that serving reads.

Services over a :class:`~conveyor.workspace.Workspace`; the CLI, the REST API and the UI
call these, never the store.
"""

from __future__ import annotations

from ._online import OnlineStore as OnlineStore
from ._online import open_online_store as open_online_store
from ._online_schema import OnlineRow as OnlineRow
from ._online_schema import OnlineSchema as OnlineSchema
from ._online_schema import OnlineSchemaMismatchError as OnlineSchemaMismatchError
from ._online_schema import OnlineStoreError as OnlineStoreError
from ._online_schema import OnlineStoreUnavailableError as OnlineStoreUnavailableError

__all__ = [
    "OnlineRow",
    "OnlineSchema",
    "OnlineSchemaMismatchError",
    "OnlineStore",
    "OnlineStoreError",
    "OnlineStoreUnavailableError",
    "open_online_store",
]
