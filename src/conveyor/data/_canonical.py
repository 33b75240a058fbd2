"""Data in any accepted form, as canonical Arrow record batches of bounded size.

Inference and validation read data through :func:`canonical_batches`, which takes a pyarrow
``Table`` or ``RecordBatch``, a pandas ``DataFrame``, or an iterable of those (a
``RecordBatchReader``, a generator of DataFrames ...), and yields batches of at most ``rows``
rows in which each logical type has exactly one Arrow type, so that a type rule is one
comparison:

- dictionary columns are decoded to their values (a pandas ``category`` is its values);
- ``large_string`` and ``string_view`` become ``string``; ``date64`` becomes ``date32``;
- NaN in a float column becomes null: NaN is a missing value, as it is in pandas;
- a column that is all null and has no type (an all-None object column in pandas) takes the
  type the schema expects, when there is one.

Row positions count from 0 across all the data; a DataFrame's index is not data.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..core import InvalidValueError
from ._schema import TIME_UNITS

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = [
    "DEFAULT_ROWS",
    "Batch",
    "MixedColumn",
    "arrow_type",
    "canonical_batches",
    "describe_type",
    "logical_type",
    "pandas_dtype",
    "pandas_type",
]

# Rows per batch: large enough that pandera's cost per call (a few ms for 25 columns) is
# small beside the checks, small enough to bound memory (~50 MB for 25 numeric columns).
DEFAULT_ROWS = 1 << 18


@dataclass(frozen=True)
class MixedColumn:
    """A pandas ``object`` column holding values of several kinds, which Arrow cannot hold."""

    description: str
    n_null: int
    examples: list[tuple[int, Any]]


@dataclass(frozen=True)
class Batch:
    """A slice of the data: canonical Arrow columns plus the columns that would not convert.

    Attributes:
        arrow: The columns that converted, canonical.
        offset: The row position of the batch's first row in the whole data.
        names: Every column of the slice, in order (those in ``mixed`` too).
        mixed: pandas columns of mixed Python objects, by name.
    """

    arrow: pa.RecordBatch
    offset: int
    names: tuple[str, ...]
    mixed: Mapping[str, MixedColumn] = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        return int(self.arrow.num_rows)


def logical_type(arrow: pa.DataType) -> str | None:
    """The logical type name of a canonical Arrow type (``'float64'``), or None if it has none."""
    import pyarrow as pa

    if pa.types.is_integer(arrow):
        return str(arrow)
    if pa.types.is_float64(arrow):
        return "float64"
    if pa.types.is_float32(arrow):
        return "float32"
    if pa.types.is_boolean(arrow):
        return "bool"
    if pa.types.is_string(arrow):
        return "string"
    if pa.types.is_date32(arrow):
        return "date"
    if pa.types.is_timestamp(arrow):
        return f"timestamp[{arrow.unit}, {arrow.tz}]" if arrow.tz else f"timestamp[{arrow.unit}]"
    return None


def describe_type(arrow: pa.DataType) -> str:
    """How a message names an Arrow type: its logical name, else Arrow's own."""
    return logical_type(arrow) or str(arrow)


def arrow_type(logical: str) -> pa.DataType:
    """The canonical Arrow type of a logical type name (as ``parse_type`` spells it)."""
    import pyarrow as pa

    if logical == "date":
        return pa.date32()
    if logical.startswith("timestamp["):
        unit, _, tz = logical[len("timestamp[") : -1].partition(", ")
        assert unit in TIME_UNITS
        return pa.timestamp(unit, tz or None)
    return pa.type_for_alias({"float32": "float", "float64": "double"}.get(logical, logical))


