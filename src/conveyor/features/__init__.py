"""Features: feature views over datasets, point-in-time correct training data, and an
online store (SQLite or Redis) that serving reads.

Services over a :class:`~conveyor.workspace.Workspace`; the CLI, the REST API and the UI
call these, never the store.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ..core._lazy import lazy_attributes
from ._offline import ViewData as ViewData
from ._offline import point_in_time_join as point_in_time_join
from ._online import OnlineStore as OnlineStore
from ._online import open_online_store as open_online_store
from ._online_schema import OnlineRow as OnlineRow
from ._online_schema import OnlineSchema as OnlineSchema
from ._online_schema import OnlineSchemaMismatchError as OnlineSchemaMismatchError
from ._online_schema import OnlineStoreError as OnlineStoreError
from ._online_schema import OnlineStoreUnavailableError as OnlineStoreUnavailableError
from ._steps import historical_features as historical_features
from ._view import FEATURE_TYPES as FEATURE_TYPES
from ._view import FeatureView as FeatureView
from ._view import parse_feature_refs as parse_feature_refs

if TYPE_CHECKING:
    from ._services import Materialized as Materialized
    from ._services import Miss as Miss
    from ._services import OnlineFeatures as OnlineFeatures
    from ._services import get_historical_features as get_historical_features
    from ._services import get_online_features as get_online_features
    from ._services import get_view as get_view
    from ._services import list_views as list_views
    from ._services import materialization_key as materialization_key
    from ._services import materializations as materializations
    from ._services import materialize as materialize
    from ._services import open_online as open_online
    from ._services import view_rows as view_rows

# The services reach the store (SQLAlchemy) and DuckDB: imported on first use, so defining
# a FeatureView in a pipeline module stays light.
_LAZY = dict.fromkeys(
    [
        "Materialized",
        "Miss",
        "OnlineFeatures",
        "get_historical_features",
        "get_online_features",
        "get_view",
        "list_views",
        "materialization_key",
        "materializations",
        "materialize",
        "open_online",
        "view_rows",
    ],
    "._services",
)


def _require_features_extra() -> None:
    from ..data import require_data_extra

    require_data_extra()
    try:
        importlib.import_module("duckdb")
    except ImportError:
        from ..core import ConfigError

        raise ConfigError(
            "conveyor.features needs DuckDB, which is not installed.",
            hint="Install the features extra with: pip install 'conveyor[features]'",
        ) from None


__getattr__ = lazy_attributes(__name__, _LAZY, globals(), before=_require_features_extra)


__all__ = [
    "FEATURE_TYPES",
    "FeatureView",
    "Materialized",
    "Miss",
    "OnlineFeatures",
    "OnlineRow",
    "OnlineSchema",
    "OnlineSchemaMismatchError",
    "OnlineStore",
    "OnlineStoreError",
    "OnlineStoreUnavailableError",
    "ViewData",
    "get_historical_features",
    "get_online_features",
    "get_view",
    "historical_features",
    "list_views",
    "materialization_key",
    "materializations",
    "materialize",
    "open_online",
    "open_online_store",
    "parse_feature_refs",
    "point_in_time_join",
    "view_rows",
]
