"""Test data for the data sources and the snapshot writer: one typed table in every form."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from conveyor.data._writer import WrittenSnapshot, write_snapshot


def sample_table(n_rows: int = 1000, *, start: int = 0) -> pa.Table:
    """``n_rows`` rows of int, float, string and bool columns (a CSV reads back the same)."""
    ids = list(range(start, start + n_rows))
    return pa.table(
        {
            "id": pa.array(ids, type=pa.int64()),
            "amount": pa.array([i * 0.25 + 0.5 for i in ids], type=pa.float64()),
            "city": pa.array([("paris", "oslo", "lima", None)[i % 4] for i in ids]),
            "active": pa.array([i % 3 == 0 for i in ids]),
        }
    )


def write_csv(table: pa.Table, path: Path) -> Path:
    pacsv.write_csv(table, path)
    return path


def write_parquet(table: pa.Table, path: Path, **options: Any) -> Path:
    pq.write_table(table, path, **options)
    return path


def csv_bytes(table: pa.Table) -> bytes:
    out = io.BytesIO()
    pacsv.write_csv(table, out)
    return out.getvalue()


def parquet_bytes(table: pa.Table) -> bytes:
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def snapshot_of(source: Any, dest: Path, *, batch_rows: int = 65_536) -> WrittenSnapshot:
    """``write_snapshot`` of a source's batches."""
    return write_snapshot(source.iter_batches(batch_rows=batch_rows), dest)
