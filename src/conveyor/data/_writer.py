"""The deterministic Parquet writer behind snapshots: the same rows give the same bytes.

A snapshot is identified by the sha256 of its Parquet file, so the file must depend only on
the rows, their order and their types; not on how a source happened to cut them into
batches, nor on which kind of source they came from. Three things make it so:

* **one schema form**: metadata dropped (pandas' index metadata, field metadata), every
  field nullable, ``large_string``/``string_view`` written as ``string``, ``large_binary``
  as ``binary``, dictionaries decoded to their values, ``large_list`` as ``list``; timestamp
  units and time zones are kept (they are part of the data's type);
* **fixed row groups**: rows are re-cut into groups of :func:`row_group_rows` rows (a
  function of the schema alone), each written from contiguous arrays, so page boundaries
  do not follow the input's chunks;
* **pinned writer options** (:data:`WRITER_OPTIONS`), so a change of pyarrow's defaults does
  not change the bytes.

A different pyarrow version may still encode the same rows into different bytes (the footer
names the writer's version, and encoders evolve): that yields a new snapshot of identical
data, which is harmless (one more version, never a wrong one).

Memory stays bounded by about one row group whatever the source's size: batches are sliced
(not copied) into the pending group, which is written and dropped once full.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.core import DataSourceError, pause_point

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "ROW_GROUP_BYTES",
    "WRITER_OPTIONS",
    "WrittenSnapshot",
    "normalize_schema",
    "row_group_rows",
    "write_snapshot",
]

# The uncompressed size a row group aims at, estimated from the schema (row_group_rows).
# 128 MiB keeps the writer as fast as pyarrow's own write_table (whose default groups are
# 1 Mi rows) for typical tables while a wide table gets proportionally fewer rows per group.
ROW_GROUP_BYTES = 128 << 20
_MIN_GROUP_ROWS = 1 << 12
_MAX_GROUP_ROWS = 1 << 20
# Bytes a value is assumed to take when its type has no fixed width (strings, lists...).
_VARIABLE_WIDTH = 64

# Every option that shapes the bytes, pinned to its value rather than left to pyarrow's
# defaults (which may move between versions). Compression: snappy measured fastest here
# (lz4 and zstd level 1 were 5-25% slower to write; zstd is ~5% smaller), and speed is what
# the snapshot budget is counted in. Dictionary encoding is chosen per column in
# _dictionary_columns.
WRITER_OPTIONS: dict[str, Any] = {
    "version": "2.6",
    "compression": "snappy",
    "write_statistics": True,
    "data_page_version": "1.0",
    "data_page_size": 1 << 20,
    "dictionary_pagesize_limit": 1 << 20,
    "write_batch_size": 1024,
    "use_byte_stream_split": False,
    "use_compliant_nested_type": True,
    "store_schema": True,
    "write_page_index": False,
}


@dataclass(frozen=True)
class WrittenSnapshot:
    """A Parquet snapshot file as written.

    Attributes:
        digest: The sha256 of the file's bytes, 64 lowercase hex digits.
        n_rows: Rows written.
        n_bytes: The file's size in bytes.
        schema: The normalised Arrow schema the file holds.
    """

    digest: str
    n_rows: int
    n_bytes: int
    schema: pa.Schema


def write_snapshot(
    batches: Iterable[pa.RecordBatch],
    dest: str | os.PathLike[str],
    *,
    on_batch: Callable[[pa.RecordBatch], object] | None = None,
) -> WrittenSnapshot:
    """Write ``batches`` to ``dest`` as deterministic Parquet; return its sha256 and size.

    ``dest`` should be a temporary path that the caller moves into the artifact store once
    this returns (nothing is fsynced here): a process killed mid-write leaves only that
    temporary file, and a failure removes it.

    Args:
        batches: The rows, in order; at least one batch (it may be empty: it carries the
            schema). Every batch must have the first one's columns, after normalisation.
        dest: Where the Parquet file is written (created or truncated).
        on_batch: Called with each non-empty batch after normalisation, in order, before it
            is written (for statistics computed on the side).

    Returns:
        The file's digest, row count, size and schema.

    Raises:
        DataSourceError: ``batches`` was empty, or a batch's columns differ from the first's.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(dest)
    stream = iter(batches)
    first = next(stream, None)
    if first is None:
        raise DataSourceError(
            "The data source yielded no record batch, not even an empty one, so the snapshot "
            "would have no schema.",
            hint="Yield at least one (possibly empty) batch that carries the columns.",
        )
    schema = normalize_schema(first.schema)
    group_rows = row_group_rows(schema)
    options = dict(WRITER_OPTIONS, use_dictionary=_dictionary_columns(schema))
    n_rows = 0
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    try:
        # A native file: pyarrow writes without taking the GIL once per page (2,784 times
        # for 1M x 25 columns), which the statistics thread beside it holds for long calls.
        with pa.OSFile(str(path), "wb") as out:
            with pq.ParquetWriter(out, schema, **options) as writer:

                def flush() -> None:
                    nonlocal pending, pending_rows
                    # One contiguous array per column, so that where the input's chunks
                    # end cannot matter to the encoder (pyarrow 26 measured the same bytes
                    # either way; the copy of one group, ~5% of the time, makes it sure).
                    table = pa.Table.from_batches(pending, schema=schema).combine_chunks()
                    writer.write_table(table, row_group_size=group_rows)
                    pending, pending_rows = [], 0
                    pause_point("data.snapshot.row_group_written")

                for batch in _conformed(first, stream, schema):
                    if batch.num_rows == 0:
                        continue
                    if on_batch is not None:
                        on_batch(batch)
                    n_rows += batch.num_rows
                    offset = 0
                    while offset < batch.num_rows:
                        take = min(group_rows - pending_rows, batch.num_rows - offset)
                        pending.append(batch.slice(offset, take))
                        pending_rows += take
                        offset += take
                        if pending_rows == group_rows:
                            flush()
                if pending_rows:
                    flush()
    except BaseException:
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    digest, n_bytes = _file_sha256(path)
    return WrittenSnapshot(digest, n_rows, n_bytes, schema)


