"""The online store: the latest feature values per entity, written by materialisation and
read by the prediction service on every request.

:class:`OnlineStore` is a narrow base: ``write`` and ``read`` check and prepare their
arguments here, once for every backend (column checks and casts, the latest row per key,
key encoding), then call a backend's ``_write`` / ``_read``. Backends are chosen by URL in
:func:`open_online_store` and imported only when chosen:

- ``sqlite:///path.db`` (the default; :mod:`._online_sqlite`): one file, read in-process.
- ``redis://host:6379/0``, ``rediss://``, ``unix://`` (:mod:`._online_redis`, the ``redis``
  extra): shared by any number of prediction services.

Semantics shared by both (and proven by ``tests/contracts/online``):

- A stored row is replaced only by a row whose event time is newer or equal (microsecond
  precision), whatever order writers commit in; within one batch the latest row per key
  wins, the later one on a tie.
- A view is stored under its schema's fingerprint. ``write`` with another schema (a feature
  added, removed, retyped or reordered, other join keys) replaces the view: the old rows are
  dropped, the batch is stored under the new schema. ``read`` serves a reader whose schema
  differs as long as every feature it asks for is stored under the same type with the same
  join keys; otherwise it raises :class:`OnlineSchemaMismatchError`. A value is never
  returned under another type than the one declared.
- ``read`` of a view never materialised returns None for every key.
"""

from __future__ import annotations

import abc
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from conveyor.core import ConfigError, InvalidValueError, did_you_mean, redact_url

from ._online_schema import OnlineRow, OnlineSchema, OnlineStoreError, encode_key

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["Batch", "OnlineStore", "open_online_store", "prepare_batch"]

_SCHEMES = "sqlite:///relative/or/absolute.db, redis://host:6379/0, rediss://host:6380/0"


@dataclass(frozen=True)
class Batch:
    """A write's rows, checked and reduced to the latest row per entity key.

    Attributes:
        keys: Each entity's encoded key (see :func:`~._online_schema.encode_key`), unique.
        event_micros: Each entity's event time, microseconds since the epoch (UTC).
        columns: One column per feature, in the schema's order, cast to its declared type.
    """

    keys: list[str]
    event_micros: list[int]
    columns: list[pa.ChunkedArray]


class OnlineStore(abc.ABC):
    """The latest feature values per entity key, per feature view.

    Attributes:
        url: Where the store lives, with any password masked.
    """

    url: str
    _closed: bool = False

    def write(self, schema: OnlineSchema, rows: pa.Table, *, timestamp: str) -> int:
        """Upsert the latest row per entity key of ``rows``.

        A row replaces the stored one only if its event time is newer or equal; within
        ``rows``, the latest row per key wins. Written in batches, never a round trip per
        row. A ``schema`` other than the stored one replaces the view (module docstring).

        Args:
            schema: The view's layout.
            rows: The join key columns, the event-time column and every feature column
                (other columns are ignored); columns are cast to the declared types.
            timestamp: The name of the event-time column (timestamp or date; naive values
                are taken as UTC).

        Returns:
            How many entities were inserted or replaced (rows older than the stored ones
            and duplicates within ``rows`` are not counted).

        Raises:
            InvalidValueError: a column is missing, null where it must not be, or cannot
                be cast to its declared type.
            OnlineStoreError: the backend failed.
        """
        batch = prepare_batch(schema, rows, timestamp)
        self._check_open()
        return self._write(schema, batch)

    def read(
        self,
        schema: OnlineSchema,
        keys: Sequence[Sequence[Any]],
        features: Sequence[str] | None = None,
    ) -> list[OnlineRow | None]:
        """Look up entities: one result per key, in order; None for an unknown entity.

        One statement (SQLite) or one round trip (Redis) for all the keys.

        Args:
            schema: The view's layout, as the reader knows it.
            keys: One tuple of join key values per entity, e.g. ``[("JFK",), ("LGA",)]``.
            features: The features to return (default: all of ``schema``'s).

        Raises:
            InvalidValueError: a key has the wrong arity or a value that is not str or int,
                or a feature is not in ``schema``.
            OnlineSchemaMismatchError: a feature asked for is not stored under that type.
            OnlineStoreError: the backend failed.
        """
        names = schema.select(features)
        n_keys = len(schema.join_keys)
        encoded = [encode_key(key, n_keys) for key in keys]
        if not encoded:
            return []
        self._check_open()
        return self._read(schema, encoded, names)

    def delete_view(self, view: str) -> None:
        """Delete a view's rows and schema; reading it afterwards returns None for every key.

        Deleting a view that is not stored does nothing.
        """
        self._check_open()
        self._delete_view(view)

    def close(self) -> None:
        """Release connections; the store cannot be used afterwards. Closing twice is fine."""
        self._closed = True
        self._close()

    def _check_open(self) -> None:
        if self._closed:
            raise OnlineStoreError(
                f"The online store {self.url} is closed.",
                hint="Open it again with open_online_store().",
                url=self.url,
            )

    @abc.abstractmethod
    def _delete_view(self, view: str) -> None:
        """Delete a view's rows and schema, if stored."""

    @abc.abstractmethod
    def _close(self) -> None:
        """Release connections."""

    @abc.abstractmethod
    def _write(self, schema: OnlineSchema, batch: Batch) -> int:
        """Store ``batch`` (unique keys), keeping the newest row per key; return rows stored."""

    @abc.abstractmethod
    def _read(
        self, schema: OnlineSchema, keys: list[str], names: tuple[str, ...]
    ) -> list[OnlineRow | None]:
        """The rows of the encoded ``keys`` with the features ``names``, in order."""

    def __enter__(self) -> OnlineStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"


