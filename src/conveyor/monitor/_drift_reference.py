"""Prepared references: what drift tests need of the training data, built once per column.

A numeric column keeps its finite values sorted (the exact empirical CDF the KS test, the
Wasserstein distance and the binned tests read with ``searchsorted``), with its null, NaN
and infinite counts. A categorical column keeps its categories, sorted, and their counts.
Both are a few arrays, so a :class:`DriftReference` is cheap to hold in a monitor and to
store as an artifact (:meth:`DriftReference.to_bytes` / :meth:`DriftReference.from_bytes`).

Which columns are numeric follows Evidently 0.7's type inference
(``src/evidently/core/datasets.py``, ``infer_column_type``): floats are numeric, integers
are numeric past 10 distinct values (``INTEGER_CARDINALITY_LIMIT``) and categorical up to
it, strings, booleans and dictionary-encoded columns are categorical. Unlike Evidently,
strings are never "text" (no text drift here), and an integer column with nulls stays an
integer column (pandas would have turned it into floats, hence numeric).
"""

from __future__ import annotations

import importlib
import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeAlias

from ..core import ConfigError, InvalidValueError, NotFoundError, did_you_mean

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pyarrow as pa

ColumnKind: TypeAlias = Literal["numeric", "categorical"]
COLUMN_KINDS: tuple[ColumnKind, ...] = ("categorical", "numeric")
# Evidently 0.7, src/evidently/core/datasets.py: an integer column with at most this many
# distinct values is categorical.
INTEGER_CARDINALITY_LIMIT = 10
_MAGIC = b"CVDRIFT1"
_FORMAT = 1
_LIBRARIES = ("numpy", "pyarrow", "scipy")


def require_libraries() -> None:
    """Raise :class:`~conveyor.core.ConfigError` naming the install command if numpy,
    pyarrow or scipy is missing (the ``ml`` extra brings all three)."""
    missing = []
    for library in _LIBRARIES:
        try:
            importlib.import_module(library)
        except ImportError:
            missing.append(library)
    if missing:
        raise ConfigError(
            f"Drift statistics need {', '.join(missing)}, which "
            f"{'is' if len(missing) == 1 else 'are'} not installed.",
            hint="Install the ml extra with: pip install 'conveyor[ml]'",
        )


def _float64(values: Any) -> npt.NDArray[np.float64]:
    import numpy as np

    return np.asarray(values, dtype=np.float64)


@dataclass(frozen=True, eq=False)
class NumericReference:
    """One numeric reference column: its finite values sorted, and what was left out.

    Attributes:
        name: The column.
        values: The finite values, sorted ascending (float64).
        n_rows: Rows in the reference, nulls included.
        n_null: Null and NaN rows.
        n_infinite: Rows holding +inf or -inf (left out of every test, as Evidently does).
        is_integer: The column was an integer column without nulls. Evidently bins such a
            column with a bin width of at least 1 (numpy's integer rule for "sturges").
    """

    name: str
    values: npt.NDArray[np.float64]
    n_rows: int
    n_null: int
    n_infinite: int
    is_integer: bool

    kind: ClassVar[ColumnKind] = "numeric"

    @property
    def n_values(self) -> int:
        """Values the tests use (finite, not null)."""
        return int(self.values.size)

    @property
    def min(self) -> float | None:
        return float(self.values[0]) if self.values.size else None

    @property
    def max(self) -> float | None:
        return float(self.values[-1]) if self.values.size else None

    @cached_property
    def std(self) -> float:
        """Population standard deviation (``np.std``, ``ddof=0``), as Evidently norms W1."""
        import numpy as np

        return float(np.std(self.values)) if self.values.size else 0.0

    @cached_property
    def n_unique(self) -> int:
        """Distinct finite values."""
        import numpy as np

        if not self.values.size:
            return 0
        return 1 + int(np.count_nonzero(self.values[1:] != self.values[:-1]))


@dataclass(frozen=True, eq=False)
class CategoricalReference:
    """One categorical reference column: its categories, sorted, and their counts.

    Attributes:
        name: The column.
        categories: The distinct values, sorted (an Arrow array of the column's type).
        counts: How many rows hold each category (int64, aligned with ``categories``).
        n_rows: Rows in the reference, nulls included.
        n_null: Null rows (and NaN or infinite ones of a float column read as categories).
    """

    name: str
    categories: pa.Array
    counts: npt.NDArray[np.int64]
    n_rows: int
    n_null: int

    kind: ClassVar[ColumnKind] = "categorical"

    @property
    def n_values(self) -> int:
        return int(self.counts.sum())

    @property
    def n_unique(self) -> int:
        return len(self.categories)


