"""A step's output that cannot be loaded is a ``NotFoundError`` naming the step and its
status (never a bare ``KeyError``)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from conveyor.core import NotFoundError
from conveyor.pipelines._runstate import Outputs


def outputs(**statuses: str) -> Outputs:
    slots: dict[str, Any] = {
        name: SimpleNamespace(status=status, record=SimpleNamespace(run_id=7))
        for name, status in statuses.items()
    }
    return Outputs(store=None, artifacts=None, slots=slots)  # type: ignore[arg-type]


def test_a_step_without_output_is_not_found_with_its_status() -> None:
    with pytest.raises(
        NotFoundError, match="Step 'train' of run 7 has no output .* failed"
    ) as info:
        outputs(train="failed").value("train")
    assert not isinstance(info.value, KeyError)
    assert info.value.step == "train" and info.value.status == "failed"
    assert "conveyor runs logs 7 train" in str(info.value)


def test_an_unknown_step_suggests_the_closest() -> None:
    with pytest.raises(NotFoundError, match="no step 'trian'.*Did you mean 'train'"):
        outputs(train="succeeded").value("trian")
