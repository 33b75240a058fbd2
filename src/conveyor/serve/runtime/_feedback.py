"""Feedback: the ground-truth labels of predictions, arriving late, joined by prediction id.

Labels are upserts keyed by (project, prediction id): sending the same label twice changes
nothing, and a corrected label replaces the old one. Each label is stored with the time
inside its prediction id (a UUIDv7), so monitoring can window labels by when the
prediction was made without reading the log. A batch is all or nothing: every item is
checked before one transaction writes them all.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ... import store as st
from ...core import InvalidValueError, NotFoundError, did_you_mean
from ._ids import prediction_time_ms

if TYPE_CHECKING:
    import pyarrow as pa

    from ...workspace import Workspace

__all__ = ["FEEDBACK_FORMATS", "FeedbackResult", "ingest_feedback", "record_feedback"]

# File extensions ingest_feedback reads, by format.
FEEDBACK_FORMATS: dict[str, str] = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}


@dataclass(frozen=True, slots=True)
class FeedbackResult:
    """What a feedback call stored.

    Attributes:
        n_upserted: Labels written (distinct prediction ids; a repeated id counts once,
            its last label wins).
        deployment: The deployment the labels were recorded for, if one was given.
    """

    n_upserted: int
    deployment: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _label(value: Any, where: str) -> Any:
    """``value`` as a JSON scalar (str, int, float, bool), or an error naming ``where``."""
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()  # a numpy scalar
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    shown = "missing (null)" if value is None else repr(value)[:80]
    raise InvalidValueError(
        f"{where}: 'label' must be a JSON scalar (a string, a finite number or a boolean). "
        f"Got {shown}.",
        hint='Send one ground-truth value per prediction, e.g. {"prediction_id": ..., "label": 1}.',
    )


def _rows(pairs: Iterable[tuple[Any, Any]], what: str) -> list[tuple[str, Any, int]]:
    """Checked (id, label, prediction time) rows; the last label of a repeated id wins."""
    rows: dict[str, tuple[str, Any, int]] = {}
    for i, (prediction_id, label) in enumerate(pairs):
        where = f"{what} {i}"
        if not isinstance(prediction_id, str):
            raise InvalidValueError(
                f"{where}: 'prediction_id' must be a prediction id (text). "
                f"Got {'nothing' if prediction_id is None else repr(prediction_id)[:80]}.",
                hint="Use the id the prediction service returned with the prediction.",
            )
        try:
            ts = prediction_time_ms(prediction_id)
        except InvalidValueError as exc:
            raise InvalidValueError(f"{where}: {exc.message}", hint=exc.hint) from None
        rows.pop(prediction_id, None)  # re-insert: keeps the last occurrence's order
        rows[prediction_id] = (prediction_id, _label(label, where), ts)
    return list(rows.values())


def _pairs(items: Iterable[Mapping[str, Any]]) -> Iterable[tuple[Any, Any]]:
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise InvalidValueError(
                f"Feedback item {i} must be an object with 'prediction_id' and 'label'. "
                f"Got {type(item).__name__}.",
            )
        for key in ("prediction_id", "label"):
            if key not in item:
                raise InvalidValueError(
                    f"Feedback item {i} has no {key!r}: it needs 'prediction_id' and 'label'."
                    f"{did_you_mean(key, [str(k) for k in item])}",
                    hint='Send e.g. {"prediction_id": "0192...", "label": 1}.',
                )
        yield item["prediction_id"], item["label"]


def record_feedback(
    ws: Workspace,
    items: Iterable[Mapping[str, Any]],
    *,
    deployment: str | None = None,
) -> FeedbackResult:
    """Store ground-truth labels: ``items`` of ``{"prediction_id": ..., "label": ...}``.

    All or nothing: if any item is invalid, nothing is written and the error names the
    item's index and field. Sending a label again is idempotent; a new label for an id
    replaces the old one.

    Raises:
        InvalidValueError: an item is not an object, lacks a field, has an id that is not
            a prediction id, or a label that is not a JSON scalar.
        NotFoundError: no deployment ``deployment``.
    """
    rows = _rows(_pairs(items), "Feedback item")
    n = st.upsert_feedback(ws.store, rows, deployment=deployment)
    return FeedbackResult(n_upserted=n, deployment=deployment)


def _read(path: Path, id_column: str) -> pa.Table:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.json as pajson
    import pyarrow.parquet as pq

    fmt = FEEDBACK_FORMATS.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(FEEDBACK_FORMATS))
        raise InvalidValueError(
            f"Cannot tell the format of feedback file {str(path)!r} from its extension "
            f"{path.suffix!r}; expected one of {known}.",
            hint="Rename the file with its format's extension, e.g. labels.csv.",
        )
    if not path.is_file():
        raise NotFoundError(
            f"No feedback file {str(path)!r}.",
            hint="Check the path (relative paths start from the current directory).",
        )
    try:
        if fmt == "csv":
            # Ids are text even when a column of them looks like something else.
            options = pacsv.ConvertOptions(column_types={id_column: pa.string()})
            return pacsv.read_csv(path, convert_options=options)
        if fmt == "parquet":
            return pq.read_table(path)
        return pajson.read_json(path)
    except (pa.ArrowException, OSError) as exc:
        raise InvalidValueError(
            f"Cannot read feedback file {str(path)!r} as {fmt.upper()}: "
            f"{str(exc).strip().splitlines()[0] if str(exc) else type(exc).__name__}.",
            hint=f"Check that the file is valid {fmt.upper()} with a header naming its columns.",
        ) from None


def ingest_feedback(
    ws: Workspace,
    path: str | os.PathLike[str],
    *,
    deployment: str | None = None,
    id_column: str = "prediction_id",
    label_column: str = "label",
) -> FeedbackResult:
    """Store the labels in a CSV, Parquet or JSON Lines file (by extension), one row per
    prediction: ``id_column`` holds the prediction id, ``label_column`` the label.

    All or nothing, as :func:`record_feedback`; errors name the file's row (0-based).

    Raises:
        NotFoundError: no such file, or no deployment ``deployment``.
        InvalidValueError: the extension is unknown, the file cannot be read, a column is
            missing, or a row's id or label is invalid.

    Example:
        >>> ingest_feedback(ws, "labels.csv", deployment="churn").n_upserted  # doctest: +SKIP
        100000
    """
    file = Path(path)
    table = _read(file, id_column)
    for role, column in (("id", id_column), ("label", label_column)):
        if column not in table.column_names:
            flag = "--id-column" if role == "id" else "--label-column"
            raise InvalidValueError(
                f"Feedback file {str(file)!r} has no {role} column {column!r}; its columns "
                f"are {', '.join(map(repr, table.column_names)) or 'none'}."
                f"{did_you_mean(column, table.column_names)}",
                hint=f"Name the {role} column with {flag}.",
            )
    ids = table.column(id_column).cast("string")
    pairs = zip(ids.to_pylist(), table.column(label_column).to_pylist(), strict=True)
    rows = _rows(pairs, f"Feedback file {str(file)!r}, row")
    n = st.upsert_feedback(ws.store, rows, deployment=deployment)
    return FeedbackResult(n_upserted=n, deployment=deployment)
