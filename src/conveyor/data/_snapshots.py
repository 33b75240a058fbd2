"""Snapshot services: register a source, take content-hashed snapshots with statistics,
find new data, list, show and compare.

A snapshot streams its source in record batches into a temporary Parquet file (hashed as
it is written) while a second thread builds the statistics from the same batches; then the
file goes into the artifact store and, last, the snapshot row into the metadata store. A
process killed anywhere before that last step leaves only a temporary file: no snapshot is
ever visible half-written.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import re
import secrets
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import store as st
from ..core import InvalidValueError, NotFoundError, validate_name
from ..pipelines import current_step_context
from ._dataset import MEDIA_TYPE, Dataset

if TYPE_CHECKING:
    import pyarrow as pa

    from ..workspace import Workspace
    from ._compare import ProfileDiff
    from ._profile import TableProfile
    from ._sources import Source

logger = logging.getLogger(__name__)

DEFAULT_BATCH_ROWS = 65_536
# Batches waiting for the statistics thread: enough to keep both threads busy, few enough
# that memory stays bounded (each is at most one batch of the source). Joining batches into
# bigger chunks for it measured slower: the statistics then trail the writer at the end.
_PROFILE_QUEUE = 4
_TMP = Path("tmp")


def snapshot(
    ws: Workspace,
    source: Any = None,
    *,
    name: str,
    format: str | None = None,
    storage_options: Mapping[str, Any] | None = None,
    watermark: str | None = None,
    appending: bool | None = None,
    description: str | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> Dataset:
    """Snapshot ``source`` as the next version of dataset ``name``; without ``source``,
    snapshot the source ``name`` was registered with.

    The same content is the same snapshot: snapshotting unchanged data returns the existing
    version with ``created=False``. A re-readable source (files, a URL, a SQL query) is
    registered as the dataset's source, so later snapshots and new-data checks need only
    the name. Inside a step, the snapshot is recorded as that step's output.

    Args:
        source: A path, glob, folder or fsspec URL (Parquet or CSV), a pandas DataFrame,
            a pyarrow Table, a :class:`~conveyor.data.SqlQuery`, or None.
        name: The dataset's name.
        format: ``parquet`` or ``csv`` when the extension does not say.
        storage_options: fsspec options for a URL (``endpoint_url``, ...).
        watermark: For SQL: a column that grows with new rows (new-data detection).
        appending: Whether each new-data snapshot holds all the data so far (True) or only
            what is new (False). Kept with the registered source; None keeps what was
            registered (False for a new dataset).
        description: A line about the dataset, shown by ``conveyor data list``.
        batch_rows: Rows per record batch while streaming the source.

    Raises:
        DataSourceError: the source is missing, unreadable or its query failed.
        NotFoundError: no ``source`` and ``name`` has no registered source.
    """
    _check_batch_rows(batch_rows)
    validate_name(name, what="dataset name")
    if source is None:
        registered = st.get_dataset_source(ws.store, name)
        return _take(ws, name, _rebuild(registered.spec), batch_rows=batch_rows)
    from ._sources import make_source

    src = make_source(
        _absolute(source), format=format, storage_options=storage_options, watermark=watermark
    )
    spec = src.spec()
    rereadable = _rereadable(spec)
    # Scanned before reading: what the snapshot holds is not new to the next check (a file
    # that changes meanwhile is, and the same content is the same snapshot anyway).
    state = src.scan() if rereadable else None
    taken = _take(ws, name, src, batch_rows=batch_rows)
    # Registered only once a snapshot of it landed: a source that cannot be read leaves
    # no trace.
    if rereadable:
        if appending is None:  # unsaid: as registered before, else not appending
            try:
                appending = st.get_dataset_source(ws.store, name).appending
            except NotFoundError:
                appending = False
        st.set_dataset_source(
            ws.store, name, spec=spec, appending=appending, description=description
        )
        if state is not None:
            st.set_source_state(ws.store, name, state.to_dict())
    return taken


def _absolute(source: Any) -> Any:
    """A relative local path (or glob) made absolute, so the registered source reads the
    same files from any folder later; URLs and objects pass through."""
    if isinstance(source, str | os.PathLike):
        text = os.fspath(source)
        if "://" not in text and not os.path.isabs(text):
            return os.path.join(os.getcwd(), text)
    return source


@dataclass(frozen=True)
class NewData:
    """What a check for new data found.

    Attributes:
        dataset: The dataset checked.
        summary: One line: what changed in its source.
        snapshot: The snapshot taken of it, or None if nothing was new.
    """

    dataset: str
    summary: str
    snapshot: Dataset | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "summary": self.summary,
            "snapshot": None if self.snapshot is None else self.snapshot.to_dict(),
        }


def check_new_data(ws: Workspace, name: str, *, batch_rows: int = DEFAULT_BATCH_ROWS) -> NewData:
    """Look for new data in ``name``'s registered source and snapshot it if there is some.

    New or changed files under the source's path or prefix, or rows past its SQL
    watermark, are new data. The snapshot holds only what is new, or everything so far
    if the dataset is ``appending``; taking it emits ``io.conveyor.snapshot.created``,
    which triggers turn into runs. Checking again with nothing new does nothing.

    Raises:
        NotFoundError: ``name`` has no registered source.
        DataSourceError: the source cannot be read.
    """
    from ._sources import SourceState

    _check_batch_rows(batch_rows)
    registered = st.get_dataset_source(ws.store, name)
    src = _rebuild(registered.spec)
    previous = SourceState.from_dict(registered.state) if registered.state else None
    changes = src.changes(previous)
    if not changes.has_new:
        return NewData(name, changes.summary, None)
    part = src if registered.appending else changes.new_part()
    taken = _take(ws, name, part, batch_rows=batch_rows)
    # Only once the snapshot landed: a check killed before this takes it again, and the
    # same content is the same snapshot.
    st.set_source_state(ws.store, name, changes.state.to_dict())
    return NewData(name, changes.summary, taken)


def get_dataset(ws: Workspace, name: str, version: int | None = None) -> Dataset:
    """Snapshot ``version`` of dataset ``name`` (the latest if None), ready to read.

    Raises:
        NotFoundError: no such dataset or version (naming the ones there are).
    """
    return _handle(ws, name, st.get_snapshot(ws.store, name, version), created=False)


def list_datasets(ws: Workspace) -> list[st.DatasetRecord]:
    """The project's datasets, by name, with their latest version number."""
    return st.list_datasets(ws.store)


