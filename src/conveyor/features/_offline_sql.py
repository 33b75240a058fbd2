"""The point-in-time join in DuckDB: one ``ASOF JOIN`` per feature view.

Both sides' event times become integer epochs in the finer of the two units (a naive
timestamp's value is taken as UTC, an aware one's is stored in UTC), so zones and units
never meet in SQL, and integers are what DuckDB's ASOF join sorts fastest.

An ASOF join picks any one of several equal matches, so each view's rows are first cut
to one per keys and event time: the greatest ``created``, then the last in source order.
For an Arrow source that is a ``GROUP BY`` over narrow columns (keys, epoch, row number);
for Parquet, where the features must travel with the row, a window ``QUALIFY``. Both
measured faster than breaking ties inside the ASOF join on a struct or a 128-bit key.

Only served rows come back (the entity row's number and, for an Arrow source, the view
row's number); Arrow's ``take`` then places them in entity order, with nulls elsewhere.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..core import DataSourceError, InvalidValueError

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from ._offline import ViewData
    from ._offline_checks import Source

# Timestamp units, coarsest first; each is 1000 times the one before.
UNITS = ("s", "ms", "us", "ns")
INT64_MIN = -(2**63)
# A Parquet row's source position: the file's place in path order above, its row below
# (a trillion rows a file, eight million files).
ROW_BITS = 40
# Tie order with a created column: created in the high 64 bits of a HUGEINT, source
# position in the low ones, so one max() picks the winner.
CREATED_SHIFT = 2**64


@dataclasses.dataclass(frozen=True)
class _Plan:
    """How one view joins: its epoch unit and its TTL in that unit."""

    unit: str
    ttl: int | None


def join_views(
    con: duckdb.DuckDBPyConnection,
    entities: pa.Table,
    timestamp: str,
    views: Sequence[ViewData],
    sources: Sequence[Source],
) -> list[list[pa.ChunkedArray]]:
    """Each view's feature columns, one value per entity row in entity order."""
    import duckdb
    import numpy as np
    import pyarrow as pa

    n_rows = entities.num_rows
    entity_unit = entities.schema.field(timestamp).type.unit
    plans = [
        _plan(view, entity_unit, _view_unit(source.schema.field(view.timestamp).type, source))
        for view, source in zip(views, sources, strict=True)
    ]
    if n_rows == 0:
        return [
            [pa.chunked_array([], _output_type(source, feature)) for feature in view.features]
            for view, source in zip(views, sources, strict=True)
        ]

    # The entities once for every view: its keys under plain aliases (no quoting, no clash
    # with our own columns), its time in each unit a view needs, its row number.
    keys = {
        key: f"k{i}" for i, key in enumerate(dict.fromkeys(k for v in views for k in v.join_keys))
    }
    columns: dict[str, pa.ChunkedArray | pa.Array] = {
        alias: entities.column(key) for key, alias in keys.items()
    }
    for unit in sorted({plan.unit for plan in plans}):
        columns[f"ts_{unit}"] = _epochs(
            entities.column(timestamp), unit, f"The entity table's timestamp column {timestamp!r}"
        )
    columns["row"] = pa.array(np.arange(n_rows, dtype=np.int64))
    con.register("entities", pa.table(columns))

    out: list[list[pa.ChunkedArray]] = []
    for number, (view, source, plan) in enumerate(zip(views, sources, plans, strict=True)):
        if not view.features:
            out.append([])
            continue
        right = (
            _arrow_rows(con, view, source, plan, f"view_{number}")
            if source.table is not None
            else _parquet_rows(view, source, plan)
        )
        features = [f"f{i}" for i in range(len(view.features))]
        outputs = ["r"] if source.table is not None else features
        try:
            result = con.sql(_asof_query(view, plan, keys, right, outputs)).to_arrow_table()
        except duckdb.Error as error:
            if source.table is not None:
                raise
            raise DataSourceError(
                f"The Parquet files of feature view {view.name!r} cannot be joined: {error}",
                hint="Check that every file has the view's columns with the same types.",
                view=view.name,
            ) from error
        index = np.full(n_rows, -1, dtype=np.int64)
        matched = result.column("row").to_numpy()
        if source.table is not None:
            index[matched] = result.column("r").to_numpy()
            values = source.table.select(list(view.features))
        else:
            index[matched] = np.arange(len(matched), dtype=np.int64)
            values = result.select(features)
        taken = values.take(pa.array(index, mask=index < 0))
        out.append(
            [_restore(taken.column(i), source, feature) for i, feature in enumerate(view.features)]
        )
    return out


