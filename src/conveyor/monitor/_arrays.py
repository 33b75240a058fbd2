"""Input checks shared by the performance figures and the estimate: aligned 1-D arrays,
label masks, times as seconds, classes encoded against score columns.

Every check raises :class:`~conveyor.core.InvalidValueError` naming the argument, what it
held and what was expected.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..core import InvalidValueError

__all__ = [
    "as_finite",
    "as_labels",
    "as_mask",
    "as_seconds",
    "check_length",
    "encode_classes",
    "labelled_rows",
    "scores_for",
]

# Rows of an (n, k) score matrix summing to 1 within this count as probabilities (float32
# predict_proba output is off by about 1e-7).
_PROBA_TOLERANCE = 1e-4
_CLASSES_HINT = "Pass classes= in the column order of the scores (a fitted classifier's classes_)."


def as_labels(values: Any, what: str) -> Any:
    """``values`` as a 1-D numpy array (possibly empty)."""
    import numpy as np

    try:
        array = np.asarray(values)
    except (TypeError, ValueError) as exc:  # ragged nested lists
        raise InvalidValueError(f"{what} must be a 1-D array-like: {exc}.") from None
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise InvalidValueError(
            f"{what} must be 1-D (one value per prediction). Got an array of shape {array.shape}."
        )
    return array


def check_length(n: int, values: Any, what: str) -> None:
    if len(values) != n:
        raise InvalidValueError(
            f"{what} has {len(values):,} rows but predictions has {n:,}: they must be "
            "aligned row by row (one per prediction)."
        )


def labelled_rows(labels: Any) -> Any:
    """The rows whose label is not missing (``None``, NaN, NaT)."""
    import numpy as np

    if labels.dtype.kind in "fc":
        return ~np.isnan(labels)
    if labels.dtype.kind in "mM":
        return ~np.isnat(labels)
    if labels.dtype.kind == "O":
        import pandas as pd

        return ~np.asarray(pd.isna(labels), dtype=bool)
    return np.ones(len(labels), dtype=bool)


def as_mask(values: Any, n: int, what: str) -> Any:
    import numpy as np

    mask = as_labels(values, what)
    check_length(n, mask, what)
    if mask.dtype.kind in "iu" and np.isin(mask, (0, 1)).all():
        mask = mask.astype(bool)
    if mask.dtype.kind != "b":
        raise InvalidValueError(
            f"{what} must hold booleans (True where the prediction has a label). Got values "
            f"of type {mask.dtype}."
        )
    return mask


def as_seconds(values: Any, n: int, what: str) -> Any:
    """Times as float seconds since the epoch, NaN where missing.

    Datetimes (numpy, pandas or Python; naive ones read as UTC) or numbers (already seconds).
    """
    import numpy as np

    array = as_labels(values, what)
    check_length(n, array, what)
    if array.dtype.kind in "iuf":
        return array.astype(np.float64)
    import pandas as pd

    if array.dtype.kind == "O" and pd.api.types.infer_dtype(array, skipna=True) in (
        "integer",
        "floating",
        "mixed-integer-float",
        "empty",
    ):
        # Seconds with None where a label has not arrived; not nanoseconds since the epoch,
        # which is how pandas would read bare numbers as datetimes.
        return pd.to_numeric(pd.Series(array, dtype=object)).to_numpy(dtype=np.float64)

    try:
        stamps = pd.to_datetime(pd.Series(array, dtype=object), utc=True)
    except (TypeError, ValueError) as exc:
        raise InvalidValueError(
            f"{what} must hold datetimes or seconds since the epoch: {exc}.",
            hint="Pass the log's timestamp column as it is, or as epoch seconds.",
        ) from None
    nanoseconds = stamps.dt.tz_convert(None).to_numpy(dtype="datetime64[ns]").astype(np.int64)
    seconds = nanoseconds / 1e9
    seconds[stamps.isna().to_numpy()] = np.nan
    return seconds


def as_finite(values: Any, what: str) -> Any:
    import numpy as np

    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidValueError(
            f"{what} must hold numbers. Got values of type {np.asarray(values).dtype}."
        ) from None
    bad = ~np.isfinite(array)
    if bad.any():
        raise InvalidValueError(
            f"{what} has {int(bad.sum()):,} missing or infinite value(s) out of "
            f"{array.size:,}: every labelled row needs a finite value.",
            hint="Drop those rows, or leave them unlabelled (labelled=False).",
        )
    return array


def _show(values: Sequence[Any], limit: int = 8) -> str:
    shown = ", ".join(repr(v) for v in list(values)[:limit])
    more = f", ... ({len(values)} in all)" if len(values) > limit else ""
    return f"[{shown}{more}]"


def _score_columns(scores: Any) -> int | None:
    import numpy as np

    if scores is None:
        return None
    shape = np.shape(scores)
    if len(shape) == 1:
        return 2
    if len(shape) == 2:
        return 2 if shape[1] == 1 else int(shape[1])
    raise InvalidValueError(
        "scores must be 1-D (the positive class's probability) or 2-D (n rows x k "
        f"classes, as predict_proba returns). Got shape {shape}."
    )


def resolve_classes(
    found: Any, classes: Sequence[Any] | None, n_columns: int | None
) -> tuple[Any, ...]:
    """The classes in score-column order: given, or found in the data."""
    import numpy as np

    if classes is not None:
        resolved = tuple(np.asarray(classes).tolist())
        if len(set(resolved)) != len(resolved) or len(resolved) < 2:
            raise InvalidValueError(
                f"classes must list at least two distinct classes. Got {_show(resolved)}.",
                hint=_CLASSES_HINT,
            )
        if n_columns is not None and len(resolved) != n_columns:
            raise InvalidValueError(
                f"classes lists {len(resolved)} classes but the scores have {n_columns} "
                f"column(s){' (1-D: binary)' if n_columns == 2 else ''}.",
                hint=_CLASSES_HINT,
            )
        return resolved
    if found.dtype.kind == "b":
        return (False, True)
    try:
        values = np.unique(found).tolist()
    except TypeError:
        raise InvalidValueError(
            "The labels and predictions mix value types that cannot be ordered.",
            hint=_CLASSES_HINT,
        ) from None
    wanted = n_columns or max(len(values), 2)
    if len(values) == wanted:
        return tuple(values)
    if found.dtype.kind in "iuf" and set(values) <= set(range(wanted)):
        return tuple(range(wanted))  # integer codes with a class absent from these rows
    raise InvalidValueError(
        f"The labels and predictions hold {len(values)} class(es) ({_show(values)}), which "
        + (
            f"cannot be matched to {n_columns} score columns."
            if n_columns
            else "is not enough to tell the classes."
        ),
        hint=_CLASSES_HINT,
    )


def encode(values: Any, classes: tuple[Any, ...], what: str) -> Any:
    """``values`` as indices into ``classes``; refuses a value outside them."""
    import numpy as np

    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    lookup = {label: i for i, label in enumerate(classes)}
    try:
        uniques, inverse = np.unique(values, return_inverse=True)
    except TypeError:
        raise InvalidValueError(
            f"{what} mixes value types that cannot be ordered.", hint=_CLASSES_HINT
        ) from None
    unknown = [u for u in uniques.tolist() if u not in lookup]
    if unknown:
        raise InvalidValueError(
            f"{what} holds {_show(unknown)}, not among the classes {_show(classes)}.",
            hint=_CLASSES_HINT,
        )
    return np.array([lookup[u] for u in uniques.tolist()], dtype=np.int64)[inverse]


def encode_classes(
    y_true: Any, y_pred: Any, classes: Sequence[Any] | None, scores: Any
) -> tuple[Any, Any, tuple[Any, ...]]:
    """Labels and predictions of the labelled rows as class indices, and the classes."""
    import numpy as np

    for values, what in ((y_true, "labels"), (y_pred, "predictions")):
        missing = ~labelled_rows(values)
        if missing.any():
            raise InvalidValueError(
                f"{what} is missing on {int(missing.sum()):,} labelled row(s).",
                hint="Pass labelled= marking only the rows that have a label.",
            )
    n_columns = _score_columns(scores)
    resolved = resolve_classes(np.concatenate([y_true, y_pred]), classes, n_columns)
    return (
        encode(y_true, resolved, "labels"),
        encode(y_pred, resolved, "predictions"),
        resolved,
    )


def scores_for(scores: Any, rows: Any, n: int, k: int) -> tuple[Any, bool]:
    """The labelled rows' scores (binary: the positive column) and whether they are
    probabilities."""
    import numpy as np

    array = np.asarray(scores, dtype=np.float64) if scores is not None else None
    if array is None or array.shape[0] != n:
        raise InvalidValueError(
            f"scores has {0 if array is None else array.shape[0]:,} rows but predictions "
            f"has {n:,}: they must be aligned row by row."
        )
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    taken = as_finite(array[rows], "scores (labelled rows)")
    if taken.ndim == 1:
        return taken, bool(((taken >= 0) & (taken <= 1)).all())
    in_range = bool(((taken >= 0) & (taken <= 1)).all())
    sums_to_one = bool(np.all(np.abs(taken.sum(axis=1) - 1) <= _PROBA_TOLERANCE))
    if k == 2:
        taken = taken[:, 1]
    return taken, in_range and sums_to_one
