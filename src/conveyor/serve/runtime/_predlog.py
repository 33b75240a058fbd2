"""The prediction log: every prediction, written off the request path as Parquet segments.

The request path hands each predict batch's rows over as one :class:`LogChunk`;
:meth:`PredictionLog.submit` only appends it to a bounded in-memory queue (it never
blocks on disk and never raises). One writer thread turns queued chunks into a pyarrow
table per (model version, role), writes it as a zstd Parquet segment to the artifact store
every ``segment_rows`` rows or ``flush_seconds``, and then indexes the segment in the
metadata store.

What can go wrong, and what happens then:

- overload: a chunk that would take the queue past ``max_queue_rows`` is dropped and
  counted (``dropped_rows``); the request it came from is answered all the same;
- a full disk or a metadata store outage: that segment's rows are dropped and counted,
  ``last_error`` says why, a warning with the fix is logged at most once a minute, and the
  writer carries on with the next segment;
- a kill: the artifact store writes a blob under a temporary name and renames it, and a
  segment is indexed only once its blob is complete, so no indexed segment is ever
  partial; what was still queued (at most one flush's worth) is lost.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence, Sized
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from ... import store as st
from ...core import ConveyorError, InvalidValueError, StoreError

if TYPE_CHECKING:
    import pyarrow as pa

    from ...workspace import Workspace

__all__ = ["SEGMENT_FORMAT", "LogChunk", "PredictionLog", "chunk_table"]

logger = logging.getLogger(__name__)

# Written into every segment's Parquet metadata, so readers can tell formats apart.
SEGMENT_FORMAT: Final = "conveyor.prediction_log/1"
_ROLES: Final = ("serve", "canary", "shadow")
_WARN_EVERY = 60.0


@dataclass(frozen=True, slots=True)
class LogChunk:
    """One predict batch's rows, as the request path hands them to the log.

    Attributes:
        model: The model's name.
        model_version: The version that made the predictions.
        role: ``serve`` (answered the request), ``canary`` or ``shadow``.
        ids: The prediction ids, one per row.
        ts_ms: int64 Unix milliseconds: when each row's request arrived.
        latency_s: float64 seconds, per row.
        inputs: The model's input columns (already typed), by name.
        outputs: ``prediction`` and e.g. ``score`` / ``proba_<class>``, by name.
        features: Features added by enrichment (from the feature store), may be empty.
        request_ids: The client's request id of each row, if it sent one.
    """

    model: str
    model_version: int
    role: str
    ids: Sequence[str]
    ts_ms: np.ndarray
    latency_s: np.ndarray
    inputs: Mapping[str, np.ndarray]
    outputs: Mapping[str, np.ndarray]
    features: Mapping[str, np.ndarray] = field(default_factory=dict)
    request_ids: Sequence[str | None] | None = None


def _array(name: str, values: Any, n: int) -> pa.Array:
    import pyarrow as pa

    data = np.asarray(values)
    if len(data) != n:
        raise InvalidValueError(
            f"The prediction log's column {name!r} has {len(data)} values for {n} rows.",
            hint="Give every input, output and feature column one value per prediction id.",
        )
    if data.ndim > 1:  # e.g. one probability per class in a row: a fixed-size list
        width = int(np.prod(data.shape[1:]))
        flat = _array(name, data.reshape(n * width), n * width)
        return pa.FixedSizeListArray.from_arrays(flat, width)
    try:
        return pa.array(data, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # Mixed Python objects: keep them as text rather than lose the row.
        return pa.array([None if v is None else str(v) for v in data.tolist()], pa.string())


def _struct(group: str, columns: Mapping[str, Any], n: int) -> pa.Array:
    import pyarrow as pa

    names = [str(k) for k in columns]
    arrays = [_array(f"{group}.{k}", v, n) for k, v in columns.items()]
    return pa.StructArray.from_arrays(arrays, names=names)


def chunk_table(deployment: str, chunk: LogChunk) -> pa.Table:
    """The rows of ``chunk`` as a table in the segment layout (see docs/prediction-log.md).

    ``features`` is left out when the chunk has none: Parquet cannot store a struct
    without fields.

    Raises:
        InvalidValueError: a column's length differs from the number of ids, or the role
            is unknown.
    """
    import pyarrow as pa

    if chunk.role not in _ROLES:
        raise InvalidValueError(
            f"A prediction log row's role must be 'serve', 'canary' or 'shadow'. "
            f"Got {chunk.role!r}.",
        )
    n = len(chunk.ids)
    request_ids = chunk.request_ids if chunk.request_ids is not None else [None] * n
    columns: dict[str, pa.Array] = {
        "prediction_id": pa.array(chunk.ids, pa.string()),
        "ts": _array("ts", np.asarray(chunk.ts_ms, dtype=np.int64), n).cast(
            pa.timestamp("ms", tz="UTC")
        ),
        "deployment": pa.repeat(pa.scalar(deployment, pa.string()), n),
        "model": pa.repeat(pa.scalar(chunk.model, pa.string()), n),
        "model_version": pa.repeat(pa.scalar(chunk.model_version, pa.int32()), n),
        "role": pa.repeat(pa.scalar(chunk.role, pa.string()), n),
        "latency_seconds": _array(
            "latency_seconds", np.asarray(chunk.latency_s, dtype=np.float64), n
        ),
        "request_id": _array("request_id", np.asarray(request_ids, dtype=object), n).cast(
            pa.string()
        ),
        "inputs": _struct("inputs", chunk.inputs, n),
        "outputs": _struct("outputs", chunk.outputs, n),
    }
    if chunk.features:
        columns["features"] = _struct("features", chunk.features, n)
    return pa.table(columns)


def segment_bytes(table: pa.Table) -> bytes:
    """``table`` as one zstd Parquet file, tagged with :data:`SEGMENT_FORMAT`."""
    import pyarrow.parquet as pq

    tagged = table.replace_schema_metadata({"conveyor.format": SEGMENT_FORMAT})
    out = io.BytesIO()
    pq.write_table(tagged, out, compression="zstd")
    return out.getvalue()


def _shape(chunk: LogChunk) -> tuple[Any, ...]:
    def columns(group: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(
            (k, getattr(v, "dtype", None), getattr(v, "ndim", 1)) for k, v in group.items()
        )

    return (
        chunk.model,
        chunk.model_version,
        chunk.role,
        columns(chunk.inputs),
        columns(chunk.outputs),
        columns(chunk.features),
        chunk.request_ids is None,
    )


def _lengths_agree(chunk: LogChunk) -> bool:
    n = len(chunk.ids)
    columns: list[Sized] = [chunk.ts_ms, chunk.latency_s, *chunk.inputs.values()]
    columns.extend([*chunk.outputs.values(), *chunk.features.values()])
    if chunk.request_ids is not None:
        columns.append(chunk.request_ids)
    return all(len(c) == n for c in columns)


def _merged(chunks: list[LogChunk]) -> list[LogChunk]:
    """``chunks`` (of one shape) as one chunk; as they are if their columns do not join."""
    if len(chunks) == 1:
        return chunks
    first = chunks[0]

    def joined(get: Any) -> dict[str, np.ndarray]:
        return {k: np.concatenate([np.asarray(get(c)[k]) for c in chunks]) for k in get(first)}

    try:
        return [
            LogChunk(
                model=first.model,
                model_version=first.model_version,
                role=first.role,
                ids=[i for c in chunks for i in c.ids],
                ts_ms=np.concatenate([np.asarray(c.ts_ms) for c in chunks]),
                latency_s=np.concatenate([np.asarray(c.latency_s) for c in chunks]),
                inputs=joined(lambda c: c.inputs),
                outputs=joined(lambda c: c.outputs),
                features=joined(lambda c: c.features),
                request_ids=None
                if first.request_ids is None
                else [r for c in chunks for r in (c.request_ids or ())],
            )
        ]
    except ValueError:  # ragged or mismatched columns: each chunk is checked on its own
        return chunks


class PredictionLog:
    """The prediction log of one deployment: a bounded queue and one writer thread.

    Args:
        ws: The workspace: segments go to ``ws.artifacts``, their index to ``ws.store``.
        deployment: The deployment's name (it must exist).
        segment_rows: Write a segment once this many rows are queued (and split larger
            batches into segments of at most this many rows).
        flush_seconds: Write what is queued at least this often.
        max_queue_rows: Drop chunks that would hold more rows than this in memory.

    Example:
        >>> log = PredictionLog(ws, "churn")  # doctest: +SKIP
        >>> log.start(); log.submit(chunk); log.close()  # doctest: +SKIP
    """

    def __init__(
        self,
        ws: Workspace,
        deployment: str,
        *,
        segment_rows: int = 10_000,
        flush_seconds: float = 1.0,
        max_queue_rows: int = 100_000,
    ) -> None:
        for name, value in (("segment_rows", segment_rows), ("max_queue_rows", max_queue_rows)):
            if value < 1:
                raise InvalidValueError(
                    f"The prediction log's {name} must be at least 1. Got {value}."
                )
        if not flush_seconds > 0:
            raise InvalidValueError(
                f"The prediction log's flush_seconds must be above 0. Got {flush_seconds}."
            )
        self._ws = ws
        self._deployment = deployment
        self.segment_rows = segment_rows
        self.flush_seconds = flush_seconds
        self.max_queue_rows = max_queue_rows
        self._cond = threading.Condition()
        self._queue: deque[LogChunk] = deque()
        self._waiting = 0  # rows in _queue, not yet taken by the writer
        self._accepted = 0  # rows ever accepted
        self._finished = 0  # accepted rows written or dropped since
        self._dropped = 0
        self._written = 0
        self._segments = 0
        self._flush_wanted = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self._write_lock = threading.Lock()
        self._last_error: str | None = None
        self._last_warning = -_WARN_EVERY

    # -- counters (read without the lock: each is one int, written by one thread at a time)

    @property
    def deployment(self) -> str:
        return self._deployment

    @property
    def queued_rows(self) -> int:
        """Rows accepted and not yet written or dropped."""
        return self._accepted - self._finished

    @property
    def dropped_rows(self) -> int:
        """Rows lost: refused by a full queue, or in a segment that could not be written."""
        return self._dropped

    @property
    def written_rows(self) -> int:
        return self._written

    @property
    def segments_written(self) -> int:
        return self._segments

    @property
    def last_error(self) -> str | None:
        """Why rows were last dropped by the writer (None if they never were)."""
        return self._last_error

    # -- the request path ---------------------------------------------------------------

    def submit(self, chunk: LogChunk) -> bool:
        """Queue ``chunk``'s rows for writing. Never blocks on I/O, never raises.

        Returns:
            False if the chunk was dropped (the queue is full or the log is closed); the
            rows are counted in :attr:`dropped_rows`.
        """
        try:
            n = len(chunk.ids)
            with self._cond:
                if self._closed or self._accepted - self._finished + n > self.max_queue_rows:
                    self._dropped += n
                    return False
                self._queue.append(chunk)
                self._accepted += n
                self._waiting += n
                if self._waiting >= self.segment_rows:
                    self._cond.notify_all()
            return True
        except Exception:  # a malformed chunk must not fail the request
            logger.exception("prediction log of %r: a chunk could not be queued", self.deployment)
            return False

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Start the writer thread (a daemon). Calling it again does nothing."""
        with self._cond:
            if self._thread is not None or self._closed:
                return
            self._thread = threading.Thread(
                target=self._run, name=f"conveyor-predlog-{self.deployment}", daemon=True
            )
            self._thread.start()

    def flush(self, timeout: float = 10.0) -> None:
        """Write everything queued now; wait up to ``timeout`` seconds for it."""
        with self._cond:
            target = self._accepted
            running = self._thread is not None and self._thread.is_alive()
            if running:
                self._flush_wanted = True
                self._cond.notify_all()
                done = self._cond.wait_for(lambda: self._finished >= target, timeout)
                if not done:
                    logger.warning(
                        "prediction log of %r: %d rows still unwritten after %.1f s",
                        self.deployment,
                        self._accepted - self._finished,
                        timeout,
                    )
                return
        self._drain()  # no writer thread: write here

    def close(self, timeout: float = 10.0) -> None:
        """Flush and stop the writer; later chunks are dropped. Calling it again does
        nothing."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                logger.warning(
                    "prediction log of %r: the writer did not finish within %.1f s",
                    self.deployment,
                    timeout,
                )
                return
        self._drain()  # anything the thread did not take (or no thread at all)

    # -- the writer ---------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                deadline = time.monotonic() + self.flush_seconds
                while not (
                    self._closed or self._flush_wanted or self._waiting >= self.segment_rows
                ):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
                stop = self._closed
            self._drain()
            if stop:
                return

    def _take(self) -> list[LogChunk]:
        with self._cond:
            batch = list(self._queue)
            self._queue.clear()
            self._waiting = 0
            self._flush_wanted = False
            return batch

    def _drain(self) -> None:
        with self._write_lock:
            batch = self._take()
            if batch:
                try:
                    self._write(batch)
                except Exception as exc:  # never let the writer die
                    self._fail(sum(len(c.ids) for c in batch), exc)
            with self._cond:
                self._cond.notify_all()

    def _write(self, batch: Sequence[LogChunk]) -> None:
        # Chunks of one shape are merged column by column first (one numpy concatenation
        # per column), so building the Arrow table costs one pass per flush, not one per
        # request: the writer shares the interpreter with the server.
        shapes: dict[tuple[Any, ...], list[LogChunk]] = {}
        for chunk in batch:
            # A malformed chunk goes alone, so its error names it and it is dropped alone.
            key = _shape(chunk) if _lengths_agree(chunk) else (id(chunk),)
            shapes.setdefault(key, []).append(chunk)
        groups: dict[tuple[Any, ...], list[pa.Table]] = {}
        for chunks in shapes.values():
            for merged in _merged(chunks):
                try:
                    table = chunk_table(self.deployment, merged)
                except Exception as exc:
                    self._fail(len(merged.ids), exc)
                    continue
                key = (merged.model, merged.model_version, merged.role, table.schema)
                groups.setdefault(key, []).append(table)
        for (model, version, role, _), tables in groups.items():
            self._write_group(model, version, role, tables)

    def _write_group(self, model: str, version: int, role: str, tables: list[pa.Table]) -> None:
        import pyarrow as pa

        whole = pa.concat_tables(tables)
        # Sorted by id, which is by time: readers prune row groups on either.
        whole = whole.sort_by("prediction_id")
        for start in range(0, whole.num_rows, self.segment_rows):
            part = whole.slice(start, self.segment_rows)
            try:
                self._write_segment(model, version, role, part)
            except Exception as exc:
                self._fail(part.num_rows, exc)
            else:
                with self._cond:
                    self._written += part.num_rows
                    self._finished += part.num_rows
                    self._segments += 1

    def _write_segment(self, model: str, version: int, role: str, part: pa.Table) -> None:
        import pyarrow.compute as pc

        data = segment_bytes(part)
        info = self._ws.artifacts.put_bytes(data)
        ids = part.column("prediction_id")
        ts = part.column("ts").cast("int64")
        st.record_prediction_segment(
            self._ws.store,
            self.deployment,
            digest=info.digest,
            n_rows=part.num_rows,
            n_bytes=info.size,
            first_id=ids[0].as_py(),
            last_id=ids[-1].as_py(),
            min_ts=pc.min(ts).as_py(),
            max_ts=pc.max(ts).as_py(),
            role=role,
            model=model,
            version=version,
        )

    def _fail(self, n_rows: int, exc: BaseException) -> None:
        message = f"{type(exc).__name__}: {exc}"
        with self._cond:
            self._dropped += n_rows
            self._finished += n_rows
            self._last_error = message
            now = time.monotonic()
            warn = now - self._last_warning >= _WARN_EVERY
            if warn:
                self._last_warning = now
        if warn:
            logger.warning(
                "prediction log of %r dropped %d rows: %s %s",
                self.deployment,
                n_rows,
                message,
                _fix(exc),
            )


def _fix(exc: BaseException) -> str:
    if isinstance(exc, OSError):  # ArtifactStoreFullError is one
        return (
            "Free space on the artifact store, or point the `artifacts` setting at a larger "
            "one; the log resumes by itself (rows until then are dropped and counted)."
        )
    if isinstance(exc, StoreError):
        return (
            "Check that the metadata store is reachable; the log resumes by itself "
            "(segments written meanwhile are dropped and counted)."
        )
    if isinstance(exc, ConveyorError):
        return "The log carries on with the next segment."  # its message says the fix
    return "This is a bug in the caller's log rows or in conveyor; the log carries on."
