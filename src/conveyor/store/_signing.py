"""The project's signing key: the secret the store signs model files and evaluations with.

It lives in the metadata store, not beside the artifacts, so whoever can write the artifact
store (a shared bucket, a copied folder) still cannot forge a signature. One key per
project, made on first use from the operating system's random source.
"""

from __future__ import annotations

import secrets

from sqlalchemy import Connection, select

from ..core import now_ms
from ._engine import Store
from ._schema import signing_keys
from ._sql import insert

_KEY_BYTES = 32


def signing_key(store: Store) -> bytes:
    """The store project's signing key (32 bytes), created on first use.

    Racing first callers (processes, hosts) all get the one key: the insert does nothing if
    a key exists, and the key is read back in the same transaction.
    """
    if store._signing_key is None:  # a key never changes once made: read once per store
        store._signing_key = _read_or_create(store)
    return store._signing_key


def _read_or_create(store: Store) -> bytes:
    query = select(signing_keys.c.secret).where(signing_keys.c.project_id == store.project_id)
    found = store.query(lambda conn: conn.execute(query).scalar(), what="signing key")
    if found is not None:
        return bytes.fromhex(found)

    def create(conn: Connection) -> str:
        conn.execute(
            insert(conn, signing_keys)
            .values(
                project_id=store.project_id,
                secret=secrets.token_hex(_KEY_BYTES),
                created_at=now_ms(),
            )
            .on_conflict_do_nothing(index_elements=["project_id"])
        )
        return str(conn.execute(query).scalar_one())

    # Idempotent by construction (insert-if-missing, then read): a retry reads the same key.
    return bytes.fromhex(store.transact(create, what="signing key"))
