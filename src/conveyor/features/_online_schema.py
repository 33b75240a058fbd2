"""What the online store keeps of a feature view, and how keys and types are spelled.

An :class:`OnlineSchema` names a view, its join keys and its typed features; its
``fingerprint`` (a hash of the keys and the typed features, in order) is how both backends
tell one version of a view's layout from another. Feature types are Arrow type strings, in
pyarrow's own spelling (``str(pa.int64())`` is ``"int64"``); :func:`parse_feature_type`
accepts that spelling and a few aliases and rejects anything a backend could not give back
exactly.

Entity keys are encoded as a compact JSON array of their values (``["JFK"]``,
``["JFK","AA"]``, ``[42]``): strings JSON-quoted with non-ASCII escaped, integers in
decimal. JSON quoting makes composite keys unambiguous (a ``,`` or ``"`` inside a value
is inside its quotes) and keeps ``42`` and ``"42"`` two different entities. Both backends
store this text, so a key means the same entity on either.

Nothing here imports pyarrow: the prediction service builds schemas and keys on every
request.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from json.encoder import encode_basestring_ascii
from typing import TYPE_CHECKING, Any, Literal

from conveyor.core import ConveyorError, InvalidValueError, did_you_mean, validate_name

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "FeatureType",
    "OnlineRow",
    "OnlineSchema",
    "OnlineSchemaMismatchError",
    "OnlineStoreError",
    "OnlineStoreUnavailableError",
    "encode_key",
    "encode_key_part",
    "from_micros",
    "int_decoder",
    "parse_feature_type",
    "stored_positions",
]

FeatureKind = Literal["bool", "int", "uint64", "float", "string", "binary", "timestamp", "date"]


class OnlineStoreError(ConveyorError):
    """The online store failed: a driver error, wrapped once, naming the store's URL."""


class OnlineStoreUnavailableError(OnlineStoreError):
    """The online store cannot be opened or reached (Redis down, SQLite path not writable)."""


class OnlineSchemaMismatchError(OnlineStoreError):
    """A read asks for a feature the stored view lacks, or under another type or key."""


# pyarrow's spelling -> the Python value a read gives back.
_KINDS: dict[str, FeatureKind] = {
    "bool": "bool",
    "int8": "int",
    "int16": "int",
    "int32": "int",
    "int64": "int",
    "uint8": "int",
    "uint16": "int",
    "uint32": "int",
    "uint64": "uint64",  # past 2**63 - 1: more than SQLite's INTEGER holds
    "halffloat": "float",
    "float": "float",
    "double": "float",
    "string": "string",
    "large_string": "string",
    "binary": "binary",
    "large_binary": "binary",
    "date32[day]": "date",
    "date64[ms]": "date",
}
_ALIASES = {
    "boolean": "bool",
    "float16": "halffloat",
    "float32": "float",
    "float64": "double",
    "str": "string",
    "utf8": "string",
    "large_utf8": "large_string",
    "date32": "date32[day]",
    "date64": "date64[ms]",
}
_TIMESTAMP = re.compile(r"timestamp\[(s|ms|us|ns)(?:,\s*tz=([^\]]+))?\]")
_OFFSET = re.compile(r"([+-])(\d\d):(\d\d)")
_SUPPORTED = (
    "bool, int8-int64, uint8-uint64, halffloat, float, double, string, large_string, "
    "binary, large_binary, date32[day], date64[ms], timestamp[s|ms|us|ns] with or "
    "without ', tz=...'"
)
_EPOCH_UTC = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_EPOCH_NAIVE = datetime.datetime(1970, 1, 1)
_EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()
_MICROS = {"s": 1_000_000, "ms": 1_000, "us": 1}


@dataclass(frozen=True)
class FeatureType:
    """A parsed feature type.

    Attributes:
        arrow: pyarrow's spelling, e.g. ``"timestamp[us, tz=UTC]"``.
        kind: The Python value a read gives back (``"timestamp"`` is a datetime).
        unit: A timestamp's unit (``s``, ``ms``, ``us``, ``ns``), else None.
        tz: A timestamp's time zone (aware values), else None (naive values).
    """

    arrow: str
    kind: FeatureKind
    unit: str | None = None
    tz: str | None = None

    def to_arrow(self) -> pa.DataType:
        """The pyarrow type (imports pyarrow)."""
        import pyarrow as pa

        if self.kind == "timestamp":
            return pa.timestamp(self.unit, tz=self.tz)
        return pa.type_for_alias(self.arrow)


