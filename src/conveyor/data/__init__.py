"""Datasets: named sources, immutable content-hashed snapshots with mergeable statistics,
new-data detection, schemas that halt a pipeline, and training/serving skew.

Services over a :class:`~conveyor.workspace.Workspace`; the CLI, the REST API and the UI
call these, never the store.
"""

from __future__ import annotations

from ._compare import ColumnDiff as ColumnDiff
from ._compare import ProfileDiff as ProfileDiff
from ._compare import SketchEstimate as SketchEstimate
from ._compare import compare_profiles as compare_profiles
from ._compare import jensen_shannon as jensen_shannon
from ._compare import ks_statistic as ks_statistic
from ._compare import psi as psi
from ._compare import wasserstein as wasserstein
from ._profile import ColumnProfile as ColumnProfile
from ._profile import TableProfile as TableProfile
from ._profiler import Profiler as Profiler
from ._profiler import profile_table as profile_table

__all__ = [
    "ColumnDiff",
    "ColumnProfile",
    "ProfileDiff",
    "Profiler",
    "SketchEstimate",
    "TableProfile",
    "compare_profiles",
    "jensen_shannon",
    "ks_statistic",
    "profile_table",
    "psi",
    "wasserstein",
]
