"""The incremental profiler: streams of batches, kinds of Arrow types, sampling of large
batches, and use from several threads."""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conveyor.data import Profiler, TableProfile, profile_table
from conveyor.data._profiler import column_kind


@pytest.mark.parametrize(
    ("dtype", "kind"),
    [
        (pa.int16(), "numeric"),
        (pa.uint32(), "numeric"),
        (pa.float32(), "numeric"),
        (pa.decimal128(5, 1), "numeric"),
        (pa.bool_(), "boolean"),
        (pa.string(), "categorical"),
        (pa.large_string(), "categorical"),
        (pa.string_view(), "categorical"),
        (pa.dictionary(pa.int8(), pa.string()), "categorical"),
        (pa.dictionary(pa.int32(), pa.int64()), "categorical"),
        (pa.timestamp("ns", tz="Europe/Paris"), "temporal"),
        (pa.date32(), "temporal"),
        (pa.date64(), "temporal"),
        (pa.time32("s"), "temporal"),
        (pa.time64("ns"), "temporal"),
        (pa.duration("us"), "temporal"),
        (pa.month_day_nano_interval(), "other"),
        (pa.binary(), "other"),
        (pa.list_(pa.int64()), "other"),
        (pa.struct({"a": pa.int64()}), "other"),
        (pa.dictionary(pa.int8(), pa.binary()), "other"),
        (pa.null(), "other"),
    ],
)
def test_every_arrow_type_has_a_kind(dtype: pa.DataType, kind: str) -> None:
    assert column_kind(dtype) == kind


def test_times_and_dates_profile_in_their_units() -> None:
    table = pa.table(
        {
            "t32": pa.array([dt.time(0, 0, 1), dt.time(1, 0), None], pa.time32("s")),
            "t64": pa.array([dt.time(0, 0, 0, 5), dt.time(0, 0, 0, 9), None], pa.time64("us")),
            "d64": pa.array([dt.date(1970, 1, 2), None, dt.date(1970, 1, 1)], pa.date64()),
            "ns": pa.array([10**18, 10**18 + 1, 10**18 + 3], pa.timestamp("ns")),
        }
    )
    profile = profile_table(table)
    assert (profile["t32"].min, profile["t32"].max) == (1, 3600)
    assert (profile["t64"].min, profile["t64"].max, profile["t64"].n_null) == (5, 9, 1)
    assert (profile["d64"].min, profile["d64"].max) == (0, 86_400_000)
    # Nanosecond stamps beyond 2**53 keep exact integer extremes and distinct values.
    assert (profile["ns"].min, profile["ns"].max) == (10**18, 10**18 + 3)
    assert profile["ns"].distinct_estimate == 3


def test_other_columns_count_rows_and_nulls_only() -> None:
    table = pa.table(
        {
            "bin": pa.array([b"a", None, b"c"]),
            "nested": pa.array([{"a": 1}, None, None]),
            "interval": pa.array([pa.MonthDayNano([1, 2, 3])] * 3, pa.month_day_nano_interval()),
        }
    )
    profile = profile_table(table)
    assert [(c.kind, c.n_null) for c in profile] == [("other", 1), ("other", 2), ("other", 0)]
    assert all(c.top() == [] and c.distinct_estimate is None for c in profile)
    data = json.loads(json.dumps(profile.to_dict(), allow_nan=False))
    assert set(data["columns"][0]) == {
        "format",
        "name",
        "kind",
        "arrow_type",
        "n_rows",
        "n_null",
        "n_nan",
    }
    assert TableProfile.from_dict(data) == profile


def test_result_mid_stream_then_more_batches() -> None:
    profiler = Profiler()
    profiler.update(pa.table({"x": [1.0, 2.0], "s": ["a", "b"]}))
    first = profiler.result()
    profiler.update(pa.table({"x": [10.0], "s": ["a"]}))
    second = profiler.result()
    assert (first.n_rows, first["x"].max, first["s"].top()) == (2, 2.0, [("a", 1), ("b", 1)])
    assert (second.n_rows, second["x"].max, second["s"].top()) == (3, 10.0, [("a", 2), ("b", 1)])
    # The first result is a snapshot: later updates do not change it.
    assert first["x"].n_values == 2 and first["x"].quantile(1.0) == 2.0


def test_many_tiny_windows_merge_like_one_profile() -> None:
    # The monitoring layer profiles small prediction windows and merges them.
    rng = np.random.default_rng(4)
    data = rng.gamma(2.0, 3.0, 3000)
    labels = rng.choice(["yes", "no", "maybe"], 3000).tolist()
    windows = [
        profile_table(pa.table({"score": data[i : i + 25], "label": labels[i : i + 25]}))
        for i in range(0, 3000, 25)
    ]
    merged = windows[0]
    for window in windows[1:]:
        merged = merged.merge(window)
    score = merged["score"]
    assert (score.n_rows, score.min, score.max) == (3000, data.min(), data.max())
    assert score.mean == pytest.approx(data.mean(), rel=1e-9)
    assert score.variance == pytest.approx(data.var(), rel=1e-9)
    for q in (0.1, 0.5, 0.9):
        rank = np.mean(data <= score.quantile(q))
        assert abs(rank - q) <= 2 * score.rank_error + 1 / 3000
    assert dict(merged["label"].top()) == {v: labels.count(v) for v in set(labels)}


