"""``Model`` between steps: a small JSON reference, found by type and by name."""

from __future__ import annotations

import pytest

from conveyor import Model
from conveyor.core import InvalidValueError, StepContextError
from conveyor.pipelines._materializers import get_materializer, materializer_for_type

HANDLE = Model(
    name="churn",
    version=3,
    flavor="sklearn",
    digest="ab" * 32,
    signature={"inputs": [{"name": "age", "type": "long", "required": True}]},
    metrics={"auc": 0.9},
    params={"C": 1.0},
    tags={"team": "growth"},
    run_id=7,
    parent_version=2,
    description="weekly retrain",
    created_at=1_796_000_000_000,
)


def test_a_model_is_passed_as_a_json_reference() -> None:
    materializer = materializer_for_type(Model)
    assert materializer is not None and materializer.name == "conveyor.model"
    assert get_materializer("conveyor.model") is materializer
    assert materializer.to_bytes is not None and materializer.from_bytes is not None
    data = materializer.to_bytes(HANDLE)
    assert len(data) < 1024 and b'"uri"' not in data
    assert materializer.from_bytes(data) == HANDLE
    assert HANDLE.uri == "models:/churn/3" and HANDLE.to_dict()["uri"] == HANDLE.uri


@pytest.mark.parametrize("data", [b"{}", b"not json", b'{"name": "churn"}', b"[]"])
def test_a_damaged_reference_says_so(data: bytes) -> None:
    materializer = get_materializer("conveyor.model")
    assert materializer.from_bytes is not None
    with pytest.raises(InvalidValueError, match="A stored Model reference is damaged"):
        materializer.from_bytes(data)


def test_an_unbound_handle_outside_a_step_cannot_load() -> None:
    with pytest.raises(StepContextError, match="models:/churn/3 is not bound to a project"):
        HANDLE.load()