ColumnReference: TypeAlias = NumericReference | CategoricalReference


@dataclass(frozen=True, eq=False)
class DriftReference:
    """The prepared reference of every column a drift check compares; build it with
    :func:`prepare_reference`.

    Attributes:
        columns: Column name to its prepared reference, in the table's order.
        ignored: Columns left out, with why (an unsupported type such as a timestamp).
    """

    columns: Mapping[str, ColumnReference]
    ignored: Mapping[str, str]

    def __getitem__(self, name: str) -> ColumnReference:
        try:
            return self.columns[name]
        except KeyError:
            why = f" It was left out: {self.ignored[name]}." if name in self.ignored else ""
            raise NotFoundError(
                f"The drift reference has no column {name!r}.{why}"
                f"{did_you_mean(name, self.columns)}",
                hint=f"Columns: {', '.join(self.columns) or '(none)'}.",
            ) from None

    def __len__(self) -> int:
        return len(self.columns)

    @property
    def names(self) -> list[str]:
        return list(self.columns)

    def to_bytes(self) -> bytes:
        """A self-describing binary form (a JSON header and one Arrow IPC stream per
        column), read back by :meth:`from_bytes`; the same reference gives the same bytes."""
        require_libraries()
        import pyarrow as pa

        header: dict[str, Any] = {"format": _FORMAT, "ignored": dict(self.ignored), "columns": []}
        blobs: list[bytes] = []
        for ref in self.columns.values():
            entry: dict[str, Any] = {"name": ref.name, "kind": ref.kind, "n_rows": ref.n_rows}
            entry["n_null"] = ref.n_null
            if isinstance(ref, NumericReference):
                entry |= {"n_infinite": ref.n_infinite, "is_integer": ref.is_integer}
                table = pa.table({"values": pa.array(ref.values, pa.float64())})
            else:
                table = pa.table({"category": ref.categories, "count": pa.array(ref.counts)})
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, table.schema) as writer:
                writer.write_table(table)
            blob = sink.getvalue().to_pybytes()
            entry["n_bytes"] = len(blob)
            header["columns"].append(entry)
            blobs.append(blob)
        head = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
        return b"".join([_MAGIC, struct.pack("<I", len(head)), head, *blobs])

    @classmethod
    def from_bytes(cls, data: bytes) -> DriftReference:
        """Read what :meth:`to_bytes` wrote.

        Raises:
            InvalidValueError: ``data`` is not a drift reference, is truncated, or has a
                format this conveyor does not know.
        """
        require_libraries()
        import pyarrow as pa

        def bad(why: str) -> InvalidValueError:
            return InvalidValueError(
                f"These {len(data)} bytes are not a drift reference: {why}.",
                hint="Pass the bytes DriftReference.to_bytes() returned, unchanged.",
            )

        if not isinstance(data, bytes | bytearray | memoryview):
            raise InvalidValueError(
                f"DriftReference.from_bytes needs bytes. Got {type(data).__name__}."
            )
        data = bytes(data)
        if data[:8] != _MAGIC or len(data) < 12:
            raise bad("the header is missing")
        (n_head,) = struct.unpack("<I", data[8:12])
        try:
            header = json.loads(data[12 : 12 + n_head])
            if header["format"] != _FORMAT:
                raise bad(f"format {header['format']!r}, expected {_FORMAT}")
            offset = 12 + n_head
            columns: dict[str, ColumnReference] = {}
            for entry in header["columns"]:
                blob = data[offset : offset + entry["n_bytes"]]
                if len(blob) != entry["n_bytes"]:
                    raise bad(f"column {entry['name']!r} is truncated")
                offset += entry["n_bytes"]
                table = pa.ipc.open_stream(blob).read_all()
                columns[entry["name"]] = _column_from_parts(entry, table)
        except InvalidValueError:
            raise
        except (KeyError, TypeError, ValueError, pa.ArrowException) as exc:
            raise bad(f"{type(exc).__name__}: {exc}") from None
        if offset != len(data):
            raise bad(f"{len(data) - offset} bytes follow the last column")
        return cls(columns=columns, ignored=dict(header["ignored"]))


