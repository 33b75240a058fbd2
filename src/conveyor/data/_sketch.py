"""The mergeable sketches behind a column profile, as pure functions over numpy arrays.

- **Distinct values**: a KMV (bottom-k) sketch: the ``k`` smallest distinct 64-bit hashes of
  the values seen. Below ``k`` distinct values it holds every hash and the count is exact;
  above, the estimate ``(k - 1) / u_k`` (``u_k`` the k-th smallest hash scaled to (0, 1]) is
  unbiased with relative standard error ``1 / sqrt(k - 2)`` (Bar-Yossef et al. 2002; Beyer
  et al. 2007): 3.1% at the default ``k = 1024``, so within 9.4% with 99.7% probability. The
  union of two sketches is the bottom-k of the union of their hashes, so merging is exact.
  datasketches' HLL, CPC and theta sketches take one item per Python call; hashing with
  numpy keeps every update vectorised.
- **Frequent values**: exact counts up to ``capacity`` distinct values, then a Misra-Gries
  summary merged as in Agarwal et al., "Mergeable summaries" (2012): when more than
  ``capacity`` values are tracked, the (capacity+1)-th largest count ``d`` is subtracted from
  every count and values left at zero are dropped. The sum of every ``d`` subtracted is the
  ``error``: a listed count is a lower bound, the true count is at most ``count + error``,
  and an unlisted value occurs at most ``error`` times. The error never exceeds
  ``(n - sum(counts)) / (capacity + 1)``. (datasketches' ``frequent_strings_sketch`` is the
  same summary, but updated one item per Python call.)
- **Quantiles**: datasketches' KLL sketch (``kll_doubles_sketch``), fed whole numpy arrays.
  Large batches may be fed a uniform sample whose weight is restored by merging the sample's
  sketch with copies of itself (see :func:`kll_feed`).

Nothing here imports numpy, pyarrow or datasketches at module import.
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import TYPE_CHECKING, Any

from ..core import InvalidValueError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pyarrow as pa

    U64 = npt.NDArray[np.uint64]
    F64 = npt.NDArray[np.float64]

DEFAULT_DISTINCT_K = 1024
_TWO_64 = 2.0**64
# splitmix64's finalizer constants (Steele, Lea, Flood 2014): a bijection of 64-bit words
# whose output bits each depend on every input bit.
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB
_GOLDEN = 0x9E3779B97F4A7C15
# Strings are hashed in slices of at most this many bytes to bound the temporary arrays.
_STRING_SLICE_BYTES = 1 << 22
# Ints beyond 2**53 have no exact float64; they are hashed by their own bits under this tag.
_BIG_INT_TAG = 0x5BD1E9955BD1E995


# --------------------------------------------------------------------------------- JSON ---


def json_float(value: float | int | None) -> float | int | str | None:
    """``value`` as strict JSON: non-finite floats become ``"NaN"``, ``"Infinity"``, ..."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def read_json_float(value: Any, what: str) -> float | int | None:
    """Inverse of :func:`json_float`; ``what`` names the field in the error."""
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return value
    if value in ("NaN", "Infinity", "-Infinity"):
        return float(value.replace("Infinity", "inf"))
    raise InvalidValueError(
        f"The profile field {what} must be a number, null, 'NaN' or '±Infinity'. Got {value!r}."
    )


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise InvalidValueError(
            f"The profile field {what} must be a base64 string. Got {type(text).__name__}."
        )
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise InvalidValueError(
            f"The profile field {what} is not valid base64 (got {text[:40]!r}...)."
        ) from None


# ------------------------------------------------------------------------------ hashing ---


def mix64(words: U64) -> U64:
    """splitmix64's finalizer, in place on a fresh uint64 array, which it returns."""
    import numpy as np

    words ^= words >> np.uint64(30)
    words *= np.uint64(_MIX1)
    words ^= words >> np.uint64(27)
    words *= np.uint64(_MIX2)
    words ^= words >> np.uint64(31)
    return words


def hash_floats(values: F64) -> U64:
    """Hashes of float64 values (no NaN). Integral values hash as the same int would."""
    import numpy as np

    # x + 0.0 turns -0.0 into 0.0, so the two zeros count as one value.
    canonical = values + 0.0
    return mix64(canonical.view(np.uint64) ^ np.uint64(_GOLDEN))


def hash_ints(values: npt.NDArray[Any], *, small: bool = False) -> U64:
    """Hashes of integers: as their float64 when exact (so 3 and 3.0 agree), else own bits.

    ``small`` promises every value is below 2**53 in magnitude (skips that check).
    """
    import numpy as np

    words = values.astype(np.float64).view(np.uint64)
    words ^= np.uint64(_GOLDEN)
    if not small and values.dtype.itemsize == 8 and len(values):
        big = np.abs(values.astype(np.float64)) >= 2.0**53
        if big.any():
            words[big] = values[big].view(np.uint64) ^ np.uint64(_BIG_INT_TAG)
    return mix64(words)