def parse_feature_type(text: str, *, feature: str = "?") -> FeatureType:
    """Parse an Arrow type string into a :class:`FeatureType`.

    Raises:
        InvalidValueError: ``text`` is not a type the online store can give back exactly.
    """
    spelled = _ALIASES.get(text, text) if isinstance(text, str) else text
    if isinstance(spelled, str) and spelled in _KINDS:
        return FeatureType(spelled, _KINDS[spelled])
    match = _TIMESTAMP.fullmatch(spelled) if isinstance(spelled, str) else None
    if match is None:
        raise InvalidValueError(
            f"The type of feature {feature!r} must be an Arrow type the online store "
            f"supports ({_SUPPORTED}). Got {text!r}.",
            hint="Cast the column to one of these types in the feature view.",
            feature=feature,
            value=text,
        )
    unit, tz = match.group(1), match.group(2)
    if tz is not None:
        tz = tz.strip()
        _zone(tz, feature=feature)  # an unknown zone fails here, not on the first read
    suffix = f", tz={tz}" if tz is not None else ""
    return FeatureType(f"timestamp[{unit}{suffix}]", "timestamp", unit, tz)


def _zone(tz: str, *, feature: str) -> datetime.tzinfo:
    if tz.upper() in ("UTC", "Z", "+00:00"):
        return datetime.UTC
    offset = _OFFSET.fullmatch(tz)
    if offset is not None:
        sign = -1 if offset.group(1) == "-" else 1
        minutes = int(offset.group(2)) * 60 + int(offset.group(3))
        return datetime.timezone(datetime.timedelta(minutes=sign * minutes))
    import zoneinfo

    try:
        return zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidValueError(
            f"The time zone {tz!r} of feature {feature!r} is unknown; expected 'UTC', an "
            "offset such as '+05:30' or an IANA name such as 'Europe/Paris'.",
            hint="Fix the feature's type, e.g. 'timestamp[us, tz=UTC]'.",
            feature=feature,
            value=tz,
        ) from exc


def from_micros(micros: int) -> datetime.datetime:
    """An aware UTC datetime from microseconds since the epoch (exact, no float)."""
    # Positional timedelta arguments: twice as fast as keywords, on every row read.
    return _EPOCH_UTC + datetime.timedelta(0, 0, micros)


