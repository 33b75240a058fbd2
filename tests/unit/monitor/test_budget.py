"""The false-alarm budget: exact expected run times against closed forms and simulation,
the level that meets a budget, Šidák across features, and rank p-values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from conveyor.core import InvalidValueError
from conveyor.monitor._budget import (
    AlarmLevel,
    draws_needed,
    empirical_p_values,
    expected_run_time,
    feature_level,
    window_level,
)


@pytest.mark.parametrize("p", [0.5, 0.1, 0.01])
def test_closed_forms(p: float) -> None:
    # One flag: geometric. k consecutive (k = n): 1/p + 1/p^2 + ... + 1/p^k.
    assert expected_run_time(p, 1, 1) == pytest.approx(1 / p)
    assert expected_run_time(p, 1, 1, cooldown=5) == pytest.approx(5 + 1 / p)
    assert expected_run_time(p, 3, 3) == pytest.approx(1 / p + 1 / p**2 + 1 / p**3)
    # Two of the last three is reached sooner than two in a row, later than one.
    assert 1 / p < expected_run_time(p, 2, 3) < expected_run_time(p, 2, 2)


@pytest.mark.parametrize(
    ("k", "n", "cooldown", "p"), [(2, 3, 0, 0.2), (2, 4, 3, 0.1), (3, 5, 2, 0.3)]
)
def test_expected_run_time_matches_a_simulation(k: int, n: int, cooldown: int, p: float) -> None:
    level = AlarmLevel("warning", expected_run_time(p, k, n, cooldown), k, n, cooldown)
    flags = np.random.default_rng(7).random(400_000) < p
    state = None
    alarms = 0
    for flag in flags:
        alarm, state = level.advance(state, bool(flag))
        alarms += alarm
    expected = len(flags) / level.ert
    # Alarms are a renewal count: within 4 standard deviations of a Poisson count (the
    # inter-alarm times vary less than exponential ones, so this is generous).
    assert abs(alarms - expected) < 4 * math.sqrt(expected), (alarms, expected)


def test_window_level_inverts_the_run_time() -> None:
    for k, n, cooldown, ert in [(1, 1, 0, 24.0), (2, 3, 6, 168.0), (3, 3, 0, 720.0)]:
        p = window_level(ert, k, n, cooldown)
        assert expected_run_time(p, k, n, cooldown) == pytest.approx(ert, rel=1e-6)
    # Persistence buys a laxer per-window level for the same budget.
    assert window_level(720, 3, 3) > window_level(720, 2, 3) > window_level(720, 1, 1)


def test_unreachable_budgets_and_bad_policies_are_refused() -> None:
    with pytest.raises(InvalidValueError, match="at least 4 windows apart"):
        window_level(3, 2, 3, cooldown=2)
    with pytest.raises(InvalidValueError, match="1 <= k <= n"):
        AlarmLevel("drift", 100, 4, 3)
    with pytest.raises(InvalidValueError, match="between 1 and 12"):
        expected_run_time(0.1, 1, 13)
    with pytest.raises(InvalidValueError, match="cooldown"):
        expected_run_time(0.1, 1, 1, cooldown=-1)
    assert expected_run_time(0.0, 1, 1) == math.inf


def test_sidak_level_flags_a_window_at_the_window_rate() -> None:
    q = feature_level(0.05, 20)
    assert 1 - (1 - q) ** 20 == pytest.approx(0.05)
    assert q > 0.05 / 20  # a little laxer than Bonferroni
    with pytest.raises(InvalidValueError):
        feature_level(0.05, 0)
    assert draws_needed(0.01) == 1000
    assert draws_needed(0.5) == 500
    assert draws_needed(1e-9) == 20_000


def test_empirical_p_values_rank_each_statistic_among_its_draws() -> None:
    null = np.column_stack([np.arange(1, 100, dtype=float), np.zeros(99)])
    p = empirical_p_values([50.0, 1.0], null)
    assert p[0] == pytest.approx((1 + 50) / 100)  # 50..99 are at or above 50
    assert p[1] == pytest.approx(1 / 100)  # nothing reaches 1.0
    assert empirical_p_values([np.nan, 0.0], null)[0] == 1.0
    with pytest.raises(InvalidValueError, match="one column per statistic"):
        empirical_p_values([1.0], null)


def test_stationary_p_values_are_uniform() -> None:
    # Exchangeable draws: P(p <= a) <= a, the validity the budget rests on.
    rng = np.random.default_rng(3)
    null = rng.normal(size=(999, 1))
    p = np.array([empirical_p_values([s], null)[0] for s in rng.normal(size=5000)])
    for a in (0.01, 0.05, 0.2):
        assert np.mean(p <= a) < a + 3 * math.sqrt(a / 5000)


def test_levels_carry_json_state_through_cooldown() -> None:
    level = AlarmLevel("drift", 50, 2, 2, cooldown=2)
    state = None
    out = []
    for flag in [1, 1, 1, 1, 1, 1]:
        alarm, state = level.advance(state, bool(flag))
        out.append(alarm)
    # Alarm, two silent windows, then two fresh flags are needed again.
    assert out == [False, True, False, False, False, True]
    assert level.to_dict()["window_p"] == pytest.approx(level.window_p)
