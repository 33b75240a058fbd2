"""Request data checked against a model's signature, MLflow's way, before the model sees it.

The protocol parsers hand over columns of plain values (lists from JSON or CSV) or typed
numpy arrays (Open Inference Protocol tensors); :func:`conform` returns a :class:`Batch`
whose columns are the signature's inputs, in its order, as numpy arrays, or raises one
:class:`InputError` that names every field at fault (up to :data:`MAX_ERRORS`).

MLflow's rules: a missing required column is an error, extra columns are dropped, and only
safe casts happen (an integer may become a long or a double, a float a double; never a
float a long, a string a number, a boolean a number or the reverse). A column that is not
``required`` may be missing or hold nulls, as far as its type can hold them: doubles take
NaN, strings and binaries ``None``, datetimes NaT; longs and booleans cannot, and MLflow's
advice holds (an integer column with missing values is a double).

Messages say what is wrong and what is expected; they never repeat a value from the request
(it may be large or secret) nor the whole signature.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain
from operator import itemgetter
from typing import Any, Final

import numpy as np

from ...core import InvalidValueError

MAX_ERRORS: Final = 20
"""At most this many field errors are collected for one request."""

# A double holds every integer up to 2**53 exactly; beyond that int -> double loses digits.
_EXACT_DOUBLE: Final = 2**53
_INT32: Final = (-(2**31), 2**31 - 1)
# datetime64[ns] spans 1677-09-21 to 2262-04-11; outside it numpy wraps around silently.
_NS_RANGE: Final = (np.datetime64("1677-09-22", "us"), np.datetime64("2262-04-10", "us"))
_MAX_NAME: Final = 64

_NONE: Final = type(None)
_DESCRIPTIONS: Final = {
    "long": "a long (64-bit integer)",
    "integer": "an integer (32-bit)",
    "double": "a double (a number)",
    "float": "a float (a number)",
    "boolean": "a boolean (true or false)",
    "string": "a string",
    "binary": "binary data (a base64 string)",
    "datetime": "a datetime (an ISO 8601 string such as 2024-05-01T12:00:00)",
}
_ACCEPTED: Final[dict[str, frozenset[type]]] = {
    "long": frozenset({int}),
    "integer": frozenset({int}),
    "double": frozenset({int, float}),
    "float": frozenset({int, float}),
    "boolean": frozenset({bool}),
    "string": frozenset({str}),
    "binary": frozenset({str, bytes}),
    "datetime": frozenset({str}),
}
_SEQUENCES: Final = frozenset({list, tuple})
_KIND_NAMES: Final = {"b": "booleans", "i": "integers", "u": "integers", "f": "floats"}

Cell = Callable[[str, int | None], str]


@dataclass(frozen=True, slots=True)
class FieldError:
    """One thing wrong with a request.

    Attributes:
        field: Where, as a path a client can act on (``dataframe_split.data[3][1]``,
            ``inputs[0].data``, ``age``).
        message: What is wrong and what is expected; never the value itself.
    """

    field: str
    message: str


class InputError(InvalidValueError):
    """A prediction request was refused; ``errors`` names every field at fault.

    ``status`` is the HTTP status it deserves: 400 malformed, 413 too many rows, 415 an
    unsupported media type, 422 data that fails the model's signature.
    """

    status: int
    errors: tuple[FieldError, ...]

    def __init__(
        self, errors: Sequence[FieldError], *, status: int = 422, hint: str | None = None
    ) -> None:
        kept = tuple(errors)[:MAX_ERRORS] or (FieldError("body", "is not a valid request"),)
        more = f" (and {len(kept) - 1} more)" if len(kept) > 1 else ""
        super().__init__(
            f"{kept[0].field}: {kept[0].message}{more}", hint=hint, status=status, errors=kept
        )


def input_error(field: str, message: str, *, status: int = 422) -> InputError:
    """An :class:`InputError` about one field."""
    return InputError((FieldError(field, message),), status=status)


def field_name(name: str) -> str:
    """A client-supplied name fit for an error's ``field``: long names are cut short."""
    return name if len(name) <= _MAX_NAME else name[: _MAX_NAME - 3] + "..."


