"""A SQL query as a data source: any database SQLAlchemy speaks, streamed into Arrow batches.

The user's database, not conveyor's metadata store: this is the one module of
``conveyor.data`` allowed to import SQLAlchemy (see the import-linter contracts), and it is
imported only when a :class:`~conveyor.data._sources.SqlQuery` is read.

Rows are fetched with a server-side cursor where the driver has one (``stream_results`` and
``yield_per``: psycopg's named cursors), so a result larger than memory streams. Arrow types
are inferred from the first batch's values and then held for every batch; a column that is
NULL throughout the first batch, or changes type later, is an error that says to ``CAST`` it
in the query. Time-zone-aware timestamps are converted to UTC, so the session's time zone
does not change the snapshot.

New data is found with an optional watermark column (an id, an insertion time): a scan
records its maximum and the row count, and the new part is the rows with a watermark above
the previous maximum, up to the one scanned. Rows whose watermark is NULL, or equal to a
maximum already seen, are not new.
"""

from __future__ import annotations

import datetime
import datetime as dt
import decimal
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, exc, make_url, text
from sqlalchemy.pool import NullPool

from conveyor.core import DataSourceError, did_you_mean

from ._sources import Changes, Source, SourceState, _first_line, mask_url, strip_password

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["SqlSource"]

_ALIAS = "conveyor_q"
_CONNECT_TIMEOUT_S = 10
# Drivers conveyor installs: a bare postgresql:// means psycopg 3, as for the store.
_DRIVERS = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg"}
_INSTALL = {"postgresql": "pip install 'conveyor[postgres]'"}
_TRAILING = re.compile(r"[\s;]+$")


