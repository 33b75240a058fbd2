"""In-memory data sources: a pandas DataFrame, a pyarrow Table or RecordBatchReader.

They read like any source but exist only in this process: their spec says they cannot be
re-read later, and a reader can be read once. They have no history either, so all of their
rows count as new whenever they are compared with an earlier scan.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from conveyor.core import DataSourceError

from ._sources import Changes, Source, SourceState, _first_line, empty_batch

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["DataFrameSource", "ReaderSource", "TableSource", "memory_source"]


def memory_source(obj: Any) -> Source | None:
    """The in-memory source for ``obj``, or ``None`` if it is no frame, table or reader."""
    pd = sys.modules.get("pandas")  # an object of theirs can only exist once imported
    if pd is not None and isinstance(obj, pd.DataFrame):
        return DataFrameSource(obj)
    pa = sys.modules.get("pyarrow")
    if pa is not None:
        if isinstance(obj, pa.Table):
            return TableSource(obj)
        if isinstance(obj, pa.RecordBatch):
            return TableSource(pa.Table.from_batches([obj]), what="pyarrow RecordBatch")
        if isinstance(obj, pa.RecordBatchReader):
            return ReaderSource(obj)
    return None


class _MemorySource(Source):
    """What the in-memory kinds share: no spec to re-read, no history."""

    kind = "memory"
    what: str

    def _shape(self) -> str:
        return ""

    def describe(self) -> str:
        return f"in-memory {self.what} ({self._shape()}not re-readable later)"

    def spec(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "type": self.what,
            "rereadable": False,
            "description": self.describe(),
        }

    def scan(self) -> SourceState:
        return self._state({"n_rows": self._n_rows()})

    def _n_rows(self) -> int | None:
        return None

    def _diff(self, previous: SourceState | None, current: SourceState) -> Changes:
        n_rows = current.detail.get("n_rows")
        rows = f"all {n_rows:,} rows" if n_rows is not None else "all of it"
        return Changes(
            source=self,
            state=current,
            previous=previous,
            has_new=True,
            summary=f"an in-memory source has no history: {rows} count as new",
            new_source=self,
        )


class DataFrameSource(_MemorySource):
    """A pandas DataFrame, converted to Arrow one slice of rows at a time.

    The column types are inferred once from the whole frame, so every batch has the same
    types. The index is kept as columns only if it is named (``df.set_index("id")``); an
    unnamed index (the default ``RangeIndex``, or what filtering left) is not data.
    """

    what = "pandas DataFrame"

    def __init__(self, frame: Any) -> None:
        self.frame = frame

    def _shape(self) -> str:
        n_rows, n_columns = self.frame.shape
        return f"{n_rows:,} rows x {n_columns} columns; "

    def _n_rows(self) -> int | None:
        return int(len(self.frame))

    def _read(self, batch_rows: int) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        frame = self.frame
        if not all(isinstance(name, str) for name in frame.columns):
            frame = frame.rename(columns=str)  # Arrow names are strings; no data is copied
        keep_index = any(name is not None for name in frame.index.names)
        try:
            schema = pa.Schema.from_pandas(frame, preserve_index=keep_index)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise self._conversion_error(exc, frame, None) from exc
        for start in range(0, max(len(frame), 1), batch_rows):
            rows = frame.iloc[start : start + batch_rows]
            try:
                yield pa.RecordBatch.from_pandas(rows, schema=schema, preserve_index=keep_index)
            except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                raise self._conversion_error(exc, rows, schema) from exc

    def _conversion_error(
        self, exc: Exception, rows: Any, schema: pa.Schema | None
    ) -> DataSourceError:
        import pyarrow as pa

        column = None
        for name in rows.columns:  # pyarrow's message does not always name it
            target = None
            if schema is not None and schema.get_field_index(str(name)) >= 0:
                target = schema.field(str(name)).type
            try:
                pa.Array.from_pandas(rows[name], type=target)
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                column = str(name)
                break
        where = f"column {column!r} of the " if column is not None else ""
        return DataSourceError(
            f"The {where}data source {self.describe()} cannot be converted to Arrow: "
            f"{_first_line(exc)}",
            hint=f"Give the column one type, e.g. df[{column or 'col'!r}] = "
            f"df[{column or 'col'!r}].astype('string').",
            source=self.describe(),
            column=column,
        )


class TableSource(_MemorySource):
    """A pyarrow Table (or RecordBatch), read in slices without copying."""

    def __init__(self, table: pa.Table, *, what: str = "pyarrow Table") -> None:
        self.table = table
        self.what = what

    def _shape(self) -> str:
        return f"{self.table.num_rows:,} rows x {self.table.num_columns} columns; "

    def _n_rows(self) -> int | None:
        return int(self.table.num_rows)

    def _read(self, batch_rows: int) -> Iterator[pa.RecordBatch]:
        batches = self.table.to_batches(max_chunksize=batch_rows)
        if not batches:
            yield empty_batch(self.table.schema)
        yield from batches


class ReaderSource(_MemorySource):
    """A pyarrow RecordBatchReader: streamed once; a second read is an error."""

    what = "pyarrow RecordBatchReader"

    def __init__(self, reader: pa.RecordBatchReader) -> None:
        self.reader = reader
        self._consumed = False

    def describe(self) -> str:
        return "in-memory pyarrow RecordBatchReader (read once; not re-readable)"

    def _read(self, batch_rows: int) -> Iterator[pa.RecordBatch]:
        if self._consumed:
            raise DataSourceError(
                f"The data source {self.describe()} was read already; a reader yields its "
                "rows once.",
                hint="Pass a pyarrow Table or a file to read the data more than once.",
                source=self.describe(),
            )
        self._consumed = True
        n_batches = 0
        for batch in self.reader:
            n_batches += 1
            yield batch
        if n_batches == 0:
            yield empty_batch(self.reader.schema)
