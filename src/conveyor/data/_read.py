"""Reading snapshots: a verified local copy of a snapshot's Parquet, made once per machine.

pyarrow reads Parquet by seeking, which a checksum cannot follow; so a snapshot is copied
out of the artifact store once, verified as it streams (``ArtifactStore.get_file``), into
``.conveyor/cache/datasets/<digest>.parquet`` (written atomically, so a file there is
whole and verified), and read from there by every step and command after.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..workspace import Workspace

CACHE_DIR = Path("cache") / "datasets"


def local_parquet(ws: Workspace, digest: str) -> Path:
    """The verified local copy of the Parquet blob ``digest`` (copied on first use)."""
    path = ws.config.state_dir / CACHE_DIR / f"{digest}.parquet"
    if not path.is_file():
        ws.artifacts.get_file(digest, path)
        path.chmod(0o444)
    return path
