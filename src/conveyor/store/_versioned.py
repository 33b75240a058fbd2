"""Named entities whose versions are numbered densely (1, 2, 3 ...): models and datasets.

One row per (project, name) holds ``last_version``. The next number comes from
``UPDATE ... SET last_version = last_version + 1 RETURNING``, which takes that row's lock,
so concurrent writers of one name queue there and numbers stay dense however many race.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    select,
    update,
)

from ..core import NotFoundError, did_you_mean, now_ms
from ._engine import Store
from ._schema import fk, metadata
from ._sql import insert


def names_table(name: str) -> Table:
    """The name table of a densely versioned entity: one row per (project, name)."""
    return Table(
        name,
        metadata,
        Column("id", Integer, primary_key=True),
        Column("project_id", Integer, fk("projects.id", cascade=True), nullable=False),
        Column("name", String(128), nullable=False),
        Column("description", Text, nullable=False, default=""),
        # Highest version handed out; bumped under the row's lock for dense versions.
        Column("last_version", Integer, nullable=False, default=0),
        Column("created_at", BigInteger, nullable=False),
        UniqueConstraint("project_id", "name"),
    )


@dataclass(frozen=True)
class Versioned:
    """The name table of a densely versioned entity.

    Attributes:
        table: A table made by :func:`names_table`.
        noun: What its rows are, for messages (``'model'``).
        list_command: The command that lists them, for hints.
    """

    table: Table
    noun: str
    list_command: str

    def find_id(self, conn: Connection, store: Store, name: str, *, create: bool) -> int:
        """The id of ``name`` in the store's project; created if missing and ``create``.

        Raises:
            NotFoundError: ``name`` does not exist and ``create`` is false.
        """
        c = self.table.c
        query = select(c.id).where(c.project_id == store.project_id, c.name == name)
        found = conn.execute(query).scalar()
        if found is not None:
            return int(found)
        if not create:
            names = conn.execute(select(c.name).where(c.project_id == store.project_id))
            raise NotFoundError(
                f"No {self.noun} {name!r} in project {store.project!r}."
                f"{did_you_mean(name, names.scalars())}",
                hint=f"List them with: {self.list_command}",
                **{self.noun: name},
            )
        # Racing creators: one insert lands, the others do nothing; all read the one row.
        conn.execute(
            insert(conn, self.table)
            .values(
                project_id=store.project_id,
                name=name,
                description="",
                last_version=0,
                created_at=now_ms(),
            )
            .on_conflict_do_nothing(index_elements=["project_id", "name"])
        )
        return int(conn.execute(query).scalar_one())

    def next_version(self, conn: Connection, entity_id: int) -> int:
        """Take the next version number of ``entity_id`` (and its row's lock)."""
        c = self.table.c
        return int(
            conn.execute(
                update(self.table)
                .where(c.id == entity_id)
                .values(last_version=c.last_version + 1)
                .returning(c.last_version)
            ).scalar_one()
        )

    def give_back(self, conn: Connection, entity_id: int, number: int) -> None:
        """Return ``number``, taken by :meth:`next_version` in this transaction, unused."""
        c = self.table.c
        conn.execute(update(self.table).where(c.id == entity_id).values(last_version=number - 1))