def _column_from_parts(entry: Mapping[str, Any], table: pa.Table) -> ColumnReference:
    import numpy as np

    if entry["kind"] == "numeric":
        return NumericReference(
            name=entry["name"],
            values=_float64(table.column("values").to_numpy()),
            n_rows=int(entry["n_rows"]),
            n_null=int(entry["n_null"]),
            n_infinite=int(entry["n_infinite"]),
            is_integer=bool(entry["is_integer"]),
        )
    if entry["kind"] == "categorical":
        return CategoricalReference(
            name=entry["name"],
            categories=table.column("category").combine_chunks(),
            counts=np.asarray(table.column("count").to_numpy(), dtype=np.int64),
            n_rows=int(entry["n_rows"]),
            n_null=int(entry["n_null"]),
        )
    raise ValueError(f"unknown kind {entry['kind']!r}")


# ------------------------------------------------------------------- reading columns -----


def as_table(data: Any, what: str) -> pa.Table:
    """A pyarrow Table from a Table, a RecordBatch, a pandas DataFrame, or a mapping of
    column name to array (numpy, pyarrow, or a list)."""
    import pyarrow as pa

    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if hasattr(data, "columns") and hasattr(data, "dtypes") and hasattr(data, "iloc"):
        return pa.Table.from_pandas(data, preserve_index=False)
    if isinstance(data, Mapping):
        try:
            return pa.table({str(k): as_array(v) for k, v in data.items()})
        except (pa.ArrowException, TypeError, ValueError) as exc:
            raise InvalidValueError(
                f"The {what} columns could not be read as arrays: {exc}.",
                hint="Give columns of equal length: numpy arrays, pyarrow arrays or lists.",
            ) from None
    raise InvalidValueError(
        f"The {what} data must be a pyarrow Table or RecordBatch, a pandas DataFrame, or a "
        f"mapping of column name to array. Got {type(data).__name__}."
    )


def as_array(values: Any) -> pa.Array | pa.ChunkedArray:
    import numpy as np
    import pyarrow as pa

    if isinstance(values, pa.Array | pa.ChunkedArray):
        return values
    if isinstance(values, np.ndarray) and values.dtype.kind in "iufb":
        return pa.array(values)
    return pa.array(values, from_pandas=True)


