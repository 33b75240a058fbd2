"""Datasets and their immutable, densely numbered snapshots."""

from __future__ import annotations

from ._datasets import add_snapshot as add_snapshot
from ._datasets import list_datasets as list_datasets
from ._datasets import list_snapshots as list_snapshots
from ._records import DatasetRecord as DatasetRecord
from ._records import SnapshotRecord as SnapshotRecord

__all__ = [
    "DatasetRecord",
    "SnapshotRecord",
    "add_snapshot",
    "list_datasets",
    "list_snapshots",
]
