"""The metadata schema's machinery: the shared ``MetaData``, column types, helpers, and the
tables that belong to no domain (projects; recorded operation outcomes).

Each domain subpackage defines its tables in its ``_tables`` module on this ``metadata``;
importing :mod:`conveyor.store` loads them all. Conventions: integer surrogate keys; every
``*_at`` column is UTC epoch milliseconds (BIGINT), which compares the same on SQLite and
PostgreSQL; JSON columns are JSONB on PostgreSQL; every foreign-key column leads an index.
Uniqueness constraints are the idempotency keys of RELIABILITY.md rule 6. Alembic
migrations in ``migrations/versions`` must match the whole ``metadata`` (a test diffs them).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Json = JSON().with_variant(JSONB(), "postgresql")
# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets BIGINT identities.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def states(column: str, allowed: Iterable[str]) -> CheckConstraint:
    """A CHECK that ``column`` holds one of ``allowed`` (the states from ``conveyor.core``)."""
    listed = ", ".join(f"'{s}'" for s in allowed)
    return CheckConstraint(f"{column} IN ({listed})", name=f"{column}_valid")


def fk(target: str, *, cascade: bool = False, nullable: bool = False) -> ForeignKey:
    """A foreign key to ``target`` that cascades, sets NULL (``nullable``), or restricts."""
    return ForeignKey(target, ondelete="CASCADE" if cascade else ("SET NULL" if nullable else None))


projects = Table(
    "projects",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("created_at", BigInteger, nullable=False),
)

# Outcomes of write calls that a retry may repeat, by operation key. ``Store.transact_once``
# gives each logical call a key that all its retries share and records the outcome in the
# call's own transaction, so a retry after a lost COMMIT acknowledgement finds the first
# outcome instead of writing a second one. Rows are only needed while a call retries;
# old ones are pruned.
operations = Table(
    "operations",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("outcome", Json),
    Column("created_at", BigInteger, nullable=False),
    Index(None, "created_at"),
)

# The project's secret for signing what the store vouches for (pickled model files,
# evaluations): an artifact store that others can write cannot forge a signature, because
# the key lives in the metadata store. Created on first use; one per project.
signing_keys = Table(
    "signing_keys",
    metadata,
    Column("project_id", Integer, fk("projects.id", cascade=True), primary_key=True),
    Column("secret", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)