def plain(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous array, dictionary-encoded values decoded."""
    import pyarrow as pa

    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    return array


def is_numeric_type(arrow_type: pa.DataType) -> bool:
    import pyarrow as pa

    return bool(
        pa.types.is_integer(arrow_type)
        or pa.types.is_floating(arrow_type)
        or pa.types.is_decimal(arrow_type)
    )


def numeric_values(array: pa.Array) -> tuple[npt.NDArray[np.float64], int, int]:
    """``(finite values, null and NaN count, infinite count)`` of a numeric or boolean array."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    n_null = array.null_count
    if n_null:
        array = pc.drop_null(array)
    if not pa.types.is_float64(array.type):
        array = pc.cast(array, pa.float64(), safe=False)
    values = _float64(array.to_numpy(zero_copy_only=False))
    finite = np.isfinite(values)
    n_not_finite = values.size - int(np.count_nonzero(finite))
    if not n_not_finite:
        return values, n_null, 0
    n_nan = int(np.count_nonzero(np.isnan(values)))
    return values[finite], n_null + n_nan, n_not_finite - n_nan


def category_values(array: pa.Array) -> tuple[pa.Array, int]:
    """``(non-null values, null count)``; NaN and infinite floats count as nulls, as
    Evidently drops them before every test."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n_rows = len(array)
    if pa.types.is_floating(array.type):
        array = array.filter(pc.is_finite(array))
    array = pc.drop_null(array)
    return array, n_rows - len(array)


def sorted_value_counts(values: pa.Array) -> tuple[pa.Array, npt.NDArray[np.int64]]:
    """Distinct values sorted ascending, with their counts."""
    import numpy as np
    import pyarrow.compute as pc

    counted = pc.value_counts(values)
    categories = counted.field("values")
    order = pc.sort_indices(categories)
    counts = np.asarray(counted.field("counts").to_numpy(), dtype=np.int64)
    return categories.take(order), counts[order.to_numpy()]


def infer_kind(array: pa.Array) -> ColumnKind | None:
    """The kind Evidently 0.7 would infer (see the module docstring); ``None`` for a type
    no drift test reads (timestamps, lists, nulls ...)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    t = array.type
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "numeric"
    if pa.types.is_integer(t):
        n_distinct = pc.count_distinct(array).as_py()
        return "numeric" if n_distinct > INTEGER_CARDINALITY_LIMIT else "categorical"
    if pa.types.is_boolean(t) or pa.types.is_string(t) or pa.types.is_large_string(t):
        return "categorical"
    return None


def prepare_column(name: str, column: Any, kind: ColumnKind | None = None) -> ColumnReference:
    """The prepared reference of one column (see :func:`prepare_reference`).

    Raises:
        InvalidValueError: ``kind`` is not ``numeric`` or ``categorical``, the column's type
            cannot be read as that kind, or no kind can be inferred for it.
    """
    require_libraries()
    import numpy as np
    import pyarrow as pa

    array = plain(as_array(column))
    if kind is None:
        kind = infer_kind(array)
        if kind is None:
            raise InvalidValueError(
                f"Column {name!r} is {array.type}: no drift test reads that type.",
                hint="Leave the column out, or cast it to a number or a string first.",
            )
    check_kind(kind, name)
    if pa.types.is_null(array.type):  # every value null: nothing to read, any kind fits
        array = array.cast(pa.float64() if kind == "numeric" else pa.string())
    if kind == "numeric":
        if not (is_numeric_type(array.type) or pa.types.is_boolean(array.type)):
            raise InvalidValueError(
                f"Column {name!r} is {array.type}, which cannot be read as numeric.",
                hint=f"Declare it categorical: kinds={{{name!r}: 'categorical'}}.",
            )
        values, n_null, n_infinite = numeric_values(array)
        values = np.sort(values)
        is_integer = pa.types.is_integer(array.type) and array.null_count == 0
        return NumericReference(name, values, len(array), n_null, n_infinite, is_integer)
    if not (
        is_numeric_type(array.type)
        or pa.types.is_boolean(array.type)
        or pa.types.is_string(array.type)
        or pa.types.is_large_string(array.type)
    ):
        raise InvalidValueError(
            f"Column {name!r} is {array.type}, which cannot be read as categories.",
            hint="Cast it to strings first.",
        )
    values, n_null = category_values(array)
    categories, counts = sorted_value_counts(values)
    return CategoricalReference(name, categories, counts, len(array), n_null)


def check_kind(kind: object, name: str) -> None:
    if kind not in COLUMN_KINDS:
        raise InvalidValueError(
            f"The kind of column {name!r} must be 'numeric' or 'categorical'. Got {kind!r}."
            f"{did_you_mean(str(kind), COLUMN_KINDS)}"
        )


def prepare_reference(
    data: Any,
    *,
    columns: list[str] | tuple[str, ...] | None = None,
    kinds: Mapping[str, ColumnKind] | None = None,
) -> DriftReference:
    """Prepare the reference (training) data once, for any number of drift checks.

    Args:
        data: A pyarrow Table or RecordBatch, a pandas DataFrame, or a mapping of column
            name to array.
        columns: The columns to prepare (default: every column of a type a test reads;
            the others are listed in ``ignored``).
        kinds: ``numeric`` or ``categorical`` per column, over the inferred kind (an
            integer code column read as categories, say).

    Returns:
        The :class:`DriftReference`.

    Raises:
        InvalidValueError: ``data`` is not tabular, a kind is unknown or does not fit the
            column's type, or a column named in ``columns`` has an unsupported type.
        NotFoundError: A column in ``columns`` or ``kinds`` is not in ``data``.
    """
    require_libraries()
    table = as_table(data, "reference")
    kinds = dict(kinds or {})
    names = table.column_names
    wanted = list(names) if columns is None else list(columns)
    for name in [*wanted, *kinds]:
        if name not in names:
            raise NotFoundError(
                f"The reference data has no column {name!r}.{did_you_mean(name, names)}",
                hint=f"Columns: {', '.join(names)}.",
            )
    prepared: dict[str, ColumnReference] = {}
    ignored: dict[str, str] = {}
    for name in wanted:
        array = plain(table.column(name))
        kind = kinds.get(name)
        if kind is None:
            kind = infer_kind(array)
            if kind is None and columns is None:
                ignored[name] = f"type {array.type} has no drift test"
                continue
        prepared[name] = prepare_column(name, array, kind)
    return DriftReference(columns=prepared, ignored=ignored)
