"""Windows of a deployment's prediction log, by time or by count, as flat tables.

A window's rows are the predictions that answered clients (roles ``serve`` and
``canary``; a shadow's rows repeat the same requests). Its columns are the model's inputs
and the enriched features by name, and the outputs as ``outputs.<name>``
(``outputs.prediction``, ``outputs.proba_1``...), beside ``prediction_id``, ``ts_ms``,
``role``, ``model`` and ``model_version``.

- **By time**: windows ``[start, start + width)`` aligned to multiples of the width since
  the Unix epoch; a window is read once its end is ``grace`` in the past, so the writers'
  last flush has landed. Stretches with no predictions are skipped, not stored.
- **By count**: consecutive blocks of ``rows`` predictions in the order their segments
  were indexed, so a window never changes once cut, however late a worker flushed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import store as st
from ..serve.runtime import read_segment

if TYPE_CHECKING:
    import pyarrow as pa

    from ..workspace import Workspace

# The roles whose rows are the traffic a monitor watches.
LIVE_ROLES = ("serve", "canary")
# Segments read per step when cutting count windows.
_SEGMENT_BATCH = 200


@dataclass(frozen=True)
class Window:
    """One window: its key (unique per monitor), the span of prediction times it covers
    (``end_ms`` exclusive) and its rows."""

    key: str
    start_ms: int
    end_ms: int
    rows: pa.Table

    @property
    def n_rows(self) -> int:
        return int(self.rows.num_rows)


def flatten(table: pa.Table) -> pa.Table:
    """The segment layout as flat columns (see the module docstring)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    live = table.filter(pc.is_in(table.column("role"), pa.array(LIVE_ROLES)))
    columns: dict[str, Any] = {
        "prediction_id": live.column("prediction_id"),
        "ts_ms": live.column("ts").cast(pa.int64()),
        "role": live.column("role"),
        "model": live.column("model"),
        "model_version": live.column("model_version"),
    }
    for group in ("inputs", "features"):
        if group not in live.column_names:
            continue
        struct = live.column(group).combine_chunks()
        for i, field in enumerate(struct.type):
            if field.name not in columns:
                columns[field.name] = struct.field(i)
    if "outputs" in live.column_names:
        struct = live.column("outputs").combine_chunks()
        for i, field in enumerate(struct.type):
            columns[f"outputs.{field.name}"] = struct.field(i)
    return pa.table(columns)


def _concat(tables: list[pa.Table]) -> pa.Table | None:
    import pyarrow as pa

    tables = [t for t in tables if t.num_rows]
    if not tables:
        return None
    return pa.concat_tables(tables, promote_options="permissive")


def time_windows(
    ws: Workspace,
    deployment: str,
    *,
    width_ms: int,
    grace_ms: int,
    now_ms: int,
    next_start_ms: int | None,
    max_windows: int,
) -> tuple[list[Window], int | None]:
    """The closed time windows from ``next_start_ms`` on (from the first logged prediction
    when None), at most ``max_windows``, and where the next run starts."""
    import pyarrow.compute as pc

    windows: list[Window] = []
    start = next_start_ms
    if start is None:
        first = st.list_prediction_segments(ws.store, deployment, limit=1)
        if not first:
            return [], None
        start = first[0].min_ts // width_ms * width_ms
    while len(windows) < max_windows and start + width_ms + grace_ms <= now_ms:
        end = start + width_ms
        segments = st.list_prediction_segments(
            ws.store, deployment, since_ms=start, until_ms=end - 1
        )
        segments = [s for s in segments if s.role in LIVE_ROLES]
        parts = []
        for segment in segments:
            rows = flatten(read_segment(ws, segment.digest))
            ts = rows.column("ts_ms")
            parts.append(rows.filter(pc.and_(pc.greater_equal(ts, start), pc.less(ts, end))))
        rows = _concat(parts)
        if rows is not None:
            windows.append(Window(f"t:{start}:{width_ms}", start, end, rows))
            start = end
            continue
        # Nothing logged here: jump to the window of the next logged prediction.
        later = [
            s
            for s in st.list_prediction_segments(ws.store, deployment, since_ms=end)
            if s.role in LIVE_ROLES
        ]
        if not later:
            return windows, end if end + grace_ms <= now_ms else start
        start = max(end, min(s.min_ts for s in later) // width_ms * width_ms)
    return windows, start


def count_windows(
    ws: Workspace,
    deployment: str,
    *,
    rows: int,
    cursor: dict[str, Any] | None,
    max_windows: int,
) -> tuple[list[Window], dict[str, Any]]:
    """The complete windows of ``rows`` predictions after ``cursor`` (from the start of
    the log when None), at most ``max_windows``, and the cursor after them.

    The cursor (JSON-ready) is ``{"segment": id, "offset": n, "index": i}``: the next
    window starts at live row ``n`` of segment ``id`` (or of the first segment indexed
    after it, if it has gone) and is window number ``i``.
    """
    import pyarrow.compute as pc

    cursor = dict(cursor or {"segment": 0, "offset": 0, "index": 0})
    start_segment, offset, index = (int(cursor[k]) for k in ("segment", "offset", "index"))
    windows: list[Window] = []
    # Read, not yet cut: (segment id, its live rows, the rows of it not yet in a window).
    pending: list[tuple[int, int, pa.Table]] = []
    after = start_segment - 1
    next_segment = start_segment
    while len(windows) < max_windows:
        segments = st.list_prediction_segments(
            ws.store, deployment, after_id=after, limit=_SEGMENT_BATCH
        )
        if not segments:
            break
        for segment in segments:
            after = segment.id
            next_segment = segment.id + 1
            if segment.role not in LIVE_ROLES:
                continue
            table = flatten(read_segment(ws, segment.digest))
            live = table.num_rows
            if segment.id == start_segment and offset:
                table = table.slice(offset)
            pending.append((segment.id, live, table))
            while sum(p[2].num_rows for p in pending) >= rows:
                taken, pending = _take(pending, rows)
                ts = taken.column("ts_ms")
                start_ms = int(pc.min(ts).as_py())
                end_ms = int(pc.max(ts).as_py()) + 1
                windows.append(Window(f"n:{index}:{rows}", start_ms, end_ms, taken))
                index += 1
                if len(windows) >= max_windows:
                    break
            if len(windows) >= max_windows:
                break
    if pending:
        segment_id, live, rest = pending[0]
        return windows, {"segment": segment_id, "offset": live - rest.num_rows, "index": index}
    return windows, {"segment": next_segment, "offset": 0, "index": index}


def _take(
    pending: list[tuple[int, int, pa.Table]], rows: int
) -> tuple[pa.Table, list[tuple[int, int, pa.Table]]]:
    """The first ``rows`` pending rows as one table, and what is left pending."""
    import pyarrow as pa

    out = []
    need = rows
    while need:
        segment_id, live, table = pending[0]
        if table.num_rows <= need:
            out.append(table)
            need -= table.num_rows
            pending = pending[1:]
        else:
            out.append(table.slice(0, need))
            pending = [(segment_id, live, table.slice(need)), *pending[1:]]
            need = 0
    return pa.concat_tables(out, promote_options="permissive"), pending