def int_decoder(ftype: FeatureType) -> Callable[[int], Any] | None:
    """How to turn the integer a backend stores for ``ftype`` into its value, or None if the
    integer is the value already.

    Timestamps are stored as integers in their declared unit and read back as datetimes:
    aware in the declared zone, naive without one; ``ns`` is floored to microseconds, the
    finest a datetime holds. Dates are stored as days since the epoch.
    """
    if ftype.kind == "date":
        return lambda days: datetime.date.fromordinal(days + _EPOCH_ORDINAL)
    if ftype.kind != "timestamp":
        return None
    assert ftype.unit is not None
    epoch = _EPOCH_NAIVE if ftype.tz is None else _EPOCH_UTC
    delta = datetime.timedelta  # (days, seconds, microseconds), positional for speed
    if ftype.unit == "ns":

        def to_datetime(value: int) -> datetime.datetime:
            return epoch + delta(0, 0, value // 1000)

    else:
        factor = _MICROS[ftype.unit]

        def to_datetime(value: int) -> datetime.datetime:
            return epoch + delta(0, 0, value * factor)

    zone = None if ftype.tz is None else _zone(ftype.tz, feature="?")
    if zone is None or zone is datetime.UTC:
        return to_datetime

    def to_zoned(value: int) -> datetime.datetime:
        return to_datetime(value).astimezone(zone)

    return to_zoned


@dataclass(frozen=True)
class OnlineSchema:
    """The layout of one feature view in the online store.

    Args:
        view: The feature view's name.
        join_keys: The entity's key columns, e.g. ``("origin",)`` or ``("origin", "carrier")``.
        features: ``(name, Arrow type string)`` pairs, e.g. ``("delay", "double")``.

    Raises:
        InvalidNameError: ``view`` is not a valid conveyor name.
        InvalidValueError: no join key, a duplicate or empty name, or an unsupported type.
    """

    view: str
    join_keys: tuple[str, ...]
    features: tuple[tuple[str, str], ...]
    types: dict[str, FeatureType] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        validate_name(self.view, what="feature view name")
        keys = tuple(self.join_keys)
        pairs = tuple((name, text) for name, text in self.features)
        if not keys:
            raise InvalidValueError(
                f"The feature view {self.view!r} has no join key; expected at least one.",
                hint="Pass join_keys=('entity_id',) naming the entity's key column(s).",
                view=self.view,
            )
        names = [*keys, *(name for name, _ in pairs)]
        for name in names:
            if not isinstance(name, str) or not name:
                raise InvalidValueError(
                    f"The join keys and features of view {self.view!r} must be non-empty "
                    f"strings. Got {name!r}.",
                    view=self.view,
                    value=name,
                )
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise InvalidValueError(
                f"The feature view {self.view!r} names {', '.join(map(repr, duplicates))} more "
                "than once among its join keys and features; every name must be unique.",
                hint="Rename or drop the duplicate column.",
                view=self.view,
                value=duplicates,
            )
        types = {name: parse_feature_type(text, feature=name) for name, text in pairs}
        object.__setattr__(self, "join_keys", keys)
        object.__setattr__(self, "features", tuple((n, t.arrow) for n, t in types.items()))
        object.__setattr__(self, "types", types)

    @cached_property
    def feature_names(self) -> tuple[str, ...]:
        """The features' names, in order."""
        return tuple(name for name, _ in self.features)

    @cached_property
    def fingerprint(self) -> str:
        """16 hex digits identifying the join keys and the typed features, in order."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]

    def to_json(self) -> str:
        """The layout as canonical JSON (the view's name left out)."""
        return json.dumps(
            {"features": [list(pair) for pair in self.features], "join_keys": self.join_keys},
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, view: str, text: str | bytes) -> OnlineSchema:
        """The schema :meth:`to_json` wrote for ``view``."""
        data = json.loads(text)
        return cls(view, tuple(data["join_keys"]), tuple(map(tuple, data["features"])))

    def select(self, features: Sequence[str] | None) -> tuple[str, ...]:
        """The features a read returns: all of them for None, else ``features`` checked."""
        if features is None:
            return self.feature_names
        if isinstance(features, str):
            features = (features,)
        chosen = tuple(features)
        for name in chosen:
            if name not in self.types:
                raise InvalidValueError(
                    f"The feature view {self.view!r} has no feature {name!r}; it has "
                    f"{', '.join(map(repr, self.feature_names)) or 'none'}."
                    + did_you_mean(str(name), self.feature_names),
                    hint="Ask for features the view defines.",
                    view=self.view,
                    value=name,
                )
        return chosen


@dataclass(frozen=True)
class OnlineRow:
    """One entity's stored feature values.

    Attributes:
        values: Feature name -> value, of the declared type (None for null).
        event_time: The event time of the stored row (aware, UTC).
    """

    values: dict[str, Any]
    event_time: datetime.datetime


def encode_key_part(value: Any) -> str:
    """One key value as JSON: a quoted string or a decimal integer.

    Raises:
        InvalidValueError: ``value`` is not a string or an integer (bools and None included).
    """
    cls = value.__class__
    if cls is str:
        return encode_basestring_ascii(value)
    if cls is int:
        return int.__repr__(value)
    if isinstance(value, str):  # a str subclass, e.g. numpy.str_
        return encode_basestring_ascii(str(value))
    if not isinstance(value, bool):
        try:
            return int.__repr__(operator.index(value))  # int subclasses, numpy integers
        except TypeError:
            pass
    raise InvalidValueError(
        f"An entity key value must be a string or an integer. Got {value!r} "
        f"({type(value).__name__}).",
        hint="Pass the join key values as str or int, as they were materialised.",
        value=value,
    )


def encode_key(key: Sequence[Any], n_keys: int) -> str:
    """An entity key (one value per join key) as its JSON array text.

    Raises:
        InvalidValueError: ``key`` is a string, or has the wrong number of values.
    """
    # Tuples, the usual keys, skip the slow isinstance checks against the Sequence ABC.
    is_tuple = key.__class__ is tuple
    if (not is_tuple and (isinstance(key, str | bytes) or not isinstance(key, Sequence))) or len(
        key
    ) != n_keys:
        raise InvalidValueError(
            f"An entity key must be a sequence of {n_keys} value(s), one per join key. "
            f"Got {key!r}.",
            hint="Pass keys as tuples, e.g. [('JFK',), ('LGA',)] or [('JFK', 'AA')].",
            value=key,
        )
    if n_keys == 1:
        return "[" + encode_key_part(key[0]) + "]"
    return "[" + ",".join([encode_key_part(part) for part in key]) + "]"


def stored_positions(reader: OnlineSchema, names: Sequence[str], stored: OnlineSchema) -> list[int]:
    """Where each of ``names`` sits among the stored schema's features.

    A reader may be older or newer than what was materialised: it is served as long as the
    join keys are the same and every feature it asks for is stored under the same type.

    Raises:
        OnlineSchemaMismatchError: the join keys differ, or a feature is missing or stored
            under another type.
    """
    problems: list[str] = []
    if reader.join_keys != stored.join_keys:
        problems.append(
            f"join keys {list(stored.join_keys)} stored, {list(reader.join_keys)} asked"
        )
    positions: list[int] = []
    for name in names:
        have = stored.types.get(name)
        want = reader.types[name]
        if have is None:
            problems.append(f"{name!r} is not stored")
        elif have.arrow != want.arrow:
            problems.append(f"{name!r} is stored as {have.arrow}, asked as {want.arrow}")
        else:
            positions.append(stored.feature_names.index(name))
    if problems:
        raise OnlineSchemaMismatchError(
            f"The online store holds feature view {reader.view!r} under another schema: "
            f"{'; '.join(problems)}. Stored features: "
            f"{', '.join(f'{n} {t}' for n, t in stored.features) or 'none'}.",
            hint="Materialise the view again with this definition (it replaces the stored "
            "one), or read with the definition that was materialised.",
            view=reader.view,
        )
    return positions