def list_versions(ws: Workspace, name: str) -> list[Dataset]:
    """Every snapshot of dataset ``name``, oldest first.

    Raises:
        NotFoundError: no such dataset.
    """
    return [_handle(ws, name, r, created=False) for r in st.list_snapshots(ws.store, name)]


def dataset_profile(ws: Workspace, name: str, version: int | None = None) -> TableProfile:
    """The statistics of a snapshot: mergeable per-column sketches."""
    from ._profile import TableProfile

    return TableProfile.from_dict(st.get_snapshot(ws.store, name, version).statistics)


def diff_datasets(ws: Workspace, a: str, b: str) -> ProfileDiff:
    """Compare two snapshots, ``name`` (latest) or ``name/VERSION`` each: columns added,
    removed and retyped, and per column the shifts in quantiles, null rates and categories,
    with PSI. Computed from the stored statistics alone: no rows are read.

    Raises:
        InvalidValueError: a reference is not ``name`` or ``name/VERSION``.
        NotFoundError: no such dataset or version.
    """
    from ._compare import compare_profiles

    return compare_profiles(_profile_of(ws, a), _profile_of(ws, b))


def parse_ref(ref: str) -> tuple[str, int | None]:
    """``flights`` -> (flights, None); ``flights/3``, ``flights@3`` or
    ``datasets:/flights/3`` -> (flights, 3).

    Raises:
        InvalidValueError: anything else.
    """
    text = ref.removeprefix("datasets:/")
    match = re.fullmatch(r"([A-Za-z0-9_.\-]+)(?:[/@](\d+|latest))?", text)
    if match is None:
        raise InvalidValueError(
            f"A snapshot reference is a dataset name, optionally with a version: 'flights', "
            f"'flights/3' or 'datasets:/flights/3'. Got {ref!r}.",
            hint="List the versions with: conveyor data show NAME",
            ref=ref,
        )
    name, version = match.group(1), match.group(2)
    return name, None if version in (None, "latest") else int(version)


