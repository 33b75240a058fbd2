"""Feature services: find the project's views, build point-in-time training data,
materialise the latest values into the online store, and look them up.

One function reads a view's rows for both paths (:func:`view_rows`): the source, then the
view's transform, so training data and the online store hold the same values for the same
entity and time.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import store as st
from ..core import InvalidValueError, NotFoundError, did_you_mean
from ..pipelines import current_step_context, project_modules
from ._view import FeatureView, parse_feature_refs

if TYPE_CHECKING:
    import pyarrow as pa

    from ..workspace import Workspace
    from ._online import OnlineStore
    from ._online_schema import OnlineSchema

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


# (store URL, project, view) -> the digest this process registered last: a lookup on the
# serving path must not write to the metadata store each time (it cost 1.3 ms a call).
_REGISTERED: dict[tuple[str, str, str], str] = {}


def list_views(ws: Workspace) -> list[FeatureView]:
    """The feature views defined in the project's modules, by name; each is registered in
    the metadata store as its code defines it now (once per process and definition)."""
    views: dict[str, FeatureView] = {}
    for module in project_modules(ws.config):
        for value in vars(module).values():
            if isinstance(value, FeatureView):
                views.setdefault(value.name, value)
    for view in views.values():
        key = (ws.store.url, ws.store.project, view.name)
        digest = view.digest
        if _REGISTERED.get(key) != digest:
            st.register_feature_view(
                ws.store, view.name, digest=digest, definition=view.definition()
            )
            _REGISTERED[key] = digest
    return [views[name] for name in sorted(views)]


def get_view(ws: Workspace, name: str) -> FeatureView:
    """Feature view ``name``.

    Raises:
        NotFoundError: no view by that name (with the closest one).
    """
    views = {v.name: v for v in list_views(ws)}
    if name not in views:
        raise NotFoundError(
            f"No feature view {name!r} in the project's modules.{did_you_mean(name, views)}",
            hint="List them with: conveyor features list",
            view=name,
        )
    return views[name]


def view_rows(
    ws: Workspace,
    view: FeatureView,
    *,
    after: datetime.datetime | None = None,
    until: datetime.datetime | None = None,
) -> pa.Table:
    """The view's rows: its source read (a dataset's latest snapshot, or a path/URL), the
    transform applied, the columns checked against the declaration, and only the rows with
    ``after < timestamp <= until`` if given.

    Raises:
        InvalidValueError: the rows lack a declared column or hold it under another type.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    table = _source_table(ws, view)
    if view.transform is not None:
        table = view.transform(table)
        if not isinstance(table, pa.Table):
            raise InvalidValueError(
                f"The transform of feature view {view.name!r} returned a "
                f"{type(table).__name__}; expected a pyarrow Table.",
                hint="Return pyarrow.Table.from_pandas(frame) if it works on pandas.",
                view=view.name,
            )
    table = _conformed(view, table)
    column = table.column(view.timestamp)
    if after is not None:
        table = table.filter(pc.greater(column, _scalar(after, column.type)))
        column = table.column(view.timestamp)
    if until is not None:
        table = table.filter(pc.less_equal(column, _scalar(until, column.type)))
    return table


def _scalar(moment: datetime.datetime, kind: pa.DataType) -> pa.Scalar:
    import pyarrow as pa

    aware = moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)
    if getattr(kind, "tz", None) is None:  # a naive column holds UTC wall-clock times
        aware = aware.astimezone(datetime.UTC).replace(tzinfo=None)
    return pa.scalar(aware, type=kind)


def _source_table(ws: Workspace, view: FeatureView) -> pa.Table:
    import pyarrow as pa

    from ..data import get_dataset, list_datasets, make_source

    if any(d.name == view.source for d in list_datasets(ws)):
        return get_dataset(ws, view.source).to_arrow()  # a read inside a step is recorded
    source = view.source
    if "://" not in source and not Path(source).is_absolute():
        source = str(ws.config.root / source)
    return pa.Table.from_batches(list(make_source(source).iter_batches()))


def _conformed(view: FeatureView, table: pa.Table) -> pa.Table:
    """The entity, timestamp and feature columns, features cast to their declared types
    where that is safe; a missing column or an unsafe cast is a clear error."""
    import pyarrow as pa
    import pyarrow.types as pt

    wanted = [*view.entities, view.timestamp, *view.features]
    missing = [c for c in wanted if c not in table.column_names]
    if missing:
        raise InvalidValueError(
            f"The rows of feature view {view.name!r} have no column(s) {missing}; they have "
            f"{table.column_names}.",
            hint="Fix the view's entities, timestamp or features, or its transform.",
            view=view.name,
        )
    if not pt.is_timestamp(table.schema.field(view.timestamp).type):
        raise InvalidValueError(
            f"The timestamp column {view.timestamp!r} of feature view {view.name!r} holds "
            f"{table.schema.field(view.timestamp).type}, not timestamps.",
            hint="Parse it into a timestamp in the view's transform.",
            view=view.name,
        )
    columns = []
    for name in wanted:
        column = table.column(name)
        declared = view.features.get(name)
        if declared is not None and str(column.type) != declared:
            try:
                column = column.cast(_arrow_type(declared), safe=True)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise InvalidValueError(
                    f"Feature {name!r} of view {view.name!r} is declared {declared} but its "
                    f"rows hold {column.type}, which does not convert safely ({exc}).",
                    hint="Fix the declared type, or convert the column in the transform.",
                    view=view.name,
                ) from None
        columns.append(column)
    return pa.table(columns, names=wanted)