def _file_sha256(path: Path) -> tuple[str, int]:
    """The file's sha256 and size, read back from the page cache just after writing (with
    SHA extensions, 0.06 s per 100 MiB here; ``hashlib`` releases the GIL while hashing)."""
    with open(path, "rb") as handle:
        digest = hashlib.file_digest(handle, "sha256")
        return digest.hexdigest(), handle.tell()


def normalize_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` in snapshot form: no metadata, all fields nullable, one type per kind.

    ``large_string`` and ``string_view`` become ``string``, ``large_binary`` and
    ``binary_view`` become ``binary``, a dictionary becomes its value type, ``large_list``
    becomes ``list`` (recursively); timestamp units and time zones are kept.
    """
    import pyarrow as pa

    return pa.schema([_normalize_field(field) for field in schema])


def row_group_rows(schema: pa.Schema) -> int:
    """Rows per row group for ``schema``: a power of two near :data:`ROW_GROUP_BYTES` of data.

    A function of the schema alone (never of the data seen so far), so the same rows are
    always grouped the same way.
    """
    row_bytes = max(1, sum(_type_width(field.type) for field in schema))
    rows = _MAX_GROUP_ROWS
    while rows > _MIN_GROUP_ROWS and rows * row_bytes > ROW_GROUP_BYTES:
        rows //= 2
    return rows


# -- internals -----------------------------------------------------------------------------


def _normalize_field(field: pa.Field) -> pa.Field:
    import pyarrow as pa

    return pa.field(field.name, _normalize_type(field.type), nullable=True)


def _normalize_type(kind: pa.DataType) -> pa.DataType:
    import pyarrow as pa
    import pyarrow.types as pt

    if pt.is_dictionary(kind):
        return _normalize_type(kind.value_type)
    if pt.is_large_string(kind) or _is(kind, "is_string_view"):
        return pa.string()
    if pt.is_large_binary(kind) or _is(kind, "is_binary_view"):
        return pa.binary()
    if pt.is_list(kind) or pt.is_large_list(kind) or _is(kind, "is_list_view"):
        return pa.list_(_normalize_type(kind.value_type))
    if _is(kind, "is_large_list_view"):
        return pa.list_(_normalize_type(kind.value_type))
    if pt.is_fixed_size_list(kind):
        return pa.list_(_normalize_type(kind.value_type), kind.list_size)
    if pt.is_struct(kind):
        return pa.struct([_normalize_field(kind.field(i)) for i in range(kind.num_fields)])
    if pt.is_map(kind):
        return pa.map_(_normalize_type(kind.key_type), _normalize_type(kind.item_type))
    return kind


def _is(kind: pa.DataType, predicate: str) -> bool:
    """``pyarrow.types.<predicate>(kind)``, False on a pyarrow too old to have it."""
    import pyarrow.types as pt

    test = getattr(pt, predicate, None)
    return bool(test(kind)) if test is not None else False


def _type_width(kind: pa.DataType) -> int:
    """Estimated bytes per value of ``kind`` (fixed width exactly, others a flat guess)."""
    import pyarrow.types as pt

    if pt.is_struct(kind):
        return sum(_type_width(kind.field(i).type) for i in range(kind.num_fields))
    try:
        bits = int(kind.bit_width)
    except ValueError:  # variable width: strings, binary, lists, maps
        return _VARIABLE_WIDTH
    return max(1, bits // 8)


def _dictionary_columns(schema: pa.Schema) -> list[str]:
    """The columns written dictionary-encoded: all but floating point.

    Floats are mostly distinct, so a dictionary is built per row group only to be abandoned
    (measured: +30% write time on a table of 10 float columns out of 25, no smaller file).
    """
    import pyarrow.types as pt

    return [field.name for field in schema if not pt.is_floating(field.type)]


def _conformed(
    first: pa.RecordBatch, rest: Iterator[pa.RecordBatch], schema: pa.Schema
) -> Iterator[pa.RecordBatch]:
    """Every batch cast to ``schema``, or a ``DataSourceError`` naming the difference."""
    import pyarrow as pa

    for index, batch in enumerate(_chain(first, rest)):
        if batch.schema.names != schema.names:
            raise DataSourceError(
                f"The data source's batch {index + 1} has the columns {batch.schema.names}; "
                f"the first batch had {schema.names}. A snapshot needs one set of columns.",
                hint="Make every batch of the source carry the same columns in the same order.",
            )
        arrays = []
        for name, column, target in zip(schema.names, batch.columns, schema.types, strict=True):
            if column.type != target:
                try:
                    column = column.cast(target)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                    raise DataSourceError(
                        f"Column {name!r} of the data source is {column.type} in batch "
                        f"{index + 1} but {target} in the first batch, and cannot be "
                        f"converted: {exc}.",
                        hint="Give the column one type throughout the source.",
                        column=name,
                    ) from exc
            arrays.append(column)
        yield pa.RecordBatch.from_arrays(arrays, schema=schema)


def _chain(first: pa.RecordBatch, rest: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    yield first
    yield from rest