def distinct_hashes(block: npt.NDArray[Any]) -> U64:
    """Hashes of the values of a numeric block (no NaN); each value at least once.

    A block of integers over a narrow range is reduced to its distinct values with one
    ``bincount`` first, so low-cardinality columns hash a handful of words, not every row.
    """
    import numpy as np

    if block.dtype.kind == "f":
        return hash_floats(block)
    if len(block) == 0:
        return np.empty(0, dtype=np.uint64)
    low, high = block.min().item(), block.max().item()
    small = -(2**53) < low and high < 2**53
    if high - low < len(block) // 4:
        present = np.flatnonzero(np.bincount((block - low).astype(np.intp)))
        return hash_ints(present.astype(np.int64) + low, small=small)
    return hash_ints(block, small=small)


def hash_strings(strings: pa.Array) -> U64:
    """Hashes of a string array without nulls, from its Arrow buffers (no Python loop per row).

    Each string hashes to ``mix(sum(byte_i * r_i) ^ mix(len))`` where ``r_i`` is a fixed
    pseudo-random word for position ``i``: a multilinear hash, so two different strings
    collide with probability about 2**-56 before the final mix.
    """
    import numpy as np
    import pyarrow as pa

    strings = strings.cast(pa.large_string())
    n = len(strings)
    if n == 0:
        return np.empty(0, dtype=np.uint64)
    buffers = strings.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64)[strings.offset : strings.offset + n + 1]
    data = (
        np.frombuffer(buffers[2], dtype=np.uint8)
        if buffers[2] is not None
        else np.empty(0, dtype=np.uint8)
    )
    lengths = np.diff(offsets)
    out = np.empty(n, dtype=np.uint64)
    start = 0
    while start < n:
        # One slice of whole strings holding at most _STRING_SLICE_BYTES (at least one string).
        limit = offsets[start] + _STRING_SLICE_BYTES
        stop = max(start + 1, int(np.searchsorted(offsets, limit, side="right")) - 1)
        stop = min(stop, n)
        lo, hi = int(offsets[start]), int(offsets[stop])
        body = data[lo:hi].astype(np.uint64)
        starts = offsets[start:stop] - lo
        pos = np.arange(hi - lo, dtype=np.int64) - np.repeat(starts, lengths[start:stop])
        weights = mix64(pos.astype(np.uint64) + np.uint64(_GOLDEN))
        body *= weights
        # Integer cumsum wraps modulo 2**64, which is the arithmetic the hash wants.
        sums = np.concatenate((np.zeros(1, dtype=np.uint64), np.cumsum(body, dtype=np.uint64)))
        ends = offsets[start + 1 : stop + 1] - lo
        part = sums[ends] - sums[starts]
        part ^= mix64(lengths[start:stop].astype(np.uint64) + np.uint64(_MIX2))
        out[start:stop] = mix64(part)
        start = stop
    return out


# ------------------------------------------------------------------------------ KMV -------


def kmv_update(current: U64, hashes: U64, k: int) -> U64:
    """The bottom-k of ``current ∪ hashes`` (``current`` sorted unique, at most ``k``)."""
    import numpy as np

    if len(hashes) == 0:
        return current
    if len(current) >= k:
        # Full: only hashes below the k-th smallest can enter (one vectorised pass).
        candidates = hashes[hashes < current[-1]]
        if len(candidates) == 0:
            return current
        return _unique_sorted(np.concatenate((current, candidates)))[:k]
    # Not full: a threshold holding about 8k of the hashes, widened until k distinct hashes
    # fall below it, spares sorting a large high-cardinality batch whole.
    fraction = 8.0 * k / len(hashes)
    while fraction < 1.0:
        threshold = np.uint64(int(fraction * _TWO_64))
        merged = _unique_sorted(np.concatenate((current, hashes[hashes < threshold])))
        if np.count_nonzero(merged < threshold) >= k:
            return merged[:k]
        fraction *= 16.0
    return _unique_sorted(np.concatenate((current, hashes)))[:k]


