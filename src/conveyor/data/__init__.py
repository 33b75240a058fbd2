"""Datasets: named sources, immutable content-hashed snapshots with mergeable statistics,
new-data detection, schemas that halt a pipeline, and training/serving skew.

Services over a :class:`~conveyor.workspace.Workspace`; the CLI, the REST API and the UI
call these, never the store.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ..core._lazy import lazy_attributes
from ._compare import ColumnDiff as ColumnDiff
from ._compare import ProfileDiff as ProfileDiff
from ._compare import SketchEstimate as SketchEstimate
from ._compare import compare_profiles as compare_profiles
from ._compare import jensen_shannon as jensen_shannon
from ._compare import ks_statistic as ks_statistic
from ._compare import psi as psi
from ._compare import wasserstein as wasserstein
from ._dataset import Dataset as Dataset
from ._infer import infer_schema as infer_schema
from ._profile import ColumnProfile as ColumnProfile
from ._profile import TableProfile as TableProfile
from ._profiler import Profiler as Profiler
from ._profiler import profile_table as profile_table
from ._report import Example as Example
from ._report import ValidationReport as ValidationReport
from ._report import Violation as Violation
from ._schema import ColumnSchema as ColumnSchema
from ._schema import DataSchema as DataSchema
from ._schema import RowsSchema as RowsSchema
from ._schema import Rule as Rule
from ._schema import SeverityDefaults as SeverityDefaults
from ._schema_file import load_schema as load_schema
from ._schema_file import save_schema as save_schema
from ._sources import Changes as Changes
from ._sources import Source as Source
from ._sources import SourceState as SourceState
from ._sources import SqlQuery as SqlQuery
from ._sources import make_source as make_source
from ._sources import source_from_spec as source_from_spec
from ._steps import DATASET_PINS_TAG as DATASET_PINS_TAG
from ._steps import load_dataset as load_dataset
from ._steps import validate_dataset as validate_dataset
from ._validate import validate_data as validate_data

if TYPE_CHECKING:
    from ._checks import ColumnSkew as ColumnSkew
    from ._checks import DataCheck as DataCheck
    from ._checks import SkewReport as SkewReport
    from ._checks import check_skew as check_skew
    from ._checks import infer_dataset_schema as infer_dataset_schema
    from ._checks import schema_path as schema_path
    from ._checks import validate as validate
    from ._snapshots import NewData as NewData
    from ._snapshots import check_new_data as check_new_data
    from ._snapshots import dataset_profile as dataset_profile
    from ._snapshots import diff_datasets as diff_datasets
    from ._snapshots import get_dataset as get_dataset
    from ._snapshots import list_datasets as list_datasets
    from ._snapshots import list_versions as list_versions
    from ._snapshots import parse_ref as parse_ref
    from ._snapshots import snapshot as snapshot

# The services reach the store (SQLAlchemy): imported on first use, so ``from conveyor
# import Dataset`` in a pipeline module stays light.
_LAZY = {
    **dict.fromkeys(
        [
            "ColumnSkew",
            "DataCheck",
            "SkewReport",
            "check_skew",
            "infer_dataset_schema",
            "schema_path",
            "validate",
        ],
        "._checks",
    ),
    **dict.fromkeys(
        [
            "NewData",
            "check_new_data",
            "dataset_profile",
            "diff_datasets",
            "get_dataset",
            "list_datasets",
            "list_versions",
            "parse_ref",
            "snapshot",
        ],
        "._snapshots",
    ),
}


# What the services need beyond the base install: the 'data' extra.
_EXTRA = ("numpy", "pandas", "pyarrow", "datasketches", "pandera", "yaml")


def require_data_extra() -> None:
    """Raise :class:`~conveyor.core.ConfigError` naming the install command if a library
    of the ``data`` extra is missing."""
    missing = []
    for library in _EXTRA:
        try:
            importlib.import_module(library)
        except ImportError:
            missing.append(library)
    if missing:
        from ..core import ConfigError

        raise ConfigError(
            f"conveyor.data needs {', '.join(missing)}, which "
            f"{'is' if len(missing) == 1 else 'are'} not installed.",
            hint="Install the data extra with: pip install 'conveyor[data]'",
        )


__getattr__ = lazy_attributes(__name__, _LAZY, globals(), before=require_data_extra)


__all__ = [
    "DATASET_PINS_TAG",
    "Changes",
    "ColumnDiff",
    "ColumnProfile",
    "ColumnSchema",
    "ColumnSkew",
    "DataCheck",
    "DataSchema",
    "Dataset",
    "Example",
    "NewData",
    "ProfileDiff",
    "Profiler",
    "RowsSchema",
    "Rule",
    "SeverityDefaults",
    "SketchEstimate",
    "SkewReport",
    "Source",
    "SourceState",
    "SqlQuery",
    "TableProfile",
    "ValidationReport",
    "Violation",
    "check_new_data",
    "check_skew",
    "compare_profiles",
    "dataset_profile",
    "diff_datasets",
    "get_dataset",
    "infer_dataset_schema",
    "infer_schema",
    "jensen_shannon",
    "ks_statistic",
    "list_datasets",
    "list_versions",
    "load_dataset",
    "load_schema",
    "make_source",
    "parse_ref",
    "profile_table",
    "psi",
    "require_data_extra",
    "save_schema",
    "schema_path",
    "snapshot",
    "source_from_spec",
    "validate",
    "validate_data",
    "validate_dataset",
    "wasserstein",
]
