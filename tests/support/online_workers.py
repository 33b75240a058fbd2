"""Child-process bodies for the online store's concurrency tests (importable under ``spawn``).

Each opens its own store from the backend's URL, waits on the shared barrier, and writes
its share; it returns plain counts, so the parent asserts on what happened.
"""

from __future__ import annotations

import random
from typing import Any

from .online import SCALARS, OnlineBackend, at, scalar_rows
from .procs import BARRIER_TIMEOUT


def write_versions(
    backend: OnlineBackend, barrier: Any, versions: list[int], origins: list[str], seed: int
) -> int:
    """Write every origin at each of ``versions`` (event time = version), one batch per
    version, in a shuffled order; return the entities the store says it stored."""
    order = list(versions)
    random.Random(seed).shuffle(order)
    written = 0
    with backend.open() as store:
        barrier.wait(BARRIER_TIMEOUT)
        for version in order:
            n = len(origins)
            rows = scalar_rows(origins, [at(1, micro=version)] * n, [version] * n)
            written += store.write(SCALARS, rows, timestamp="ts")
    return written
