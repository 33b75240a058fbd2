"""A current window against a prepared reference: per column and for the dataset, with
overrides, edge cases and bad input."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats

from conveyor.core import InvalidValueError, NotFoundError
from conveyor.monitor._drift import ColumnDrift, column_drift, detect_drift
from conveyor.monitor._drift_reference import DriftReference, prepare_column, prepare_reference


def window(n: int, seed: int, shift: float = 0.0) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "steady": rng.normal(0, 1, n),
            "moved": rng.normal(shift, 1, n),
            "city": rng.choice(["lyon", "nice", "paris"], n, p=[0.3, 0.2, 0.5]),
            "plan": rng.choice(["a", "b"], n, p=[0.5 + shift / 4, 0.5 - shift / 4]),
        }
    )


@pytest.fixture(scope="module")
def reference() -> DriftReference:
    return prepare_reference(window(5000, 0))


def test_a_shifted_column_drifts_and_a_steady_one_does_not(reference: DriftReference) -> None:
    report = detect_drift(reference, window(3000, 1, shift=1.0))
    assert report["moved"].drifted
    assert report["plan"].drifted
    assert not report["steady"].drifted
    assert not report["city"].drifted
    assert (report.n_tested, report.n_drifted, report.share_drifted) == (4, 2, 0.5)
    assert report.dataset_drifted  # share >= 0.5
    assert report.drifted_columns == ["moved", "plan"]
    assert [r.method for r in report.columns] == [
        "wasserstein",
        "wasserstein",
        "jensenshannon",
        "jensenshannon",
    ]


def test_no_shift_no_drift(reference: DriftReference) -> None:
    report = detect_drift(reference, window(3000, 2))
    assert report.n_drifted == 0
    assert not report.dataset_drifted
    for result in report.columns:
        assert result.status == "tested"
        assert result.null_rate == 0.0
        assert result.threshold == 0.1


def test_dataset_drift_needs_the_share(reference: DriftReference) -> None:
    current = window(3000, 1, shift=1.0)
    assert not detect_drift(reference, current, drift_share=0.51).dataset_drifted
    assert detect_drift(reference, current, drift_share=0.5).dataset_drifted


def test_result_fields_for_a_numeric_column() -> None:
    ref = prepare_column("x", np.arange(100, dtype=float), "numeric")
    cur = pa.array([-5.0, 10.0, 20.0, None, float("nan"), 200.0, float("inf")])
    result = column_drift(ref, cur, method="ks")
    assert result.n_reference == 100
    assert result.n_current == 4  # -5, 10, 20, 200
    assert result.null_rate == pytest.approx(2 / 7)
    # -5, 200 and inf are outside [0, 99], of 5 non-null values
    assert result.out_of_range_rate == pytest.approx(3 / 5)
    expected = stats.ks_2samp(np.arange(100.0), [-5.0, 10.0, 20.0, 200.0])
    assert result.statistic == pytest.approx(expected.statistic)
    assert result.p_value == pytest.approx(expected.pvalue)


def test_categories_only_in_current_count_as_out_of_range() -> None:
    ref = prepare_column("c", ["a", "b"] * 1000, "categorical")
    result = column_drift(ref, ["a", "b", "new", "new", None])
    assert result.out_of_range_rate == pytest.approx(2 / 4)
    assert result.null_rate == pytest.approx(1 / 5)
    assert result.method == "jensenshannon"
    assert result.drifted


def test_current_categories_of_another_width_are_cast() -> None:
    ref = prepare_column("n", pa.array([1, 2, 3] * 400, pa.int64()), "categorical")
    result = column_drift(ref, pa.array([1, 2, 3, 3], pa.int32()))
    assert result.status == "tested"
    assert result.out_of_range_rate == 0.0
    strings = prepare_column("s", pa.array(["a", "b"] * 600, pa.large_string()), "categorical")
    cur = pa.array(["a", "a", "b"]).dictionary_encode()
    assert column_drift(strings, cur).status == "tested"


def test_int_column_with_few_values_is_categorical_and_tested() -> None:
    rng = np.random.default_rng(3)
    ref = prepare_reference({"rooms": rng.integers(1, 5, 3000)})
    assert ref["rooms"].kind == "categorical"
    current = rng.integers(1, 6, 2000)
    result = detect_drift(ref, {"rooms": current})["rooms"]
    assert result.method == "jensenshannon"
    assert result.out_of_range_rate == pytest.approx(float(np.mean(current == 5)))
    assert result.drifted


def test_none_and_nan_are_left_out_of_the_test() -> None:
    ref = prepare_column("x", [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, None, float("nan")], "numeric")
    clean = column_drift(ref, [2.0, 3.0, 4.0, 9.0], method="ks")
    dirty = column_drift(ref, [2.0, None, 3.0, float("nan"), 4.0, 9.0, None], method="ks")
    assert (dirty.statistic, dirty.p_value) == (clean.statistic, clean.p_value)
    assert dirty.null_rate == pytest.approx(3 / 7)
    assert ref.n_values == 6


def test_an_empty_or_all_null_window_has_no_verdict() -> None:
    ref = prepare_column("x", np.arange(50.0), "numeric")
    for current in ([], [None, None], [float("nan")], [float("inf"), None]):
        result = column_drift(ref, pa.array(current, pa.float64()))
        assert result.status == "no_current_values"
        assert (result.method, result.statistic, result.p_value) == (None, None, None)
        assert not result.drifted
    assert column_drift(ref, pa.array([], pa.float64())).null_rate is None
    assert column_drift(ref, pa.array([None, None], pa.float64())).null_rate == 1.0
    assert column_drift(ref, pa.array([float("inf"), None])).out_of_range_rate == 1.0


def test_an_all_null_reference_column_has_no_verdict() -> None:
    reference = prepare_reference(pa.table({"x": pa.array([None] * 5, pa.float64())}))
    report = detect_drift(reference, {"x": [1.0, 2.0]})
    assert report["x"].status == "no_reference_values"
    assert report["x"].out_of_range_rate is None
    assert (report.n_tested, report.share_drifted, report.dataset_drifted) == (0, 0.0, False)


def test_a_column_missing_from_current_is_reported_not_raised(reference: DriftReference) -> None:
    current = window(3000, 1, shift=1.0).drop_columns(["moved"])
    report = detect_drift(reference, current)
    missing = report["moved"]
    assert missing.status == "missing"
    assert (missing.drifted, missing.n_current, missing.null_rate) == (False, 0, None)
    assert report.n_tested == 3
    assert report.share_drifted == pytest.approx(1 / 3)


def test_extra_current_columns_are_ignored(reference: DriftReference) -> None:
    current = window(1000, 4).append_column("extra", pa.array(np.zeros(1000)))
    assert [r.column for r in detect_drift(reference, current).columns] == reference.names


def test_a_constant_reference_column() -> None:
    ref = prepare_reference({"c": np.full(3000, 1.5)})
    same = detect_drift(ref, {"c": np.full(100, 1.5)})["c"]
    assert same.method == "jensenshannon"  # one distinct value: read as categories
    assert (same.statistic, same.drifted) == (0.0, False)
    moved = detect_drift(ref, {"c": np.full(100, 1.6)}, method="wasserstein")["c"]
    assert moved.statistic == pytest.approx(0.1 / 0.001)
    assert moved.raw_statistic == pytest.approx(0.1)


def test_methods_and_thresholds_per_column_override_the_global_ones(
    reference: DriftReference,
) -> None:
    current = window(3000, 1, shift=1.0)
    report = detect_drift(
        reference,
        current,
        method="psi",
        methods={"moved": "ks"},
        threshold=0.5,
        thresholds={"steady": 0.0},
    )
    assert report["moved"].method == "ks"
    assert report["moved"].threshold == 0.5
    assert report["city"].method == "psi"
    assert report["steady"].threshold == 0.0
    assert report["steady"].drifted  # every distance is >= 0
    assert not report["plan"].drifted  # PSI well below 0.5


def test_a_global_threshold_is_held_to_p_values_and_distances_alike() -> None:
    ref = prepare_column("x", np.random.default_rng(5).normal(size=500), "numeric")
    cur = np.random.default_rng(6).normal(0.2, 1, 500)
    p = column_drift(ref, cur).p_value
    assert p is not None
    assert column_drift(ref, cur, threshold=p).drifted
    assert not column_drift(ref, cur, threshold=p / 2).drifted


def test_unknown_methods_get_did_you_mean(reference: DriftReference) -> None:
    current = window(100, 1)
    with pytest.raises(InvalidValueError, match="Did you mean 'wasserstein'") as info:
        detect_drift(reference, current, method="wasserstien")
    assert "Known methods: chisquare, jensenshannon, ks, psi, wasserstein, z" in str(info.value)
    with pytest.raises(InvalidValueError, match="'kss' for column 'moved'. Did you mean 'ks'"):
        detect_drift(reference, current, methods={"moved": "kss"})


def test_a_method_must_fit_the_column_kind(reference: DriftReference) -> None:
    with pytest.raises(InvalidValueError, match="'ks' does not apply to categorical column"):
        detect_drift(reference, window(100, 1), method="ks")
    with pytest.raises(InvalidValueError, match="psi, wasserstein"):
        detect_drift(reference, window(100, 1), methods={"moved": "chisquare"})


def test_unknown_columns_in_overrides_are_named(reference: DriftReference) -> None:
    with pytest.raises(NotFoundError, match="Did you mean 'moved'"):
        detect_drift(reference, window(100, 1), methods={"moevd": "ks"})
    with pytest.raises(NotFoundError, match="thresholds names column 'cty'"):
        detect_drift(reference, window(100, 1), thresholds={"cty": 0.2})
    with pytest.raises(NotFoundError, match="columns names column 'nope'"):
        detect_drift(reference, window(100, 1), columns=["nope"])
    with pytest.raises(NotFoundError, match="Did you mean 'plan'"):
        detect_drift(reference, window(100, 1))["plna"]


@pytest.mark.parametrize("bad", [-0.1, math.nan, math.inf, "0.1", True])
def test_bad_thresholds_are_refused(bad: Any) -> None:
    ref = prepare_column("x", np.arange(2000.0), "numeric")
    with pytest.raises(InvalidValueError, match="threshold of column 'x'"):
        column_drift(ref, [1.0, 2.0], threshold=bad)


def test_a_p_value_threshold_above_1_is_refused() -> None:
    ref = prepare_column("x", np.arange(200.0), "numeric")
    with pytest.raises(InvalidValueError, match=r"in \[0, 1\] \(a p-value\)"):
        column_drift(ref, [1.0, 2.0], method="ks", threshold=5)
    assert column_drift(ref, [1.0, 2.0], method="psi", threshold=5).threshold == 5.0


@pytest.mark.parametrize("share", [0, -1, 1.5, "half", True])
def test_bad_drift_share_is_refused(reference: DriftReference, share: Any) -> None:
    with pytest.raises(InvalidValueError, match="drift_share must be in"):
        detect_drift(reference, window(10, 1), drift_share=share)


def test_a_current_type_that_does_not_match_is_refused() -> None:
    ref = prepare_reference({"x": np.arange(2000.0), "c": ["a", "b"] * 1000})
    with pytest.raises(InvalidValueError, match="numeric in the reference but string"):
        detect_drift(ref, {"x": ["1", "2"], "c": ["a", "b"]})
    with pytest.raises(InvalidValueError, match="string categories in the reference"):
        detect_drift(ref, {"x": [1.0, 2.0], "c": pa.array([[1], [2]])})


def test_raw_reference_data_is_prepared_on_the_fly() -> None:
    data = {"x": np.arange(3000.0), "c": ["a", "b", "c"] * 1000}
    prepared = detect_drift(prepare_reference(data), data)
    raw = detect_drift(data, data)
    assert prepared.to_dicts() == raw.to_dicts()
    assert raw.n_drifted == 0


def test_a_reference_restored_from_bytes_gives_the_same_report(
    reference: DriftReference,
) -> None:
    current = window(2000, 7, shift=0.5)
    again = DriftReference.from_bytes(reference.to_bytes())
    assert detect_drift(again, current) == detect_drift(reference, current)


def test_to_dicts_lists_every_field(reference: DriftReference) -> None:
    rows = detect_drift(reference, window(500, 8)).to_dicts()
    assert len(rows) == 4
    assert set(rows[0]) == set(ColumnDrift.__dataclass_fields__)