class SqlSource(Source):
    """The rows a query returns, from a database at a SQLAlchemy URL.

    Args:
        url: ``postgresql://user@host/db``, ``sqlite:///path.db``, ``mysql+pymysql://...``.
        query: A ``SELECT``; give it an ``ORDER BY`` so that reading the same data twice
            gives the same rows in the same order (and so the same snapshot).
        watermark: A column that grows with new rows, for :meth:`changes`.
        after: Only rows with a watermark above this (an encoded watermark); set on the
            new part of :class:`~conveyor.data._sources.Changes`.
        until: Only rows with a watermark up to this (an encoded watermark).
    """

    kind = "sql"

    def __init__(
        self,
        url: str,
        query: str,
        *,
        watermark: str | None = None,
        after: Mapping[str, Any] | None = None,
        until: Mapping[str, Any] | None = None,
    ) -> None:
        self.url = url
        self.query = _TRAILING.sub("", query)
        self.watermark = watermark
        self.after = dict(after) if after else None
        self.until = dict(until) if until else None
        if (after or until) and not watermark:
            raise DataSourceError(
                f"The data source {self.describe()} is bounded by a watermark but names no "
                "watermark column.",
                hint="Pass watermark='<column>' with after= or until=.",
                source=self.describe(),
            )

    # -- Source ---------------------------------------------------------------------------

    def describe(self) -> str:
        one_line = " ".join(self.query.split())
        shown = one_line if len(one_line) <= 60 else one_line[:57] + "..."
        text_ = f"SQL query {shown!r} on {mask_url(self.url)}"
        if self.watermark:
            text_ += f" (watermark {self.watermark!r}"
            if self.after:
                text_ += f" > {self.after['value']}"
            if self.until:
                text_ += f" <= {self.until['value']}"
            text_ += ")"
        return text_

    def spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "kind": self.kind,
            "url": strip_password(self.url),
            "query": self.query,
            "watermark": self.watermark,
        }
        if self.after:
            spec["after"] = self.after
        if self.until:
            spec["until"] = self.until
        if spec["url"] != self.url:
            spec["secrets_omitted"] = True
        return spec

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], *, url: str | None = None) -> SqlSource:
        """The source :meth:`spec` described; ``url`` (with its password) replaces the spec's."""
        return cls(
            url or str(spec["url"]),
            str(spec["query"]),
            watermark=spec.get("watermark"),
            after=spec.get("after"),
            until=spec.get("until"),
        )

    def scan(self) -> SourceState:
        engine, conn = self._connect()
        try:
            with self._boundary():
                if self.watermark is None:
                    n_rows = conn.execute(text(f"SELECT COUNT(*) FROM {self._from()}")).scalar()
                    return self._state({"n_rows": int(n_rows or 0), "watermark": None})
                self._check_watermark(conn)
                column = self._quoted(engine, self.watermark)
                row = conn.execute(
                    text(f"SELECT MAX({column}), COUNT(*) FROM {self._from()}")
                ).one()
                return self._state({"n_rows": int(row[1] or 0), "watermark": _encode(row[0], self)})
        finally:
            conn.close()
            engine.dispose()

    def _diff(self, previous: SourceState | None, current: SourceState) -> Changes:
        now_rows = int(current.detail.get("n_rows") or 0)
        now_mark = current.detail.get("watermark")
        before_rows = int(previous.detail.get("n_rows") or 0) if previous else None
        before_mark = previous.detail.get("watermark") if previous else None
        if previous is None:
            has_new = now_rows > 0
            summary = f"{now_rows:,} rows, none seen before"
            new_source: Source | None = self._bounded(None, now_mark)
        elif self.watermark is None:
            # No watermark: only the count can tell, and the new part is the whole query.
            has_new = now_rows != before_rows
            summary = f"{now_rows:,} rows, {before_rows:,} before (no watermark column)"
            new_source = self
        else:
            has_new = now_mark is not None and (
                before_mark is None or _decode(now_mark) > _decode(before_mark)
            )
            since = before_mark["value"] if before_mark else "-"
            if has_new and now_mark is not None:
                summary = (
                    f"rows with {self.watermark} > {since} up to {now_mark['value']}; "
                    f"{now_rows:,} rows in all, {before_rows:,} before"
                )
            else:
                summary = f"no row past {self.watermark} = {since}"
            new_source = self._bounded(before_mark, now_mark)
        return Changes(
            source=self,
            state=current,
            previous=previous,
            has_new=has_new,
            summary=summary,
            new_source=new_source if has_new else None,
        )

    def _bounded(
        self, after: Mapping[str, Any] | None, until: Mapping[str, Any] | None
    ) -> SqlSource:
        if self.watermark is None or until is None:
            return self
        return SqlSource(self.url, self.query, watermark=self.watermark, after=after, until=until)

    def _read(self, batch_rows: int) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        engine, conn = self._connect()
        try:
            if self.after or self.until:
                self._check_watermark(conn)
                sql = f"SELECT * FROM {self._from()}{self._where(engine)}"
            else:
                sql = self._literal()
            streaming = conn.execution_options(stream_results=True, yield_per=batch_rows)
            with streaming.execute(text(sql), self._params()) as result:
                # Closed on every exit (an error, or a reader that stops early), so the
                # server-side cursor never outlives its connection.
                names = [str(name) for name in result.keys()]
                schema: pa.Schema | None = None
                n_batches = 0
                for rows in result.partitions(batch_rows):
                    batch, schema = _to_batch(names, rows, schema, self)
                    n_batches += 1
                    yield batch
            if n_batches == 0:  # no rows: the columns are known, their types are not
                yield pa.RecordBatch.from_arrays(
                    [pa.array([], type=pa.null()) for _ in names], names=names
                )
        finally:
            conn.close()
            engine.dispose()

    def _error(self, error: Exception) -> DataSourceError:
        shown = self.describe()
        if isinstance(error, exc.DBAPIError):
            return DataSourceError(
                f"The query of the data source {shown} failed: {self._driver_text(error)}",
                hint="Check the query against the database (table and column names, syntax, "
                "permissions), then retry.",
                source=shown,
            )
        if isinstance(error, exc.SQLAlchemyError):
            return DataSourceError(
                f"The data source {shown} failed: {type(error).__name__}: "
                f"{self._scrub(_first_line(error))}",
                hint="Check the query and the database URL.",
                source=shown,
            )
        return super()._error(error)

    # -- connecting -----------------------------------------------------------------------

    def _connect(self) -> tuple[Engine, Connection]:
        shown = self.describe()
        try:
            url = make_url(self.url)
        except (exc.ArgumentError, ValueError) as error:
            raise DataSourceError(
                f"The data source {shown} has no valid database URL: {_first_line(error)}.",
                hint="Use a SQLAlchemy URL such as 'postgresql://user@host:5432/db' or "
                "'sqlite:///path/to/file.db'.",
                source=shown,
            ) from error
        backend = url.get_backend_name()
        if url.drivername in _DRIVERS:
            url = url.set(drivername=_DRIVERS[url.drivername])
        options: dict[str, Any] = {}
        if backend in ("postgresql", "postgres") and "connect_timeout" not in url.query:
            options["connect_args"] = {"connect_timeout": _CONNECT_TIMEOUT_S}
        try:
            engine = create_engine(url, poolclass=NullPool, **options)
        except (exc.NoSuchModuleError, ImportError) as error:
            install = _INSTALL.get(backend, f"pip install the driver for {url.drivername!r}")
            raise DataSourceError(
                f"The data source {shown} needs the database driver for {url.drivername!r}, "
                f"which is not installed or unknown ({_first_line(error)}).",
                hint=f"Install it with: {install}",
                source=shown,
            ) from error
        except exc.ArgumentError as error:
            raise DataSourceError(
                f"The data source {shown} has a database URL SQLAlchemy rejects: "
                f"{_first_line(error)}.",
                hint="Fix the URL's options (the part after '?').",
                source=shown,
            ) from error
        try:
            return engine, engine.connect()
        except exc.DBAPIError as error:
            engine.dispose()
            raise DataSourceError(
                f"Cannot connect to the database of the data source {shown}: "
                f"{self._driver_text(error)}",
                hint="Check the host, port, database name, user and password in the URL "
                "(or PGPASSWORD), and that the server is running and reachable from here.",
                source=shown,
            ) from error

    def _check_watermark(self, conn: Connection) -> None:
        """A ``DataSourceError`` naming the columns if the watermark is not one of them."""
        names = list(conn.execute(text(f"SELECT * FROM {self._from()} WHERE 1 = 0")).keys())
        if self.watermark not in names:
            close = did_you_mean(str(self.watermark), names)
            raise DataSourceError(
                f"The watermark column {self.watermark!r} of the data source {self.describe()} "
                f"is not among the query's columns ({', '.join(names)}).",
                hint=(close.strip() + " " if close else "") + "Name a column the query returns.",
                source=self.describe(),
            )

    # -- SQL text -------------------------------------------------------------------------

    def _from(self) -> str:
        return f"({self._literal()}) AS {_ALIAS}"

    def _literal(self) -> str:
        """The user's query for ``text()``, its colons escaped: it holds no bound parameter
        of ours, and ``'10:30'`` or ``x::int`` must reach the database as written."""
        return self.query.replace(":", "\\:")

    def _where(self, engine: Engine) -> str:
        column = self._quoted(engine, str(self.watermark))
        terms = []
        if self.after:
            terms.append(f"{column} > :conveyor_after")
        if self.until:
            terms.append(f"{column} <= :conveyor_until")
        return " WHERE " + " AND ".join(terms) if terms else ""

    def _params(self) -> dict[str, Any]:
        params = {}
        if self.after:
            params["conveyor_after"] = _decode(self.after)
        if self.until:
            params["conveyor_until"] = _decode(self.until)
        return params

    @staticmethod
    def _quoted(engine: Engine, name: str) -> str:
        return f"{_ALIAS}.{engine.dialect.identifier_preparer.quote(name)}"

    def _driver_text(self, error: exc.DBAPIError) -> str:
        """The driver's own first line (not SQLAlchemy's, which appends the SQL)."""
        return self._scrub(_first_line(error.orig if error.orig is not None else error))

    def _scrub(self, message: str) -> str:
        """``message`` with the URL's password, should a driver echo it, masked."""
        try:
            password = make_url(self.url).password
        except Exception:
            return message
        return message.replace(str(password), "***") if password else message