def pandas_type(arrow: pa.DataType, *, exact: bool = False) -> Any:
    """The pandas dtype a canonical Arrow type is checked as (a ``types_mapper``), or None.

    Arrow-backed (``pd.ArrowDtype``): numbers are not copied, nulls stay nulls and pyarrow
    computes the checks. But pandas looks for duplicates of Arrow-backed values beside nulls
    through float64, which merges neighbouring 64-bit integers or times; where ``exact`` is
    asked for (a unique column) those become pandas' masked integers (``Int64``) and, for
    None, pyarrow's default: numpy ``datetime64`` and ``timedelta64``.
    """
    import pandas as pd
    import pyarrow as pa

    if exact and pa.types.is_integer(arrow) and arrow.bit_width == 64:
        return pd.UInt64Dtype() if pa.types.is_unsigned_integer(arrow) else pd.Int64Dtype()
    if exact and pa.types.is_temporal(arrow):
        return None
    return pd.ArrowDtype(arrow)


def pandas_dtype(arrow: pa.DataType, *, exact: bool = False) -> Any:
    """The dtype a column of type ``arrow`` has in pandas (see :func:`pandas_type`)."""
    import functools

    import pyarrow as pa

    mapper = functools.partial(pandas_type, exact=exact)
    return pa.array([], arrow).to_pandas(types_mapper=mapper).dtype


def canonical_batches(
    data: Any, *, rows: int, expected: Mapping[str, pa.DataType] | None = None
) -> Iterator[Batch]:
    """Yield ``data`` as canonical batches of at most ``rows`` rows (see the module docstring).

    A Table or DataFrame with no rows still yields one empty batch, so its columns are seen.

    Args:
        data: A pyarrow Table or RecordBatch, a pandas DataFrame, or an iterable of those.
        rows: The most rows in a batch; small Arrow batches are joined up to it.
        expected: The Arrow type each column should have, used only to type all-null columns.

    Raises:
        InvalidValueError: ``data`` is of another kind, or has two columns of the same name.
    """
    import pandas as pd

    types = dict(expected or {})
    offset = 0
    for piece in _pieces(data, rows):
        if isinstance(piece, pd.DataFrame):
            batch = _from_pandas(piece, offset, types)
        else:
            batch = Batch(_canonical(piece, types), offset, tuple(piece.schema.names))
        offset += batch.n_rows
        yield batch


def _pieces(data: Any, rows: int) -> Iterator[Any]:
    """DataFrame slices and rebatched Arrow record batches, in order."""
    import pandas as pd
    import pyarrow as pa

    if isinstance(data, pd.DataFrame | pa.Table | pa.RecordBatch):
        data = [data]
    elif not isinstance(data, Iterable) or isinstance(data, str | bytes | Mapping):
        raise InvalidValueError(
            "Data to infer a schema from or to validate must be a pyarrow Table or "
            "RecordBatch, a pandas DataFrame, or an iterable of those (such as a "
            f"RecordBatchReader). Got {type(data).__name__}.",
            hint="Read Parquet with pyarrow.parquet.read_table or ParquetFile.iter_batches.",
        )
    pending: list[Any] = []
    n_pending = 0
    shown: Any = None  # the schema of the last batch yielded
    for item in data:
        if isinstance(item, pd.DataFrame):
            if pending:
                yield _join(pending)
                shown, pending, n_pending = pending[0].schema, [], 0
            for start in range(0, max(len(item), 1), rows):
                yield item.iloc[start : start + rows]
            continue
        if isinstance(item, pa.Table):
            arrow = item.to_batches(max_chunksize=rows) or [_empty(item.schema)]
        elif isinstance(item, pa.RecordBatch):
            arrow = [item]
        else:
            raise InvalidValueError(
                "An iterable of data must yield pyarrow RecordBatches or Tables or pandas "
                f"DataFrames. Got {type(item).__name__}.",
                hint="Pass a pyarrow Table, a RecordBatchReader or a DataFrame.",
            )
        # Batches are cut into runs of exactly `rows` rows: small ones joined (pandera costs
        # a little per call), large ones split.
        for batch in arrow:
            if pending and not batch.schema.equals(pending[0].schema):
                yield _join(pending)
                shown, pending, n_pending = pending[0].schema, [], 0
            if not batch.num_rows:
                # Keep an empty batch only to show columns no batch has shown yet.
                if not pending and (shown is None or not batch.schema.equals(shown)):
                    pending.append(batch)
                continue
            start = 0
            while start < batch.num_rows:
                part = batch.slice(start, rows - n_pending)
                pending.append(part)
                n_pending += part.num_rows
                start += part.num_rows
                if n_pending == rows:
                    yield _join(pending)
                    shown, pending, n_pending = batch.schema, [], 0
    if pending:
        yield _join(pending)


