"""Online store test helpers: where a backend lives (so tests and child processes can open
it again), Redis clean-up, and the feature views and rows the contract suite writes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from conveyor.features import OnlineSchema, OnlineStore, open_online_store

UTC = dt.UTC


@dataclass(frozen=True)
class OnlineBackend:
    """A backend's name, URL and namespace; picklable for spawned children."""

    name: str
    url: str
    root: Path | None = None
    prefix: str = "conveyor"

    def open(self) -> OnlineStore:
        return open_online_store(self.url, root=self.root, prefix=self.prefix)


def delete_redis_prefix(url: str, prefix: str) -> int:
    """Unlink every key under ``prefix:``; return how many there were."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        escaped = "".join("\\" + ch if ch in "*?[]\\" else ch for ch in prefix)
        keys = list(client.scan_iter(match=escaped + ":*", count=1000))
        for start in range(0, len(keys), 1000):
            client.unlink(*keys[start : start + 1000])
        return len(keys)
    finally:
        client.close()


def redis_keys(url: str, prefix: str) -> list[str]:
    """Every key under ``prefix:``, sorted, as text."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        escaped = "".join("\\" + ch if ch in "*?[]\\" else ch for ch in prefix)
        return sorted(key.decode() for key in client.scan_iter(match=escaped + ":*"))
    finally:
        client.close()


def at(day: int, micro: int = 0) -> dt.datetime:
    """An aware UTC datetime on day ``day`` of 2024-01, plus ``micro`` microseconds."""
    return dt.datetime(2024, 1, day, tzinfo=UTC) + dt.timedelta(microseconds=micro)


def table(columns: dict[str, Any], types: dict[str, pa.DataType] | None = None) -> pa.Table:
    """A table from Python lists; ``ts`` is a UTC timestamp column unless typed otherwise."""
    types = {"ts": pa.timestamp("us", tz="UTC"), **(types or {})}
    return pa.table({name: pa.array(values, types.get(name)) for name, values in columns.items()})


SCALARS = OnlineSchema(
    "scalars", ("origin",), (("n_flights", "int64"), ("delay", "double"), ("carrier", "string"))
)


def scalar_rows(origin: list[str], ts: list[dt.datetime], n: list[int | None]) -> pa.Table:
    """Rows of :data:`SCALARS`; ``delay`` and ``carrier`` derive from ``n``."""
    return table(
        {
            "origin": origin,
            "ts": ts,
            "n_flights": n,
            "delay": [None if v is None else v / 4 for v in n],
            "carrier": [None if v is None else f"c{v}" for v in n],
        }
    )


def values_of(store: OnlineStore, schema: OnlineSchema, keys: list[tuple[Any, ...]]) -> list[Any]:
    """Each key's feature values (a dict), or None for an unknown entity."""
    return [None if row is None else row.values for row in store.read(schema, keys)]