def open_online_store(
    url: str, *, root: Path | None = None, prefix: str = "conveyor"
) -> OnlineStore:
    """Open the online store at ``url``, importing its backend only then.

    Args:
        url: ``sqlite:///relative/or/absolute.db`` (relative to ``root``; four slashes for
            an absolute path) or ``redis://[user:password@]host:port/db`` (also
            ``rediss://`` and ``unix://``; needs the ``redis`` extra).
        root: The folder relative SQLite paths start from (default: the working folder).
        prefix: Redis only: the namespace of every key, so several projects can share one
            Redis (e.g. ``"conveyor:my-project"``).

    Raises:
        ConfigError: the URL's scheme is not supported, or the backend's library is not
            installed (the message names ``pip install 'conveyor[redis]'``).
        OnlineStoreUnavailableError: the store cannot be opened or reached.
    """
    if not isinstance(url, str) or "://" not in url:
        raise ConfigError(
            f"The online store URL {url!r} is not a URL; expected one of: {_SCHEMES}.",
            hint="Fix the online store URL.",
            value=url,
        )
    scheme = url.split("://", 1)[0].lower()
    if scheme == "sqlite":
        from ._online_sqlite import SQLiteOnlineStore

        return SQLiteOnlineStore(_sqlite_path(url, root), url=url)
    if scheme in ("redis", "rediss", "unix"):
        from ._online_redis import RedisOnlineStore

        return RedisOnlineStore(url, prefix=prefix)
    raise ConfigError(
        f"The online store URL {redact_url(url)!r} has the scheme {scheme!r}, which is not "
        f"supported; expected one of: {_SCHEMES}."
        + did_you_mean(scheme, ["sqlite", "redis", "rediss", "unix"]),
        hint="Use sqlite:///.conveyor/online.db (the default) or redis://host:6379/0.",
        value=redact_url(url),
    )


def _sqlite_path(url: str, root: Path | None) -> Path:
    rest = url[len("sqlite://") :]
    if not rest.startswith("/") or rest in ("/", "//") or rest.startswith("/:memory:"):
        raise ConfigError(
            f"The online store URL {url!r} names no SQLite file; expected "
            "sqlite:///relative/path.db or sqlite:////absolute/path.db (an in-memory "
            "database would not be shared between connections).",
            hint="Use sqlite:///.conveyor/online.db.",
            value=url,
        )
    path = Path(rest[1:])
    if not path.is_absolute():
        path = Path(root if root is not None else os.getcwd()) / path
    return path


