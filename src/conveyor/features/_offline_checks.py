"""The point-in-time join's inputs, checked: the entity table, each view's rows and columns,
and the output column names.

Every mistake is an :class:`~conveyor.core.InvalidValueError` naming the view, the column
and the fix, raised before DuckDB runs, so a typo never surfaces as a SQL binder error.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..core import DataSourceError, InvalidValueError, did_you_mean

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from ._offline import ViewData

# DuckDB's virtual columns of a Parquet scan, which a column of the file would hide.
POSITION_COLUMNS = ("file_index", "file_row_number")
# Between a view's name and a feature's with ``full_names=True``: "weather__temperature".
FULL_NAME_SEPARATOR = "__"


@dataclasses.dataclass(frozen=True)
class Source:
    """A view's rows, resolved: an Arrow table in memory, or Parquet files DuckDB reads.

    Attributes:
        schema: The columns as the join sees them (for Parquet, as DuckDB reads them).
        table: The rows, for an in-memory source.
        files: The Parquet files, in source order (path order), for a file source.
        file_schema: The Parquet files' own Arrow types, restored on the features DuckDB
            returns; ``None`` when the files cannot be opened by pyarrow (not local).
    """

    schema: pa.Schema
    table: pa.Table | None = None
    files: tuple[str, ...] = ()
    file_schema: pa.Schema | None = None


def entity_table(entities: Any, timestamp: str) -> pa.Table:
    """The entity table as Arrow, with a timestamp column of that name."""
    import pyarrow as pa

    if isinstance(entities, pa.Table):
        table = entities
    elif _is_dataframe(entities):
        table = _from_pandas(entities, "the entity table")
    else:
        raise InvalidValueError(
            "The entity table must be a pyarrow.Table or a pandas.DataFrame. "
            f"Got {type(entities).__name__}."
        )
    if timestamp not in table.column_names:
        raise InvalidValueError(
            f"The entity table has no timestamp column {timestamp!r} (its columns: "
            f"{_listing(table.column_names)}).{did_you_mean(timestamp, table.column_names)}",
            hint="Pass timestamp='<column>' naming the entity table's event-time column.",
            column=timestamp,
        )
    kind = table.schema.field(timestamp).type
    if not pa.types.is_timestamp(kind):
        raise InvalidValueError(
            f"The entity table's timestamp column {timestamp!r} must be a timestamp. Got {kind}.",
            hint=f"Convert it first, e.g. df[{timestamp!r}] = pandas.to_datetime("
            f"df[{timestamp!r}], utc=True).",
            column=timestamp,
        )
    return table


def source_of(view: ViewData, con: duckdb.DuckDBPyConnection) -> Source:
    """The rows of ``view``: an Arrow table, or the Parquet files its path or glob matches."""
    import pyarrow as pa

    table = view.table
    if isinstance(table, str | os.PathLike):
        return _parquet_source(view, os.fspath(table), con)
    if isinstance(table, pa.RecordBatchReader):
        table = table.read_all()
    elif isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    elif _is_dataframe(table):
        table = _from_pandas(table, f"the table of feature view {view.name!r}")
    elif not isinstance(table, pa.Table):
        raise InvalidValueError(
            f"The table of feature view {view.name!r} must be a pyarrow.Table, a "
            "pyarrow.RecordBatchReader, a pandas.DataFrame or the path of Parquet files. "
            f"Got {type(table).__name__}.",
            view=view.name,
        )
    return Source(schema=table.schema, table=table)


def _parquet_source(view: ViewData, path: str, con: duckdb.DuckDBPyConnection) -> Source:
    import duckdb
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        # Sorted here rather than trusting the reader's order: the order breaks ties.
        files = tuple(
            sorted(
                row[0]
                for row in con.sql("SELECT file FROM glob($path)", params={"path": path}).fetchall()
            )
        )
        if not files:
            raise DataSourceError(
                f"No file matches {path!r}, the table of feature view {view.name!r}.",
                hint="Check the path, or give a glob such as 'data/weather/*.parquet'.",
                view=view.name,
                path=path,
            )
        schema = (
            con.sql("SELECT * FROM read_parquet($files) LIMIT 0", params={"files": list(files)})
            .to_arrow_table()
            .schema
        )
    except duckdb.Error as error:
        raise DataSourceError(
            f"The Parquet files {path!r} of feature view {view.name!r} cannot be read: {error}",
            hint="Check that the path names Parquet files with the same columns.",
            view=view.name,
            path=path,
        ) from error
    taken = sorted(set(schema.names) & set(POSITION_COLUMNS))
    if taken:
        raise InvalidValueError(
            f"The Parquet files {path!r} of feature view {view.name!r} have a column "
            f"{taken[0]!r}, a name DuckDB gives each row's position, which orders ties.",
            hint=f"Rename {taken[0]!r} in the files, or pass them as a pyarrow table.",
            view=view.name,
            column=taken[0],
        )
    file_schema = None
    if os.path.isfile(files[0]):
        try:
            file_schema = pq.read_schema(files[0])
        except (OSError, pa.ArrowException):
            file_schema = None  # DuckDB read it, so its types serve
    return Source(schema=schema, files=files, file_schema=file_schema)


def check_view(view: ViewData, source: Source, entities: pa.Schema) -> None:
    """Raise if a column ``view`` needs is missing or of the wrong type."""
    import pyarrow as pa

    columns = source.schema.names
    for key in view.join_keys:
        if key not in entities.names:
            raise InvalidValueError(
                f"The join key {key!r} of feature view {view.name!r} is not a column of the "
                f"entity table (its columns: {_listing(entities.names)})."
                f"{did_you_mean(key, entities.names)}",
                hint=f"Add a {key!r} column to the entity table, or correct the join keys "
                f"of {view.name!r}.",
                view=view.name,
                column=key,
            )
        _require(view, key, "join key", columns)
        left, right = entities.field(key).type, source.schema.field(key).type
        if key_family(left) != key_family(right) and pa.null() not in (left, right):
            raise InvalidValueError(
                f"The join key {key!r} of feature view {view.name!r} is {left} in the entity "
                f"table but {right} in the view's table; they cannot be compared.",
                hint=f"Cast one side so both hold the same kind of value (e.g. "
                f"df[{key!r}].astype(str) on both, or both integers).",
                view=view.name,
                column=key,
            )
    _require(view, view.timestamp, "timestamp column", columns)
    kind = source.schema.field(view.timestamp).type
    if not pa.types.is_timestamp(kind):
        raise InvalidValueError(
            f"The timestamp column {view.timestamp!r} of feature view {view.name!r} must be a "
            f"timestamp. Got {kind}.",
            hint="Store event times as timestamps (e.g. pandas.to_datetime(..., utc=True)).",
            view=view.name,
            column=view.timestamp,
        )
    for feature in view.features:
        _require(view, feature, "feature", columns)
    if view.created is not None:
        _require(view, view.created, "created column", columns)
        kind = source.schema.field(view.created).type
        if not (pa.types.is_timestamp(kind) or pa.types.is_date(kind) or pa.types.is_integer(kind)):
            raise InvalidValueError(
                f"The created column {view.created!r} of feature view {view.name!r} must be a "
                f"timestamp, a date or an integer (it orders rows with equal event times). "
                f"Got {kind}.",
                hint="Store when each row was written as a timestamp, or leave created unset.",
                view=view.name,
                column=view.created,
            )


def _require(view: ViewData, column: str, role: str, columns: Sequence[str]) -> None:
    if column not in columns:
        raise InvalidValueError(
            f"The {role} {column!r} of feature view {view.name!r} is not a column of the view's "
            f"table (its columns: {_listing(columns)}).{did_you_mean(column, columns)}",
            hint=f"Correct the view's definition, or add {column!r} to its source.",
            view=view.name,
            column=column,
        )


def output_names(
    entity_columns: Sequence[str], views: Sequence[ViewData], *, full_names: bool
) -> list[str]:
    """The name of each view's feature columns in the output, in order; raise on a clash."""
    origin = dict.fromkeys(entity_columns, "the entity table")
    names = []
    for view in views:
        for feature in view.features:
            name = f"{view.name}{FULL_NAME_SEPARATOR}{feature}" if full_names else feature
            here = f"feature view {view.name!r}"
            if name in origin:
                raise InvalidValueError(
                    f"The output column {name!r} would come from both {origin[name]} and {here}.",
                    hint="Rename the entity table's column or the view."
                    if full_names
                    else "Pass full_names=True to name feature columns '<view>__<feature>', "
                    "or leave one of the features out.",
                    column=name,
                )
            origin[name] = here
            names.append(name)
    return names


