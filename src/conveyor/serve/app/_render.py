"""The prediction protocols on the wire, outbound: predictions, errors and model metadata
as bytes in the protocol a request used (see :mod:`._protocols` for the inbound side).

NaN and infinities in predictions become JSON ``null``: the answer is always valid JSON.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np
import orjson

from ..runtime._inputs import InputError, signature_inputs

_OPT: Final = orjson.OPT_SERIALIZE_NUMPY
_SIGNATURE_TO_OIP: Final = {
    "string": "BYTES",
    "binary": "BYTES",
    "datetime": "BYTES",
    "long": "INT64",
    "integer": "INT32",
    "double": "FP64",
    "float": "FP32",
    "boolean": "BOOL",
}
_ERROR_CODES: Final = {413: "REQUEST_LIMIT_EXCEEDED"}


def render_mlflow(predictions: Any, *, ids: Sequence[str], version: int) -> bytes:
    """MLflow's answer: ``{"predictions": [...], "model_version": "3", "prediction_ids": [...]}``;
    NaN and infinities become ``null``."""
    return _dumps(
        {
            "predictions": _values(predictions),
            "model_version": str(version),
            "prediction_ids": list(ids),
        }
    )


def render_kserve_v1(predictions: Any, *, ids: Sequence[str], version: int) -> bytes:
    """KServe v1's answer: ``{"predictions": [...]}`` with the version and prediction ids."""
    return render_mlflow(predictions, ids=ids, version=version)


def render_oip(
    predictions: Any,
    *,
    model: str,
    version: int,
    ids: Sequence[str],
    request_id: str | None,
) -> bytes:
    """The Open Inference Protocol's answer: one output tensor ``predict`` (data flat, row
    major), the request's ``id`` echoed and the prediction ids under ``parameters``."""
    array = np.asarray(predictions)
    if array.ndim == 0:
        array = array.reshape(1)
    answer: dict[str, Any] = {"model_name": model, "model_version": str(version)}
    if request_id is not None:
        answer["id"] = request_id
    answer["outputs"] = [
        {
            "name": "predict",
            "datatype": _oip_datatype(array.dtype),
            "shape": list(array.shape),
            "data": _values(array.reshape(-1)),
        }
    ]
    answer["parameters"] = {"prediction_ids": list(ids)}
    return _dumps(answer)


def render_error(error: InputError, protocol: str) -> bytes:
    """The body of a refusal in ``protocol``'s shape, with every field at fault: MLflow's
    ``{"error_code", "message"}``, OIP's and KServe's ``{"error"}``, each plus ``errors``."""
    errors = [{"field": e.field, "message": e.message} for e in error.errors]
    if protocol == "mlflow":
        code = _ERROR_CODES.get(error.status, "BAD_REQUEST")
        return orjson.dumps({"error_code": code, "message": error.message, "errors": errors})
    return orjson.dumps({"error": error.message, "errors": errors})


def oip_metadata(model: str, versions: Sequence[str], signature: Mapping[str, Any] | None) -> bytes:
    """``GET /v2/models/{name}``: the model's inputs and outputs as OIP tensors (strings as
    ``BYTES``), from its signature."""
    inputs = [
        {
            "name": spec["name"],
            "datatype": _SIGNATURE_TO_OIP.get(spec.get("type", ""), "BYTES"),
            "shape": [-1],
        }
        for spec in signature_inputs(signature)
    ]
    outputs = [
        {
            "name": spec.get("name") or "predict",
            "datatype": _SIGNATURE_TO_OIP.get(spec.get("type", ""), "BYTES"),
            "shape": list(spec.get("shape") or [-1]),
        }
        for spec in ((signature or {}).get("outputs") or [])
        if isinstance(spec, Mapping)
    ]
    return orjson.dumps(
        {
            "name": model,
            "versions": [str(v) for v in versions],
            "platform": "conveyor",
            "inputs": inputs,
            "outputs": outputs or [{"name": "predict", "datatype": "BYTES", "shape": [-1]}],
            "parameters": {"content_type": "pd"},
        }
    )


def _values(predictions: Any) -> Any:
    """Predictions in a form orjson writes: numeric arrays as they are (its numpy support),
    anything else as Python values."""
    array = np.asarray(predictions)
    if array.dtype.kind in "biuf" and array.dtype.isnative and array.dtype.itemsize <= 8:
        return np.ascontiguousarray(array)
    if array.dtype.kind == "M":
        return np.datetime_as_string(array).tolist()
    return array.tolist()


def _dumps(document: Any) -> bytes:
    return orjson.dumps(document, option=_OPT, default=_default)


def _default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def _oip_datatype(dtype: np.dtype[Any]) -> str:
    if dtype.kind == "b":
        return "BOOL"
    if dtype.kind in "iu":
        return f"{'U' if dtype.kind == 'u' else ''}INT{dtype.itemsize * 8}"
    if dtype.kind == "f":
        return f"FP{dtype.itemsize * 8}"
    return "BYTES"
