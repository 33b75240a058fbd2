"""Do the statistical gates keep their promise? Over many simulated holdouts where the
challenger is no better (or exactly a margin worse), a gate at 95% confidence must pass
at most about 5% of the time; a point-estimate gate passes about half of them."""

from __future__ import annotations

import numpy as np
import pytest

from conveyor.train import ChangeThreshold, Decision, GateSpec, evaluate_gates
from support.binormal import binormal_pair

N_ROWS = 500
N_NULL = 1500
N_BOOTSTRAP = 300
# 5% plus ~3.5 binomial standard deviations at these repetition counts.
UPPER = 0.07
UPPER_BOOTSTRAP = 0.09
# A test far below its level would be a bug too (e.g. a two-sided bound used as one-sided).
LOWER = 0.02


def pass_rate(spec: GateSpec, holdouts: list[tuple[object, object, object]]) -> float:
    passed = sum(
        evaluate_gates(spec, y_true=y, challenger_scores=c, champion_scores=b).passed
        for y, c, b in holdouts
    )
    return passed / len(holdouts)


@pytest.mark.slow
def test_gates_pass_equal_models_at_most_about_five_percent_of_the_time() -> None:
    rng = np.random.default_rng(20261116)
    null = [binormal_pair(N_ROWS, delta=0.0, rng=rng) for _ in range(N_NULL)]
    delong = pass_rate(GateSpec(decision=[Decision(metric="roc_auc")]), null)
    mcnemar = pass_rate(GateSpec(decision=[Decision(metric="accuracy")]), null)
    point = pass_rate(GateSpec(change={"roc_auc": ChangeThreshold(min_relative_change=0.0)}), null)
    bootstrap = pass_rate(
        GateSpec(decision=[Decision(metric="log_loss", n_resamples=1000)]), null[:N_BOOTSTRAP]
    )
    print(
        f"\nequal models, {N_ROWS} rows, {N_NULL} holdouts: DeLong superiority passes "
        f"{delong:.3f}, McNemar superiority {mcnemar:.3f}, bootstrap log_loss superiority "
        f"{bootstrap:.3f} ({N_BOOTSTRAP} holdouts), point gate AUC >= champion {point:.3f}"
    )
    assert LOWER <= delong <= UPPER
    assert mcnemar <= UPPER  # exact McNemar is conservative by construction
    assert LOWER <= bootstrap <= UPPER_BOOTSTRAP
    assert 0.4 <= point <= 0.6  # the point gate is a coin toss


@pytest.mark.slow
def test_non_inferiority_passes_a_model_exactly_a_margin_worse_at_most_five_percent() -> None:
    margin = 0.02
    rng = np.random.default_rng(7)
    worse = [binormal_pair(N_ROWS, delta=-margin, rng=rng) for _ in range(N_NULL)]
    spec = GateSpec(decision=[Decision(metric="roc_auc", mode="non_inferiority", margin=margin)])
    rate = pass_rate(spec, worse)
    point = pass_rate(GateSpec(change={"roc_auc": ChangeThreshold(min_relative_change=0.0)}), worse)
    print(
        f"\nchallenger {margin} AUC worse, {N_ROWS} rows: DeLong non-inferiority (margin "
        f"{margin}) passes {rate:.3f}; point gate AUC >= champion {point:.3f}"
    )
    assert LOWER <= rate <= UPPER
    assert point > 0.1  # a point gate still promotes a clearly worse model this often
