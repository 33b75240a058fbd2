"""Opening a store by URL: engine, schema check or upgrade, and the project scope."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core import validate_name
from ._engine import Store, create_store_engine
from ._migrate import check_or_upgrade, ensure_project

if TYPE_CHECKING:
    from ..core import Config


def open_store(
    url: str,
    *,
    project: str = "default",
    busy_timeout: float = 5.0,
    retries: int = 5,
    pool_size: int = 5,
    migrate: bool = True,
) -> Store:
    """Open the metadata store at ``url`` for ``project``, migrating it to head if needed.

    Args:
        url: ``sqlite:///path.db`` or ``postgresql://user@host:port/db``.
        project: The project whose runs, models and events this handle reads and writes.
        busy_timeout: Seconds a write waits for a competing writer.
        retries: Bounded retries of transient failures per transaction.
        pool_size: PostgreSQL connection pool size.
        migrate: Upgrade an old or empty schema (else raise ``StoreVersionError``).

    Example:
        >>> store = open_store("sqlite:///tmp/conveyor.db", project="churn")  # doctest: +SKIP
    """
    validate_name(project, what="project name")
    engine = create_store_engine(url, busy_timeout=busy_timeout, pool_size=pool_size)
    store = Store(url=url, engine=engine, project_id=0, project=project, retries=retries)
    try:
        check_or_upgrade(store, migrate=migrate)
        store.project_id = store.transact(lambda c: ensure_project(c, project), what="open project")
    except BaseException:
        store.close()
        raise
    return store


def open_store_from_config(config: Config, *, migrate: bool = True) -> Store:
    """Open the store a project's configuration names."""
    return open_store(
        config.store.url,
        project=config.project.name,
        busy_timeout=config.store.busy_timeout,
        retries=config.store.retries,
        pool_size=config.store.pool_size,
        migrate=migrate,
    )


def upgrade_store(url: str, *, busy_timeout: float = 5.0) -> tuple[str | None, str]:
    """Upgrade the store at ``url`` to head; return ``(revision before, revision after)``."""
    from ._migrate import HEAD, current_revision

    engine = create_store_engine(url, busy_timeout=busy_timeout, pool_size=1)
    store = Store(url=url, engine=engine, project_id=0, project="default")
    try:
        before = store.query(current_revision, what="schema check")
        check_or_upgrade(store, migrate=True)
    finally:
        store.close()
    return before, HEAD
