"""Provisional codecs (replaced by the full MLflow / Open Inference / KServe v1 codecs)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import orjson

from ..runtime._inputs import Batch, InputError


@dataclass(frozen=True, slots=True)
class Parsed:
    batch: Batch
    protocol: Literal["mlflow", "oip", "kserve_v1"]
    params: dict[str, Any]
    request_id: str | None


def _split(doc: Any, signature: Any) -> Batch:
    split = doc["dataframe_split"]
    cols = split["columns"]
    data = split["data"]
    columns = {c: np.array([row[i] for row in data], dtype=float) for i, c in enumerate(cols)}
    return Batch(columns=columns, rows=len(data))


def parse_invocations(
    body: bytes, content_type: str | None, signature: Any, *, max_rows: int
) -> Parsed:
    try:
        return Parsed(_split(orjson.loads(body), signature), "mlflow", {}, None)
    except Exception as exc:
        raise InputError(f"bad request: {exc}") from None


def parse_oip(body: bytes, signature: Any, *, max_rows: int) -> Parsed:
    raise InputError("not yet")


def parse_kserve_v1(body: bytes, signature: Any, *, max_rows: int) -> Parsed:
    raise InputError("not yet")


def render_mlflow(predictions: np.ndarray, *, ids: Sequence[str], version: int) -> bytes:
    return orjson.dumps(
        {"predictions": predictions, "model_version": str(version), "prediction_ids": list(ids)},
        option=orjson.OPT_SERIALIZE_NUMPY,
    )


def render_oip(
    predictions: np.ndarray, *, model: str, version: int, ids: Sequence[str], request_id: str | None
) -> bytes:
    return b"{}"


def render_kserve_v1(predictions: np.ndarray, *, ids: Sequence[str], version: int) -> bytes:
    return render_mlflow(predictions, ids=ids, version=version)


def render_error(error: Any, protocol: str) -> bytes:
    return orjson.dumps({"error_code": "BAD_REQUEST", "message": str(error)})


def oip_metadata(model: str, versions: Sequence[str], signature: Any) -> bytes:
    return orjson.dumps({"name": model, "versions": list(versions)})
