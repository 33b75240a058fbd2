"""Every public package lists a sorted, complete, importable ``__all__`` (httpx's check)."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = [
    "conveyor",
    "conveyor.core",
    "conveyor.store",
    "conveyor.artifacts",
    "conveyor.workspace",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_complete_and_importable(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported == sorted(exported, key=lambda n: (not n.isupper(), n)), (
        f"{name}.__all__ unsorted"
    )
    for attr in exported:
        assert hasattr(module, attr), f"{name}.{attr} is listed but missing"
    public = {
        n
        for n, v in vars(module).items()
        if not n.startswith("_") and getattr(v, "__module__", "").startswith(name + ".")
    }
    missing = public - set(exported)
    assert not missing, f"{name} exposes {sorted(missing)} without listing them in __all__"
