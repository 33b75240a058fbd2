"""Shared fixtures: a fresh store on every backend, isolated per test.

``CONVEYOR_TEST_POSTGRES_URL`` (set by ``.ci/run``) points at a real PostgreSQL; each test
gets its own schema there. If the variable is set but the server is unreachable the tests
fail, never skip. If it is unset (a quick local run), PostgreSQL cases are skipped with a
reason that says how to run them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.store import Store, open_store
from support.pg import PG_ENV, drop_pg_schema, new_pg_schema, postgres_url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty store URL on each backend (a fresh SQLite file; a fresh PostgreSQL schema)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/conveyor.db"
        return
    if postgres_url() is None:
        pytest.skip(f"PostgreSQL tests need {PG_ENV}; run the suite with .ci/run")
    url, schema = new_pg_schema()
    try:
        yield url
    finally:
        drop_pg_schema(schema)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """An open, migrated store for project ``test`` on each backend."""
    s = open_store(store_url, project="test", busy_timeout=30.0)
    try:
        yield s
    finally:
        s.close()
