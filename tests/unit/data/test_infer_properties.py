"""Properties of inference: any reference passes the schema inferred from it, in any batch
size, and the schema survives the round trip through its YAML file."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conveyor.data import infer_schema, load_schema, save_schema, validate_data

TYPES = {
    "int64": (pa.int64(), st.integers(-(2**63), 2**63 - 1)),
    "uint8": (pa.uint8(), st.integers(0, 255)),
    "float64": (pa.float64(), st.floats(allow_nan=True, allow_infinity=True)),
    "float32": (pa.float32(), st.floats(width=32, allow_nan=False)),
    "string": (pa.string(), st.text(max_size=6)),
    "bool": (pa.bool_(), st.booleans()),
}


@st.composite
def tables(draw: st.DrawFn) -> pa.Table:
    n_rows = draw(st.integers(0, 40))
    kinds = draw(st.lists(st.sampled_from(sorted(TYPES)), min_size=1, max_size=5))
    columns = {}
    for i, kind in enumerate(kinds):
        arrow, values = TYPES[kind]
        cell = st.one_of(st.none(), values) if draw(st.booleans()) else values
        columns[f"{kind}_{i}"] = pa.array(
            draw(st.lists(cell, min_size=n_rows, max_size=n_rows)), arrow
        )
    return pa.table(columns)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(), st.integers(1, 50), st.booleans())
def test_a_reference_passes_its_inferred_schema(table: pa.Table, rows: int, pandas: bool) -> None:
    # An empty table has no batches; infer from the table then, which shows its columns.
    schema = infer_schema(table.to_batches(max_chunksize=rows) or table, dataset="ref")
    data = table.to_pandas(types_mapper=pd.ArrowDtype) if pandas else table
    report = validate_data(data, schema, batch_rows=rows)
    expected = [] if table.num_rows else [(None, "min_rows")]
    assert [(v.column, v.rule) for v in report.violations] == expected
    with tempfile.TemporaryDirectory() as folder:
        assert load_schema(save_schema(schema, Path(folder) / "ref.yaml")) == schema
