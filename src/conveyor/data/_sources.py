"""Data sources: where a dataset is read from, in record batches, and what is new in it.

    Source                        describe, spec, iter_batches, scan, changes
    ├── FilesSource               Parquet or CSV files: a file, a folder, a glob, any fsspec URL
    ├── SqlSource                 a query over a SQLAlchemy URL, with an optional watermark
    └── TableSource / ReaderSource   in memory: a DataFrame, a Table, a RecordBatchReader

:func:`make_source` picks the kind from the object given; :func:`source_from_spec` rebuilds a
source from its :meth:`Source.spec` (a JSON-able dict that never holds a password). A source
streams: :meth:`Source.iter_batches` yields batches of at most ``batch_rows`` rows, so a
source larger than memory can be snapshotted. New data is found by comparing the
:class:`SourceState` of two :meth:`Source.scan` calls (:meth:`Source.changes`).

Every failure (missing file, bad CSV, failed query, unreachable database, bad credentials)
is one :class:`~conveyor.core.DataSourceError` naming the source; the foreign exception
(pyarrow, fsspec, SQLAlchemy) is its ``__cause__``, never its message.
"""

from __future__ import annotations

import abc
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from conveyor.core import ConveyorError, DataSourceError, InvalidValueError, redact_url, sha256_json

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "DEFAULT_BATCH_ROWS",
    "Changes",
    "Source",
    "SourceState",
    "SqlQuery",
    "empty_batch",
    "make_source",
    "mask_url",
    "public_options",
    "source_from_spec",
    "strip_password",
]

DEFAULT_BATCH_ROWS = 65_536
# URL schemes of databases (SQLAlchemy dialects), for a helpful error when one is given
# where files are expected.
_DATABASE_URL = re.compile(
    r"^(postgresql|postgres|sqlite|mysql|mariadb|mssql|oracle|snowflake|duckdb)(\+\w+)?://",
    re.IGNORECASE,
)
# Errors of conveyor's own code, not of the source: never dressed up as a source problem.
_BUGS = (NameError, AssertionError, SyntaxError, RecursionError)

# Option and query-parameter names that hold credentials: never printed, never in a spec.
_SECRET = re.compile(r"secret|token|passw|credential|connection_string|sas|key", re.IGNORECASE)
_SECRET_PARAM = re.compile(r"secret|token|passw|credential|sas|key$", re.IGNORECASE)


