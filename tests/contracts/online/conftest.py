"""An online store on each backend, isolated per test: a fresh SQLite file, or a unique
Redis key prefix whose keys are deleted afterwards.

``CONVEYOR_TEST_REDIS_URL`` (e.g. ``redis://127.0.0.1:6379/0``) points at a real Redis. If
it is set but Redis is unreachable the tests fail, never skip. If it is unset (a quick
local run), Redis cases are skipped with a reason that says how to run them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.features import OnlineStore
from support.online import OnlineBackend, delete_redis_prefix
from support.pg import REDIS_ENV


def redis_url() -> str | None:
    return os.environ.get(REDIS_ENV) or None


def _ping_redis(url: str) -> None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=5).ping()
    except redis.RedisError as exc:  # set but unreachable: fail loudly
        pytest.fail(f"{REDIS_ENV}={url} is set but Redis is unreachable: {exc}", pytrace=False)


def _redis_backend() -> Iterator[OnlineBackend]:
    url = redis_url()
    if url is None:
        pytest.skip(f"Redis tests need {REDIS_ENV}, e.g. redis://127.0.0.1:6379/0")
    _ping_redis(url)
    prefix = f"conveyor-test:{uuid.uuid4().hex[:12]}"
    try:
        yield OnlineBackend("redis", url, prefix=prefix)
    finally:
        delete_redis_prefix(url, prefix)


@pytest.fixture(params=["sqlite", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OnlineBackend]:
    """Where a test's online store lives: open it (more than once) with ``backend.open()``."""
    if request.param == "sqlite":
        yield OnlineBackend("sqlite", "sqlite:///online/features.db", root=tmp_path)
    else:
        yield from _redis_backend()


@pytest.fixture
def redis_backend() -> Iterator[OnlineBackend]:
    """A Redis backend only, for what only Redis has (key prefixes, foreign keys)."""
    yield from _redis_backend()


@pytest.fixture
def online(backend: OnlineBackend) -> Iterator[OnlineStore]:
    """An open online store on each backend."""
    store = backend.open()
    try:
        yield store
    finally:
        store.close()
