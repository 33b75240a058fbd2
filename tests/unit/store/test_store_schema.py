"""The schema's conventions, checked on ``_schema.metadata`` itself so that a new table cannot
forget one (the migration must match the metadata: ``test_migrated_schema_equals_the_metadata``).
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    UniqueConstraint,
)

from conveyor.store import _schema


def unindexed_foreign_keys(metadata: MetaData) -> list[str]:
    """``table.column`` of every foreign key whose columns lead no index, unique constraint
    or primary key. Without one, deleting or updating a parent row (ON DELETE CASCADE / SET
    NULL, or the restrict check) scans the whole child table, and so does every read that
    goes from a parent to its children."""
    missing = []
    for table in metadata.sorted_tables:
        keyed = [*table.indexes, *table.constraints]
        leads = [
            [c.name for c in k.columns]
            for k in keyed
            if isinstance(k, Index | UniqueConstraint | PrimaryKeyConstraint)
        ]
        for fk in table.foreign_key_constraints:
            columns = [c.name for c in fk.columns]
            if not any(set(lead[: len(columns)]) == set(columns) for lead in leads):
                missing.append(f"{table.name}.{','.join(columns)}")
    return sorted(missing)


def test_every_foreign_key_column_leads_an_index() -> None:
    assert unindexed_foreign_keys(_schema.metadata) == []


def test_the_check_sees_a_foreign_key_that_only_follows_in_an_index() -> None:
    m = MetaData()
    Table("parent", m, Column("id", Integer, primary_key=True))
    Table(
        "child",
        m,
        Column("id", Integer, primary_key=True),
        Column("parent_id", Integer, ForeignKey("parent.id")),  # second in the index only
        Column("other_id", Integer, ForeignKey("parent.id")),
        Column("third_id", Integer, ForeignKey("parent.id")),
        Column("fourth_id", Integer, ForeignKey("parent.id")),
        Index(None, "other_id", "parent_id"),
        UniqueConstraint("third_id", "id"),
        PrimaryKeyConstraint("id"),
    )
    Table(
        "link",
        m,
        Column("fourth_id", Integer, ForeignKey("parent.id"), primary_key=True),
        Column("fifth_id", Integer, ForeignKey("parent.id"), primary_key=True),
    )
    assert unindexed_foreign_keys(m) == ["child.fourth_id", "child.parent_id", "link.fifth_id"]


def test_the_scheduling_index_is_scoped_to_the_project() -> None:
    triggers = _schema.metadata.tables["triggers"]
    leads = {tuple(c.name for c in ix.columns) for ix in triggers.indexes}
    assert ("project_id", "enabled", "next_fire_at") in leads
    assert not any(lead[0] == "enabled" for lead in leads)
