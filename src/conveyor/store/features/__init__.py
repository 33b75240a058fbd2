"""Feature views as registered, their materialisation watermarks, and their uses by runs."""

from __future__ import annotations

from ._records import FeatureViewRecord as FeatureViewRecord
from ._records import FeatureViewUseRecord as FeatureViewUseRecord
from ._records import MaterializationRecord as MaterializationRecord
from ._views import feature_view_uses as feature_view_uses
from ._views import get_feature_view as get_feature_view
from ._views import last_materialization as last_materialization
from ._views import list_feature_views as list_feature_views
from ._views import list_materializations as list_materializations
from ._views import record_feature_view_use as record_feature_view_use
from ._views import record_materialization as record_materialization
from ._views import register_feature_view as register_feature_view

__all__ = [
    "FeatureViewRecord",
    "FeatureViewUseRecord",
    "MaterializationRecord",
    "feature_view_uses",
    "get_feature_view",
    "last_materialization",
    "list_feature_views",
    "list_materializations",
    "record_feature_view_use",
    "record_materialization",
    "register_feature_view",
]