def _unique_sorted(words: U64) -> U64:
    import numpy as np

    if len(words) > 4096:
        # A hash table beats sorting a large array, the more so with many repeats.
        import pyarrow as pa
        import pyarrow.compute as pc

        words = pc.unique(pa.array(words)).to_numpy()
    # Sort and drop repeats: np.unique costs more than this for the small arrays seen here.
    ordered = np.sort(words)
    if len(ordered) < 2:
        return ordered
    keep = np.empty(len(ordered), dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def kmv_merge(a: U64, b: U64, k: int) -> U64:
    import numpy as np

    return _unique_sorted(np.concatenate((a, b)))[:k]


def kmv_estimate(hashes: U64, k: int) -> float:
    """Distinct values seen: exact below ``k`` hashes, else the KMV estimate."""
    if len(hashes) < k:
        return float(len(hashes))
    kth = (float(hashes[k - 1]) + 1.0) / _TWO_64
    return (k - 1) / kth


def kmv_relative_error(k: int) -> float:
    """Relative standard error of :func:`kmv_estimate` once the sketch is full."""
    return 1.0 / math.sqrt(max(k - 2, 1))


def kmv_to_bytes(hashes: U64) -> bytes:
    return hashes.astype("<u8").tobytes()


def kmv_from_bytes(data: bytes, what: str) -> U64:
    import numpy as np

    if len(data) % 8:
        raise InvalidValueError(
            f"The profile field {what} must hold 8-byte hashes; got {len(data)} bytes."
        )
    hashes = np.frombuffer(data, dtype="<u8").astype(np.uint64)
    if len(hashes) > 1 and not bool((hashes[1:] > hashes[:-1]).all()):
        raise InvalidValueError(f"The hashes in profile field {what} are not sorted and unique.")
    return hashes


# ---------------------------------------------------------------------- frequent values ---


def merge_counts(
    values: pa.Array, counts: npt.NDArray[np.int64], capacity: int
) -> tuple[pa.Array, npt.NDArray[np.int64], int]:
    """Sum the counts of equal values, then keep at most ``capacity`` (Misra-Gries).

    Returns:
        ``(values, counts, subtracted)``: ``subtracted`` is added to the summary's error.
    """
    import numpy as np
    import pyarrow as pa

    grouped = pa.table({"v": values, "c": counts}).group_by("v").aggregate([("c", "sum")])
    values, summed = grouped.column("v").combine_chunks(), grouped.column("c_sum").to_numpy()
    summed = summed.astype(np.int64)
    if len(summed) <= capacity:
        return values, summed, 0
    # The (capacity+1)-th largest count comes off every count: at most `capacity` stay > 0.
    cut = int(np.partition(summed, len(summed) - capacity - 1)[len(summed) - capacity - 1])
    summed -= cut
    keep = summed > 0
    return values.filter(pa.array(keep)), summed[keep], cut


def sort_counts(values: pa.Array, counts: npt.NDArray[np.int64]) -> tuple[list[Any], list[int]]:
    """Most frequent first, ties by value, as Python lists (a stable, mergeable order)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = pa.table({"v": values, "c": counts})
    order = pc.sort_indices(table, sort_keys=[("c", "descending"), ("v", "ascending")])
    table = table.take(order)
    return table.column("v").to_pylist(), table.column("c").to_pylist()


# ------------------------------------------------------------------------------ KLL -------


def kll_new(k: int) -> Any:
    import datasketches

    return datasketches.kll_doubles_sketch(k)


def kll_from_bytes(data: bytes, what: str = "quantiles.sketch") -> Any:
    import datasketches

    try:
        return datasketches.kll_doubles_sketch.deserialize(data)
    except (RuntimeError, ValueError, IndexError) as exc:  # what the C++ checks raise
        raise InvalidValueError(
            f"The profile field {what} is not a serialized KLL doubles sketch ({exc})."
        ) from None


def kll_copy(sketch: Any) -> Any:
    return kll_from_bytes(sketch.serialize())


def kll_feed(sketch: Any, values: npt.NDArray[Any], weight: int, rng: np.random.Generator) -> int:
    """Add ``values`` to ``sketch``, each standing for itself, via a sample when ``weight > 1``.

    With ``weight`` w > 1, ``n // w`` values drawn uniformly (with replacement) are sketched
    and their sketch is scaled to weight w by merging it with copies of itself (a sketch
    merged with its own copy is that stream seen twice, so ranks are unchanged and ``n``
    doubles); the ``n % w`` left over are drawn at weight 1. The sketch's ``n`` grows by
    exactly ``len(values)``.

    Returns:
        The variance numerator this adds to the sketch's rank count: ``w² · draws +
        leftover`` (each draw's indicator has variance at most 1/4, applied by the caller),
        0 when every value was fed.
    """
    import numpy as np

    n = len(values)
    n_drawn = n // weight if weight > 1 else 0
    if n_drawn == 0:
        # The binding takes only writable float64 arrays (Arrow's zero-copy views are not).
        sketch.update(values.astype(np.float64))
        return 0
    n_left = n - n_drawn * weight
    draws = values[rng.integers(0, n, n_drawn + n_left)].astype(np.float64, copy=False)
    unit = kll_new(sketch.k)
    unit.update(draws[:n_drawn])
    # Binary expansion of the weight: sum of the unit sketch doubled j times for each set bit.
    scaled: Any = None
    power = unit
    for bit in range(weight.bit_length()):
        if (weight >> bit) & 1:
            if scaled is None:
                scaled = kll_copy(power)
            else:
                scaled.merge(power)
        if bit + 1 < weight.bit_length():
            doubled = kll_copy(power)
            doubled.merge(power)
            power = doubled
    sketch.merge(scaled)
    if n_left:
        sketch.update(draws[n_drawn:])
    return weight * weight * n_drawn + n_left