# -- rows to Arrow -------------------------------------------------------------------------


def _to_batch(
    names: Sequence[str],
    rows: Sequence[Sequence[Any]],
    schema: pa.Schema | None,
    source: SqlSource,
) -> tuple[pa.RecordBatch, pa.Schema]:
    """``rows`` as a batch; its types inferred if ``schema`` is None, else held to it."""
    import pyarrow as pa

    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    arrays = []
    for index, name in enumerate(names):
        values = _aware_in_utc(columns[index])
        target = schema.field(index).type if schema is not None else None
        try:
            if target is None:
                array = _widened(pa.array(values))
            else:
                array = pa.array(values, type=target)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as error:
            raise _type_error(source, name, target, error) from error
        arrays.append(array)
    batch = pa.RecordBatch.from_arrays(arrays, names=list(names))
    return batch, (schema if schema is not None else batch.schema)


def _aware_in_utc(values: Sequence[Any]) -> Sequence[Any]:
    """Time-zone-aware datetimes moved to UTC in Python, before pyarrow sees them.

    pyarrow's own conversion of an aware datetime with a fixed offset is not reliable: with
    pandera imported (as validation does), ``pa.array`` stored the wall-clock time as UTC,
    two hours off for ``+02:00`` (pyarrow 26, pandera 0.35). Only columns holding aware
    datetimes pay for the loop.
    """
    first = next((v for v in values if v is not None), None)
    if not isinstance(first, datetime.datetime) or first.tzinfo is None:
        return values
    return [
        v.astimezone(datetime.UTC) if isinstance(v, datetime.datetime) and v.tzinfo else v
        for v in values
    ]