def test_large_batches_are_sampled_into_the_sketch_but_counted_exactly() -> None:
    rng = np.random.default_rng(12)
    data = rng.normal(0, 1, 300_000)
    sampled = profile_table(pa.table({"x": data}), quantile_sample=4096, random_state=1)["x"]
    full = profile_table(pa.table({"x": data}), quantile_sample=None)["x"]
    assert sampled.sampling_variance > 0 and full.sampling_variance == 0
    assert sampled.rank_error > full.rank_error
    # Sampling touches only the sketch: counts, extremes, moments and distinct are exact.
    for name in ("n_rows", "n_values", "min", "max", "distinct_sketch"):
        assert getattr(sampled, name) == getattr(full, name)
    assert sampled.mean == pytest.approx(full.mean, rel=1e-12)
    ordered = np.sort(data)
    for q in np.linspace(0.02, 0.98, 25):
        rank = np.searchsorted(ordered, sampled.quantile(q)) / len(data)
        assert abs(rank - q) <= 2 * sampled.rank_error
    # The stated bound: 2.576 standard deviations of the sampling error on top of KLL's.
    kll_only = full.rank_error
    assert sampled.rank_error - kll_only == pytest.approx(
        2.576 * np.sqrt(sampled.sampling_variance / 4) / len(data)
    )


def test_profiling_in_a_thread_beside_a_parquet_writer(tmp_path: Path) -> None:
    # A snapshot writes Parquet in one thread and profiles in another.
    rng = np.random.default_rng(6)
    table = pa.table(
        {
            "a": rng.normal(size=200_000),
            "b": rng.integers(0, 1000, 200_000),
            "c": rng.choice(["x", "y", "z"], 200_000).tolist(),
        }
    )
    batches = table.to_batches(max_chunksize=20_000)
    profiler = Profiler()
    errors: list[BaseException] = []

    def profile() -> None:
        try:
            for batch in batches:
                profiler.update(batch)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    worker = threading.Thread(target=profile)
    worker.start()
    with pq.ParquetWriter(tmp_path / "data.parquet", table.schema) as writer:
        for batch in batches:
            writer.write_batch(batch)
    worker.join()
    assert not errors
    profile_result = profiler.result()
    assert profile_result.n_rows == pq.read_metadata(tmp_path / "data.parquet").num_rows
    assert profile_result["b"].max == int(table.column("b").to_numpy().max())


def test_profiles_of_two_threads_merge() -> None:
    rng = np.random.default_rng(8)
    parts = [rng.exponential(1.0, 50_000) for _ in range(4)]
    results: list[TableProfile] = []
    lock = threading.Lock()

    def run(part: np.ndarray[Any, Any]) -> None:
        profile = profile_table(pa.table({"x": part}))
        with lock:
            results.append(profile)

    threads = [threading.Thread(target=run, args=(part,)) for part in parts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    merged = results[0].merge(results[1]).merge(results[2].merge(results[3]))
    whole = np.concatenate(parts)
    assert merged["x"].n_values == 200_000
    assert merged["x"].mean == pytest.approx(whole.mean(), rel=1e-9)
    assert abs(np.mean(whole <= merged["x"].quantile(0.5)) - 0.5) <= 2 * merged["x"].rank_error


def test_from_dict_ignores_fields_a_later_version_adds() -> None:
    data = profile_table(pa.table({"x": [1.0, 2.0], "s": ["a", "b"]})).to_dict()
    data["columns"][0]["skewness"] = 0.1
    data["columns"][1]["categories"]["note"] = "new"
    data["created_by"] = "conveyor 9"
    assert TableProfile.from_dict(data).n_rows == 2


def test_table_profiles_merge_by_name_in_the_first_ones_order() -> None:
    a = profile_table(pa.table({"x": [1, 2], "y": ["a", "b"]}))
    b = profile_table(pa.table({"y": ["c"], "x": [3]}))
    merged = a.merge(b)
    assert merged.names == ["x", "y"] and merged.n_rows == 3
    assert (merged["x"].max, merged["y"].distinct_estimate) == (3, 3)


def test_summary_of_temporal_and_infinite_columns_is_strict_json() -> None:
    table = pa.table(
        {
            "t": pa.array([0, 60, 120, None], pa.timestamp("s", tz="UTC")),
            "inf": [1.0, float("inf"), 3.0, float("nan")],
            "other": pa.array([b"a", b"b", None, None]),
        }
    )
    summary = json.loads(
        json.dumps(profile_table(table).summary(n_top=3, n_bins=4), allow_nan=False)
    )
    t, inf, other = summary["columns"]
    assert (t["kind"], t["min"], t["max"], t["p50"], t["null_rate"]) == (
        "temporal",
        0,
        120,
        60.0,
        0.25,
    )
    assert t["histogram"]["counts"] == [1, 0, 1, 1] and len(t["histogram"]["edges"]) == 5
    assert (inf["max"], inf["mean"], inf["nan_rate"]) == ("Infinity", "Infinity", 0.25)
    assert inf["std"] == "NaN" and "Infinity" in inf["histogram"]["edges"]
    assert other == {
        "name": "other",
        "kind": "other",
        "type": "binary",
        "null_rate": 0.5,
        "nan_rate": 0.0,
        "distinct": None,
        "distinct_exact": False,
    }
