"""Properties of the point-in-time join on random data, against a brute-force reference.

Few keys, so rows collide; times drawn from a dozen whole seconds, each maybe nudged one
unit either way, so ties, exact matches and near misses happen; rows in random order, so
late rows happen; random TTLs (``None`` included), units, zones, key types, ``created``
columns, chunked tables and Parquet sources split across files.

- Each entity row is served exactly the view row the plain-Python reference picks: same
  keys (nulls match nothing), event time at or before the entity time, within the TTL,
  the latest, and among ties the greatest ``created`` (unset lowest), then the last row in
  source order.
- No served value ever comes from a view row stamped after its entity row's time.
"""

from __future__ import annotations

import dataclasses
import datetime
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conveyor.features import ViewData, point_in_time_join

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

PER_SECOND = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}
ZONES = [None, "UTC", "Asia/Tokyo", "America/New_York"]
KEY_COLUMNS = ("a", "b")
# Seconds since 1970 the drawn times sit around: the epoch itself, 2024, and 1960.
BASES = [0, 1_704_067_200, -315_619_200]


@dataclasses.dataclass
class Side:
    """One side's rows as the reference sees them: keys, instants in ns, created."""

    keys: list[tuple[Any, ...]]
    instants: list[int | None]
    created: list[int | None]


def times(n: int, unit: str, base: int) -> st.SearchStrategy[list[int | None]]:
    """``n`` times in ``unit``: whole seconds near ``base``, some a unit off, some null."""
    per = PER_SECOND[unit]
    one = st.tuples(
        st.integers(min_value=0, max_value=15),  # 0: null
        st.integers(min_value=0, max_value=8),
        st.sampled_from([0, 0, 0, -1, 1]),
    ).map(lambda t: None if t[0] == 0 else (base + t[1]) * per + t[2])
    return st.lists(one, min_size=n, max_size=n)


def column(n: int, kind: str) -> st.SearchStrategy[list[Any]]:
    """``n`` key values from three (so they collide), some null."""
    plain = st.sampled_from([0, 1, 2]) if kind == "int" else st.sampled_from(["x", "y", "z"])
    return st.lists(st.one_of(plain, plain, plain, st.none()), min_size=n, max_size=n)


