"""DeLong's AUCs and covariance straight from the definition, in O(n²): the reference the
fast mid-rank implementation is tested against."""

from __future__ import annotations

from typing import Any

import numpy as np


def brute_force_delong(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[Any, Any]:
    """DeLong's AUCs and covariance straight from the definition: every positive/negative pair."""
    pos, neg = y == 1, y == 0
    aucs, v10, v01 = [], [], []
    for scores in (a, b):
        x, z = scores[pos][:, None], scores[neg][None, :]
        psi = (x > z) + 0.5 * (x == z)  # m x n pair kernel
        aucs.append(psi.mean())
        v10.append(psi.mean(axis=1))  # one per positive
        v01.append(psi.mean(axis=0))  # one per negative
    cov = np.cov(np.vstack(v10)) / pos.sum() + np.cov(np.vstack(v01)) / neg.sum()
    return np.array(aucs), cov