def _plan(view: ViewData, entity_unit: str, view_unit: str) -> _Plan:
    unit = max(entity_unit, view_unit, key=UNITS.index)
    return _Plan(unit=unit, ttl=None if view.ttl is None else _ttl_in(view.ttl, unit))


def _ttl_in(ttl: datetime.timedelta, unit: str) -> int:
    """``ttl`` in whole ``unit``, rounded down: epochs are whole units, so ``diff <= ttl``
    holds for exactly the same differences."""
    micros = (ttl.days * 86_400 + ttl.seconds) * 1_000_000 + ttl.microseconds
    steps = UNITS.index(unit) - UNITS.index("us")
    factor: int = 1000 ** abs(steps)
    return micros * factor if steps >= 0 else micros // factor


def _view_unit(kind: pa.DataType, source: Source) -> str:
    # DuckDB reads every Parquet timestamp but nanoseconds as microseconds.
    if source.table is None:
        return "ns" if kind.unit == "ns" else "us"
    return str(kind.unit)


def _epochs(column: pa.ChunkedArray, unit: str, what: str) -> pa.ChunkedArray:
    """Integer epochs of a timestamp column in ``unit`` (never coarser than its own)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    # The stored value: UTC for an aware column, and taken as UTC for a naive one.
    values = column.cast(pa.int64())
    factor = 1000 ** (UNITS.index(unit) - UNITS.index(column.type.unit))
    if factor == 1:
        return values
    try:
        return pc.multiply_checked(values, factor)
    except pa.ArrowInvalid:
        raise InvalidValueError(
            f"{what} holds times too far from 1970 to compare in {unit} with the other side "
            "(64-bit nanoseconds reach the years 1677 to 2262).",
            hint="Store both sides in microseconds, or drop the far-away times.",
        ) from None


def _arrow_rows(
    con: duckdb.DuckDBPyConnection, view: ViewData, source: Source, plan: _Plan, name: str
) -> str:
    """Register the view's keys, epochs, created and row numbers; the SQL of its rows,
    one per keys and event time."""
    import numpy as np
    import pyarrow as pa

    table = source.table
    assert table is not None
    columns: dict[str, pa.ChunkedArray | pa.Array] = {
        f"k{i}": table.column(key) for i, key in enumerate(view.join_keys)
    }
    columns["ts"] = _epochs(
        table.column(view.timestamp),
        plan.unit,
        f"The timestamp column {view.timestamp!r} of feature view {view.name!r}",
    )
    if view.created is not None:
        columns["c"] = _created(table.column(view.created), view)
    columns["r"] = pa.array(np.arange(table.num_rows, dtype=np.int64))
    con.register(name, pa.table(columns))
    winner = "max(r)" if view.created is None else f"arg_max(r, {_tie_order('c', 'r')})"
    group = ", ".join([f"k{i}" for i in range(len(view.join_keys))] + ["ts"])
    return f"SELECT {group}, {winner} AS r FROM {name} WHERE ts IS NOT NULL GROUP BY {group}"


def _tie_order(created: str, position: str) -> str:
    """SQL ordering rows of equal keys and time: greatest created (unset lowest), then last."""
    return f"coalesce({created}, ({INT64_MIN})::BIGINT)::HUGEINT * {CREATED_SHIFT} + {position}"


def _created(column: pa.ChunkedArray, view: ViewData) -> pa.ChunkedArray:
    import pyarrow as pa

    # Only the order matters, so each kind's stored integer serves.
    if pa.types.is_date32(column.type):
        column = column.cast(pa.int32())
    try:
        return column.cast(pa.int64())
    except pa.ArrowInvalid:
        raise InvalidValueError(
            f"The created column {view.created!r} of feature view {view.name!r} holds "
            "integers too large for 64 bits.",
            hint="Store it as a timestamp.",
            view=view.name,
            column=view.created,
        ) from None


def _parquet_rows(view: ViewData, source: Source, plan: _Plan) -> str:
    """The SQL of the view's rows read from its Parquet files, one per keys and event time."""
    import pyarrow as pa

    files = "[" + ", ".join(_literal(file) for file in source.files) + "]"
    keys = [f"{_ident(key)} AS k{i}" for i, key in enumerate(view.join_keys)]
    ts = _epoch_sql(_ident(view.timestamp), source.schema.field(view.timestamp).type, plan.unit)
    # DuckDB's virtual columns: the file's place in the list given (in path order), the
    # row's place in its file.
    order = f"(file_index::BIGINT << {ROW_BITS}) | file_row_number"
    if view.created is not None:
        kind = source.schema.field(view.created).type
        column = _ident(view.created)
        if pa.types.is_timestamp(kind):
            created = _epoch_sql(column, kind, "ns" if kind.unit == "ns" else "us")
        elif pa.types.is_date(kind):
            created = f"epoch_us(CAST({column} AS TIMESTAMP))"
        else:
            created = f"CAST({column} AS BIGINT)"
        order = _tie_order(created, order)
    features = [f"{_ident(feature)} AS f{i}" for i, feature in enumerate(view.features)]
    partition = ", ".join([f"k{i}" for i in range(len(view.join_keys))] + ["ts"])
    return (
        f"SELECT * EXCLUDE (o) FROM (SELECT {', '.join([*keys, f'{ts} AS ts', *features])}, "
        f"{order} AS o FROM read_parquet({files}) WHERE {_ident(view.timestamp)} IS NOT NULL) "
        f"QUALIFY o = max(o) OVER (PARTITION BY {partition})"
    )


