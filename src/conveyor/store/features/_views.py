"""Feature views as registered, their materialisation watermarks, and their uses by runs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, column, select, table

from ...core import NotFoundError, did_you_mean, now_ms, validate_name
from .._engine import Store
from .._sql import insert, require_in_project
from . import _tables as t
from ._records import FeatureViewRecord, FeatureViewUseRecord, MaterializationRecord

v, m, u = t.feature_views.c, t.feature_materializations.c, t.feature_view_uses.c
# Named, not imported: the runs domain is a sibling of this one (see ``store._sql``).
_STEP_RUNS = table("step_runs", column("id"), column("run_id"), column("name"))


def register_feature_view(
    store: Store, name: str, *, digest: str, definition: Mapping[str, Any]
) -> FeatureViewRecord:
    """Record view ``name`` as its code defines it now (created, or updated if it changed)."""
    validate_name(name, what="feature view name")

    def tx(conn: Connection) -> FeatureViewRecord:
        now = now_ms()
        values = {"digest": digest, "definition": dict(definition), "updated_at": now}
        conn.execute(
            insert(conn, t.feature_views)
            .values(project_id=store.project_id, name=name, created_at=now, **values)
            .on_conflict_do_update(
                index_elements=["project_id", "name"],
                set_=values,
                where=v.digest != digest,  # unchanged: keep its updated_at
            )
        )
        return _view(conn, store, name)

    return store.transact(tx, what="feature view registration")


def get_feature_view(store: Store, name: str) -> FeatureViewRecord:
    """View ``name`` as last registered.

    Raises:
        NotFoundError: no such view was registered (with the closest name).
    """
    return store.query(lambda conn: _view(conn, store, name))


def list_feature_views(store: Store) -> list[FeatureViewRecord]:
    """The project's registered views, by name."""
    query = select(t.feature_views).where(v.project_id == store.project_id).order_by(v.name)
    return store.query(lambda conn: [FeatureViewRecord.from_row(r) for r in conn.execute(query)])


def _view(conn: Connection, store: Store, name: str) -> FeatureViewRecord:
    row = conn.execute(
        select(t.feature_views).where(v.project_id == store.project_id, v.name == name)
    ).first()
    if row is None:
        names = conn.execute(select(v.name).where(v.project_id == store.project_id)).scalars()
        raise NotFoundError(
            f"No feature view {name!r} in project {store.project!r}.{did_you_mean(name, names)}",
            hint="List them with: conveyor features list",
            view=name,
        )
    return FeatureViewRecord.from_row(row)


def record_materialization(
    store: Store,
    view: str,
    *,
    digest: str,
    start_us: int | None,
    watermark_us: int,
    n_rows: int,
    source: str = "",
) -> MaterializationRecord:
    """Record that ``view`` (at ``digest``) was materialised up to ``watermark_us``.

    Raises:
        NotFoundError: the view is not registered.
    """

    def tx(conn: Connection) -> MaterializationRecord:
        view_id = _view(conn, store, view).id
        row = conn.execute(
            t.feature_materializations.insert()
            .values(
                view_id=view_id,
                digest=digest,
                start_us=start_us,
                watermark_us=watermark_us,
                n_rows=n_rows,
                source=source,
                created_at=now_ms(),
            )
            .returning(*t.feature_materializations.c)
        ).one()
        return MaterializationRecord.from_row(row)

    return store.transact(tx, what="materialization record")


def last_materialization(store: Store, view: str, digest: str) -> MaterializationRecord | None:
    """The latest materialisation of ``view`` at definition ``digest``, if any."""

    def read(conn: Connection) -> MaterializationRecord | None:
        view_id = _view(conn, store, view).id
        row = conn.execute(
            select(t.feature_materializations)
            .where(m.view_id == view_id, m.digest == digest)
            .order_by(m.id.desc())
            .limit(1)
        ).first()
        return None if row is None else MaterializationRecord.from_row(row)

    return store.query(read)


def list_materializations(store: Store, view: str) -> list[MaterializationRecord]:
    """Every materialisation of ``view`` (any definition), newest first."""

    def read(conn: Connection) -> list[MaterializationRecord]:
        view_id = _view(conn, store, view).id
        query = select(t.feature_materializations).where(m.view_id == view_id).order_by(m.id.desc())
        return [MaterializationRecord.from_row(r) for r in conn.execute(query)]

    return store.query(read)


def record_feature_view_use(store: Store, view: str, step_run_id: int, digest: str) -> None:
    """Record that step run ``step_run_id`` read ``view`` at ``digest`` (once).

    Raises:
        NotFoundError: the view is not registered, or the step run not the project's.
    """

    def tx(conn: Connection) -> None:
        require_in_project(conn, store, [("step run", step_run_id)])
        view_id = _view(conn, store, view).id
        conn.execute(
            insert(conn, t.feature_view_uses)
            .values(view_id=view_id, step_run_id=step_run_id, digest=digest, created_at=now_ms())
            .on_conflict_do_nothing(index_elements=["view_id", "step_run_id", "digest"])
        )

    store.transact(tx, what="feature view use")


def feature_view_uses(store: Store, run_id: int) -> list[FeatureViewUseRecord]:
    """The views run ``run_id``'s steps read, in the order they did.

    Raises:
        NotFoundError: the run is not the store project's.
    """
    s = _STEP_RUNS.c
    query = (
        select(u.step_run_id, s.name.label("step"), v.name.label("view"), u.digest)
        .join(_STEP_RUNS, s.id == u.step_run_id)
        .join(t.feature_views, v.id == u.view_id)
        .where(s.run_id == run_id)
        .order_by(u.id)
    )

    def read(conn: Connection) -> list[FeatureViewUseRecord]:
        require_in_project(conn, store, [("run", run_id)])
        return [FeatureViewUseRecord.from_row(r) for r in conn.execute(query)]

    return store.query(read)
