"""Model signatures, MLflow style: the input columns (and outputs) with their types.

Inferred from an input example (a pandas DataFrame): each column gets one of ``string``,
``long``, ``integer``, ``double``, ``float``, ``boolean``, ``datetime`` or ``binary``, and
is ``required`` unless the example has a missing value in it. An integer column with
missing values is ``double`` (pandas stores it as floats). The outputs come from the
model's predictions on the example.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..core import InvalidValueError

TYPES = ("string", "long", "integer", "double", "float", "boolean", "datetime", "binary")


class ColumnSpec(BaseModel):
    """One column of a signature."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(default=None, min_length=1, max_length=256)
    type: str
    required: bool = True
    shape: list[int] | None = None


class Signature(BaseModel):
    """A model's inputs and outputs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    inputs: list[ColumnSpec] = Field(default_factory=list)
    outputs: list[ColumnSpec] = Field(default_factory=list)


def check_signature(signature: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a signature given by hand; return it in its stored form.

    Raises:
        InvalidValueError: not ``{"inputs": [...], "outputs": [...]}`` of column specs with
            known types.
    """
    try:
        parsed = Signature.model_validate(dict(signature))
    except (ValidationError, TypeError, ValueError) as exc:
        raise InvalidValueError(
            f"A model signature is {{'inputs': [...], 'outputs': [...]}} of columns such as "
            f"{{'name': 'age', 'type': 'long'}}. Got {signature!r}: {exc}.",
            hint="Or pass input_example=<a DataFrame> and let conveyor infer it.",
        ) from None
    bad = [c.type for c in (*parsed.inputs, *parsed.outputs) if c.type not in TYPES]
    if bad:
        raise InvalidValueError(
            f"Signature column types must be one of {list(TYPES)}. Got {bad}.",
            hint="Use 'long' for 64-bit integers and 'double' for 64-bit floats.",
        )
    names = [c.name for c in parsed.inputs]
    if None in names or len(set(names)) != len(names):
        raise InvalidValueError(
            f"Every input column of a signature needs a distinct name. Got {names}.",
            hint="Name each input column once.",
        )
    return parsed.model_dump(mode="json", exclude_none=True)


def infer_signature(example: Any, predictions: Any = None) -> dict[str, Any]:
    """The signature of a model whose input looks like ``example`` (a pandas DataFrame) and
    whose output looks like ``predictions`` (if given).

    Raises:
        InvalidValueError: ``example`` is not a DataFrame, or a column has a type no
            signature type describes.
    """
    import pandas as pd

    if not isinstance(example, pd.DataFrame):
        raise InvalidValueError(
            f"input_example must be a pandas DataFrame. Got a {type(example).__name__}.",
            hint="Pass a few rows of the training data, e.g. X_train.head(5).",
        )
    signature: dict[str, Any] = {"inputs": _frame_columns(example, what="input_example")}
    if predictions is not None:
        signature["outputs"] = _outputs(predictions)
    return signature


def _frame_columns(frame: Any, *, what: str) -> list[dict[str, Any]]:
    columns = []
    for name, column in frame.items():
        if not isinstance(name, str):
            raise InvalidValueError(
                f"The columns of {what} must be named by strings. Got {name!r}.",
                hint="Rename them, e.g. df.columns = [str(c) for c in df.columns].",
            )
        columns.append(
            {
                "name": name,
                "type": column_type(column, name=name),
                "required": not bool(column.isna().any()),
            }
        )
    return columns


def column_type(column: Any, *, name: str) -> str:
    """The signature type of a pandas Series.

    Raises:
        InvalidValueError: no signature type describes it.
    """
    import pandas as pd

    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return column_type(column.astype(dtype.categories.dtype), name=name)
    kind = getattr(dtype, "kind", "O")
    if kind == "b":
        return "boolean"
    if kind in "iu":
        if column.isna().any():  # a nullable integer with gaps: pandas gives floats
            return "double"
        return "integer" if dtype.itemsize <= (4 if kind == "i" else 2) else "long"
    if kind == "f":
        return "float" if dtype.itemsize <= 4 else "double"
    if kind == "M":
        return "datetime"
    if kind in "OSU" or isinstance(dtype, pd.StringDtype):
        values = column.dropna()
        if all(isinstance(v, str) for v in values):
            return "string"
        if all(isinstance(v, bytes | bytearray) for v in values):
            return "binary"
        if all(isinstance(v, bool) for v in values):
            return "boolean"
    raise InvalidValueError(
        f"Column {name!r} has type {dtype} (values such as "
        f"{column.dropna().head(1).tolist()!r}), which a signature cannot describe; "
        f"supported types: {list(TYPES)}.",
        hint="Convert the column (e.g. to str or float) or pass signature= by hand.",
        column=name,
    )


def _outputs(predictions: Any) -> list[dict[str, Any]]:
    import numpy as np
    import pandas as pd

    if isinstance(predictions, pd.DataFrame):
        return _frame_columns(predictions, what="the predictions")
    if isinstance(predictions, pd.Series):
        spec: dict[str, Any] = {"type": column_type(predictions, name="prediction")}
        if isinstance(predictions.name, str):
            spec["name"] = predictions.name
        return [spec]
    array = np.asarray(predictions)
    if array.ndim == 0 or array.ndim > 2:
        return []
    flat = pd.Series(array.reshape(-1))
    spec = {"type": column_type(flat, name="prediction")}
    if array.ndim == 2:
        spec["shape"] = [-1, int(array.shape[1])]
    return [spec]


def prepare_input(signature: Mapping[str, Any], data: Any, *, model: str) -> Any:
    """``data`` as the model expects it: a DataFrame keeps the signature's input columns,
    in its order (extra columns dropped); anything else passes through.

    Raises:
        InvalidValueError: a required input column is missing (all of them named).
    """
    inputs: Sequence[Mapping[str, Any]] = signature.get("inputs") or ()
    if not inputs or not type(data).__module__.startswith("pandas") or not hasattr(data, "columns"):
        return data
    present = set(data.columns)
    missing = [c["name"] for c in inputs if c.get("required", True) and c["name"] not in present]
    if missing:
        raise InvalidValueError(
            f"The input for {model} lacks required column(s) {missing}; its signature "
            f"expects {[c['name'] for c in inputs]}.",
            hint="Add the missing columns (extra columns are ignored).",
            model=model,
        )
    return data[[c["name"] for c in inputs if c["name"] in present]]