@dataclass(frozen=True, slots=True)
class Batch:
    """Rows ready for a model: the signature's input columns, in its order, typed (int64,
    float64, bool, object for string and binary, datetime64[ns]); extra columns dropped, and
    optional columns the request left out absent."""

    columns: dict[str, np.ndarray]
    rows: int


def signature_inputs(signature: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """The input column specs of ``signature`` (none for ``None`` or a signature without
    named inputs)."""
    if not signature:
        return []
    inputs = signature.get("inputs") or []
    return [c for c in inputs if isinstance(c, Mapping) and c.get("name")]


def signature_names(signature: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The names of ``signature``'s input columns, in its order (read once per signature)."""
    return _plan(signature).names


def check_rows(rows: int, *, max_rows: int, where: str) -> None:
    """Refuse an empty batch (422) or one over ``max_rows`` (413)."""
    if rows == 0:
        raise input_error(where or "body", "the batch is empty; send at least one row")
    if rows > max_rows:
        raise input_error(
            where or "body",
            f"the batch has {rows} rows, over this server's limit of {max_rows}; "
            "split it into smaller requests",
            status=413,
        )


@dataclass(frozen=True, slots=True)
class _Column:
    name: str
    kind: str
    required: bool
    spec: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class _Plan:
    """A signature read once: its columns, and those of one type grouped, so a batch's
    columns of one type become one numpy array (one call, not one per column)."""

    columns: tuple[_Column, ...]
    names: tuple[str, ...]
    groups: tuple[tuple[str, tuple[str, ...], Callable[[Mapping[str, Any]], Any]], ...]


# Signatures are stored immutably, so each is read once; the key is its id, checked
# against the object itself (an id can be reused once the signature is gone).
_PLANS: dict[int, tuple[Mapping[str, Any], _Plan]] = {}
_MAX_PLANS: Final = 256
# The types whose columns of one batch are checked and converted together.
_GROUPED: Final = {
    "long": np.int64,
    "integer": np.int64,
    "double": np.float64,
    "float": np.float64,
    "boolean": np.bool_,
    "string": object,
}


def _plan(signature: Mapping[str, Any] | None) -> _Plan:
    if signature is None:
        return _Plan((), (), ())
    cached = _PLANS.get(id(signature))
    if cached is not None and cached[0] is signature:
        return cached[1]
    columns = tuple(
        _Column(spec["name"], spec.get("type", ""), bool(spec.get("required", True)), spec)
        for spec in signature_inputs(signature)
    )
    groups = []
    for kind in _GROUPED:
        names = tuple(c.name for c in columns if c.kind == kind)
        if names:
            get = itemgetter(*names)
            # itemgetter of one name returns the value, of several a tuple: make it a tuple
            groups.append((kind, names, get if len(names) > 1 else _one(get)))
    plan = _Plan(columns, tuple(c.name for c in columns), tuple(groups))
    if len(_PLANS) >= _MAX_PLANS:
        _PLANS.clear()
    _PLANS[id(signature)] = (signature, plan)
    return plan


def conform(
    signature: Mapping[str, Any] | None,
    columns: Mapping[str, Any],
    *,
    rows: int,
    max_rows: int,
    where: str = "",
    cell: Cell | None = None,
) -> Batch:
    """The batch ``columns`` make under ``signature``'s rules.

    Args:
        signature: The model's signature (``{"inputs": [...], ...}``); ``None`` or no inputs
            takes the columns as they come.
        columns: Column name to values: a list of JSON values or a 1-D numpy array.
        rows: How many rows the request holds; every column must have as many values.
        max_rows: Refuse more rows than this (413).
        where: The request field the columns came from, for error paths.
        cell: Error path of the value of column ``name`` at ``row`` (``row`` ``None`` for
            the column as a whole); defaults to ``where.name[row]``.

    Raises:
        InputError: the batch is empty or too large, or a column is missing, ragged, of the
            wrong type or holds nulls where its signature forbids them (all of them listed).
    """
    check_rows(rows, max_rows=max_rows, where=where)
    locate = cell or _default_cell(where)
    errors: list[FieldError] = []
    plan = _plan(signature)
    if not plan.columns:
        out: dict[str, np.ndarray] = {}
        for name, values in columns.items():
            array = _infer(values, name=name, rows=rows, cell=locate, errors=errors)
            if array is not None:
                out[name] = array
            if len(errors) >= MAX_ERRORS:
                break
        if errors:
            raise InputError(errors)
        return Batch(out, rows)
    done: dict[str, np.ndarray] = {}
    for kind, names, get in plan.groups:
        try:
            parts = get(columns)
        except KeyError:  # a column is missing: convert the others one by one
            continue
        _group(kind, names, parts, rows, done)
    for column in plan.columns:
        if column.name in done:
            continue
        values = columns.get(column.name)
        if values is None:
            if column.required:
                name = field_name(column.name)
                errors.append(
                    FieldError(
                        name,
                        f"required column '{name}' is missing; "
                        "add it to the request (extra columns are ignored)",
                    )
                )
        else:
            array = _typed(values, column.spec, rows=rows, cell=locate, errors=errors)
            if array is not None:
                done[column.name] = array
        if len(errors) >= MAX_ERRORS:
            break
    if errors:
        raise InputError(errors)
    return Batch({c.name: done[c.name] for c in plan.columns if c.name in done}, rows)


def _one(get: Callable[[Mapping[str, Any]], Any]) -> Callable[[Mapping[str, Any]], Any]:
    return lambda columns: (get(columns),)


def _group(
    kind: str,
    names: Sequence[str],
    parts: Sequence[Any],
    rows: int,
    done: dict[str, np.ndarray],
) -> None:
    """Convert the columns of one type at once, when every one of them is a list of
    ``rows`` values all of an accepted type and none null (the common case); leave the
    rest (all of them, if any value is doubtful) to the column-by-column check."""
    if not set(map(type, parts)) <= _SEQUENCES or set(map(len, parts)) != {rows}:
        return
    flat = parts[0] if len(parts) == 1 else list(chain.from_iterable(parts))
    kinds = set(map(type, flat))
    if not kinds <= _ACCEPTED[kind]:
        return
    if kind == "string":
        array = np.empty(len(flat), dtype=object)
        array[:] = flat
    else:
        try:
            array = np.array(flat, dtype=_GROUPED[kind])
        except OverflowError:
            return
        if kind == "integer" and (array.min() < _INT32[0] or array.max() > _INT32[1]):
            return
        # a float64 rounds 2**53 + 1 down to 2**53: anything that large is checked exactly
        if int in kinds and kind in ("double", "float") and np.abs(array).max() >= _EXACT_DOUBLE:
            return
    done.update(zip(names, array.reshape(len(names), rows)))  # noqa: B905 (sizes match; strict costs 1 µs)


def conform_matrix(
    signature: Mapping[str, Any] | None,
    matrix: Any,
    *,
    max_rows: int,
    where: str = "",
    cell: Callable[[int, int], str] | None = None,
) -> Batch:
    """The batch a 2-D input makes: its ``j``-th value of each row is the signature's
    ``j``-th input column.

    Args:
        matrix: A list of rows (lists of JSON values) or a 2-D numpy array.
        cell: Error path of the value at ``(row, position)``; defaults to
            ``where[row][position]``.

    Raises:
        InputError: the model has no signature, a row has the wrong number of values, or a
            value fails its column's rules.
    """
    inputs = signature_inputs(signature)
    where = where or "body"
    locate = cell or (lambda row, j: f"{where}[{row}][{j}]")
    if not inputs:
        raise input_error(
            where,
            "this model has no signature, so positional rows cannot be mapped to columns; "
            "send named columns (e.g. dataframe_split with 'columns', or dataframe_records)",
        )
    # Trailing optional columns may be left out: rows are as wide as the signature, or
    # stop anywhere after its last required column (all rows alike).
    needed = 1 + max((j for j, spec in enumerate(inputs) if spec.get("required", True)), default=0)
    width = len(inputs)
    if isinstance(matrix, list) and matrix and type(matrix[0]) is list:
        width = min(max(len(matrix[0]), needed), len(inputs))
    elif isinstance(matrix, np.ndarray) and matrix.ndim == 2:
        width = min(max(matrix.shape[1], needed), len(inputs))
    positions = {spec["name"]: j for j, spec in enumerate(inputs[:width])}

    def by_name(name: str, row: int | None) -> str:
        return locate(0 if row is None else row, positions[name])

    if isinstance(matrix, np.ndarray):
        if matrix.ndim != 2 or matrix.shape[1] != width:
            raise input_error(
                where,
                f"expected rows of {width} values (one per signature input, in its order); "
                f"got shape {list(matrix.shape)}",
            )
        check_rows(matrix.shape[0], max_rows=max_rows, where=where)
        columns: dict[str, Any] = {name: matrix[:, j] for name, j in positions.items()}
        return conform(
            signature, columns, rows=matrix.shape[0], max_rows=max_rows, where=where, cell=by_name
        )
    if not isinstance(matrix, list):
        raise input_error(where, "expected a list of rows", status=400)
    check_rows(len(matrix), max_rows=max_rows, where=where)
    errors = [
        FieldError(
            f"{where}[{i}]",
            f"expected a row of {width} values (one per signature input, in its order)",
        )
        for i, row in enumerate(matrix)
        if type(row) is not list or len(row) != width
    ]
    if errors:
        raise InputError(errors)
    columns = dict(zip(positions, zip(*matrix, strict=True), strict=True))
    return conform(
        signature, columns, rows=len(matrix), max_rows=max_rows, where=where, cell=by_name
    )


def _default_cell(where: str) -> Cell:
    prefix = f"{where}." if where else ""

    def locate(name: str, row: int | None) -> str:
        base = prefix + field_name(name)
        return base if row is None else f"{base}[{row}]"

    return locate


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    kind = type(value)
    if kind is bool:
        return "a boolean"
    if kind is int:
        return "an integer"
    if kind is float:
        return "a float"
    if kind is str:
        return "a string"
    if kind is list:
        return "an array"
    if kind is dict:
        return "an object"
    return f"a {kind.__name__}"


def _length_ok(values: Any, name: str, *, rows: int, cell: Cell, errors: list[FieldError]) -> bool:
    if len(values) == rows:
        return True
    errors.append(
        FieldError(cell(name, None), f"has {len(values)} values; every column needs {rows}")
    )
    return False


def _typed(
    values: Any,
    spec: Mapping[str, Any],
    *,
    rows: int,
    cell: Cell,
    errors: list[FieldError],
) -> np.ndarray | None:
    name: str = spec["name"]
    kind: str = spec.get("type", "")
    required: bool = spec.get("required", True)
    if isinstance(values, np.ndarray):
        if values.dtype.kind in "biuf":
            if not _length_ok(values, name, rows=rows, cell=cell, errors=errors):
                return None
            return _typed_array(values, name, kind, required=required, cell=cell, errors=errors)
        values = values.tolist()
    elif not isinstance(values, list | tuple):
        errors.append(FieldError(cell(name, None), "expected a list of values"))
        return None
    if not _length_ok(values, name, rows=rows, cell=cell, errors=errors):
        return None
    accepted = _ACCEPTED.get(kind)
    if accepted is None:  # a signature type this server does not know: pass values through
        return np.array(values, dtype=object)
    kinds = set(map(type, values))
    has_null = _NONE in kinds
    if not kinds <= accepted | {_NONE}:
        _wrong_type(values, name, kind, accepted, cell=cell, errors=errors)
        return None
    if has_null and (required or kind in ("long", "integer", "boolean")):
        _nulls(values, name, kind, required=required, cell=cell, errors=errors)
        return None
    if kind in ("long", "integer"):
        return _ints(values, name, kind, cell=cell, errors=errors)
    if kind in ("double", "float"):
        array = np.array(values, dtype=np.float64)
        if int in kinds:
            _exact_ints(values, array, name, kind, cell=cell, errors=errors)
        return array
    if kind == "boolean":
        return np.array(values, dtype=bool)
    if kind == "string":
        array = np.empty(rows, dtype=object)
        array[:] = values
        return array
    if kind == "binary":
        return _binary(values, name, cell=cell, errors=errors)
    return _datetimes(values, name, cell=cell, errors=errors)


def _typed_array(
    values: np.ndarray,
    name: str,
    kind: str,
    *,
    required: bool,
    cell: Cell,
    errors: list[FieldError],
) -> np.ndarray | None:
    have = values.dtype.kind
    expected = _DESCRIPTIONS.get(kind, kind)
    if kind in ("long", "integer") and have in "iu":
        array = values.astype(np.int64)
        if have == "u" and values.size and values.max() > np.iinfo(np.int64).max:
            errors.append(FieldError(cell(name, None), f"a value is too large for {expected}"))
            return None
        if (
            kind == "integer"
            and array.size
            and (array.min() < _INT32[0] or array.max() > _INT32[1])
        ):
            errors.append(FieldError(cell(name, None), f"a value is out of range for {expected}"))
            return None
        return array
    if kind in ("double", "float") and have in "iuf":
        array = values.astype(np.float64)
        if have == "f":
            missing = np.isnan(array)
            if required and missing.any():
                row = int(np.argmax(missing))
                errors.append(
                    FieldError(cell(name, row), "null where a value is required; send a number")
                )
                return None
        elif values.size and (values.max() > _EXACT_DOUBLE or values.min() < -_EXACT_DOUBLE):
            errors.append(
                FieldError(
                    cell(name, None),
                    f"an integer beyond 2^53 cannot be {expected} exactly; send it as a float",
                )
            )
            return None
        return array
    if kind == "boolean" and have == "b":
        return values.astype(bool)
    got = _KIND_NAMES.get(have, "values")
    errors.append(
        FieldError(
            cell(name, None),
            f"expected {expected}; got {got}, and only safe casts are made "
            "(integer to long or double, float to double)",
        )
    )
    return None


def _wrong_type(
    values: Sequence[Any],
    name: str,
    kind: str,
    accepted: frozenset[type],
    *,
    cell: Cell,
    errors: list[FieldError],
) -> None:
    bad = [i for i, v in enumerate(values) if v is not None and type(v) not in accepted]
    first = values[bad[0]]
    more = f" ({len(bad)} values in this column)" if len(bad) > 1 else ""
    why = ""
    if kind in ("long", "integer") and type(first) is float:
        why = "; a float is never cast to an integer (send double in the signature for decimals)"
    elif type(first) is str and kind in ("long", "integer", "double", "float", "boolean"):
        why = "; strings are not converted to numbers or booleans"
    elif type(first) in (list, dict):
        why = "; nested values are not accepted"
    errors.append(
        FieldError(
            cell(name, bad[0]), f"expected {_DESCRIPTIONS[kind]}; got {_describe(first)}{why}{more}"
        )
    )


def _nulls(
    values: Sequence[Any],
    name: str,
    kind: str,
    *,
    required: bool,
    cell: Cell,
    errors: list[FieldError],
) -> None:
    bad = [i for i, v in enumerate(values) if v is None]
    more = f" ({len(bad)} nulls in this column)" if len(bad) > 1 else ""
    if required:
        message = f"null where a value is required; send {_DESCRIPTIONS[kind]}{more}"
    else:
        message = (
            f"null in a {kind} column, which cannot hold missing values{more}; a column with "
            "missing values should be a double in the signature"
        )
    errors.append(FieldError(cell(name, bad[0]), message))


def _ints(
    values: Sequence[Any], name: str, kind: str, *, cell: Cell, errors: list[FieldError]
) -> np.ndarray | None:
    low, high = (-(2**63), 2**63 - 1) if kind == "long" else _INT32
    try:
        array = np.array(values, dtype=np.int64)
    except OverflowError:
        array = None
    if array is not None and (
        kind == "long" or not array.size or (array.min() >= low and array.max() <= high)
    ):
        return array
    row = next(i for i, v in enumerate(values) if not low <= v <= high)
    errors.append(FieldError(cell(name, row), f"out of range for {_DESCRIPTIONS[kind]}"))
    return None


def _exact_ints(
    values: Sequence[Any],
    array: np.ndarray,
    name: str,
    kind: str,
    *,
    cell: Cell,
    errors: list[FieldError],
) -> None:
    finite = array[~np.isnan(array)]
    if not finite.size or np.abs(finite).max() < _EXACT_DOUBLE:
        return
    for row, value in enumerate(values):
        if type(value) is int and abs(value) > _EXACT_DOUBLE:
            errors.append(
                FieldError(
                    cell(name, row),
                    f"an integer beyond 2^53 cannot be {_DESCRIPTIONS[kind]} exactly; "
                    "send it as a float",
                )
            )
            return


def _binary(
    values: Sequence[Any], name: str, *, cell: Cell, errors: list[FieldError]
) -> np.ndarray | None:
    array = np.empty(len(values), dtype=object)
    for row, value in enumerate(values):
        if type(value) is str:
            try:
                array[row] = binascii.a2b_base64(value, strict_mode=True)
            except (binascii.Error, ValueError):
                errors.append(FieldError(cell(name, row), "expected a base64 string"))
                return None
        else:
            array[row] = value
    return array


def _datetimes(
    values: Sequence[Any], name: str, *, cell: Cell, errors: list[FieldError]
) -> np.ndarray | None:
    parsed: list[datetime | None] = []
    for row, value in enumerate(values):
        if value is None:
            parsed.append(None)
            continue
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            errors.append(FieldError(cell(name, row), f"expected {_DESCRIPTIONS['datetime']}"))
            return None
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        parsed.append(moment)
    micros = np.array(parsed, dtype="datetime64[us]")
    valid = micros[~np.isnat(micros)]
    if valid.size and (valid.min() < _NS_RANGE[0] or valid.max() > _NS_RANGE[1]):
        row = next(
            i
            for i, m in enumerate(micros)
            if not np.isnat(m) and not _NS_RANGE[0] <= m <= _NS_RANGE[1]
        )
        errors.append(FieldError(cell(name, row), "a datetime outside the years 1678-2261"))
        return None
    return micros.astype("datetime64[ns]")


def _infer(
    values: Any, *, name: str, rows: int, cell: Cell, errors: list[FieldError]
) -> np.ndarray | None:
    """A column's array when there is no signature: one JSON type per column (nulls
    allowed), no nesting."""
    if isinstance(values, np.ndarray):
        if values.ndim != 1:
            errors.append(FieldError(cell(name, None), "expected one value per row"))
            return None
        if not _length_ok(values, name, rows=rows, cell=cell, errors=errors):
            return None
        return values
    if not isinstance(values, list | tuple):
        errors.append(FieldError(cell(name, None), "expected a list of values"))
        return None
    if not _length_ok(values, name, rows=rows, cell=cell, errors=errors):
        return None
    kinds = set(map(type, values))
    has_null = _NONE in kinds
    kinds.discard(_NONE)
    nested = kinds & {list, dict}
    if nested:
        row = next(i for i, v in enumerate(values) if type(v) in nested)
        errors.append(
            FieldError(cell(name, row), "nested values are not accepted; send one scalar per cell")
        )
        return None
    if not kinds or kinds <= {int, float}:
        if kinds == {int} and not has_null:
            try:
                return np.array(values, dtype=np.int64)
            except OverflowError:
                row = next(i for i, v in enumerate(values) if not -(2**63) <= v < 2**63)
                errors.append(FieldError(cell(name, row), "an integer beyond 64 bits"))
                return None
        return np.array(values, dtype=np.float64)
    if kinds == {bool} and not has_null:
        return np.array(values, dtype=bool)
    if len(kinds) == 1 and kinds <= {str, bool}:
        array = np.empty(rows, dtype=object)
        array[:] = values
        return array
    errors.append(
        FieldError(
            cell(name, None),
            "mixes value types (e.g. numbers and strings); send one type per column",
        )
    )
    return None
