"""The shared ``store_url`` (tests/conftest.py), with SQLite cases copied from a store that
was migrated once per session: the same file the migration writes, without running it
again for each of the suite's tests. PostgreSQL cases keep a fresh, migrated schema each
(there the DDL itself is the cost, so a copy would save nothing). Migration from an empty
store is tested on its own in tests/unit/store/test_store_migrate.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conveyor.store import open_store

_SQLITE = "sqlite:///"


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "conveyor.db"
    open_store(f"{_SQLITE}{path}", project="test").close()  # closing checkpoints the WAL
    return path


@pytest.fixture
def store_url(store_url: str, migrated_sqlite: Path) -> str:
    if store_url.startswith(_SQLITE):  # an empty path in the test's tmp_path
        shutil.copyfile(migrated_sqlite, store_url.removeprefix(_SQLITE))
    return store_url
