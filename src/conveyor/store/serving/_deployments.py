"""Deployments: serving endpoints bound to ``models:/model@alias`` (storage side).

An update records its outcome under an operation key (``Store.transact_once``), so a retry
after a lost COMMIT acknowledgement returns the first outcome.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, select

from ...core import DEPLOYMENT_UPDATED, NotFoundError, now_ms, validate_name
from .._engine import Operation, Replay, Store
from .._hot import HotRow
from .._sql import insert
from ..events import append_event
from ..registry import _tables as reg
from ..registry import find_model_id
from . import _tables as t
from ._records import DeploymentRecord

d = t.deployments.c
# A deployment with its model's name (the record names the model it serves).
_WITH_MODEL = select(*t.deployments.c, reg.models.c.name.label("model")).join(
    reg.models, reg.models.c.id == d.model_id
)


_REPLAY: Replay[DeploymentRecord] = Replay(
    dump=lambda record: record.id,
    load=lambda conn, row_id: DeploymentRecord.from_row(
        conn.execute(_WITH_MODEL.where(d.id == row_id)).one()
    ),
)


def upsert_deployment(
    store: Store,
    name: str,
    *,
    model: str,
    alias: str = "champion",
    strategy: str = "replace",
    config: Mapping[str, Any] | None = None,
) -> DeploymentRecord:
    """Create or update a deployment: an endpoint bound to ``models:/model@alias``.

    ``strategy`` is stored as given: what strategies exist is ``conveyor.serve.runtime``'s
    rule.
    """
    validate_name(name, what="deployment name")

    def tx(conn: Connection, _op: Operation) -> DeploymentRecord:
        model_id = find_model_id(conn, store, model, create=False)
        now = now_ms()
        values = dict(
            model_id=model_id,
            alias=alias,
            strategy=strategy,
            config=dict(config or {}),
            updated_at=now,
        )
        row = conn.execute(
            insert(conn, t.deployments)
            .values(
                project_id=store.project_id, name=name, status="pending", created_at=now, **values
            )
            .on_conflict_do_update(index_elements=["project_id", "name"], set_=values)
            .returning(*t.deployments.c)
        ).one()
        append_event(
            conn,
            store,
            DEPLOYMENT_UPDATED,
            subject=f"deployments/{name}",
            data={"deployment": name, "model": model, "alias": alias, "strategy": strategy},
        )
        return DeploymentRecord.from_row(HotRow({**row._mapping, "model": model}))

    return store.transact_once(tx, what="deployment update", replay=_REPLAY)


def list_deployments(store: Store) -> list[DeploymentRecord]:
    query = _WITH_MODEL.where(d.project_id == store.project_id).order_by(d.name)
    return store.query(lambda conn: [DeploymentRecord.from_row(r) for r in conn.execute(query)])


def get_deployment(store: Store, name: str) -> DeploymentRecord:
    """Deployment ``name``.

    Raises:
        NotFoundError: this project has no such deployment.
    """
    query = _WITH_MODEL.where(d.project_id == store.project_id, d.name == name)
    row = store.query(lambda conn: conn.execute(query).first())
    if row is None:
        raise NotFoundError(
            f"No deployment named {name!r}.",
            hint="Create one with: conveyor deployments set NAME --model MODEL",
            deployment=name,
        )
    return DeploymentRecord.from_row(row)