def prepare_batch(schema: OnlineSchema, rows: pa.Table, timestamp: str) -> Batch:
    """Check ``rows`` against ``schema`` and keep the latest row per entity key.

    Raises:
        InvalidValueError: ``rows`` is not a table, a column is missing or has nulls in a key
            or the event time, or a feature cannot be cast to its declared type.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(rows, pa.RecordBatch):
        rows = pa.Table.from_batches([rows])
    if not isinstance(rows, pa.Table):
        raise InvalidValueError(
            f"The rows written to feature view {schema.view!r} must be a pyarrow.Table. Got "
            f"{type(rows).__name__}.",
            hint="Convert them with pyarrow.Table.from_pandas(df) or pyarrow.table({...}).",
            view=schema.view,
        )
    needed = [*schema.join_keys, timestamp, *schema.feature_names]
    missing = [name for name in needed if name not in rows.column_names]
    if missing:
        raise InvalidValueError(
            f"The rows written to feature view {schema.view!r} lack the column(s) "
            f"{', '.join(map(repr, missing))}; they have "
            f"{', '.join(map(repr, rows.column_names)) or 'none'}."
            + did_you_mean(missing[0], rows.column_names),
            hint="Select the view's join keys, event-time column and features.",
            view=schema.view,
            value=missing,
        )
    event = _event_micros(schema, rows.column(timestamp), timestamp)
    keys = _encode_key_columns(schema, [rows.column(name) for name in schema.join_keys])
    # A stable sort by event time, then a dict keeping each key's last index: the latest
    # row per key wins, and the later row of the batch on a tie.
    order = pc.sort_indices(event).to_pylist()
    latest = dict(zip([keys[i] for i in order], order, strict=True))
    indices = pa.array(list(latest.values()), type=pa.int64())
    columns = [
        _cast(schema, name, rows.column(name).take(indices)) for name in schema.feature_names
    ]
    return Batch(list(latest), event.take(indices).to_pylist(), columns)


def _event_micros(schema: OnlineSchema, column: pa.ChunkedArray, name: str) -> pa.ChunkedArray:
    import pyarrow as pa

    kind = column.type
    if len(column) == 0:
        return pa.chunked_array([], pa.int64())  # an empty column may be untyped
    if pa.types.is_date(kind):
        column = column.cast(pa.date32()).cast(pa.timestamp("us"))
    elif not pa.types.is_timestamp(kind):
        raise InvalidValueError(
            f"The event-time column {name!r} written to feature view {schema.view!r} must "
            f"be a timestamp or a date. Got {kind}.",
            hint=f"Cast it, e.g. pyarrow.compute.cast(table[{name!r}], "
            "pyarrow.timestamp('us', tz='UTC')).",
            view=schema.view,
            column=name,
        )
    elif kind.unit != "us":
        # Sub-microsecond digits do not order rows here: equal microseconds are a tie.
        column = column.cast(pa.timestamp("us", tz=kind.tz), safe=kind.unit != "ns")
    if column.null_count:
        raise InvalidValueError(
            f"The event-time column {name!r} written to feature view {schema.view!r} has "
            f"{column.null_count} null value(s); every row needs an event time.",
            hint="Drop or fill those rows before materialising.",
            view=schema.view,
            column=name,
        )
    return column.cast(pa.int64())


def _encode_key_columns(schema: OnlineSchema, columns: list[pa.ChunkedArray]) -> list[str]:
    from json.encoder import encode_basestring_ascii

    import pyarrow as pa

    parts: list[list[str]] = []
    for name, column in zip(schema.join_keys, columns, strict=True):
        kind = column.type
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
            column = column.cast(kind)
        if column.null_count:
            raise InvalidValueError(
                f"The join key column {name!r} written to feature view {schema.view!r} has "
                f"{column.null_count} null value(s); every entity needs a key.",
                hint="Drop those rows before materialising.",
                view=schema.view,
                column=name,
            )
        if len(column) == 0:
            parts.append([])  # an empty column may be untyped (pyarrow's null type)
        elif pa.types.is_integer(kind):
            parts.append(column.cast(pa.string()).to_pylist())  # decimal, as int.__repr__
        elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
            parts.append([encode_basestring_ascii(value) for value in column.to_pylist()])
        else:
            raise InvalidValueError(
                f"The join key column {name!r} written to feature view {schema.view!r} is "
                f"{kind}; keys must be strings or integers.",
                hint="Cast the key column to string or int64.",
                view=schema.view,
                column=name,
            )
    if len(parts) == 1:
        return ["[" + part + "]" for part in parts[0]]
    return ["[" + ",".join(values) + "]" for values in zip(*parts, strict=True)]


def _cast(schema: OnlineSchema, name: str, column: pa.ChunkedArray) -> pa.ChunkedArray:
    import pyarrow as pa

    target = schema.types[name].to_arrow()
    if column.type == target:
        return column
    try:
        return column.cast(target)  # safe: fails rather than truncate or overflow
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise InvalidValueError(
            f"The feature column {name!r} written to feature view {schema.view!r} is "
            f"{column.type} and cannot be cast to its declared type {target}: {exc}",
            hint="Fix the feature's declared type, or cast the column before materialising.",
            view=schema.view,
            column=name,
        ) from exc
