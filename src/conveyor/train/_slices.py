"""Per-slice metrics: one row per value of each slice column, with its row count.

A slice too small to judge is reported as such (``enough_rows=False`` and a note), and a
declared category with no rows shows up as an empty slice: nothing disappears or passes
silently.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core import InvalidValueError, did_you_mean
from ._metrics import (
    DEFAULT_MIN_ROWS,
    DEFAULT_N_BINS,
    Metrics,
    Task,
    check_bins,
    check_task,
    compute_classification,
    compute_regression,
    prepare_classes,
    prepare_regression,
)

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = ["SliceMetrics", "sliced_metrics"]


@dataclass(frozen=True)
class SliceMetrics:
    """One slice's metrics: the rows where ``column`` equals ``value``.

    Attributes:
        column: The slice column.
        value: The slice value, JSON-ready (``None`` for a missing value).
        n_rows: Rows in the slice (0 for a declared category nobody has).
        metrics: As :func:`classification_metrics` or :func:`regression_metrics`.
        enough_rows: Whether ``n_rows >= min_rows``; a slice below is reported, not judged.
        note: Why the slice cannot be judged, when it cannot.
    """

    column: str
    value: Any
    n_rows: int
    metrics: dict[str, float | None]
    enough_rows: bool
    note: str | None = None

    @property
    def label(self) -> str:
        return f"{self.column}={self.value}"


def slice_groups(frame: Any, columns: Sequence[str], n: int) -> list[tuple[str, Any, Any]]:
    """``(column, JSON-ready value, row positions)`` for every value of every slice column.

    A categorical column yields every declared category, those with no row included, so a
    slice that vanished from the holdout shows up as empty instead of disappearing.
    """
    import numpy as np
    import pandas as pd

    table = frame if isinstance(frame, pd.DataFrame) else _as_frame(frame)
    if len(table) != n:
        raise InvalidValueError(
            f"The slice frame has {len(table):,} rows but y_true has {n:,}: they must be "
            "aligned row by row (the same holdout, the same order)."
        )
    if isinstance(columns, str) or not columns:
        raise InvalidValueError(
            f"slice columns must be a non-empty list of column names. Got {columns!r}."
        )
    groups: list[tuple[str, Any, Any]] = []
    for column in columns:
        if column not in table.columns:
            known = [str(c) for c in table.columns]
            raise InvalidValueError(
                f"Slice column {column!r} is not in the slice frame."
                f"{did_you_mean(str(column), known)} Columns: {', '.join(known[:20])}.",
            )
        series = table[column]
        values = series.to_numpy()
        if isinstance(series.dtype, pd.CategoricalDtype):
            codes = series.cat.codes.to_numpy()
            for i, category in enumerate(series.cat.categories):
                groups.append((str(column), plain_value(category), np.flatnonzero(codes == i)))
            if (codes < 0).any():
                groups.append((str(column), None, np.flatnonzero(codes < 0)))
            continue
        try:
            codes, uniques = pd.factorize(values, sort=True, use_na_sentinel=True)
        except TypeError:  # values of types that do not order: keep first-seen order
            codes, uniques = pd.factorize(values, sort=False, use_na_sentinel=True)
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(-1, len(uniques) + 1))
        for i, value in enumerate(uniques):
            groups.append((str(column), plain_value(value), order[bounds[i + 1] : bounds[i + 2]]))
        if bounds[1] > 0:  # missing values make their own slice, reported as value None
            groups.append((str(column), None, order[: bounds[1]]))
    return groups


def _as_frame(frame: Any) -> Any:
    import pandas as pd

    if isinstance(frame, Mapping):
        try:
            return pd.DataFrame(dict(frame))
        except ValueError as exc:
            raise InvalidValueError(f"The slice columns do not fit in one table: {exc}.") from None
    raise InvalidValueError(
        f"slices must be a pandas DataFrame (or a mapping of column name to values) aligned "
        f"with y_true. Got {type(frame).__name__}."
    )


def plain_value(value: Any) -> Any:
    """A slice value as JSON can hold it: ``None``, bool, int, float or str."""
    import numpy as np
    import pandas as pd

    if value is None or (not isinstance(value, str) and bool(pd.isna(value))):
        return None
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        try:
            value = value.item()
        except (ValueError, TypeError):
            pass
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return str(value)


def sliced_metrics(
    frame: Any,
    slice_columns: Sequence[str],
    *,
    y_true: npt.ArrayLike | str,
    y_score: npt.ArrayLike | str,
    task: Task = "classification",
    min_rows: int = DEFAULT_MIN_ROWS,
    threshold: float = 0.5,
    labels: Sequence[Any] | None = None,
    n_bins: int = DEFAULT_N_BINS,
) -> list[SliceMetrics]:
    """Metrics for every value of every slice column (TFMA's single-column slices).

    A slice with fewer than ``min_rows`` rows still gets its metrics, but is marked
    ``enough_rows=False`` with a note saying it is too small to judge: nothing treats it as
    passing. Missing values form their own slice (``value=None``); a categorical column
    lists its unused categories as empty slices.

    Args:
        frame: A DataFrame (or mapping of column to values) aligned row by row with the
            labels and scores.
        slice_columns: Columns to segment by; each is sliced on its own.
        y_true: The true values, or the name of a column of ``frame`` holding them.
        y_score: Scores/probabilities (classification) or predictions (regression), or a
            column name.
        task: ``"classification"`` or ``"regression"``.
        min_rows: Slices with fewer rows are reported as too small to judge.
        threshold: Binary decision threshold (classification).
        labels: Class order of the score columns (classification); fixed over all slices,
            so a slice missing a class still lines up.
        n_bins: Bins of the calibration error.

    Returns:
        One :class:`SliceMetrics` per (column, value), columns in the order given, values
        sorted where they order.

    Raises:
        InvalidValueError: unknown column, misaligned rows, or bad labels and scores.

    Example:
        >>> rows = sliced_metrics(df, ["carrier"], y_true="delayed", y_score=proba)
        >>> [(s.value, s.n_rows, s.metrics["roc_auc"]) for s in rows]  # doctest: +SKIP
    """
    task = check_task(task)
    check_bins(n_bins)
    check_min_rows(min_rows)
    table = frame
    if isinstance(y_true, str) or isinstance(y_score, str):
        table = frame if not isinstance(frame, Mapping) else _as_frame(frame)
    y = _column_or_values(table, y_true, "y_true")
    scores = _column_or_values(table, y_score, "y_score")
    if task == "classification":
        data = prepare_classes(y, scores, labels=labels, threshold=threshold)
        n = data.n

        def compute(rows: Any) -> Metrics:
            return compute_classification(data.take(rows), n_bins)

    else:
        y_values, predictions = prepare_regression(y, scores)
        n = len(y_values)

        def compute(rows: Any) -> Metrics:
            return compute_regression(y_values[rows], predictions[rows])

    out = []
    for column, value, rows in slice_groups(table, slice_columns, n):
        n_rows = len(rows)
        enough = n_rows >= min_rows
        out.append(
            SliceMetrics(
                column=column,
                value=value,
                n_rows=n_rows,
                metrics=compute(rows),
                enough_rows=enough,
                note=None if enough else too_few_rows(n_rows, min_rows),
            )
        )
    return out


def too_few_rows(n_rows: int, min_rows: int) -> str:
    if n_rows == 0:
        return "no rows in the holdout: nothing to judge"
    return f"too few rows to judge ({n_rows:,} < min_rows {min_rows:,})"


def check_min_rows(min_rows: object) -> None:
    if not isinstance(min_rows, int) or isinstance(min_rows, bool) or min_rows < 1:
        raise InvalidValueError(f"min_rows must be a positive integer. Got {min_rows!r}.")


def _column_or_values(frame: Any, values: Any, what: str) -> Any:
    if not isinstance(values, str):
        return values
    columns = [str(c) for c in getattr(frame, "columns", [])]
    if values not in columns:
        raise InvalidValueError(
            f"{what}={values!r} names no column of the frame.{did_you_mean(values, columns)} "
            f"Columns: {', '.join(columns[:20])}."
        )
    return frame[values].to_numpy()
