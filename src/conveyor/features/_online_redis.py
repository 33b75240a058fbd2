"""The Redis online store: one string per entity, shared by any number of prediction
services.

Layout (``P`` the prefix given at open, default ``conveyor``; ``V`` the view's name; ``F``
its schema's 16-hex-digit fingerprint; ``K`` the entity's JSON key text, see
:mod:`._online_schema`)::

    P:V:schema      hash {fp: F, schema: JSON}   the view's current schema
    P:V:F:K         string: 19-digit event time, then a JSON array of the features

The value is one string, not a hash of fields, and a read script answers the values
joined by newlines: a read of 100 entities parses one reply instead of 1,100 (redis-py
parses replies in Python, and that, not Redis, was the cost), and ``json`` decodes a row
in C. The event time is microseconds since the
epoch (UTC) plus 2**62, zero-padded to 19 digits, so Lua compares event times as strings,
exactly (Lua's numbers are doubles, exact only to 2**53). The JSON array holds the
features in the schema's order (compact separators, UTF-8):

- ints (any size), bools, strings, null: as JSON has them
- floats: Python's shortest round-trip decimal, ``NaN``/``Infinity`` included, ``-0.0``
- timestamps: integers in their declared unit; dates: days since the epoch
- binary: a string of code points 0-255, one per byte (latin-1), exact and compact

Writes run a Lua script per chunk of entities, pipelined: it checks the view's schema is
still ``F`` and replaces an entity's value only if the new event time is newer or equal.
A script runs atomically, so two writers keep the newest row whatever their order, and a
reader never sees half a row. A read is one script call for all the keys: it checks the
fingerprint the reader resolved is still current and ``MGET``s the entities, in one round
trip. A write under another schema points ``P:V:schema`` at it and unlinks the old
entities (``SCAN``, which walks the whole keyspace: only on a schema change or a
``delete_view``); readers see the switch at once through the fingerprint check.

Prefixes separate projects sharing a Redis (``conveyor:my-project``); one prefix should
not be another's prefix followed by ``:`` and a view name. Standalone Redis only: a
script touches many keys, which Redis Cluster would refuse across slots.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conveyor.core import ConfigError, ConflictError, InvalidValueError, redact_url

from ._online import Batch, OnlineStore
from ._online_schema import (
    FeatureType,
    OnlineRow,
    OnlineSchema,
    OnlineStoreError,
    OnlineStoreUnavailableError,
    from_micros,
    int_decoder,
    stored_positions,
)

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["RedisOnlineStore"]

logger = logging.getLogger(__name__)

_TIME_OFFSET = 2**62  # every datetime's microseconds plus this are positive, 19 digits
_WRITE_CHUNK = 500  # entities per script call: a few ms of Redis time, never much more
_CHUNKS_PER_ROUND_TRIP = 20
_READ_CHUNK = 1000
_SCAN_BATCH = 1000

# KEYS: the schema key, then one key per entity. ARGV: the fingerprint, then one value
# per entity (its first 19 characters are its event time).
_WRITE = """
if redis.call('HGET', KEYS[1], 'fp') ~= ARGV[1] then return -1 end
local written = 0
for k = 2, #KEYS do
  local old = redis.call('GETRANGE', KEYS[k], 0, 18)
  if old == '' or old <= string.sub(ARGV[k], 1, 19) then
    redis.call('SET', KEYS[k], ARGV[k])
    written = written + 1
  end
end
return written
"""

# KEYS: the schema key, then one key per entity. ARGV: the fingerprint the reader
# resolved. Answers 0 if the schema changed since, else the values joined by newlines, ''
# for a missing entity: one reply to parse, not one per entity (redis-py parses replies in
# Python). A value never holds a newline byte: JSON escapes it, UTF-8 never makes one.
_READ = """
if redis.call('HGET', KEYS[1], 'fp') ~= ARGV[1] then return 0 end
local values = redis.call('MGET', unpack(KEYS, 2))
for i = 1, #values do
  if not values[i] then values[i] = '' end
end
return table.concat(values, '\\n')
"""
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_RAW_DECODE = json.JSONDecoder().raw_decode


def _import_redis() -> Any:
    try:
        import redis
    except ImportError:
        raise ConfigError(
            "The Redis online store needs the redis package, which is not installed.",
            hint="Install it with: pip install 'conveyor[redis]'",
        ) from None
    return redis


def _glob_escape(text: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


def _bytes(value: str) -> bytes:
    return value.encode("latin-1")


def _decoder(ftype: FeatureType) -> Callable[[Any], Any] | None:
    if ftype.kind == "binary":
        return _bytes
    return int_decoder(ftype)  # JSON gives the rest back as they were, but for dates and times


@dataclass(frozen=True)
class _Plan:
    """How one (schema, features) reads the values of its view's current schema."""

    fingerprint: bytes
    key_prefix: str
    columns: tuple[tuple[str, int, Callable[[Any], Any] | None], ...]  # name, position, decoder

    def row(self, value: bytes) -> OnlineRow | None:
        if not value:
            return None
        text = value.decode()
        stored = _RAW_DECODE(text, 19)[0]  # from index 19, without copying the rest
        values = {}
        for name, position, decode in self.columns:
            item = stored[position]
            values[name] = item if decode is None or item is None else decode(item)
        return OnlineRow(values, from_micros(int(text[:19]) - _TIME_OFFSET))


