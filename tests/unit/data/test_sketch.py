"""The sketches behind profiles: hashing, KMV distinct counts, Misra-Gries counts, and
the sampled KLL feed, each against exact answers."""

from __future__ import annotations

import math
from typing import Any

import datasketches
import numpy as np
import pyarrow as pa
import pytest

from conveyor.core import InvalidValueError
from conveyor.data import _sketch as sk
from conveyor.data import profile_table


def empty() -> np.ndarray[Any, Any]:
    return np.empty(0, dtype=np.uint64)


# --------------------------------------------------------------------------- hashing ---


def test_string_hashes_depend_on_the_string_alone() -> None:
    words = ["", "a", "ab", "ba", "a\x00", "\x00a", "héllo", "a" * 300, "b"]
    array = pa.array(["pad", *words, None]).slice(1, len(words))  # an offset into buffers
    hashes = sk.hash_strings(array)
    one_by_one = np.concatenate([sk.hash_strings(pa.array([w])) for w in words])
    assert np.array_equal(hashes, one_by_one)
    assert len(np.unique(hashes)) == len(words)
    assert np.array_equal(sk.hash_strings(pa.array(words, pa.large_string())), hashes)


def test_long_strings_hash_across_slices() -> None:
    rng = np.random.default_rng(0)
    words = ["".join(rng.choice(list("xyz"), 3000)) for _ in range(1600)]  # ~4.8 MB
    words.append("q" * (5 << 20))  # one string longer than a slice
    hashes = sk.hash_strings(pa.array(words))
    assert len(np.unique(hashes)) == len(set(words))
    assert hashes[-1] == sk.hash_strings(pa.array([words[-1]]))[0]
    assert hashes[700] == sk.hash_strings(pa.array([words[700]]))[0]


def test_numbers_hash_by_value() -> None:
    ints = sk.hash_ints(np.array([0, 1, -1, 2**53 + 1, 2**63 - 1], dtype=np.int64))
    floats = sk.hash_floats(np.array([0.0, 1.0, -1.0]))
    assert np.array_equal(ints[:3], floats)
    assert sk.hash_floats(np.array([-0.0]))[0] == floats[0]
    assert len(np.unique(ints)) == 5
    # A narrow int block is reduced to its distinct values before hashing.
    block = np.array([5, 5, 6, 5, 7, 6] * 10, dtype=np.int32)
    assert np.array_equal(
        np.sort(sk.distinct_hashes(block)), np.sort(sk.hash_ints(np.array([5, 6, 7])))
    )


def test_hashes_look_uniform() -> None:
    hashes = sk.hash_ints(np.arange(200_000, dtype=np.int64))
    top_byte = (hashes >> np.uint64(56)).astype(np.int64)
    counts = np.bincount(top_byte, minlength=256)
    # Chi-square with 255 degrees of freedom: mean 255, sd ~22.6; 400 is > 6 sd.
    expected = len(hashes) / 256
    assert np.sum((counts - expected) ** 2 / expected) < 400


# ------------------------------------------------------------------------------- KMV ---


def test_kmv_is_exact_below_k_and_merges_as_a_union() -> None:
    a = sk.kmv_update(empty(), sk.hash_ints(np.arange(0, 600)), 1024)
    b = sk.kmv_update(empty(), sk.hash_ints(np.arange(300, 900)), 1024)
    assert sk.kmv_estimate(a, 1024) == 600
    merged = sk.kmv_merge(a, b, 1024)
    assert sk.kmv_estimate(merged, 1024) == 900
    both = sk.kmv_update(empty(), sk.hash_ints(np.arange(0, 900)), 1024)
    assert np.array_equal(merged, both)


@pytest.mark.parametrize("n_distinct", [5_000, 300_000])
def test_kmv_estimates_within_its_stated_error(n_distinct: int) -> None:
    rng = np.random.default_rng(n_distinct)
    values = rng.permutation(n_distinct).repeat(3)
    rng.shuffle(values)
    sketch = empty()
    for block in np.array_split(values, 17):
        sketch = sk.kmv_update(sketch, sk.hash_ints(block), 1024)
    assert len(sketch) == 1024 and np.all(sketch[1:] > sketch[:-1])
    estimate = sk.kmv_estimate(sketch, 1024)
    assert abs(estimate - n_distinct) <= 5 * sk.kmv_relative_error(1024) * n_distinct


def test_kmv_thresholds_widen_for_repeated_values() -> None:
    # 50 distinct values in 200k rows: the first thresholds hold too few; widening finds all.
    values = np.random.default_rng(1).integers(0, 50, 200_000) * 1_000_003
    sketch = sk.kmv_update(empty(), sk.hash_ints(values), 1024)
    assert len(sketch) == 50