@st.composite
def entity_side(draw: st.DrawFn, kind: str, base: int) -> tuple[pa.Table, Side]:
    n = draw(st.integers(min_value=0, max_value=25))
    unit, zone = draw(st.sampled_from(list(PER_SECOND))), draw(st.sampled_from(ZONES))
    keys = {c: draw(column(n, kind)) for c in KEY_COLUMNS}
    values = draw(times(n, unit, base))
    key_type = pa.int64() if kind == "int" else pa.string()
    table = pa.table(
        {
            **{c: pa.array(v, key_type) for c, v in keys.items()},
            "event_timestamp": pa.array(values, pa.int64()).cast(pa.timestamp(unit, tz=zone)),
            "id": pa.array(range(n), pa.int64()),
        }
    )
    instants = [None if v is None else v * (10**9 // PER_SECOND[unit]) for v in values]
    return table, Side(list(zip(*keys.values(), strict=True)), instants, [None] * n)


@st.composite
def view_side(
    draw: st.DrawFn, kind: str, base: int, number: int, folder: Path
) -> tuple[ViewData, Side, tuple[str, ...]]:
    n = draw(st.integers(min_value=0, max_value=30))
    keys = tuple(draw(st.sampled_from([(), ("a",), ("b",), ("a", "b"), ("b", "a")])))
    unit, zone = draw(st.sampled_from(list(PER_SECOND))), draw(st.sampled_from(ZONES))
    values = draw(times(n, unit, base))
    key_data = {c: draw(column(n, kind)) for c in keys}
    if n:
        # Copies of some rows (same keys and time) at random places: ties in quantity.
        copies = draw(st.lists(st.integers(0, n - 1), max_size=n))
        order = draw(st.permutations(range(n + len(copies))))
        values = [(values + [values[i] for i in copies])[j] for j in order]
        key_data = {
            c: [(v + [v[i] for i in copies])[j] for j in order] for c, v in key_data.items()
        }
        n += len(copies)
    key_type = draw(
        st.sampled_from(
            [pa.int64(), pa.int32()] if kind == "int" else [pa.string(), pa.large_string()]
        )
    )
    has_created = draw(st.booleans())
    created = (
        draw(st.lists(st.one_of(st.none(), st.integers(0, 2)), min_size=n, max_size=n))
        if has_created
        else [None] * n
    )
    table = pa.table(
        {
            **{c: pa.array(v, key_type) for c, v in key_data.items()},
            "ts": pa.array(values, pa.int64()).cast(pa.timestamp(unit, tz=zone)),
            "payload": pa.array(range(n), pa.int64()),
            **({"written": pa.array(created, pa.int64())} if has_created else {}),
        }
    )
    ttl = draw(
        st.one_of(
            st.none(),
            st.builds(
                datetime.timedelta,
                seconds=st.integers(0, 6),
                microseconds=st.sampled_from([0, 1, 500_000]),
            ),
        )
    )
    layout = draw(st.sampled_from(["table", "chunked", "parquet", "parquet"]))
    source: Any = table
    if layout == "chunked":
        source = pa.Table.from_batches(
            table.to_batches(max_chunksize=draw(st.integers(1, 8))), schema=table.schema
        )
    elif layout == "parquet":
        # Contiguous slices in path order: source order is the rows' order.
        cuts = sorted(draw(st.lists(st.integers(0, n), max_size=3)))
        bounds = [0, *cuts, n]
        for part, (start, stop) in enumerate(zip(bounds, bounds[1:], strict=False)):
            pq.write_table(
                table.slice(start, stop - start), folder / f"v{number}-{part:02d}.parquet"
            )
        source = str(folder / f"v{number}-*.parquet")
    data = ViewData(
        name=f"v{number}",
        join_keys=keys,
        timestamp="ts",
        features=("payload", "ts"),
        ttl=ttl,
        table=source,
        created="written" if has_created else None,
    )
    instants = [None if v is None else v * (10**9 // PER_SECOND[unit]) for v in values]
    return (
        data,
        Side(list(zip(*key_data.values(), strict=True)) or [()] * n, instants, created),
        keys,
    )


def reference(
    entity: Side,
    entity_keys: tuple[str, ...],
    rows: Side,
    view_keys: tuple[str, ...],
    ttl: datetime.timedelta | None,
) -> list[int | None]:
    """For each entity row, the view row served, found by looking at every view row."""
    ttl_ns = None if ttl is None else ttl // datetime.timedelta(microseconds=1) * 1000
    positions = [entity_keys.index(k) for k in view_keys]
    served: list[int | None] = []
    for keys, at in zip(entity.keys, entity.instants, strict=True):
        wanted = tuple(keys[p] for p in positions)
        if at is None or None in wanted:
            served.append(None)
            continue
        candidates = [
            i
            for i, (k, t) in enumerate(zip(rows.keys, rows.instants, strict=True))
            if t is not None and k == wanted and t <= at
        ]
        if not candidates:
            served.append(None)
            continue
        latest = max(rows.instants[i] or 0 for i in candidates)
        if ttl_ns is not None and at - latest > ttl_ns:
            served.append(None)
            continue
        tied = [i for i in candidates if rows.instants[i] == latest]
        # Greatest created, unset lowest; then the last row in source order.
        served.append(
            max(tied, key=lambda i: (rows.created[i] is not None, rows.created[i] or 0, i))
        )
    return served


def instants_of(column: pa.ChunkedArray) -> list[int | None]:
    per = PER_SECOND[column.type.unit]
    return [None if v is None else v * (10**9 // per) for v in column.cast(pa.int64()).to_pylist()]


@st.composite
def scenario(
    draw: st.DrawFn, folder: Path
) -> tuple[pa.Table, Side, list[tuple[ViewData, Side, tuple[str, ...]]]]:
    kind = draw(st.sampled_from(["int", "str"]))
    base = draw(st.sampled_from(BASES))
    table, entity = draw(entity_side(kind, base))
    views = [
        draw(view_side(kind, base, number, folder)) for number in range(draw(st.integers(1, 2)))
    ]
    return table, entity, views


# Passing takes seconds; shrinking a failure can take Hypothesis's full five minutes, and the
# small example it then prints is worth the wait.
@pytest.mark.timeout(420)
@given(data=st.data())
@SETTINGS
def test_the_join_serves_what_the_brute_force_reference_serves(data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as folder:
        table, entity, views = data.draw(scenario(Path(folder)))

        out = point_in_time_join(table, [v for v, _, _ in views], full_names=True)

    assert out.num_rows == table.num_rows
    assert out.select(table.column_names).equals(table)
    for view, rows, keys in views:
        expected = reference(entity, KEY_COLUMNS, rows, keys, view.ttl)
        assert out.column(f"{view.name}__payload").to_pylist() == expected
        served_at = instants_of(out.column(f"{view.name}__ts"))
        for at, then in zip(entity.instants, served_at, strict=True):
            # No future leakage: whatever is served was known at the entity row's time.
            assert then is None or (at is not None and then <= at)
