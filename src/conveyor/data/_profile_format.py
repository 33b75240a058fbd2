"""The JSON format of profiles: its version, and the checks that read it back.

``to_dict()`` writes strict JSON (non-finite floats as ``"NaN"``/``"Infinity"`` strings,
sketches as base64) with a ``format`` key. Readers accept every format up to
:data:`PROFILE_FORMAT`, so a later conveyor reads profiles stored by an earlier one, and
say which field is wrong in anything else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, get_args

from ..core import InvalidValueError, did_you_mean
from . import _sketch as sk

ColumnKind = Literal["numeric", "categorical", "boolean", "temporal", "other"]
KINDS: tuple[str, ...] = get_args(ColumnKind)
HAS_SKETCH = ("numeric", "temporal")
HAS_COUNTS = ("categorical", "boolean")
PROFILE_FORMAT = 1


def field_of(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in data:
        raise InvalidValueError(
            f"The {where} has no {key!r} field; it has {sorted(data)}.",
            hint="Pass the output of to_dict() unchanged.",
        )
    value: Any = data[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        expected = kind.__name__ if isinstance(kind, type) else "/".join(t.__name__ for t in kind)
        raise InvalidValueError(f"The {where} field {key!r} must be {expected}. Got {value!r}.")
    if kind is int and isinstance(value, int) and value < 0:
        raise InvalidValueError(f"The {where} field {key!r} must be >= 0. Got {value}.")
    return value


def check_format(data: Any, what: str) -> None:
    """Refuse non-dicts and formats newer than this conveyor reads."""
    if not isinstance(data, Mapping):
        got = type(data).__name__
        raise InvalidValueError(f"A {what} must be a dict from to_dict(). Got {got}.")
    version = field_of(data, "format", int, what)
    if not 1 <= version <= PROFILE_FORMAT:
        raise InvalidValueError(
            f"The {what} has format {version}; this conveyor reads formats 1 to {PROFILE_FORMAT}.",
            hint="Upgrade conveyor to read profiles written by a newer version.",
        )


def column_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of ``ColumnProfile`` that ``data`` describes, checked."""
    check_format(data, "column profile")
    name = field_of(data, "name", str, "column profile")
    where = f"profile of column {name!r}"
    kind = field_of(data, "kind", str, where)
    if kind not in KINDS:
        raise InvalidValueError(
            f"The {where} has kind {kind!r}; expected one of {list(KINDS)}."
            f"{did_you_mean(kind, KINDS)}"
        )
    fields: dict[str, Any] = {
        "name": name,
        "kind": kind,
        "arrow_type": field_of(data, "arrow_type", str, where),
        "n_rows": field_of(data, "n_rows", int, where),
        "n_null": field_of(data, "n_null", int, where),
        "n_nan": field_of(data, "n_nan", int, where),
    }
    if fields["n_null"] + fields["n_nan"] > fields["n_rows"]:
        raise InvalidValueError(
            f"The {where} counts more nulls and NaNs ({fields['n_null'] + fields['n_nan']}) "
            f"than rows ({fields['n_rows']})."
        )
    if kind in HAS_SKETCH:
        numbers = field_of(data, "numbers", dict, where)
        sketch = numbers.get("sketch")
        fields |= {
            "min": sk.read_json_float(numbers.get("min"), f"{where}: numbers.min"),
            "max": sk.read_json_float(numbers.get("max"), f"{where}: numbers.max"),
            "mean": sk.read_json_float(numbers.get("mean"), f"{where}: numbers.mean"),
            "m2": float(sk.read_json_float(numbers.get("m2", 0.0), f"{where}: numbers.m2") or 0.0),
            "quantile_sketch": None
            if sketch is None
            else sk.b64decode(sketch, f"{where}: numbers.sketch"),
            "sampling_variance": field_of(numbers, "sampling_variance", int, f"{where}: numbers"),
        }
        if fields["quantile_sketch"] is not None:
            kll = sk.kll_from_bytes(fields["quantile_sketch"], f"{where}: numbers.sketch")
            n_values = fields["n_rows"] - fields["n_null"] - fields["n_nan"]
            if kll.n != n_values:
                raise InvalidValueError(
                    f"The {where} has a quantile sketch of {kll.n} values but counts "
                    f"{n_values} values."
                )
    if "distinct" in data:
        distinct = field_of(data, "distinct", dict, where)
        k = field_of(distinct, "k", int, f"{where}: distinct")
        raw = sk.b64decode(distinct.get("hashes"), f"{where}: distinct.hashes")
        if len(sk.kmv_from_bytes(raw, f"{where}: distinct.hashes")) > k:
            raise InvalidValueError(f"The {where} keeps more than k={k} distinct hashes.")
        fields |= {"distinct_sketch": raw, "distinct_k": k}
    if kind in HAS_COUNTS:
        categories = field_of(data, "categories", dict, where)
        values = field_of(categories, "values", list, f"{where}: categories")
        counts = field_of(categories, "counts", list, f"{where}: categories")
        value_type = bool if kind == "boolean" else str
        if (
            len(values) != len(counts)
            or not all(isinstance(v, value_type) for v in values)
            or not all(isinstance(c, int) and not isinstance(c, bool) and c > 0 for c in counts)
        ):
            raise InvalidValueError(
                f"The {where} needs as many category values ({value_type.__name__}) as "
                f"positive integer counts; got {len(values)} values and {len(counts)} counts."
            )
        fields |= {
            "values": tuple(values),
            "counts": tuple(counts),
            "count_error": field_of(categories, "error", int, f"{where}: categories"),
            "max_categories": field_of(categories, "capacity", int, f"{where}: categories"),
        }
    return fields
