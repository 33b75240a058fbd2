"""Repeated loads of a skops version in one process: each is verified again and gets its own
object, and a byte flipped after a load is still refused (the object cache never skips the
checks)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from test_registry_r13 import flip, members

from conveyor.artifacts import LocalArtifactStore
from conveyor.core import ChecksumMismatchError
from conveyor.registry import load_model, register_model
from support.models import frame
from support.projects import MakeProject

pytestmark = pytest.mark.integration


def test_each_load_is_verified_and_gets_its_own_object(make_project: MakeProject) -> None:
    ws = make_project("")
    X, y = frame()
    register_model(ws, "churn", LogisticRegression().fit(X, y))
    first = load_model(ws, "churn/1")
    second = load_model(ws, "models:/churn/1")
    assert first is not second
    assert np.array_equal(first.predict_proba(X), second.predict_proba(X))
    first.coef_[:] = 0.0  # a caller changing its copy changes no one else's
    assert not np.array_equal(load_model(ws, "churn/1").coef_, first.coef_)
    _, _, files = members(ws, "churn", 1)
    assert isinstance(ws.artifacts, LocalArtifactStore)
    flip(ws.artifacts.blob_path(files["model.skops"]), offset=40)
    with pytest.raises(ChecksumMismatchError, match="models:/churn/1"):
        load_model(ws, "churn/1")
