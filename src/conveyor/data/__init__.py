"""Datasets: named sources, immutable content-hashed snapshots with mergeable statistics,
new-data detection, schemas that halt a pipeline, and training/serving skew.

Services over a :class:`~conveyor.workspace.Workspace`; the CLI, the REST API and the UI
call these, never the store.
"""

from __future__ import annotations

from ._infer import infer_schema as infer_schema
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
from ._validate import validate_data as validate_data

__all__ = [
    "ColumnSchema",
    "DataSchema",
    "Example",
    "RowsSchema",
    "Rule",
    "SeverityDefaults",
    "ValidationReport",
    "Violation",
    "infer_schema",
    "load_schema",
    "save_schema",
    "validate_data",
]
