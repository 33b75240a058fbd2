"""Schema inference: a :class:`DataSchema` from reference data, in the spirit of TFX SchemaGen.

One streaming pass infers, for every column:

- ``required`` (left out, so true) if the column is in every batch, else ``required: false``;
- ``type``, unless the column's Arrow type has no logical name (lists, decimals ...) or
  changes between batches;
- ``nullable``: false when the reference has no null in the column, else true (written out
  either way, so a reader sees the choice);
- ``min`` and ``max`` of numeric columns: the reference's range;
- ``categories`` of a string column with at most 50 distinct values, fewer than half its
  non-null values (a column of names or ids is not categorical);
- ``unique`` for an integer or string column whose non-null values, two or more, are all
  distinct.

For the dataset: ``rows: {min: 1}`` (empty data is never right; there is no maximum since
data grows) and ``extra_columns: warn`` (a new column is worth knowing about, not worth
halting for).

Severity: ranges and categories are warnings (``default_severity``) because new data moves
past the reference's range legitimately; type, presence, nullability and uniqueness are
errors, since breaking them breaks the code that reads the data. Edit the file to tighten.

Memory is bounded by the batch, except that a column that may still be unique keeps its
distinct values until its first repeat, and a string column keeps up to 51 for categories.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..core import validate_name
from ._canonical import DEFAULT_ROWS, Batch, canonical_batches, logical_type
from ._schema import INTEGER_TYPES, NUMERIC_TYPES, DataSchema
from ._schema_file import schema_from_dict
from ._seen import SeenValues

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["MAX_CATEGORIES", "infer_schema"]

MAX_CATEGORIES = 50
# A string column is categorical when it has fewer distinct values than this share of its
# values: 'AA', 'DL', 'UA' over 1,000 flights is; 40 names over 60 people is not.
MAX_CATEGORY_SHARE = 0.5
# The inferred severity of each kind of rule that is not an error (see the module docstring).
INFERRED_SEVERITY = {"min": "warning", "max": "warning", "categories": "warning"}


def infer_schema(data: Any, *, dataset: str | None = None) -> DataSchema:
    """Infer a schema from reference data (see the module docstring for what and why).

    Args:
        data: A pyarrow Table or RecordBatch, a pandas DataFrame, or an iterable of those
            (e.g. a ``RecordBatchReader``), read once, a batch at a time.
        dataset: The dataset the schema is for, recorded in it.

    Returns:
        A schema the reference data passes (if it has rows: ``rows.min`` is 1); save it
        with :func:`save_schema` and edit it.

    Raises:
        InvalidValueError: ``data`` is not of a kind listed above.
        InvalidNameError: ``dataset`` is not a valid name.
    """
    if dataset is not None:
        validate_name(dataset, what="dataset name")
    columns: dict[str, _Column] = {}
    n_batches = 0
    for batch in canonical_batches(data, rows=DEFAULT_ROWS):
        n_batches += 1
        for name in batch.names:
            columns.setdefault(name, _Column()).observe(batch, name)
    raw = {
        "dataset": dataset,
        "default_severity": INFERRED_SEVERITY,
        "rows": {"min": 1},
        "extra_columns": "warn",
        "columns": {name: col.rules(n_batches) for name, col in columns.items()},
    }
    return schema_from_dict(raw, source="the inferred schema")


@dataclass
class _Column:
    """What one pass has learnt about a column."""

    arrow: pa.DataType | None = None
    typed: bool = True  # false once the type changed between batches or could not convert
    n_batches: int = 0
    n_values: int = 0
    n_null: int = 0
    low: Any = None
    high: Any = None
    distinct: set[str] | None = field(default_factory=set)  # None: too many for categories
    seen: SeenValues | None = field(default_factory=SeenValues)  # None: not unique

    @property
    def logical(self) -> str | None:
        return logical_type(self.arrow) if self.typed and self.arrow is not None else None

    def observe(self, batch: Batch, name: str) -> None:
        import pyarrow as pa

        self.n_batches += 1
        if name in batch.mixed:
            self.typed = False
            self.distinct = self.seen = None
            self.n_null += batch.mixed[name].n_null
            self.n_values += batch.n_rows - batch.mixed[name].n_null
            return
        array = batch.arrow.column(name)
        self.n_null += array.null_count
        self.n_values += len(array) - array.null_count
        if pa.types.is_null(array.type):
            return
        if self.arrow is None:
            self.arrow = array.type
        elif not array.type.equals(self.arrow):
            self.typed = False
        if not self.typed:
            self.distinct = self.seen = None
            return
        logical = self.logical
        if logical in NUMERIC_TYPES:
            self._range(array)
        if logical == "string":
            self._categories(array)
        if logical == "string" or logical in INTEGER_TYPES:
            self._unique(array)

    def _range(self, array: pa.Array) -> None:
        import pyarrow.compute as pc

        bounds = pc.min_max(array).as_py()
        if bounds["min"] is None:
            return
        self.low = bounds["min"] if self.low is None else min(self.low, bounds["min"])
        self.high = bounds["max"] if self.high is None else max(self.high, bounds["max"])

    def _categories(self, array: pa.Array) -> None:
        import pyarrow.compute as pc

        if self.distinct is None:
            return
        values = pc.unique(array.drop_null())
        if len(values) > MAX_CATEGORIES:
            self.distinct = None
            return
        self.distinct.update(values.to_pylist())
        if len(self.distinct) > MAX_CATEGORIES:
            self.distinct = None

    def _unique(self, array: pa.Array) -> None:
        import pyarrow.compute as pc

        if self.seen is None:
            return
        n_distinct = pc.count_distinct(array, mode="only_valid").as_py()
        if n_distinct < len(array) - array.null_count or len(self.seen.add(array)):
            self.seen = None  # a repeat: free what was kept

    def rules(self, n_batches: int) -> dict[str, Any]:
        """The column's rules as a schema file would write them."""
        spec: dict[str, Any] = {}
        logical = self.logical
        if logical is not None:
            spec["type"] = logical
        if self.n_batches < n_batches:
            spec["required"] = False
        spec["nullable"] = self.n_null > 0
        if logical in NUMERIC_TYPES and self.low is not None:
            spec["min"], spec["max"] = self.low, self.high
        if logical == "string" and self.distinct:
            if len(self.distinct) < MAX_CATEGORY_SHARE * self.n_values:
                spec["categories"] = sorted(self.distinct)
        is_keyed = logical == "string" or logical in INTEGER_TYPES
        if is_keyed and self.seen is not None and self.n_values >= 2:
            spec["unique"] = True
        return spec
