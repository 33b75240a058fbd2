"""Durations written as text in config and options (``'500ms'``, ``'30s'``, ``'1h30m'``)."""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


def parse_duration(value: str | float | int, *, what: str = "duration") -> float:
    """Return seconds for ``'30m'``, ``'1h30m'``, ``'500ms'``, ``'2.5s'`` or a number of seconds.

    Raises:
        ValueError: with a message naming ``what`` and an example of the expected form.
    """
    if isinstance(value, bool):
        raise ValueError(f"The {what} must be a duration such as '30m'. Got {value!r}.")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"The {what} must not be negative. Got {value!r}.")
        return float(value)
    text = str(value).strip().replace(" ", "")
    pos, total = 0, 0.0
    for match in _PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ValueError(
            f"The {what} must be a duration such as '30m', '1h30m' or '500ms'. Got {value!r}."
        )
    return total