def _empty(schema: pa.Schema) -> pa.RecordBatch:
    import pyarrow as pa

    return pa.RecordBatch.from_pylist([], schema=schema)


def _join(parts: list[pa.RecordBatch]) -> pa.RecordBatch:
    import pyarrow as pa

    non_empty = [p for p in parts if p.num_rows]
    if len(non_empty) <= 1:
        return non_empty[0] if non_empty else parts[0]
    joined = pa.Table.from_batches(non_empty).combine_chunks().to_batches()
    return joined[0]


def _unique_names(names: list[str]) -> tuple[str, ...]:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InvalidValueError(
                f"The data has two columns named {name!r}; a schema names each column once.",
                hint="Rename or drop one of them before inferring or validating.",
                column=name,
            )
        seen.add(name)
    return tuple(names)


def _canonical(batch: pa.RecordBatch, expected: Mapping[str, pa.DataType]) -> pa.RecordBatch:
    import pyarrow as pa

    names = _unique_names(list(batch.schema.names))
    arrays = [
        canonical_array(col, expected.get(name))
        for name, col in zip(names, batch.columns, strict=True)
    ]
    return pa.RecordBatch.from_arrays(arrays, names=list(names))


def canonical_array(array: pa.Array, expected: pa.DataType | None = None) -> pa.Array:
    """One column in its canonical Arrow type (see the module docstring)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = array.type
    if pa.types.is_dictionary(kind):
        array = array.dictionary_decode()
        kind = array.type
    if str(kind) in {"large_string", "string_view"}:
        array = array.cast(pa.string())
    elif pa.types.is_date64(kind):
        array = array.cast(pa.date32(), safe=False)  # date64 holds whole days, or should
    elif pa.types.is_floating(kind) and array.null_count < len(array):
        nan = pc.is_nan(array)
        if pc.any(nan).as_py():
            array = pc.if_else(nan, pa.scalar(None, kind), array)
    elif pa.types.is_null(kind) and expected is not None:
        array = pa.nulls(len(array), expected)
    return array


def _from_pandas(frame: pd.DataFrame, offset: int, expected: Mapping[str, pa.DataType]) -> Batch:
    import pyarrow as pa

    names = _unique_names([str(c) for c in frame.columns])
    arrays, kept, mixed = [], [], {}
    for position, name in enumerate(names):
        series = frame.iloc[:, position]
        try:
            array = pa.array(series, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            mixed[name] = _mixed(series, offset)
            continue
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        arrays.append(canonical_array(array, expected.get(name)))
        kept.append(name)
    if arrays:
        arrow = pa.RecordBatch.from_arrays(arrays, names=kept)
    else:  # no column converted; the batch still has its rows
        arrow = pa.RecordBatch.from_struct_array(pa.array([{}] * len(frame), pa.struct([])))
    return Batch(arrow, offset, names, mixed)


def _mixed(series: pd.Series[Any], offset: int) -> MixedColumn:
    import numpy as np

    present = np.flatnonzero(series.notna().to_numpy())
    kinds = sorted({type(v).__name__ for v in series.iloc[present[:10_000]]})
    examples = [(offset + int(p), series.iloc[p]) for p in present[:5]]
    n_null = len(series) - len(present)
    return MixedColumn(f"object holding {', '.join(kinds)}", n_null, examples)