def key_family(kind: pa.DataType) -> str:
    """What a join key holds, for telling comparable key types from others.

    Integers, floats and decimals compare with each other (DuckDB widens them), as do the
    string types and the binary types; anything else must match exactly. (An all-null
    column, Arrow's ``null`` type, compares with anything and matches nothing.)
    """
    import pyarrow as pa

    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return "number"
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return "string"
    if (
        pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
        or pa.types.is_binary_view(kind)
        or pa.types.is_fixed_size_binary(kind)
    ):
        return "binary"
    if pa.types.is_timestamp(kind):
        return "timestamp"
    if pa.types.is_date(kind):
        return "date"
    return str(kind)


def _is_dataframe(value: object) -> bool:
    # Checked by module first so a caller passing Arrow never pays for importing pandas.
    if not type(value).__module__.startswith("pandas"):
        return False
    import pandas as pd

    return isinstance(value, pd.DataFrame)


def _from_pandas(frame: Any, what: str) -> pa.Table:
    import pyarrow as pa

    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as error:
        raise InvalidValueError(
            f"{what[0].upper()}{what[1:]} cannot be converted to Arrow: {error}",
            hint="Give each column a single type (e.g. df[column].astype(str)).",
        ) from error


def _listing(columns: Sequence[str], limit: int = 12) -> str:
    shown = ", ".join(repr(column) for column in columns[:limit])
    more = len(columns) - limit
    return f"{shown}, and {more} more" if more > 0 else shown or "none"