def _profile_of(ws: Workspace, ref: str) -> TableProfile:
    name, version = parse_ref(ref)
    return dataset_profile(ws, name, version)


def _check_batch_rows(batch_rows: int) -> None:
    if not isinstance(batch_rows, int) or isinstance(batch_rows, bool) or batch_rows < 1:
        raise InvalidValueError(
            f"batch_rows must be a positive whole number of rows. Got {batch_rows!r}.",
            hint="Use the default (65536) unless rows are very wide.",
        )


def _rereadable(spec: Mapping[str, Any]) -> bool:
    return spec.get("kind") != "memory"


def _rebuild(spec: Mapping[str, Any]) -> Source:
    from ._sources import source_from_spec

    return source_from_spec(spec)


def _take(ws: Workspace, name: str, src: Source, *, batch_rows: int) -> Dataset:
    """Stream ``src`` into a snapshot of ``name``; record it last."""
    from ._writer import write_snapshot

    validate_name(name, what="dataset name")
    tmp_dir = ws.config.state_dir / _TMP
    tmp_dir.mkdir(parents=True, exist_ok=True)
    temp = tmp_dir / f"snapshot-{secrets.token_hex(8)}.parquet.part"
    try:
        with _profiling() as feed:
            written = write_snapshot(src.iter_batches(batch_rows), temp, on_batch=feed.put)
        profile = feed.result(written.schema)
        # The writer hashed the bytes as it wrote them: a local store renames the file in.
        blob = ws.artifacts.adopt_file(temp, written.digest)
    finally:
        temp.unlink(missing_ok=True)
    ctx = current_step_context()
    artifact = st.record_artifact(
        ws.store,
        blob.digest,
        blob.size,
        name=f"datasets/{name}.parquet",
        type_name="conveyor.data.Dataset",
        media_type=MEDIA_TYPE,
        meta={"dataset": name, "rows": written.n_rows},
        producer_step_run_id=ctx.step_run_id if ctx else None,
    )
    record, created = st.add_snapshot(
        ws.store,
        name,
        artifact_id=artifact.id,
        digest=written.digest,
        source=src.describe(),
        schema=_columns(written.schema),
        statistics=profile.to_dict(),
        n_rows=written.n_rows,
        run_id=ctx.run_id if ctx else None,
        step_run_id=ctx.step_run_id if ctx else None,
    )
    return _handle(ws, name, record, created=created)


def _columns(schema: pa.Schema) -> dict[str, str]:
    return {field.name: str(field.type) for field in schema}


def _handle(ws: Workspace, name: str, record: st.SnapshotRecord, *, created: bool) -> Dataset:
    return Dataset(
        name=name,
        version=record.version,
        digest=record.digest,
        n_rows=int(record.n_rows or 0),
        columns=dict(record.schema),
        snapshot_id=record.id,
        source=record.source,
        created=created,
    ).bind(ws)


class _Feed:
    """Batches handed from the writer to the statistics thread, through a bounded queue."""

    def __init__(self) -> None:
        from ._profiler import Profiler

        self.profiler = Profiler()
        self.n_batches = 0
        self._queue: queue.Queue[pa.RecordBatch | None] = queue.Queue(_PROFILE_QUEUE)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="conveyor-profile", daemon=True)
        self._thread.start()

    def put(self, batch: pa.RecordBatch) -> None:
        if self._error is not None:
            raise self._error
        self.n_batches += 1
        self._queue.put(batch)

    def _work(self) -> None:
        while (batch := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self.profiler.update(batch)
                except BaseException as exc:  # re-raised on the writer's thread
                    self._error = exc

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def result(self, schema: pa.Schema) -> TableProfile:
        if self._error is not None:
            raise self._error
        from ._profiler import profile_table

        if self.n_batches == 0:  # no rows: the statistics of the empty table
            return profile_table(schema.empty_table())
        return self.profiler.result()


@contextlib.contextmanager
def _profiling() -> Iterator[_Feed]:
    feed = _Feed()
    try:
        yield feed
    finally:
        feed.close()
