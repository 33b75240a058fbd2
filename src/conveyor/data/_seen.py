"""The distinct values of a column seen in earlier batches, to find duplicates across batches.

Uniqueness is the one rule whose state grows with the data: it keeps every distinct value
seen (8 bytes a number, the text of a string). The values are kept as a few sorted-by-size
runs, each a pandas ``Index`` whose hash table is built once and reused; a run is merged with
the one before it when that one is at most twice its size, so there are O(log batches) runs
and each value is re-hashed O(log batches) times, not once per batch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa

__all__ = ["SeenValues"]


class SeenValues:
    """Distinct values seen so far; :meth:`add` says which of a batch's values came before."""

    def __init__(self) -> None:
        self._runs: list[pd.Index[Any]] = []

    @property
    def n_values(self) -> int:
        """How many distinct non-null values have been seen."""
        return sum(len(run) for run in self._runs)

    def add(self, values: pa.Array) -> np.ndarray[Any, Any]:
        """Record a batch's values; return the positions that repeat an earlier batch's value.

        Only the first occurrence in the batch of each repeated value is returned: repeats
        within the batch are the caller's to find (pandera's ``unique`` does). Nulls are
        never duplicates.
        """
        import numpy as np
        import pandas as pd
        import pyarrow.compute as pc

        encoded = pc.dictionary_encode(values)
        codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
        # The dictionary lists values in order of first appearance, so a value's first
        # position is where the running maximum of the codes first reaches its code.
        running = np.maximum.accumulate(codes) if len(codes) else codes
        first = np.flatnonzero(running > np.concatenate(([-1], running[:-1])))
        distinct = pd.Index(encoded.dictionary.to_numpy(zero_copy_only=False))
        if not len(distinct):
            return first
        repeated = np.zeros(len(distinct), dtype=bool)
        for run in self._runs:
            repeated |= run.get_indexer(distinct) >= 0
        new = distinct[~repeated]
        if len(new):
            self._runs.append(new)
            while len(self._runs) >= 2 and len(self._runs[-2]) <= 2 * len(self._runs[-1]):
                last = self._runs.pop()
                self._runs[-1] = self._runs[-1].append(last)
        return first[repeated]
