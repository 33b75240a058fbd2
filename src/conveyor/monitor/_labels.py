"""The labels of a deployment's predictions, as arrays beside a window of its log.

Labels are stored as JSON (``1``, ``"churned"``, ``true``, ``2.5``); a window compares them
with what the model answered, so each is cast to the type of the window's
``outputs.prediction`` (``"1"`` to ``1`` for an integer classifier, ``1`` to ``"1"`` for a
string one, ``1`` or ``0`` to a boolean). A label that cannot be cast, or that is not one
of a classifier's classes, stops the run with an error naming its prediction id: a
corrected label sent again replaces it.

Everything is vectorised over pyarrow arrays: the window's rows find their label by
``index_in`` on the prediction ids, never by a loop over rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import store as st
from ..core import InvalidValueError

if TYPE_CHECKING:
    import pyarrow as pa

    from ..workspace import Workspace

_FIX = (
    "Send the right label for that prediction again (POST /feedback, or conveyor feedback "
    "ingest): a new label replaces the old one."
)


@dataclass(frozen=True)
class Labels:
    """The labels of predictions made in a span of time, in arrays aligned by row, in the
    order of their predictions' times.

    Attributes:
        ids: The prediction ids (strings).
        values: The labels as stored (one Arrow type, or strings when the JSON mixed types).
        received_ms: When each label was first received (Unix ms).
        prediction_ms: When its prediction was made (Unix ms, ascending).
    """

    ids: pa.Array
    values: pa.Array
    received_ms: pa.Array
    prediction_ms: pa.Array

    @property
    def n(self) -> int:
        return len(self.ids)

    def between(self, start_ms: int, end_ms: int) -> Labels:
        """The labels of predictions made in [``start_ms``, ``end_ms``): a slice, found by
        bisection (a window need not hash every label of the run's span)."""
        import numpy as np

        times = self.prediction_ms.to_numpy(zero_copy_only=False)
        first, last = np.searchsorted(times, [start_ms, end_ms], side="left").tolist()
        n = last - first
        return Labels(
            self.ids.slice(first, n),
            self.values.slice(first, n),
            self.received_ms.slice(first, n),
            self.prediction_ms.slice(first, n),
        )


def read_labels(ws: Workspace, since_ms: int, until_ms: int) -> Labels:
    """The project's labels of predictions made in [``since_ms``, ``until_ms``] (whatever
    deployment they were sent for: a window's rows pick theirs by id)."""
    import pyarrow as pa

    # By prediction time, then id: what Labels.between bisects on.
    records = st.list_feedback(ws.store, since_ms=since_ms, until_ms=until_ms)
    labels = [r.label for r in records]
    return Labels(
        ids=pa.array([r.prediction_id for r in records], pa.string()),
        values=_as_array(labels),
        received_ms=pa.array([r.received_at for r in records], pa.int64()),
        prediction_ms=pa.array([r.prediction_ts for r in records], pa.int64()),
    )


def _as_array(labels: list[Any]) -> pa.Array:
    """JSON scalars as one Arrow array; strings (``1``/``0`` for booleans, which cast to
    a number or a boolean alike) when they mix types that Arrow cannot hold together."""
    import pyarrow as pa

    if not labels:
        return pa.array([], pa.string())
    try:
        return pa.array(labels)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([_text(v) for v in labels], pa.string())


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True)
class WindowLabels:
    """A window's rows' labels: which rows have one, the label (cast to the prediction's
    type; the prediction itself where there is none) and when it was received (ms)."""

    labelled: pa.Array
    labels: pa.Array
    received_ms: pa.Array


def window_labels(
    rows: pa.Table,
    labels: Labels,
    *,
    classes: Sequence[Any] | None = None,
    version: str = "",
) -> WindowLabels:
    """The labels of a window's ``rows`` (a flat log table), cast to the type of its
    ``outputs.prediction``.

    Args:
        classes: A classifier's classes: a label outside them is refused.
        version: The model version, for messages (``models:/churn/3``).

    Raises:
        InvalidValueError: A label cannot be compared with the predictions (naming the
            prediction id, the label and the type or classes expected).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    ids = rows.column("prediction_id").combine_chunks()
    predicted = rows.column("outputs.prediction").combine_chunks()
    where = pc.index_in(ids, value_set=labels.ids)
    labelled = where.is_valid()
    raw = labels.values.take(where)
    cast = _cast(raw, predicted.type, ids, labelled, version)
    if classes is not None:
        _check_classes(cast, labelled, ids, classes, version)
    filled = pc.if_else(labelled, cast, predicted)
    received = labels.received_ms.take(where)
    return WindowLabels(labelled=labelled, labels=filled, received_ms=received.cast(pa.int64()))


def _cast(raw: pa.Array, target: pa.DataType, ids: pa.Array, mask: pa.Array, version: str) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    if raw.type == target:
        return raw
    values = raw.filter(mask)
    numeric = pa.types.is_integer(raw.type) or pa.types.is_floating(raw.type)
    if pa.types.is_boolean(target) and numeric:
        # Arrow reads any non-zero number as true; only 0 and 1 mean a boolean.
        bad = pc.invert(pc.is_in(values, value_set=pa.array([0, 1], raw.type)))
        if pc.any(bad).as_py():
            _refuse(raw, ids, mask, pc.index(bad, True).as_py(), f"a boolean ({target})", version)
    try:
        return pc.cast(raw, target, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        pass
    # Which label failed: try each distinct labelled value (an error path; few values).
    for value in pc.unique(values).to_pylist():
        try:
            pc.cast(pa.array([value], raw.type), target, safe=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            position = pc.index(values, pa.scalar(value, raw.type)).as_py()
            _refuse(raw, ids, mask, position, f"of type {target}", version)
    raise AssertionError("a cast failed but no single label does")  # pragma: no cover


def _refuse(
    raw: pa.Array, ids: pa.Array, mask: pa.Array, position: int, expected: str, version: str
) -> None:
    """Raise for the ``position``-th labelled row."""
    import numpy as np

    row = int(np.flatnonzero(mask.to_numpy(zero_copy_only=False))[position])
    label = raw[row].as_py()
    raise InvalidValueError(
        f"The label of prediction {ids[row].as_py()} is {label!r}, which cannot be compared "
        f"with the predictions of {version or 'the model'}: they are {expected}.",
        hint=_FIX,
        value=label,
    )


def _check_classes(
    labels: pa.Array, mask: pa.Array, ids: pa.Array, classes: Sequence[Any], version: str
) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc

    known = pa.array(list(classes)).cast(labels.type)
    values = labels.filter(mask)
    outside = pc.invert(pc.is_in(values, value_set=known))
    if not pc.any(outside).as_py():
        return
    position = pc.index(outside, True).as_py()
    shown = ", ".join(repr(c) for c in list(classes)[:20])
    _refuse(labels, ids, mask, position, f"one of the classes [{shown}]", version)


def seconds(values: pa.Array) -> Any:
    """Unix ms (nulls allowed) as float seconds, NaN where missing."""
    import numpy as np
    import pyarrow.compute as pc

    as_float = pc.divide(values.cast("float64"), 1000.0)
    return np.asarray(as_float.to_numpy(zero_copy_only=False), dtype=np.float64)