def _arrow_type(text: str) -> pa.DataType:
    import pyarrow as pa

    if text.startswith("timestamp"):
        return pa.timestamp("us", tz="UTC" if "UTC" in text else None)
    if text == "date32[day]":
        return pa.date32()
    return pa.type_for_alias(text)


def materializations(ws: Workspace, name: str) -> list[st.MaterializationRecord]:
    """View ``name``'s materialisations into any online store, newest first; those whose
    ``digest`` is :func:`materialization_key` are of the view as defined now, into the
    project's online store as configured now."""
    get_view(ws, name)  # registers it, and names the closest view if there is none
    return st.list_materializations(ws.store, name)


def materialization_key(ws: Workspace, view: FeatureView) -> str:
    """What a watermark belongs to: the view's definition and the online store it was
    written to (pointing the project at another store starts that store from nothing)."""
    import hashlib

    settings = ws.config.features
    target = f"{view.digest}|{settings.online_store}|{settings.online_prefix}"
    return hashlib.sha256(target.encode()).hexdigest()


# -- offline ---------------------------------------------------------------------------


def get_historical_features(
    ws: Workspace,
    entities: Any,
    features: Sequence[str],
    *,
    timestamp: str = "event_timestamp",
    full_names: bool = False,
) -> pa.Table:
    """Training data: each entity row with each feature's value as of the row's time.

    No value from after a row's timestamp is ever joined (a value stamped exactly at it
    is), and a value older than its view's TTL is not served (one exactly TTL old is).
    Inside a step, the views (and any dataset snapshot) it read are recorded in the run.

    Args:
        entities: A pyarrow Table, a pandas DataFrame or a ``Dataset`` with the views'
            entity columns and a ``timestamp`` column.
        features: ``view:feature`` references, or a view's name for all its features.
        timestamp: The entity rows' timestamp column.
        full_names: Name the columns ``view__feature`` (needed when two views share a
            feature name).

    Raises:
        NotFoundError: an unknown view or feature.
        InvalidValueError: a column is missing, or of a type that cannot be joined.
    """
    from ..data import Dataset
    from ._offline import ViewData, point_in_time_join

    views = {v.name: v for v in list_views(ws)}
    chosen = parse_feature_refs(features, views)
    if isinstance(entities, Dataset):
        entities = entities.bind(ws).to_arrow() if entities._ws is None else entities.to_arrow()
    data = [
        ViewData(
            name=name,
            join_keys=tuple(views[name].entities),
            timestamp=views[name].timestamp,
            features=names,
            ttl=views[name].ttl_delta,
            table=view_rows(ws, views[name]),
        )
        for name, names in chosen.items()
    ]
    joined = point_in_time_join(entities, data, timestamp=timestamp, full_names=full_names)
    ctx = current_step_context()
    if ctx is not None:
        for name in chosen:
            st.record_feature_view_use(ws.store, name, ctx.step_run_id, views[name].digest)
    return joined


# -- online ----------------------------------------------------------------------------


def open_online(ws: Workspace) -> OnlineStore:
    """The project's online store, as ``[features] online_store`` names it."""
    from ._online import open_online_store

    settings = ws.config.features
    return open_online_store(
        settings.online_store,
        root=ws.config.root,
        prefix=f"{settings.online_prefix}:{ws.config.project.name}",
    )


def _schema(view: FeatureView) -> OnlineSchema:
    from ._online_schema import OnlineSchema

    return OnlineSchema(
        view=view.name, join_keys=tuple(view.entities), features=tuple(view.features.items())
    )


@dataclass(frozen=True)
class Materialized:
    """One view's materialisation: the event-time window written and how many rows."""

    view: str
    start: datetime.datetime | None
    end: datetime.datetime
    n_rows: int
    n_written: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "view": self.view,
            "start": None if self.start is None else self.start.isoformat(),
            "end": self.end.isoformat(),
            "rows": self.n_rows,
            "written": self.n_written,
        }


