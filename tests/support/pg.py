"""PostgreSQL for tests: the URL from the environment, and a fresh schema per test.

``CONVEYOR_TEST_POSTGRES_URL`` (set by ``.ci/run``) points at a real PostgreSQL. If it is set
but the server is unreachable, tests fail (never skip).
"""

from __future__ import annotations

import os
import uuid

import pytest

PG_ENV = "CONVEYOR_TEST_POSTGRES_URL"
REDIS_ENV = "CONVEYOR_TEST_REDIS_URL"


def postgres_url() -> str | None:
    return os.environ.get(PG_ENV) or None


def _pg_admin(url: str):  # type: ignore[no-untyped-def]
    import psycopg

    plain = url.replace("postgresql+psycopg://", "postgresql://")
    try:
        return psycopg.connect(plain, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:  # set but unreachable: fail loudly
        pytest.fail(f"{PG_ENV}={url} is set but PostgreSQL is unreachable: {exc}", pytrace=False)


def new_pg_schema() -> tuple[str, str]:
    """Create an empty schema; return ``(store URL scoped to it, schema name)``."""
    base = postgres_url()
    assert base is not None
    schema = "t_" + uuid.uuid4().hex[:12]
    with _pg_admin(base) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}", schema


def drop_pg_schema(schema: str) -> None:
    base = postgres_url()
    assert base is not None
    with _pg_admin(base) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