class RedisOnlineStore(OnlineStore):
    """The online store in Redis (module docstring for the layout).

    Args:
        url: ``redis://[user:password@]host:port/db`` (or ``rediss://``, ``unix://``).
        prefix: The namespace of every key.

    Raises:
        ConfigError: redis is not installed.
        OnlineStoreUnavailableError: Redis cannot be reached or refuses the credentials.
    """

    def __init__(self, url: str, *, prefix: str = "conveyor") -> None:
        self.url = redact_url(url)
        if not isinstance(prefix, str) or not prefix or any(ch.isspace() for ch in prefix):
            raise InvalidValueError(
                f"The Redis key prefix must be a non-empty string without spaces. Got {prefix!r}.",
                hint="Use e.g. 'conveyor' or 'conveyor:my-project'.",
                value=prefix,
            )
        self.prefix = prefix
        self._redis = _import_redis()
        from redis.backoff import ExponentialWithJitterBackoff
        from redis.retry import Retry

        self._plans: dict[tuple[str, str, tuple[str, ...]], _Plan] = {}
        with self._errors("connect"):
            self._client = self._redis.Redis.from_url(
                url,
                socket_connect_timeout=5.0,
                socket_timeout=30.0,
                # Bounded: a down Redis fails in about a second, not after redis-py's 10 tries.
                retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), 2),
            )
            self._client.ping()
        self._write_script = self._client.register_script(_WRITE)
        self._read_script = self._client.register_script(_READ)

    def _close(self) -> None:
        self._client.close()

    def _delete_view(self, view: str) -> None:
        with self._errors(f"delete feature view {view!r}"):
            # Rows first: a delete cut short leaves the schema key, so a write under
            # another schema (or deleting again) still finds and unlinks what is left.
            self._purge(view, keep=None)
            self._client.delete(self._schema_key(view))
        for key in [key for key in self._plans if key[0] == view]:
            self._plans.pop(key, None)

    # -- writes ---------------------------------------------------------------------------

    def _write(self, schema: OnlineSchema, batch: Batch) -> int:
        with self._errors(f"write feature view {schema.view!r}"):
            schema_key = self._schema_key(schema.view)
            if self._client.hget(schema_key, "fp") != schema.fingerprint.encode():
                self._switch(schema)
            key_prefix = self._key_prefix(schema.view, schema.fingerprint)
            values = _encode_values(schema, batch)
            written = 0
            pipe = self._client.pipeline(transaction=False)
            for start in range(0, len(batch.keys), _WRITE_CHUNK):
                stop = start + _WRITE_CHUNK
                keys = [schema_key, *(key_prefix + key for key in batch.keys[start:stop])]
                args = [schema.fingerprint, *values[start:stop]]
                self._write_script(keys=keys, args=args, client=pipe)
                if len(pipe) >= _CHUNKS_PER_ROUND_TRIP:
                    written += self._flush(pipe, schema)
            return written + self._flush(pipe, schema)

    def _flush(self, pipe: Any, schema: OnlineSchema) -> int:
        results = pipe.execute() if len(pipe) else []
        if any(result == -1 for result in results):
            raise ConflictError(
                f"The schema of feature view {schema.view!r} was changed by another writer "
                "during this write; rows written under the old schema were dropped.",
                hint="Materialise one definition of a view at a time, then retry.",
                view=schema.view,
            )
        return sum(int(result) for result in results)

    def _switch(self, schema: OnlineSchema) -> None:
        """Point the view at ``schema`` and unlink its rows under any other schema."""
        schema_key = self._schema_key(schema.view)
        old = self._client.hget(schema_key, "fp")
        self._client.hset(
            schema_key, mapping={"fp": schema.fingerprint, "schema": schema.to_json()}
        )
        if old is not None:  # a first write skips the SCAN, which reads the whole keyspace
            logger.warning(
                "The schema of feature view %r changed; its online rows are dropped and "
                "stored again from this write.",
                schema.view,
            )
            self._purge(schema.view, keep=schema.fingerprint)

    def _purge(self, view: str, *, keep: str | None) -> None:
        """Unlink the view's entities, but for those under the fingerprint ``keep``."""
        pattern = _glob_escape(f"{self.prefix}:{view}:") + "?" * 16 + ":*"
        kept = None if keep is None else self._key_prefix(view, keep).encode()
        doomed: list[bytes] = []
        for key in self._client.scan_iter(match=pattern, count=_SCAN_BATCH):
            if kept is None or not key.startswith(kept):
                doomed.append(key)
            if len(doomed) >= _SCAN_BATCH:
                self._client.unlink(*doomed)
                doomed.clear()
        if doomed:
            self._client.unlink(*doomed)

    # -- reads ----------------------------------------------------------------------------

    def _read(
        self, schema: OnlineSchema, keys: list[str], names: tuple[str, ...]
    ) -> list[OnlineRow | None]:
        cache_key = (schema.view, schema.fingerprint, names)
        plan = self._plans.get(cache_key)
        with self._errors(f"read feature view {schema.view!r}"):
            for _attempt in range(3):
                if plan is None:
                    plan = self._plan(schema, names)
                    if plan is None:
                        return [None] * len(keys)  # never materialised (not cached)
                    self._plans[cache_key] = plan
                replies = self._fetch(plan, schema.view, keys)
                if replies is not None:
                    return [plan.row(value) for value in replies]
                # The schema changed since the plan was made: back to the schema key.
                self._plans.pop(cache_key, None)
                plan = None
        raise OnlineStoreError(
            f"The schema of feature view {schema.view!r} changed three times during one read.",
            hint="Retry the read when materialisation has finished.",
            url=self.url,
            view=schema.view,
        )

    def _fetch(self, plan: _Plan, view: str, keys: list[str]) -> list[Any] | None:
        schema_key = self._schema_key(view)
        args = [plan.fingerprint]
        if len(keys) <= _READ_CHUNK:
            reply = self._read_script(
                keys=[schema_key, *(plan.key_prefix + key for key in keys)], args=args
            )
            return None if reply == 0 else reply.split(b"\n")
        pipe = self._client.pipeline(transaction=False)
        for start in range(0, len(keys), _READ_CHUNK):
            chunk = keys[start : start + _READ_CHUNK]
            entity_keys = [plan.key_prefix + key for key in chunk]
            self._read_script(keys=[schema_key, *entity_keys], args=args, client=pipe)
        replies: list[Any] = []
        for reply in pipe.execute():
            if reply == 0:
                return None
            replies.extend(reply.split(b"\n"))
        return replies

    def _plan(self, schema: OnlineSchema, names: tuple[str, ...]) -> _Plan | None:
        fingerprint, text = self._client.hmget(self._schema_key(schema.view), "fp", "schema")
        if fingerprint is None or text is None:
            return None
        stored = OnlineSchema.from_json(schema.view, text)
        positions = stored_positions(schema, names, stored)
        return _Plan(
            fingerprint=fingerprint,
            key_prefix=self._key_prefix(schema.view, fingerprint.decode()),
            columns=tuple(
                (name, position, _decoder(stored.types[name]))
                for name, position in zip(names, positions, strict=True)
            ),
        )

    # -- keys and errors ------------------------------------------------------------------

    def _schema_key(self, view: str) -> str:
        return f"{self.prefix}:{view}:schema"

    def _key_prefix(self, view: str, fingerprint: str) -> str:
        return f"{self.prefix}:{view}:{fingerprint}:"

    @contextlib.contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        exceptions = self._redis.exceptions
        try:
            yield
        except exceptions.AuthenticationError as exc:
            raise OnlineStoreUnavailableError(
                f"Redis at {self.url} refused the online store's credentials ({exc}).",
                hint="Fix the user and password in the online store URL "
                "(redis://user:password@host:6379/0).",
                url=self.url,
            ) from exc
        except (exceptions.ConnectionError, exceptions.TimeoutError) as exc:
            raise OnlineStoreUnavailableError(
                f"Cannot reach the Redis online store at {self.url} to {action}: {exc}",
                hint="Start Redis, or fix the host, port and database in the online store "
                "URL (redis://host:6379/0).",
                url=self.url,
            ) from exc
        except exceptions.RedisError as exc:
            if action == "connect":  # e.g. a database number the server does not have
                raise OnlineStoreUnavailableError(
                    f"Cannot open the Redis online store at {self.url}: {exc}.",
                    hint="Fix the online store URL (redis://host:6379/0).",
                    url=self.url,
                ) from exc
            raise OnlineStoreError(
                f"The Redis online store at {self.url} failed to {action}: {exc}.",
                hint="Check the Redis server's log (memory limit, read-only replica, a "
                "key of the store overwritten by another program).",
                url=self.url,
            ) from exc


def _encode_values(schema: OnlineSchema, batch: Batch) -> list[str]:
    """Each entity's stored value: its event time, then its features as a JSON array."""
    columns = [
        _column_values(schema.types[name], column)
        for name, column in zip(schema.feature_names, batch.columns, strict=True)
    ]
    encode = _ENCODER.encode
    return (
        [
            f"{micros + _TIME_OFFSET:019d}" + encode(values)
            for micros, values in zip(batch.event_micros, zip(*columns, strict=True), strict=True)
        ]
        if columns
        else [f"{micros + _TIME_OFFSET:019d}[]" for micros in batch.event_micros]
    )


def _column_values(ftype: FeatureType, column: pa.ChunkedArray) -> list[Any]:
    """A column (of its declared type) as the values JSON encodes."""
    import pyarrow as pa

    kind = ftype.kind
    if kind == "timestamp":
        column = column.cast(pa.int64())
    elif kind == "date":
        column = column.cast(pa.date32(), safe=False).cast(pa.int32())
    elif kind == "float":
        column = column.cast(pa.float64())
    values: list[Any] = column.to_pylist()
    if kind == "binary":
        values = [None if value is None else value.decode("latin-1") for value in values]
    return values
