"""``Dataset``: one snapshot of a named dataset, as steps take and return it.

A handle, not the data: the rows stay in the artifact store as Parquet until a step reads
them (``to_pandas``, ``to_arrow``, ``iter_batches``, ``path``). Passed between steps it is
stored as a small JSON reference (materializer ``conveyor.dataset``), so a chain of steps
over a large snapshot copies nothing. The first read inside a step records that the step
read that snapshot, so a run shows the data it stood on.

This module is imported by ``import conveyor`` (the root exports ``Dataset``): pyarrow,
pandas and the store are imported only when a dataset is read.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core import StepContextError
from ..pipelines import current_step_context, register_reference_materializer

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from ..workspace import Workspace
    from ._profile import TableProfile

MEDIA_TYPE = "application/vnd.apache.parquet"


@dataclass(frozen=True)
class Dataset:
    """Snapshot ``version`` of dataset ``name``: immutable Parquet, its schema and statistics.

    Get one from :func:`conveyor.data.snapshot` or :func:`conveyor.data.get_dataset`, or in
    a pipeline from the :func:`conveyor.data.load_dataset` step; return one from a step to
    hand it on.

    Attributes:
        name: The dataset's name.
        version: The snapshot's number within the dataset (1, 2, 3 ...).
        digest: sha256 of the snapshot's Parquet bytes: the same data, the same digest.
        n_rows: Rows in the snapshot.
        columns: Column name to Arrow type, in order.
        snapshot_id: The snapshot's id in the metadata store.
        source: Where the rows were read from (credentials masked).
        created: Whether the call that returned this handle made the snapshot (``False``:
            the same content was already a version of the dataset).
    """

    name: str
    version: int
    digest: str
    n_rows: int
    columns: dict[str, str]
    snapshot_id: int
    source: str = ""
    created: bool = field(default=False, compare=False)
    _ws: Workspace | None = field(default=None, compare=False, repr=False)

    @property
    def uri(self) -> str:
        """``datasets:/name/version``, as models are ``models:/name/version``."""
        return f"datasets:/{self.name}/{self.version}"

    def path(self) -> Path:
        """A local Parquet file holding the snapshot, checksum verified (read-only)."""
        from . import require_data_extra
        from ._read import local_parquet

        require_data_extra()

        ws = self._workspace()
        self._note_read(ws)
        return local_parquet(ws, self.digest)

    def to_arrow(self, columns: Sequence[str] | None = None) -> pa.Table:
        """The rows as a pyarrow Table (only ``columns``, if given)."""
        import pyarrow.parquet as pq

        return pq.read_table(self.path(), columns=list(columns) if columns else None)

    def to_pandas(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The rows as a pandas DataFrame (only ``columns``, if given)."""
        return self.to_arrow(columns).to_pandas()

    def iter_batches(
        self, batch_rows: int = 65_536, columns: Sequence[str] | None = None
    ) -> Iterator[pa.RecordBatch]:
        """The rows in record batches of at most ``batch_rows``: bounded memory."""
        import pyarrow.parquet as pq

        with pq.ParquetFile(self.path()) as file:
            yield from file.iter_batches(
                batch_size=batch_rows, columns=list(columns) if columns else None
            )

    def profile(self) -> TableProfile:
        """The snapshot's statistics: mergeable sketches per column (see ``TableProfile``)."""
        from .. import store as st
        from ._profile import TableProfile

        record = st.get_snapshot(self._workspace().store, self.name, self.version)
        return TableProfile.from_dict(record.statistics)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: what ``conveyor data show --json`` prints."""
        return {
            "name": self.name,
            "version": self.version,
            "digest": self.digest,
            "rows": self.n_rows,
            "columns": self.columns,
            "uri": self.uri,
            "source": self.source,
            "created": self.created,
        }

    def bind(self, ws: Workspace) -> Dataset:
        """The same snapshot, read through ``ws``."""
        from dataclasses import replace

        return replace(self, _ws=ws)

    def _workspace(self) -> Workspace:
        if self._ws is not None:
            return self._ws
        ctx = current_step_context()
        if ctx is not None:
            return ctx.workspace
        raise StepContextError(
            f"Dataset {self.uri} is not bound to a project, so its rows cannot be read here.",
            hint="Get it with conveyor.data.get_dataset(ws, name), or read it inside a "
            "step of a pipeline run.",
            dataset=self.name,
        )

    def _note_read(self, ws: Workspace) -> None:
        """Inside a step, record (once) that its step run read this snapshot."""
        ctx = current_step_context()
        if ctx is not None:
            from .. import store as st

            st.record_snapshot_read(ws.store, self.snapshot_id, ctx.step_run_id)


# -- materializer: a Dataset between steps is a JSON reference ---------------------------

_REFERENCE_KEYS = ("name", "version", "digest", "n_rows", "columns", "snapshot_id", "source")


register_reference_materializer(
    "conveyor.dataset",
    Dataset,
    to_dict=lambda value: {k: getattr(value, k) for k in _REFERENCE_KEYS},
    from_dict=lambda fields: Dataset(**{k: fields[k] for k in _REFERENCE_KEYS}),
)
