"""The prediction protocols on the wire: request bytes to a :class:`~conveyor.serve.runtime.Batch`
and predictions back to bytes, for MLflow's scoring server (``/invocations``), the Open
Inference Protocol v2 (``/v2/models/{name}/infer``) and KServe v1 (``:predict``).

Pure functions, no web framework: the app reads the body and the headers, calls a ``parse_*``
function, runs the model and renders the answer in the protocol the request used. Every
refusal is one :class:`~conveyor.serve.runtime.InputError` with a status and the fields at
fault, rendered by :func:`._render.render_error`; nothing a client sends raises anything else.

JSON goes through orjson, which refuses ``NaN``/``Infinity`` literals, invalid UTF-8 and
nesting deeper than 1024 levels. It keeps the last of duplicate keys silently, so duplicates
are looked for separately: counting ``":`` in the body against the keys parsed settles it
for ordinary bodies at the cost of one byte scan, and only a body that count cannot settle
(a key followed by spaces, an escaped quote before a colon, keys in ignored fields) is parsed
again with a duplicate-detecting hook.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any, Final, Literal, NamedTuple

import numpy as np
import orjson

from ..runtime._inputs import (
    Batch,
    FieldError,
    InputError,
    check_rows,
    conform,
    conform_matrix,
    field_name,
    input_error,
    signature_inputs,
    signature_names,
)

ProtocolName = Literal["mlflow", "oip", "kserve_v1"]

_MLFLOW_FORMS: Final = ("dataframe_split", "dataframe_records", "instances", "inputs")
_SPLIT_KEYS: Final = frozenset({"columns", "data", "index"})
_OIP_KEYS: Final = frozenset({"name", "shape", "datatype", "data", "parameters"})
_WS_COLON: Final = re.compile(rb'"[ \t\r\n]+:')
_NUMBER: Final = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_INTEGER: Final = re.compile(r"[+-]?\d+")

# OIP datatype -> the Python types its JSON data may hold, and the numpy dtype it becomes.
_OIP_INTS: Final = {
    "INT8": (-(2**7), 2**7 - 1),
    "INT16": (-(2**15), 2**15 - 1),
    "INT32": (-(2**31), 2**31 - 1),
    "INT64": (-(2**63), 2**63 - 1),
    "UINT8": (0, 2**8 - 1),
    "UINT16": (0, 2**16 - 1),
    "UINT32": (0, 2**32 - 1),
    "UINT64": (0, 2**63 - 1),  # kept as int64: a larger value is refused
}
_OIP_FLOATS: Final = frozenset({"FP16", "FP32", "FP64"})
_OIP_TYPES: Final = frozenset({"BOOL", "BYTES", *_OIP_INTS, *_OIP_FLOATS})
_INT_TYPES: Final = frozenset({int})
_OIP_ACCEPTED: Final = {
    "BYTES": frozenset({str, type(None)}),
    "BOOL": frozenset({bool}),
    **{datatype: frozenset({int, float, type(None)}) for datatype in _OIP_FLOATS},
}


@dataclass(frozen=True, slots=True)
class Parsed:
    """A prediction request, understood.

    Attributes:
        batch: The rows for the model.
        protocol: The protocol the request spoke; answer in it.
        params: MLflow ``params`` or OIP ``parameters`` (without ``content_type``).
        request_id: The OIP request ``id``, echoed in the answer.
    """

    batch: Batch
    protocol: ProtocolName
    params: dict[str, Any]
    request_id: str | None


# --- requests ---------------------------------------------------------------------------


def parse_invocations(
    body: bytes, content_type: str | None, signature: Mapping[str, Any] | None, *, max_rows: int
) -> Parsed:
    """An MLflow scoring request: a JSON object with exactly one of ``dataframe_split``,
    ``dataframe_records``, ``instances`` or ``inputs`` (and optional ``params``), or CSV.

    Raises:
        InputError: 415 for another media type, 400 for a malformed body, 413 for too many
            rows, 422 for data that fails the signature.
    """
    media = _media_type(content_type)
    if media == "text/csv":
        return Parsed(_parse_csv(body, signature, max_rows=max_rows), "mlflow", {}, None)
    if media != "application/json":
        raise input_error(
            "Content-Type",
            "this endpoint takes application/json or text/csv",
            status=415,
        )
    doc = _loads(body)
    if type(doc) is not dict:
        raise _envelope("body", "expected a JSON object")
    forms = [form for form in _MLFLOW_FORMS if form in doc]
    unknown = [key for key in doc if key not in _MLFLOW_FORMS and key != "params"]
    if unknown:
        raise _envelope(field_name(unknown[0]), "unknown key; send only an input form and params")
    if len(forms) != 1:
        raise _envelope(
            "body",
            "expected exactly one of dataframe_split, dataframe_records, instances or inputs; "
            f"got {len(forms)}",
        )
    params = doc.get("params", {})
    if type(params) is not dict:
        raise _envelope("params", "expected an object of parameter names to values")
    form = forms[0]
    batch, keys = _mlflow_form(form, doc[form], signature, max_rows=max_rows)
    _check_duplicate_keys(body, len(doc) + _count_keys(params) + keys)
    return Parsed(batch, "mlflow", params, None)


def parse_kserve_v1(body: bytes, signature: Mapping[str, Any] | None, *, max_rows: int) -> Parsed:
    """A KServe v1 ``:predict`` request: ``{"instances": [...]}``, records or rows.

    Raises:
        InputError: 400 for a malformed body, 413 for too many rows, 422 for data that fails
            the signature.
    """
    doc = _loads(body)
    if type(doc) is not dict:
        raise _envelope("body", 'expected a JSON object such as {"instances": [...]}')
    forms = [form for form in ("instances", "inputs") if form in doc]
    if len(forms) != 1:
        raise _envelope("instances", 'expected exactly one of "instances" or "inputs"')
    form = forms[0]
    batch, keys = _mlflow_form(form, doc[form], signature, max_rows=max_rows)
    extra = sum(_count_keys(value) for key, value in doc.items() if key != form)
    _check_duplicate_keys(body, len(doc) + keys + extra)
    return Parsed(batch, "kserve_v1", {}, None)


def parse_oip(body: bytes, signature: Mapping[str, Any] | None, *, max_rows: int) -> Parsed:
    """An Open Inference Protocol v2 infer request: one input per column (``parameters``
    ``{"content_type": "pd"}``, strings as ``BYTES``), or one 2-D numeric input mapped
    through the signature's column order.

    Raises:
        InputError: 400 for a malformed body or tensor, 413 for too many rows, 422 for
            data that fails the signature or its own datatype and shape.
    """
    doc = _loads(body)
    if type(doc) is not dict:
        raise _envelope("body", 'expected a JSON object such as {"inputs": [...]}')
    request_id = doc.get("id")
    if request_id is not None and type(request_id) is not str:
        raise _envelope("id", "expected a string")
    parameters = doc.get("parameters", {})
    if type(parameters) is not dict:
        raise _envelope("parameters", "expected an object")
    inputs = doc.get("inputs")
    if type(inputs) is not list or not inputs:
        raise _envelope("inputs", "expected a non-empty list of input tensors")
    tensors = [_tensor(i, tensor, max_rows=max_rows) for i, tensor in enumerate(inputs)]
    pandas_form = parameters.get("content_type") == "pd"
    names = signature_names(signature)
    first = tensors[0]
    if (
        len(tensors) == 1
        and len(first.shape) == 2
        and not pandas_form
        and (first.shape[1] != 1 or first.name not in names)
    ):
        batch = _oip_matrix(first, signature, max_rows=max_rows)
    else:
        batch = _oip_columns(tensors, signature, max_rows=max_rows)
    keys = len(doc) + sum(t.keys for t in tensors)
    keys += _count_keys(parameters) + sum(
        _count_keys(v) for k, v in doc.items() if k not in ("inputs", "parameters")
    )
    _check_duplicate_keys(body, keys)
    params = {k: v for k, v in parameters.items() if k != "content_type"}
    return Parsed(batch, "oip", params, request_id)


def _media_type(content_type: str | None) -> str:
    if not content_type:
        raise input_error("Content-Type", "missing; send application/json or text/csv", status=415)
    media, _, rest = content_type.partition(";")
    for parameter in rest.split(";"):
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "charset" and value.strip().strip('"').lower() not in (
            "utf-8",
            "utf8",
        ):
            raise input_error("Content-Type", "only the utf-8 charset is accepted", status=415)
    return media.strip().lower()


def _envelope(field: str, message: str) -> InputError:
    return input_error(field, message, status=400)


def _loads(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise _envelope("body", _json_problem(bytes(body), exc)) from None


def _json_problem(body: bytes, exc: orjson.JSONDecodeError) -> str:
    where = f" (at byte {exc.pos})"
    ahead = body[exc.pos : exc.pos + 9].lstrip(b"-")
    if ahead.startswith((b"NaN", b"Infinity", b"nan", b"inf")):
        return f"NaN and Infinity are not JSON{where}; send null for a missing value"
    if "depth" in exc.msg:
        return "is nested deeper than 1024 levels"
    if "UTF-8" in exc.msg:
        return f"is not valid UTF-8{where}"
    if "empty" in exc.msg:
        return "is empty; send a JSON object"
    if "infinity" in exc.msg:
        return f"holds a number too large for a double{where}"
    return f"is not valid JSON: {exc.msg}{where}"


def _count_keys(value: Any) -> int:
    """How many keys the JSON objects in ``value`` hold, all levels (iterative: orjson
    allows 1024 levels, more than Python's recursion limit)."""
    count = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if type(item) is dict:
            count += len(item)
            stack.extend(v for v in item.values() if type(v) in (dict, list))
        elif type(item) is list:
            stack.extend(v for v in item if type(v) in (dict, list))
    return count


class _DuplicateKeyError(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _check_duplicate_keys(body: bytes, keys: int) -> None:
    """Refuse a body with a key twice in one object; ``keys`` is how many keys the parsed
    document holds (an undercount only costs the slow path).

    Inside a JSON string a quote is always escaped, so when no quote-colon is escaped and
    no key is followed by white space, every ``":`` ends a key: their count is the number of
    keys in the text, and the text holds a duplicate exactly if it exceeds ``keys``.
    """
    if body.count(b'":') == keys and b'\\":' not in body and _WS_COLON.search(body) is None:
        return

    def unique(pairs: list[tuple[str, Any]]) -> None:
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKeyError(key)
            seen.add(key)

    try:
        json.loads(body, object_pairs_hook=unique)
    except _DuplicateKeyError as exc:
        raise _envelope(
            field_name(exc.key), "appears twice in one JSON object; send each key once"
        ) from None
    except (ValueError, RecursionError):  # orjson accepted it; json never should refuse it
        raise _envelope("body", "is not valid JSON") from None


def _mlflow_form(
    form: str, value: Any, signature: Mapping[str, Any] | None, *, max_rows: int
) -> tuple[Batch, int]:
    """The batch of one MLflow input form and how many JSON keys it holds."""
    if form == "dataframe_split":
        return _split(value, signature, max_rows=max_rows)
    if form == "dataframe_records":
        return _records(value, signature, max_rows=max_rows, where=form)
    if type(value) is dict:
        return _columnar(value, signature, max_rows=max_rows, where=form)
    if type(value) is not list:
        raise _envelope(form, "expected a list of records or rows, or an object of columns")
    check_rows(len(value), max_rows=max_rows, where=form)
    head = type(value[0])
    if head is dict:
        return _records(value, signature, max_rows=max_rows, where=form)
    if head is list:
        return conform_matrix(signature, value, max_rows=max_rows, where=form), 0
    inputs = signature_inputs(signature)
    if len(inputs) == 1:
        name = inputs[0]["name"]
        columns = {name: value}
        batch = conform(
            signature,
            columns,
            rows=len(value),
            max_rows=max_rows,
            cell=lambda _, row: form if row is None else f"{form}[{row}]",
        )
        return batch, 0
    raise input_error(
        f"{form}[0]", "expected an object (a record) or an array (a row) per instance"
    )


def _split(value: Any, signature: Mapping[str, Any] | None, *, max_rows: int) -> tuple[Batch, int]:
    where = "dataframe_split"
    if type(value) is not dict:
        raise _envelope(where, 'expected an object such as {"columns": [...], "data": [...]}')
    unknown = [key for key in value if key not in _SPLIT_KEYS]
    if unknown:
        raise _envelope(f"{where}.{field_name(unknown[0])}", "unknown key; expected columns, data")
    data = value.get("data")
    if type(data) is not list:
        raise _envelope(f"{where}.data", "expected a list of rows")
    keys = len(value) + _count_keys(value.get("index"))
    columns = value.get("columns")
    if columns is None:
        batch = conform_matrix(signature, data, max_rows=max_rows, where=f"{where}.data")
        return batch, keys
    if type(columns) is not list or set(map(type, columns)) - {str}:
        raise _envelope(f"{where}.columns", "expected a list of column names (strings)")
    check_rows(len(data), max_rows=max_rows, where=f"{where}.data")
    position = {name: j for j, name in enumerate(columns)}
    width = len(columns)
    if len(position) != width or set(map(type, data)) != {list} or set(map(len, data)) != {width}:
        _split_shape_errors(columns, data, where)

    def cell(name: str, row: int | None) -> str:
        j = position[name]
        return f"{where}.columns[{j}]" if row is None else f"{where}.data[{row}][{j}]"

    named = dict(zip(columns, zip(*data, strict=True), strict=False)) if width else {}
    batch = conform(signature, named, rows=len(data), max_rows=max_rows, where=where, cell=cell)
    return batch, keys


def _split_shape_errors(columns: list[str], data: list[Any], where: str) -> None:
    seen: set[str] = set()
    errors = []
    for j, name in enumerate(columns):
        if name in seen:
            errors.append(
                FieldError(f"{where}.columns[{j}]", "names a column twice; name each column once")
            )
        seen.add(name)
    width = len(columns)
    errors += [
        FieldError(f"{where}.data[{i}]", f"expected a row of {width} values, one per column")
        for i, row in enumerate(data)
        if type(row) is not list or len(row) != width
    ]
    raise InputError(errors)


def _records(
    value: Any, signature: Mapping[str, Any] | None, *, max_rows: int, where: str
) -> tuple[Batch, int]:
    if type(value) is not list:
        raise _envelope(where, "expected a list of records (objects of column to value)")
    check_rows(len(value), max_rows=max_rows, where=where)
    bad = [i for i, record in enumerate(value) if type(record) is not dict]
    if bad:
        raise InputError(
            [FieldError(f"{where}[{i}]", "expected an object of column to value") for i in bad]
        )
    inputs = signature_names(signature)
    if inputs:
        first = value[0]
        names = [
            name
            for name in inputs
            if name in first or (len(value) > 1 and any(name in record for record in value))
        ]
    elif len(value) == 1:
        names = list(value[0])
    else:
        names = list(dict.fromkeys(key for record in value for key in record))
    columns = {name: [record.get(name) for record in value] for name in names}

    def cell(name: str, row: int | None) -> str:
        base = f"{where}[{0 if row is None else row}]"
        return f"{base}.{field_name(name)}"

    batch = conform(signature, columns, rows=len(value), max_rows=max_rows, where=where, cell=cell)
    return batch, sum(map(len, value))


def _columnar(
    value: dict[str, Any], signature: Mapping[str, Any] | None, *, max_rows: int, where: str
) -> tuple[Batch, int]:
    lengths = [len(v) for v in value.values() if type(v) is list]
    if not lengths:
        raise input_error(where, "expected an object of column name to a list of values")
    return conform(signature, value, rows=lengths[0], max_rows=max_rows, where=where), len(value)


# --- CSV ----------------------------------------------------------------------------------


def _parse_csv(body: bytes, signature: Mapping[str, Any] | None, *, max_rows: int) -> Batch:
    try:
        text = bytes(body).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _envelope("body", f"is not valid UTF-8 (at byte {exc.start})") from None
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")), strict=True)
    rows: list[list[str]] = []
    try:
        header = next(reader, None)
        for line in reader:
            if line:
                rows.append(line)
                if len(rows) > max_rows:
                    break
    except csv.Error:
        raise _envelope("body", f"is not valid CSV (line {reader.line_num})") from None
    if not header:
        raise _envelope("body", "expected a header line naming the columns")
    check_rows(len(rows), max_rows=max_rows, where="csv")
    position: dict[str, int] = {}
    errors = []
    for j, name in enumerate(header):
        if name in position:
            errors.append(FieldError(f"csv.header[{j}]", "names a column twice"))
        position[name] = j
    errors += [
        FieldError(f"csv[{i}]", f"expected {len(header)} values, one per column")
        for i, row in enumerate(rows)
        if len(row) != len(header)
    ]
    if errors:
        raise InputError(errors)
    types = {spec["name"]: spec.get("type", "") for spec in signature_inputs(signature)}
    columns = {
        name: [_csv_value(v, types.get(name) if types else None) for v in column]
        for name, column in zip(header, zip(*rows, strict=True), strict=True)
        if not types or name in types
    }
    return conform(
        signature,
        columns,
        rows=len(rows),
        max_rows=max_rows,
        cell=lambda name, row: f"csv.{field_name(name)}" if row is None else f"csv[{row}].{name}",
    )


def _csv_value(text: str, kind: str | None) -> Any:
    """A CSV cell as the JSON value it stands for: numbers and booleans where the column
    (or, without a signature, the cell) looks like one; an empty cell is missing."""
    if text == "":
        return None
    if kind in ("string", "binary", "datetime"):
        return text
    if kind in (None, "boolean") and text.lower() in ("true", "false"):
        return text.lower() == "true"
    if kind != "boolean" and _NUMBER.fullmatch(text):
        if _INTEGER.fullmatch(text):
            return int(text)
        number = float(text)
        return number if number not in (float("inf"), float("-inf")) else text
    return text


# --- Open Inference Protocol tensors -----------------------------------------------------


class _Tensor(NamedTuple):
    at: int
    name: str
    shape: tuple[int, ...]
    datatype: str
    data: Any  # a list of JSON values, or a numpy array
    keys: int


def _tensor(index: int, tensor: Any, *, max_rows: int) -> _Tensor:
    if type(tensor) is dict:
        name = tensor.get("name")
        shape = tensor.get("shape")
        datatype = tensor.get("datatype")
        data = tensor.get("data")
        if (
            type(name) is str
            and name
            and type(shape) is list
            and len(shape) == 1
            and type(shape[0]) is int
            and 0 < shape[0] <= max_rows
            and datatype in _OIP_TYPES
            and type(data) is list
            and len(data) == shape[0]
            and "parameters" not in tensor
            and (not data or type(data[0]) is not list)
        ):  # the common column tensor, checked in one go
            where = f"inputs[{index}]"
            return _Tensor(
                index, name, (shape[0],), datatype, _typed_data(data, datatype, where), len(tensor)
            )
    return _checked_tensor(index, tensor, max_rows=max_rows)


def _checked_tensor(index: int, tensor: Any, *, max_rows: int) -> _Tensor:
    where = f"inputs[{index}]"
    if type(tensor) is not dict:
        raise _envelope(where, "expected an object with name, shape, datatype and data")
    name = tensor.get("name")
    shape = tensor.get("shape")
    datatype = tensor.get("datatype")
    if type(name) is not str or not name:
        raise _envelope(f"{where}.name", "expected a non-empty string")
    if type(shape) is not list or set(map(type, shape)) != {int} or min(shape) < 0:
        raise _envelope(f"{where}.shape", "expected a list of non-negative integers")
    if len(shape) > 2:
        raise input_error(f"{where}.shape", "expected [rows] or [rows, columns] for tabular data")
    if datatype not in _OIP_TYPES:
        raise _envelope(f"{where}.datatype", "expected an OIP datatype such as FP64 or BYTES")
    parameters = tensor.get("parameters")
    keys = len(tensor)
    if parameters is not None:
        if type(parameters) is not dict:
            raise _envelope(f"{where}.parameters", "expected an object")
        keys += _count_keys(parameters)
    check_rows(shape[0], max_rows=max_rows, where=f"{where}.shape")
    data = tensor.get("data")
    if type(data) is not list:
        raise _envelope(f"{where}.data", "expected a list of values")
    if data and type(data[0]) is list:
        data = _flatten(data, shape, where=f"{where}.data")
    size = shape[0] * shape[1] if len(shape) == 2 else shape[0]
    if len(data) != size:
        raise input_error(
            f"{where}.data", f"holds {len(data)} values; shape {list(shape)} needs {size}"
        )
    return _Tensor(index, name, tuple(shape), datatype, _typed_data(data, datatype, where), keys)


def _flatten(data: list[Any], shape: Sequence[int], *, where: str) -> list[Any]:
    width = shape[1] if len(shape) == 2 else 1
    if len(data) != shape[0] or any(type(row) is not list or len(row) != width for row in data):
        raise input_error(where, f"nested data must follow the shape {list(shape)}")
    return list(chain.from_iterable(data))


def _typed_data(flat: list[Any], datatype: str, where: str) -> Any:
    """``flat`` checked against ``datatype``: as a list where the signature check will see
    the same types (and convert it), as a float array where JSON integers stand for floats
    (an FP64 tensor is floats, whatever its JSON looks like)."""
    kinds = set(map(type, flat))
    accepted = _OIP_ACCEPTED.get(datatype, _INT_TYPES)
    if not kinds <= accepted:
        row = next(i for i, v in enumerate(flat) if type(v) not in accepted)
        value = flat[row]
        got = "null" if value is None else _kind(value)
        raise input_error(f"{where}.data[{row}]", f"datatype {datatype} cannot hold {got}")
    if datatype in _OIP_FLOATS:
        return flat if int not in kinds else np.array(flat, dtype=np.float64)
    if datatype in _OIP_INTS and flat:
        low, high = _OIP_INTS[datatype]
        if min(flat) < low or max(flat) > high:
            row = next(i for i, v in enumerate(flat) if not low <= v <= high)
            raise input_error(f"{where}.data[{row}]", f"out of range for datatype {datatype}")
    return flat


def _kind(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a float", str: "a string"}
    return names.get(type(value), "an array" if type(value) is list else "an object")


def _oip_matrix(tensor: _Tensor, signature: Mapping[str, Any] | None, *, max_rows: int) -> Batch:
    rows, width = tensor.shape
    where = f"inputs[{tensor.at}].data"
    if isinstance(tensor.data, np.ndarray):
        matrix: Any = tensor.data.reshape(rows, width)
    else:
        matrix = [tensor.data[r * width : (r + 1) * width] for r in range(rows)]
    return conform_matrix(
        signature,
        matrix,
        max_rows=max_rows,
        where=where,
        cell=lambda row, j: f"{where}[{row * width + j}]",
    )


def _oip_columns(
    tensors: Sequence[_Tensor], signature: Mapping[str, Any] | None, *, max_rows: int
) -> Batch:
    position = {tensor.name: tensor.at for tensor in tensors}
    rows = tensors[0].shape[0]
    if len(position) != len(tensors) or any(
        tensor.shape != (rows,) and tensor.shape != (rows, 1) for tensor in tensors
    ):
        _column_tensor_errors(tensors)

    def cell(name: str, row: int | None) -> str:
        where = f"inputs[{position[name]}]"
        return where if row is None else f"{where}.data[{row}]"

    columns = {tensor.name: tensor.data for tensor in tensors}
    return conform(signature, columns, rows=rows, max_rows=max_rows, where="inputs", cell=cell)


def _column_tensor_errors(tensors: Sequence[_Tensor]) -> None:
    errors = []
    position: dict[str, int] = {}
    for tensor in tensors:
        where = f"inputs[{tensor.at}]"
        if tensor.name in position:
            errors.append(FieldError(f"{where}.name", "names a column twice; send each once"))
        position[tensor.name] = tensor.at
        if len(tensor.shape) == 2 and tensor.shape[1] != 1:
            errors.append(
                FieldError(f"{where}.shape", "a column input has shape [rows] or [rows, 1]")
            )
        elif tensor.shape[0] != tensors[0].shape[0]:
            errors.append(
                FieldError(f"{where}.shape", "every column input needs the same number of rows")
            )
    raise InputError(errors)


# --- responses ----------------------------------------------------------------------------
