"""Unit-test fixtures for the store: ``sqlite_store`` from a pre-migrated template.

Same contract as the shared ``sqlite_store`` (a fresh, migrated SQLite store for project
``test`` in ``tmp_path``), but the migration runs once per session and each test gets a
copy of the file, which keeps this suite fast. Migration itself is tested on empty files
in ``test_store_migrate.py``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.store import Store, open_store


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "conveyor.db"
    open_store(f"sqlite:///{path}", project="test").close()  # closing checkpoints the WAL
    return path


@pytest.fixture
def sqlite_store(tmp_path: Path, migrated_template: Path) -> Iterator[Store]:
    shutil.copyfile(migrated_template, tmp_path / "conveyor.db")
    s = open_store(f"sqlite:///{tmp_path}/conveyor.db", project="test")
    try:
        yield s
    finally:
        s.close()