def test_distinct_counts_of_a_large_column_are_within_error() -> None:
    column = profile_table(pa.table({"x": np.arange(400_000, dtype=np.float64) / 7}))["x"]
    assert not column.distinct_exact and column.distinct_error == pytest.approx(1 / math.sqrt(1022))
    assert abs((column.distinct_estimate or 0) - 400_000) <= 5 * column.distinct_error * 400_000


def test_empty_inputs_change_nothing() -> None:
    full = sk.kmv_update(empty(), sk.hash_ints(np.arange(100)), 16)
    assert np.array_equal(sk.kmv_update(full, empty(), 16), full)
    # Hashes all above the sketch's 16th smallest leave a full sketch as it was.
    above = np.full(5, np.iinfo(np.uint64).max, dtype=np.uint64)
    assert sk.kmv_update(full, above, 16) is full
    assert len(sk.hash_strings(pa.array([], pa.string()))) == 0
    assert len(sk.distinct_hashes(np.array([], dtype=np.int64))) == 0


def test_kmv_bytes_are_checked() -> None:
    hashes = sk.kmv_update(empty(), sk.hash_ints(np.arange(10)), 16)
    assert np.array_equal(sk.kmv_from_bytes(sk.kmv_to_bytes(hashes), "d"), hashes)
    with pytest.raises(InvalidValueError, match="not sorted and unique"):
        sk.kmv_from_bytes(sk.kmv_to_bytes(hashes[::-1]), "d")


# ------------------------------------------------------------------- frequent values ---


def test_merge_counts_is_exact_under_capacity_and_misra_gries_above() -> None:
    values = pa.array(["a", "b", "a", "c"], pa.large_string())
    kept, counts, cut = sk.merge_counts(values, np.array([5, 3, 2, 1]), capacity=3)
    assert dict(zip(kept.to_pylist(), counts.tolist(), strict=True)) == {"a": 7, "b": 3, "c": 1}
    assert cut == 0
    kept, counts, cut = sk.merge_counts(values, np.array([5, 3, 2, 1]), capacity=1)
    # 'a' 7, 'b' 3, 'c' 1: the 2nd largest (3) comes off every count.
    assert (kept.to_pylist(), counts.tolist(), cut) == (["a"], [4], 3)


def test_sort_counts_orders_by_count_then_value() -> None:
    values = pa.array(["b", "a", "c", "d"])
    assert sk.sort_counts(values, np.array([2, 2, 5, 1])) == (["c", "a", "b", "d"], [5, 2, 2, 1])


# ------------------------------------------------------------------------------- KLL ---


@pytest.mark.parametrize("weight", [1, 2, 3, 7, 8, 13])
def test_kll_feed_counts_every_value_once(weight: int) -> None:
    values = np.random.default_rng(weight).normal(size=10_001)
    sketch = sk.kll_new(200)
    added = sk.kll_feed(sketch, values, weight, np.random.default_rng(0))
    assert sketch.n == len(values)
    drawn = len(values) // weight
    assert added == (0 if weight == 1 else weight * weight * drawn + len(values) - drawn * weight)
    ordered = np.sort(values)
    error = sketch.normalized_rank_error(False) + 2.576 * math.sqrt(added / 4) / len(values)
    for q in (0.1, 0.5, 0.9):
        rank = np.searchsorted(ordered, sketch.get_quantile(q)) / len(values)
        assert abs(rank - q) <= 2 * error


def test_kll_feed_takes_int_and_read_only_arrays() -> None:
    values = np.arange(1000, dtype=np.int64)
    values.flags.writeable = False
    sketch = datasketches.kll_doubles_sketch(200)
    sk.kll_feed(sketch, values, 1, np.random.default_rng(0))
    sk.kll_feed(sketch, values, 4, np.random.default_rng(0))
    assert sketch.n == 2000 and sketch.get_max_value() == 999.0


def test_json_floats_round_trip() -> None:
    for value in (1.5, -3, None, math.inf, -math.inf):
        assert sk.read_json_float(sk.json_float(value), "f") == value
    assert math.isnan(sk.read_json_float(sk.json_float(math.nan), "f") or 0.0)
    with pytest.raises(InvalidValueError, match="field f must be a number"):
        sk.read_json_float(True, "f")
    with pytest.raises(InvalidValueError, match="must be a base64 string. Got int"):
        sk.b64decode(5, "g")
