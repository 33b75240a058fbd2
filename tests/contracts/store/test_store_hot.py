"""Hot statements (``store._hot``): the per-step statements run on the driver's cursor must
behave as SQLAlchemy's execution would, on both backends: same rows, same row counts, same
wrapped errors (so the retry and the error boundary see them), and never a value that
needed a conversion they skip."""

from __future__ import annotations

import pytest
import sqlalchemy
from sqlalchemy import JSON, Column, Integer, MetaData, String, Table, bindparam, or_, update

from conveyor import store as st
from conveyor.core import StoreError
from conveyor.store._hot import HotRow, HotStatement

pytestmark = pytest.mark.integration

metadata = MetaData()
items = Table(
    "hot_items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("n", Integer, nullable=False),
    Column("label", String(16), unique=True),
    Column("meta", JSON),
)
BUMP = HotStatement(
    update(items)
    .where(items.c.id == bindparam("p_id"), or_(items.c.label == "a", items.c.label == "b"))
    .values(n=items.c.n + 1)
    .returning(items.c.id, items.c.n, items.c.label)
)
ADD = HotStatement(items.insert().values(id=bindparam("p_id"), n=0, label=bindparam("p_label")))


@pytest.fixture
def hot_store(store: st.Store) -> st.Store:
    metadata.create_all(store.engine)
    return store


def test_rows_and_row_counts_are_sqlalchemys(hot_store: st.Store) -> None:
    def tx(conn: sqlalchemy.Connection) -> tuple[int, list[tuple[int, int, str]], int]:
        added = ADD.execute_many(
            conn, [{"p_id": 1, "p_label": "a"}, {"p_id": 2, "p_label": "c"}]
        ).rowcount
        bumped = BUMP.execute(conn, {"p_id": 1})
        assert bumped.rows is not None
        missed = BUMP.execute(conn, {"p_id": 2})  # label 'c' is not in the OR list
        assert missed.first() is None and missed.rowcount == 0
        rows = [(r.id, r.n, r.label) for r in bumped.rows]
        return added, rows, bumped.rowcount

    assert hot_store.transact(tx, what="hot") == (2, [(1, 1, "a")], 1)
    # The same transaction machinery: what a hot statement wrote was committed with it.
    with hot_store.read() as conn:
        assert conn.execute(sqlalchemy.select(items.c.n).where(items.c.id == 1)).scalar() == 1


def test_a_rolled_back_transaction_takes_its_hot_writes_with_it(hot_store: st.Store) -> None:
    class Boom(Exception):
        pass

    def tx(conn: sqlalchemy.Connection) -> None:
        ADD.execute(conn, {"p_id": 7, "p_label": "a"})
        raise Boom

    with pytest.raises(Boom):
        hot_store.transact(tx, what="hot")
    with hot_store.read() as conn:
        assert conn.execute(sqlalchemy.select(items.c.id)).all() == []


def test_driver_errors_are_wrapped_as_sqlalchemy_wraps_them(hot_store: st.Store) -> None:
    hot_store.transact(lambda conn: ADD.execute(conn, {"p_id": 1, "p_label": "a"}), what="hot")
    with hot_store.write() as conn, pytest.raises(sqlalchemy.exc.IntegrityError) as info:
        ADD.execute(conn, {"p_id": 2, "p_label": "a"})  # label is unique
    assert "hot_items" in str(info.value) or "label" in str(info.value)
    # Through the store's boundary: one StoreError, the driver's error as its cause.
    with pytest.raises(StoreError) as boundary:
        hot_store.transact(lambda c: ADD.execute(c, {"p_id": 3, "p_label": "a"}), what="hot add")
    assert "hot add" in str(boundary.value)
    assert isinstance(boundary.value.__cause__, sqlalchemy.exc.IntegrityError)


def test_a_statement_that_needs_conversion_is_refused(store: st.Store) -> None:
    needs_json = HotStatement(items.insert().values(id=bindparam("p_id"), n=0, meta=bindparam("m")))
    with store.write() as conn, pytest.raises(TypeError, match="'m' needs type processing"):
        needs_json.execute(conn, {"p_id": 1, "m": {"a": 1}})
    expanding = HotStatement(
        update(items).where(items.c.label.in_(["a", "b"])).values(n=items.c.n + 1)
    )
    with store.write() as conn, pytest.raises(TypeError, match="may not expand"):
        expanding.execute(conn, {})


def test_a_returned_row_reads_by_column_name() -> None:
    row = HotRow({"id": 1})
    assert row.id == 1 and row._mapping == {"id": 1}
    with pytest.raises(AttributeError, match="nope"):
        _ = row.nope


def test_a_connection_killed_under_a_hot_statement_is_retried(hot_store: st.Store) -> None:
    """The backend of the transaction is terminated just before its hot statement: the
    connection is invalidated (not returned to the pool), and the store's retry runs the
    whole transaction again on a fresh one."""
    if hot_store.dialect != "postgresql":
        pytest.skip("SQLite has no server connection to lose")
    tries: list[int] = []

    def tx(conn: sqlalchemy.Connection) -> int:
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        tries.append(int(pid or 0))
        if len(tries) == 1:
            with hot_store.engine.connect() as killer:
                killer.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid or 0)})")
                killer.commit()
        return ADD.execute(conn, {"p_id": 1, "p_label": "a"}).rowcount

    assert hot_store.transact(tx, what="hot add") == 1
    assert len(tries) == 2 and tries[0] != tries[1]
    with hot_store.read() as conn:
        assert conn.execute(sqlalchemy.select(items.c.label)).scalars().all() == ["a"]
