"""Datasets and their immutable, densely numbered snapshots."""

from __future__ import annotations

from ._datasets import add_snapshot as add_snapshot
from ._datasets import get_dataset_source as get_dataset_source
from ._datasets import get_snapshot as get_snapshot
from ._datasets import list_datasets as list_datasets
from ._datasets import list_snapshots as list_snapshots
from ._datasets import record_snapshot_read as record_snapshot_read
from ._datasets import set_dataset_source as set_dataset_source
from ._datasets import set_source_state as set_source_state
from ._datasets import snapshot_uses as snapshot_uses
from ._records import DatasetRecord as DatasetRecord
from ._records import DatasetSourceRecord as DatasetSourceRecord
from ._records import SnapshotRecord as SnapshotRecord
from ._records import SnapshotUseRecord as SnapshotUseRecord

__all__ = [
    "DatasetRecord",
    "DatasetSourceRecord",
    "SnapshotRecord",
    "SnapshotUseRecord",
    "add_snapshot",
    "get_dataset_source",
    "get_snapshot",
    "list_datasets",
    "list_snapshots",
    "record_snapshot_read",
    "set_dataset_source",
    "set_source_state",
    "snapshot_uses",
]
