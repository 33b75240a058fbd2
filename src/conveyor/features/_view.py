"""``FeatureView``: named, typed features of an entity over time, read from a source.

A view says which rows hold the features (its ``source``: a dataset's latest snapshot, or
any source ``conveyor.data`` reads), how to find an entity's value at a time (the
``entities`` join keys and the ``timestamp`` event-time column), how long a value stays
valid (``ttl``), and optionally how to compute the features from the source's rows
(``transform``, a function of a pyarrow Table). The same transform runs for training data
(offline retrieval) and for the online store (materialisation), so both see the same
values for the same entity and time.

Views are defined at the top level of the project's pipeline modules (``[pipelines]
modules``), beside the pipelines that use them.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import inspect
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..core import InvalidValueError, parse_duration, validate_name

if TYPE_CHECKING:
    import pyarrow as pa

Transform = Callable[["pa.Table"], "pa.Table"]

# The Arrow types a feature may declare (what the online store can hold exactly).
FEATURE_TYPES = (
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "float",
    "double",
    "string",
    "date32[day]",
    "timestamp[us]",
    "timestamp[us, tz=UTC]",
)
_ALIASES = {
    "float64": "double",
    "float32": "float",
    "str": "string",
    "int": "int64",
    "boolean": "bool",
    "date": "date32[day]",
    "timestamp": "timestamp[us, tz=UTC]",
}


@dataclass(frozen=True)
class FeatureView:
    """Features of an entity over time.

    Args:
        name: The view's name (features are addressed as ``name:feature``).
        entities: The join key column(s) naming an entity, e.g. ``["origin"]``.
        timestamp: The event-time column: when each row's values became true.
        features: Feature name to Arrow type (``double``, ``int64``, ``string``, ``bool``,
            ``timestamp[us, tz=UTC]`` ...), as the view's rows hold them after ``transform``.
        source: Where the rows come from: a dataset name (its latest snapshot is read), or
            a path, glob or URL that ``conveyor.data.make_source`` reads.
        ttl: How long a value stays valid, e.g. ``"2h"`` (None: forever). A value exactly
            ``ttl`` old is still served, as in Feast.
        transform: Optional function from the source's rows (a pyarrow Table) to the view's
            rows; it must keep the entity and timestamp columns.
        description: A line about the view.

    Example:
        >>> weather = FeatureView(
        ...     name="weather",
        ...     entities=["origin"],
        ...     timestamp="time_hour",
        ...     features={"temp": "double", "wind_speed": "double"},
        ...     source="weather",
        ...     ttl="2h",
        ... )
    """

    name: str
    entities: Sequence[str]
    timestamp: str
    features: Mapping[str, str]
    source: str
    ttl: str | float | datetime.timedelta | None = None
    transform: Transform | None = field(default=None, compare=False)
    description: str = ""

    def __post_init__(self) -> None:
        validate_name(self.name, what="feature view name")
        if isinstance(self.entities, str):
            object.__setattr__(self, "entities", (self.entities,))
        entities = tuple(self.entities)
        if not entities:
            raise self._error("needs at least one entity column", "entities=['origin']")
        features = {str(k): _feature_type(self.name, str(k), v) for k, v in self.features.items()}
        if not features:
            raise self._error("declares no features", "features={'temp': 'double'} names one")
        clash = set(features) & ({*entities, self.timestamp})
        if clash:
            raise self._error(
                f"has feature(s) {sorted(clash)} that are also its entity or timestamp columns",
                "rename the feature, or drop it from features",
            )
        if not isinstance(self.source, str) or not self.source:
            raise self._error(
                f"needs a source: a dataset name or a path/URL. Got {self.source!r}",
                "source='weather' (a dataset) or source='data/weather.parquet'",
            )
        if self.transform is not None and not callable(self.transform):
            raise self._error(
                f"has a transform that is not callable ({type(self.transform).__name__})",
                "pass a function taking and returning a pyarrow Table",
            )
        object.__setattr__(self, "entities", entities)
        object.__setattr__(self, "features", features)
        object.__setattr__(self, "ttl", _ttl(self.name, self.ttl))

    def _error(self, problem: str, fix: str) -> InvalidValueError:
        return InvalidValueError(
            f"Feature view {self.name!r} {problem}.", hint=f"For example: {fix}.", view=self.name
        )

    @property
    def ttl_delta(self) -> datetime.timedelta | None:
        """The TTL as a timedelta (None: values never expire)."""
        return self.ttl if isinstance(self.ttl, datetime.timedelta) else None

    def definition(self) -> dict[str, Any]:
        """What the view is, JSON-ready: recorded in the metadata store and in lineage."""
        ttl = self.ttl_delta
        return {
            "name": self.name,
            "entities": list(self.entities),
            "timestamp": self.timestamp,
            "features": dict(self.features),
            "source": self.source,
            "ttl_seconds": None if ttl is None else ttl.total_seconds(),
            "transform": _code_of(self.transform),
            "description": self.description,
        }

    @functools.cached_property
    def digest(self) -> str:
        """sha256 of :meth:`definition`: a changed view (code included) is a new digest.

        Computed once per view object: it reads the transform's source file, and the
        serving path asks for it on every lookup."""
        body = json.dumps(self.definition(), sort_keys=True).encode()
        return hashlib.sha256(body).hexdigest()


def _feature_type(view: str, name: str, declared: Any) -> str:
    validate_name(name, what=f"feature name in view {view!r}")
    text = _ALIASES.get(str(declared), str(declared))
    if text not in FEATURE_TYPES:
        from ..core import did_you_mean

        raise InvalidValueError(
            f"Feature {name!r} of view {view!r} has type {declared!r}; expected one of "
            f"{', '.join(FEATURE_TYPES)}.{did_you_mean(str(declared), FEATURE_TYPES)}",
            hint="Declare the Arrow type the view's rows hold, e.g. 'double' or 'int64'.",
            view=view,
        )
    return text


def _ttl(view: str, value: Any) -> datetime.timedelta | None:
    if value is None or isinstance(value, datetime.timedelta):
        seconds = None if value is None else value.total_seconds()
    else:
        try:
            seconds = parse_duration(value, what="ttl")
        except ValueError as exc:
            raise InvalidValueError(
                f"The ttl of feature view {view!r} is invalid: {exc}.",
                hint="Use a duration such as '2h' or '7d', or None for no limit.",
                view=view,
            ) from None
    if seconds is None:
        return None
    if seconds <= 0:
        raise InvalidValueError(
            f"The ttl of feature view {view!r} must be positive. Got {value!r}.",
            hint="Use a duration such as '2h', or None for no limit.",
            view=view,
        )
    return datetime.timedelta(seconds=seconds)


def _code_of(transform: Transform | None) -> str | None:
    """The transform's source text, so a changed transform changes the view's digest."""
    if transform is None:
        return None
    try:
        return inspect.getsource(transform)
    except (OSError, TypeError):
        return f"{getattr(transform, '__module__', '?')}.{getattr(transform, '__qualname__', '?')}"


def parse_feature_refs(
    refs: Sequence[str], views: Mapping[str, FeatureView]
) -> dict[str, tuple[str, ...]]:
    """``["weather:temp", "weather:wind_speed", "airport"]`` -> {view: features}; a bare
    view name takes all its features. Order is kept.

    Raises:
        NotFoundError: an unknown view or feature (with the closest name).
        InvalidValueError: an empty list, or a reference with more than one ``:``.
    """
    from ..core import NotFoundError, did_you_mean

    if not refs:
        raise InvalidValueError(
            "No features asked for.", hint="Name some, e.g. ['weather:temp'] or ['weather']."
        )
    chosen: dict[str, list[str]] = {}
    for ref in refs:
        view_name, _, feature = str(ref).partition(":")
        if ":" in feature:
            raise InvalidValueError(
                f"A feature reference is 'view:feature' or 'view'. Got {ref!r}.",
                hint="e.g. 'weather:temp'",
            )
        view = views.get(view_name)
        if view is None:
            raise NotFoundError(
                f"No feature view {view_name!r}.{did_you_mean(view_name, views)}",
                hint="List them with: conveyor features list",
                view=view_name,
            )
        names = [feature] if feature else list(view.features)
        for name in names:
            if name not in view.features:
                raise NotFoundError(
                    f"Feature view {view_name!r} has no feature {name!r}."
                    f"{did_you_mean(name, view.features)}",
                    hint=f"Its features: {', '.join(view.features)}",
                    view=view_name,
                )
            if name not in chosen.setdefault(view_name, []):
                chosen[view_name].append(name)
    return {view: tuple(names) for view, names in chosen.items()}
