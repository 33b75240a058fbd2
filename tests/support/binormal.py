"""Binormal scores for two models on one holdout, with a chosen true AUC difference.

Negatives score N(0, 1) and positives N(mu, 1), so a model's AUC is Phi(mu / sqrt(2)); the
two models' noises are correlated (as two models of the same data are). Scores are mapped
through the normal CDF so they lie in (0, 1); ranks, hence AUCs, are unchanged.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.stats import norm


def separation(auc: float) -> float:
    """The mean shift ``mu`` that gives a binormal AUC of ``auc``."""
    return math.sqrt(2) * float(norm.ppf(auc))


def binormal_pair(
    n: int,
    *,
    delta: float,
    auc_champion: float = 0.80,
    prevalence: float = 0.25,
    correlation: float = 0.7,
    rng: np.random.Generator,
) -> tuple[Any, Any, Any]:
    """``(y, challenger, champion)``: true AUCs ``auc_champion + delta`` and ``auc_champion``."""
    y = rng.random(n) < prevalence
    noise = rng.multivariate_normal([0.0, 0.0], [[1.0, correlation], [correlation, 1.0]], size=n)
    mu_challenger = separation(auc_champion + delta)
    mu_champion = separation(auc_champion)
    challenger = norm.cdf(mu_challenger * y + noise[:, 0] - mu_challenger / 2)
    champion = norm.cdf(mu_champion * y + noise[:, 1] - mu_champion / 2)
    return y.astype(np.int64), challenger, champion
