"""Properties over generated inputs: metrics equal scikit-learn's, DeLong equals its
definition, Tango's interval and Holm's adjustment behave as their definitions say."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from conveyor.train import classification_metrics, delong, holm, mcnemar
from support.delong_reference import brute_force_delong

# Scores on a coarse grid, so ties between and within classes are common.
scores = st.lists(st.integers(0, 20).map(lambda i: i / 20), min_size=6, max_size=60)


@st.composite
def binary_holdouts(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a = np.array(draw(scores))
    b = np.array(draw(st.lists(st.integers(0, 20), min_size=len(a), max_size=len(a)))) / 20
    y = np.array(draw(st.lists(st.integers(0, 1), min_size=len(a), max_size=len(a))))
    y[:2], y[2:4] = 1, 0  # at least two of each class
    return y, a, b


@settings(max_examples=60, deadline=None)
@given(binary_holdouts(), st.sampled_from([0.3, 0.5, 0.75]))
def test_binary_metrics_equal_scikit_learn(
    holdout: tuple[np.ndarray, np.ndarray, np.ndarray], threshold: float
) -> None:
    y, a, _ = holdout
    got = classification_metrics(y, a, threshold=threshold)
    pred = a >= threshold
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert got["precision"] == pytest.approx(skm.precision_score(y, pred, zero_division=0))
    assert got["recall"] == pytest.approx(skm.recall_score(y, pred, zero_division=0))
    assert got["f1"] == pytest.approx(skm.f1_score(y, pred, zero_division=0))
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y, a))
    assert got["log_loss"] == pytest.approx(skm.log_loss(y, a, labels=[0, 1]))
    assert 0 <= got["ece"] <= 1


@settings(max_examples=60, deadline=None)
@given(binary_holdouts())
def test_delong_equals_its_definition(holdout: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    y, a, b = holdout
    aucs, cov = brute_force_delong(y, a, b)
    result = delong(y, a, b)
    assert (result.challenger, result.champion) == pytest.approx(tuple(aucs), abs=1e-12)
    variance = max(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1], 0.0)
    assert result.se == pytest.approx(math.sqrt(variance), abs=1e-9)
    assert result.lower <= result.estimate <= result.upper


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 60), st.integers(0, 60), st.integers(0, 200))
def test_tango_interval_holds_the_estimate_and_widens_with_confidence(
    only_a: int, only_b: int, both: int
) -> None:
    n = only_a + only_b + both
    if n == 0:
        return
    y = np.ones(n, dtype=int)
    a, b = y.copy(), y.copy()
    b[:only_a] = 0
    a[only_a : only_a + only_b] = 0
    narrow = mcnemar(y, a, b, confidence=0.8)
    wide = mcnemar(y, a, b, confidence=0.99)
    assert -1 <= wide.lower <= narrow.lower <= narrow.estimate
    assert narrow.estimate <= narrow.upper <= wide.upper <= 1
    assert 0 <= wide.p_value <= 1


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0, 1), max_size=20))
def test_holm_never_lowers_a_p_value_and_keeps_their_order(p_values: list[float]) -> None:
    adjusted = holm(p_values)
    assert all(raw <= adj <= 1 for raw, adj in zip(p_values, adjusted, strict=True))
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    ranked = [adjusted[i] for i in order]
    assert ranked == sorted(ranked)
    if p_values:
        assert min(adjusted) == pytest.approx(min(1.0, len(p_values) * min(p_values)))
