"""Every public package lists a sorted, complete, importable ``__all__`` (httpx's check);
the root stays light and shares no name with a subpackage."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

import conveyor

# Every public subpackage, found rather than listed, so a new one cannot slip past.
PACKAGES = ["conveyor"] + sorted(
    info.name
    for info in pkgutil.walk_packages(conveyor.__path__, "conveyor.")
    if info.ispkg
    and not any(part.startswith("_") for part in info.name.split("."))
    and not info.name.endswith(".migrations")
)


def test_the_package_list_is_found_not_kept() -> None:
    assert {"conveyor.core", "conveyor.store", "conveyor.pipelines"} <= set(PACKAGES)


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


def test_no_root_export_shares_a_name_with_a_subpackage() -> None:
    subpackages = {info.name for info in pkgutil.iter_modules(conveyor.__path__)}
    assert not set(conveyor.__all__) & subpackages


def test_the_authoring_api_comes_from_the_root() -> None:
    from conveyor import pipeline, step
    from conveyor.pipelines import pipeline as engine_pipeline
    from conveyor.pipelines import step as engine_step

    assert (step, pipeline) == (engine_step, engine_pipeline)


def test_importing_conveyor_starts_no_store_and_no_executor() -> None:
    code = (
        "import sys, conveyor\n"
        "from conveyor import step, pipeline\n"
        "heavy = [m for m in ('sqlalchemy', 'alembic', 'fsspec', 'concurrent.futures.process',"
        " 'conveyor.store', 'conveyor.pipelines._runner') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