def _widened(array: pa.Array) -> pa.Array:
    """The first batch's array with a type later batches fit: decimals at full precision,
    time-zone-aware timestamps in UTC."""
    import pyarrow as pa
    import pyarrow.types as pt

    kind = array.type
    if pt.is_decimal128(kind) and kind.precision < 38:
        return array.cast(pa.decimal128(38, kind.scale))
    if pt.is_timestamp(kind) and kind.tz is not None and kind.tz != "UTC":
        return array.cast(pa.timestamp(kind.unit, "UTC"))
    return array


def _type_error(
    source: SqlSource, name: str, target: pa.DataType | None, error: BaseException
) -> DataSourceError:
    shown = source.describe()
    if target is not None and str(target) == "null":
        message = (
            f"Column {name!r} of the data source {shown} is NULL throughout the first batch, "
            "so its type is unknown, and holds values later."
        )
    elif target is not None:
        message = (
            f"Column {name!r} of the data source {shown} held {target} values in the first "
            f"batch, then a value that is not: {_first_line(error)}"
        )
    else:
        message = f"Column {name!r} of the data source {shown} mixes types: {_first_line(error)}"
    return DataSourceError(
        message,
        hint=f"Give the column one type in the query, e.g. CAST({name} AS BIGINT), "
        "CAST(... AS TEXT) or CAST(... AS NUMERIC(18, 4)).",
        source=shown,
        column=name,
    )


# -- watermark values as JSON ----------------------------------------------------------------


def _encode(value: Any, source: SqlSource) -> dict[str, Any] | None:
    """A watermark value as ``{"type", "value"}`` (JSON-able, decoded back exactly)."""
    if value is None:
        return None
    shown: Any
    if isinstance(value, bool):
        kind, shown = "bool", value
    elif isinstance(value, int):
        kind, shown = "int", value
    elif isinstance(value, float):
        kind, shown = "float", value
    elif isinstance(value, decimal.Decimal):
        kind, shown = "decimal", str(value)
    elif isinstance(value, dt.datetime):
        kind, shown = "datetime", value.isoformat()
    elif isinstance(value, dt.date):
        kind, shown = "date", value.isoformat()
    elif isinstance(value, str):
        kind, shown = "str", value
    else:
        raise DataSourceError(
            f"The watermark column {source.watermark!r} of the data source {source.describe()} "
            f"holds {type(value).__name__} values; a watermark must be a number, a date, a "
            "timestamp or a string.",
            hint="Choose an id or an insertion-time column as the watermark.",
            source=source.describe(),
        )
    return {"type": kind, "value": shown}


def _decode(encoded: Mapping[str, Any]) -> Any:
    kind, value = encoded["type"], encoded["value"]
    if kind == "decimal":
        return decimal.Decimal(value)
    if kind == "datetime":
        return dt.datetime.fromisoformat(value)
    if kind == "date":
        return dt.date.fromisoformat(value)
    return value