def materialize(
    ws: Workspace,
    views: Sequence[str] | None = None,
    *,
    end: datetime.datetime | None = None,
) -> list[Materialized]:
    """Write each view's latest value per entity into the online store, incrementally:
    only rows stamped after the view's last watermark and up to ``end`` (now by default).

    A changed view (its definition or transform), or another online store, starts again
    from nothing. The watermark is recorded only after the rows are written, so a
    materialisation killed in between writes them again (the store keeps the newest value
    per entity either way).

    Raises:
        NotFoundError: an unknown view.
    """
    every = {v.name: v for v in list_views(ws)}
    names = list(every) if views is None else list(views)
    for name in names:
        if name not in every:
            raise NotFoundError(
                f"No feature view {name!r}.{did_you_mean(name, every)}",
                hint="List them with: conveyor features list",
                view=name,
            )
    moment = _aware(end or datetime.datetime.now(datetime.UTC))
    done = []
    online = open_online(ws)
    try:
        for name in names:
            view = every[name]
            key = materialization_key(ws, view)
            last = st.last_materialization(ws.store, name, key)
            start = None if last is None else _from_us(last.watermark_us)
            if start is not None and moment <= start:
                done.append(Materialized(name, start, moment, 0, 0))
                continue
            rows = view_rows(ws, view, after=start, until=moment)
            written = online.write(_schema(view), rows, timestamp=view.timestamp)
            st.record_materialization(
                ws.store,
                name,
                digest=key,
                start_us=None if start is None else _to_us(start),
                watermark_us=_to_us(moment),
                n_rows=rows.num_rows,
                source=view.source,
            )
            done.append(Materialized(name, start, moment, rows.num_rows, written))
    finally:
        online.close()
    return done


@dataclass(frozen=True)
class Miss:
    """A feature value the online store could not serve, and why."""

    row: int
    view: str
    reason: str  # "unknown" (no such entity) or "expired" (older than the view's TTL)


@dataclass(frozen=True)
class OnlineFeatures:
    """What :func:`get_online_features` found: one dict of values per entity row, in
    order (None where a value was missed), and every miss with its reason."""

    rows: list[dict[str, Any]]
    misses: list[Miss] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": [{k: _jsonable(v) for k, v in row.items()} for row in self.rows],
            "misses": [{"row": m.row, "view": m.view, "reason": m.reason} for m in self.misses],
        }


def get_online_features(
    ws: Workspace,
    entity_rows: Sequence[Mapping[str, Any]],
    features: Sequence[str],
    *,
    now: datetime.datetime | None = None,
    online: OnlineStore | None = None,
) -> OnlineFeatures:
    """The latest value of each feature for each entity row, from the online store.

    An unknown entity, or a value older than its view's TTL at ``now``, is a miss: its
    features are None and :attr:`OnlineFeatures.misses` says which and why.

    Args:
        entity_rows: One mapping per entity, with each asked view's entity columns.
        features: ``view:feature`` references, or a view's name for all its features.
        now: The time TTLs are measured at (default: now).
        online: An open online store to reuse (the prediction service keeps one open).

    Raises:
        NotFoundError: an unknown view or feature.
        InvalidValueError: an entity row lacks a view's entity column.
    """
    views = {v.name: v for v in list_views(ws)}
    chosen = parse_feature_refs(features, views)
    moment = _aware(now or datetime.datetime.now(datetime.UTC))
    rows: list[dict[str, Any]] = [dict() for _ in entity_rows]
    misses: list[Miss] = []
    store = online or open_online(ws)
    try:
        for name, names in chosen.items():
            view = views[name]
            keys = [_key(view, i, row) for i, row in enumerate(entity_rows)]
            found = store.read(_schema(view), keys, names)
            ttl = view.ttl_delta
            for i, hit in enumerate(found):
                expired = hit is not None and ttl is not None and moment - hit.event_time > ttl
                if hit is None or expired:
                    misses.append(Miss(i, name, "expired" if expired else "unknown"))
                    rows[i].update(dict.fromkeys(names))
                else:
                    rows[i].update({n: hit.values.get(n) for n in names})
    finally:
        if online is None:
            store.close()
    return OnlineFeatures(rows, misses)


def _key(view: FeatureView, index: int, row: Mapping[str, Any]) -> tuple[Any, ...]:
    try:
        return tuple(row[k] for k in view.entities)
    except KeyError as exc:
        raise InvalidValueError(
            f"Entity row {index} has no {exc.args[0]!r}, an entity column of feature view "
            f"{view.name!r} (it has {sorted(row)}).",
            hint=f"Give every row the view's entity columns: {', '.join(view.entities)}.",
            view=view.name,
        ) from None


def _aware(moment: datetime.datetime) -> datetime.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def _to_us(moment: datetime.datetime) -> int:
    delta = _aware(moment) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _from_us(micros: int) -> datetime.datetime:
    return _EPOCH + datetime.timedelta(microseconds=micros)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    return value