class Source(abc.ABC):
    """Where a dataset is read from.

    Subclasses supply :meth:`describe`, :meth:`spec`, :meth:`scan` and the private
    ``_read`` and ``_diff``; the base turns any foreign error into a ``DataSourceError``
    naming the source and cuts batches to size.
    """

    kind: ClassVar[str]

    @abc.abstractmethod
    def describe(self) -> str:
        """One line naming the source for messages and the CLI; never holds a password."""

    @abc.abstractmethod
    def spec(self) -> dict[str, Any]:
        """A JSON-able dict that :func:`source_from_spec` rebuilds the source from.

        Credentials are left out (passwords in URLs, secret storage options); a rebuilt
        source takes them from the environment or from ``source_from_spec``'s arguments.
        """

    @abc.abstractmethod
    def scan(self) -> SourceState:
        """What the source holds now, cheaply (file sizes and times, a watermark)."""

    @abc.abstractmethod
    def _read(self, batch_rows: int) -> Iterator[pa.RecordBatch]:
        """Yield the rows in order; at least one batch (an empty one carries the schema)."""

    @abc.abstractmethod
    def _diff(self, previous: SourceState | None, current: SourceState) -> Changes:
        """What ``current`` holds that ``previous`` did not (``None``: nothing seen before)."""

    def _error(self, exc: Exception) -> DataSourceError:
        """The ``DataSourceError`` for a foreign exception; kinds refine it."""
        return DataSourceError(
            f"Cannot read the data source {self.describe()}: {_first_line(exc)}",
            hint="Check that the source exists and is readable, then retry.",
            source=self.describe(),
        )

    def iter_batches(self, batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        """Yield the source's rows in order, in batches of at most ``batch_rows`` rows.

        At least one batch is yielded: a source without rows yields one empty batch that
        carries its columns. Only about one batch is held at a time (the reader's own
        read-ahead aside), so a source larger than memory streams.

        Raises:
            DataSourceError: the source is missing, unreadable or its query failed.
            InvalidValueError: ``batch_rows`` is not a positive integer.
        """
        if isinstance(batch_rows, bool) or not isinstance(batch_rows, int) or batch_rows < 1:
            raise InvalidValueError(
                f"batch_rows must be a positive integer such as 65536. Got {batch_rows!r}.",
                hint="Pass batch_rows=65536 or leave it out.",
                value=batch_rows,
            )
        return self._guarded_batches(batch_rows)

    def _guarded_batches(self, batch_rows: int) -> Iterator[pa.RecordBatch]:
        n_batches = 0
        with self._boundary():
            for batch in self._read(batch_rows):
                for offset in range(0, max(batch.num_rows, 1), batch_rows):
                    n_batches += 1
                    yield batch if batch.num_rows <= batch_rows else batch.slice(offset, batch_rows)
        if n_batches == 0:  # a reader broke its contract: say so rather than write no schema
            raise DataSourceError(
                f"The data source {self.describe()} yielded no batch, so its columns are unknown.",
                hint="This is a bug in the source's reader; please report it.",
                source=self.describe(),
            )

    def changes(self, previous: SourceState | Mapping[str, Any] | None) -> Changes:
        """Scan the source and compare with ``previous`` (from an earlier :meth:`scan`).

        A ``previous`` from another source (another kind, URL, query or format) counts as
        none: everything is new.

        Args:
            previous: The last state recorded (a :class:`SourceState` or its
                :meth:`~SourceState.to_dict`), or ``None`` if nothing was seen before.

        Returns:
            What is new; keep ``changes.state`` as the next ``previous``.
        """
        if previous is not None and not isinstance(previous, SourceState):
            previous = SourceState.from_dict(previous)
        current = self.scan()
        if previous is not None and (
            previous.kind != current.kind or previous.source_id != current.source_id
        ):
            previous = None
        with self._boundary():
            return self._diff(previous, current)

    def _state(self, detail: Mapping[str, Any]) -> SourceState:
        return SourceState(kind=self.kind, source_id=sha256_json(self.spec())[:16], detail=detail)

    def _boundary(self) -> _Boundary:
        return _Boundary(self)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"


class _Boundary:
    """Turns any non-conveyor exception raised inside into the source's ``DataSourceError``."""

    def __init__(self, source: Source) -> None:
        self._source = source

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        if exc is None or isinstance(exc, (ConveyorError, *_BUGS)):
            return
        if not isinstance(exc, Exception):  # KeyboardInterrupt, GeneratorExit ...
            return
        raise self._source._error(exc) from exc


@dataclass(frozen=True)
class SourceState:
    """What a source held at a :meth:`Source.scan`: compared later to find new data.

    Attributes:
        kind: The source's kind (``files``, ``sql``, ``memory``).
        source_id: A digest of the source's spec: a state of another source is not compared.
        detail: JSON-able, by kind. Files: ``{"files": [{"path", "size", "mtime", "etag"}]}``;
            SQL: ``{"n_rows", "watermark"}`` (the watermark as ``{"type", "value"}``).
    """

    kind: str
    source_id: str
    detail: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; :meth:`from_dict` reads it back."""
        return {"kind": self.kind, "source_id": self.source_id, **self.detail}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SourceState:
        """The state :meth:`to_dict` wrote.

        Raises:
            InvalidValueError: ``data`` has no ``kind`` or ``source_id``.
        """
        if not isinstance(data, Mapping) or not {"kind", "source_id"} <= set(data):
            raise InvalidValueError(
                f"A source state must be a dict with 'kind' and 'source_id' (as written by "
                f"SourceState.to_dict). Got {data!r:.200}.",
                hint="Pass the state recorded from an earlier scan(), or None.",
            )
        rest = {k: v for k, v in data.items() if k not in ("kind", "source_id")}
        return cls(kind=str(data["kind"]), source_id=str(data["source_id"]), detail=rest)


@dataclass(frozen=True)
class Changes:
    """What a source holds that an earlier scan did not.

    The source itself stands for the cumulative data; :meth:`new_part` is a source over
    what is new only (the added and changed files; the rows past the previous watermark).

    Attributes:
        source: The source compared.
        state: The scan just made: record it as the next ``previous``.
        previous: The state compared against (``None``: nothing seen before).
        has_new: Whether anything was added or changed.
        summary: One line for messages (``"2 new files, 1 changed (14 in all)"``).
        added: Files added since ``previous`` (files sources).
        changed: Files whose size, time or ETag changed.
        removed: Files gone since ``previous``. Removals alone are not new data, though a
            snapshot of the whole source would differ.
        new_source: What :meth:`new_part` returns (``None`` when nothing is new).
    """

    source: Source
    state: SourceState
    previous: SourceState | None
    has_new: bool
    summary: str
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    new_source: Source | None = field(default=None, repr=False)

    def new_part(self) -> Source:
        """A source over only what is new.

        Raises:
            InvalidValueError: nothing is new (check :attr:`has_new` first).
        """
        if not self.has_new or self.new_source is None:
            raise InvalidValueError(
                f"Nothing is new in the data source {self.source.describe()} "
                f"({self.summary}), so there is no new part to read.",
                hint="Check changes.has_new before calling new_part().",
            )
        return self.new_source


@dataclass(frozen=True)
class SqlQuery:
    """A query over a database, to pass to :func:`make_source`.

    Attributes:
        url: A SQLAlchemy URL (``postgresql://user@host/db``, ``sqlite:///path.db``);
            ``postgresql://`` uses psycopg 3 (``pip install 'conveyor[postgres]'``).
        query: A ``SELECT`` returning the rows, ideally with an ``ORDER BY`` so two reads
            of the same data give the same snapshot.
        watermark: A column that grows with new rows (an id, an insertion time): new data
            is the rows whose watermark exceeds the last one seen.
    """

    url: str
    query: str
    watermark: str | None = None

    def __repr__(self) -> str:  # the URL may hold a password
        return f"SqlQuery({mask_url(self.url)!r}, {self.query!r}, watermark={self.watermark!r})"


def make_source(
    obj: Any,
    *,
    format: str | None = None,
    storage_options: Mapping[str, Any] | None = None,
    watermark: str | None = None,
) -> Source:
    """The source for ``obj``, by its type.

    * a ``str`` or ``os.PathLike`` (or a list of them): a Parquet or CSV file, a folder of
      them, a glob (``data/*.csv``) or any fsspec URL (``s3://bucket/prefix/*.parquet``);
    * a pandas ``DataFrame``, a pyarrow ``Table``, ``RecordBatch`` or ``RecordBatchReader``:
      in memory (not re-readable later; a reader is read once);
    * :class:`SqlQuery`: a query over a database;
    * a :class:`Source`: itself.

    Args:
        obj: What to read.
        format: ``"parquet"`` or ``"csv"`` for files whose extension does not say
            (``.parquet``, ``.pq``, ``.csv``, ``.csv.gz`` do).
        storage_options: fsspec options for remote URLs (``endpoint_url``, ``anon`` ...).
        watermark: The watermark column of a :class:`SqlQuery` (if it names none).

    Raises:
        InvalidValueError: ``obj`` is none of these, or an option does not apply to it.
        DataSourceError: ``format`` is unknown.
    """
    if watermark is not None and not isinstance(obj, SqlQuery):
        _not_for(obj, "watermark", "a SqlQuery")
    if isinstance(obj, Source):
        if format is not None or storage_options is not None:
            _not_for(obj, "format" if format is not None else "storage_options", "files")
        return obj
    if isinstance(obj, str | os.PathLike) or (
        isinstance(obj, list | tuple) and obj and all(isinstance(p, str | os.PathLike) for p in obj)
    ):
        from ._sources_files import FilesSource

        paths = [obj] if isinstance(obj, str | os.PathLike) else list(obj)
        for path in paths:
            if _DATABASE_URL.match(os.fspath(path)):
                raise InvalidValueError(
                    f"{mask_url(os.fspath(path))!r} is a database URL, not files; a database "
                    "is read through a query.",
                    hint="Pass make_source(SqlQuery(url, 'SELECT ... ORDER BY ...')).",
                    value=mask_url(os.fspath(path)),
                )
        return FilesSource(paths, format=format, storage_options=storage_options)
    if format is not None or storage_options is not None:
        _not_for(obj, "format" if format is not None else "storage_options", "files")
    if isinstance(obj, SqlQuery):
        from ._sources_sql import SqlSource

        return SqlSource(obj.url, obj.query, watermark=obj.watermark or watermark)
    from ._sources_memory import memory_source

    source = memory_source(obj)
    if source is None:
        raise InvalidValueError(
            f"conveyor cannot read data from a {type(obj).__module__}.{type(obj).__qualname__}; "
            "expected a path or URL (str), a pandas DataFrame, a pyarrow Table or "
            "RecordBatchReader, or SqlQuery(url, query).",
            hint="Pass one of those, e.g. make_source('data/*.parquet').",
            value=type(obj).__qualname__,
        )
    return source


def source_from_spec(
    spec: Mapping[str, Any],
    *,
    url: str | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> Source:
    """Rebuild a source from its :meth:`Source.spec`.

    Args:
        spec: What ``spec()`` returned (possibly after a round trip through JSON).
        url: For SQL sources: the database URL with its password (the spec never holds
            one); without it the spec's URL is used and the password must come from the
            driver's environment (``PGPASSWORD``, ``~/.pgpass``).
        storage_options: For files: options merged over the spec's (the secret ones are
            never in the spec; without them credentials come from the environment).

    Raises:
        DataSourceError: the spec is of an in-memory source (it cannot be re-read) or of an
            unknown kind.
    """
    kind = spec.get("kind") if isinstance(spec, Mapping) else None
    if kind == "files":
        from ._sources_files import FilesSource

        return FilesSource.from_spec(spec, storage_options=storage_options)
    if kind == "sql":
        from ._sources_sql import SqlSource

        return SqlSource.from_spec(spec, url=url)
    if kind == "memory":
        raise DataSourceError(
            f"The data source {spec.get('description', 'in memory')} was in memory and "
            "cannot be read again.",
            hint="Snapshot it again from the data, or register a file or SQL source instead.",
        )
    shown = dict(spec) if isinstance(spec, Mapping) else spec
    raise DataSourceError(
        f"Cannot rebuild a data source from {shown!r:.200}: "
        "expected a spec with kind 'files', 'sql' or 'memory' (from Source.spec()).",
        hint="Pass the dict a source's spec() returned.",
    )


# -- URLs and options without secrets ------------------------------------------------------


def mask_url(url: str) -> str:
    """``url`` with its password and secret query parameters shown as ``***``."""
    masked = redact_url(url)
    parts = urlsplit(masked)
    if not parts.query:
        return masked
    query = [(k, "***" if _SECRET_PARAM.search(k) else v) for k, v in parse_qsl(parts.query)]
    return urlunsplit(parts._replace(query=urlencode(query, safe="*%")))


def strip_password(url: str) -> str:
    """``url`` without its password or secret query parameters (for a spec)."""
    parts = urlsplit(url)
    stripped = url
    if parts.password is not None:
        user = parts.username or ""
        host = parts.netloc.rsplit("@", 1)[1]
        stripped = stripped.replace(parts.netloc, f"{user}@{host}" if user else host, 1)
    if parts.query:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        kept = [(k, v) for k, v in pairs if not _SECRET_PARAM.search(k)]
        if len(kept) != len(pairs):
            head, _, _ = stripped.partition("?")
            fragment = f"#{parts.fragment}" if parts.fragment else ""
            stripped = head + (f"?{urlencode(kept, safe='%')}" if kept else "") + fragment
    return stripped


def public_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` without the entries that hold credentials, recursively."""
    kept: dict[str, Any] = {}
    for name, value in options.items():
        if _SECRET.search(str(name)):
            continue
        kept[name] = public_options(value) if isinstance(value, Mapping) else value
    return kept


# -- helpers -------------------------------------------------------------------------------


def _first_line(exc: BaseException) -> str:
    """The first line of an exception's text, with its type when the text is empty."""
    text = str(exc).strip()
    line = text.splitlines()[0].strip() if text else ""
    return line or type(exc).__name__


def _not_for(obj: Any, option: str, applies_to: str) -> None:
    raise InvalidValueError(
        f"The {option!r} option applies to {applies_to} sources only, not to a "
        f"{type(obj).__qualname__}.",
        hint=f"Leave {option!r} out for this source.",
        option=option,
    )


def empty_batch(schema: pa.Schema) -> pa.RecordBatch:
    """A batch of no rows with ``schema``'s columns (what a source without rows yields)."""
    import pyarrow as pa

    return pa.RecordBatch.from_arrays([pa.array([], type=f.type) for f in schema], schema=schema)


def _seq(values: Sequence[str], limit: int = 3) -> str:
    """``'a', 'b' and 3 more``: a short list of names for messages."""
    shown = ", ".join(repr(v) for v in values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")