def _epoch_sql(column: str, kind: pa.DataType, unit: str) -> str:
    own = "ns" if kind.unit == "ns" else "us"
    factor = 1000 ** (UNITS.index(unit) - UNITS.index(own))
    epoch = f"epoch_{own}({column})"
    return epoch if factor == 1 else f"{epoch} * {factor}"


def _asof_query(
    view: ViewData, plan: _Plan, keys: dict[str, str], right: str, outputs: Sequence[str]
) -> str:
    on = [f"e.{keys[key]} = v.k{i}" for i, key in enumerate(view.join_keys)]
    on.append(f"e.ts_{plan.unit} >= v.ts")
    # HUGEINT: the difference of two 64-bit epochs can overflow 64 bits.
    ttl = "" if plan.ttl is None else f" WHERE e.ts_{plan.unit}::HUGEINT - v.ts <= {plan.ttl}"
    return (
        f"SELECT e.row, {', '.join(f'v.{column}' for column in outputs)} "
        f"FROM (SELECT * FROM entities WHERE ts_{plan.unit} IS NOT NULL) e "
        f"ASOF JOIN ({right}) v ON {' AND '.join(on)}{ttl}"
    )


def _restore(column: pa.ChunkedArray, source: Source, feature: str) -> pa.ChunkedArray:
    """A feature DuckDB returned, cast back to the Parquet file's own Arrow type."""
    import pyarrow as pa

    wanted = _output_type(source, feature)
    if column.type == wanted:
        return column
    try:
        return column.cast(wanted)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return column  # DuckDB's nearest type is the best there is


def _output_type(source: Source, feature: str) -> pa.DataType:
    if source.file_schema is not None and feature in source.file_schema.names:
        return source.file_schema.field(feature).type
    return source.schema.field(feature).type


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
