"""Drift of a current window against a prepared reference, per column and for the table.

:func:`detect_drift` runs one test per column (Evidently 0.7's default choice unless a
method is given, see :func:`~._drift_stats.default_method`) and reports, per column, the
statistic, the p-value for tests, the threshold and the verdict, next to the current
window's null rate and the share of its values the reference never held. The dataset
drifts when the share of drifted columns reaches ``drift_share`` (0.5), as in Evidently's
``get_dataset_drift`` (``src/evidently/legacy/calculations/data_drift.py``:
``share >= drift_share``).

A column with no values on one side, or missing from the current table, gets a result with
its ``status`` saying so and no verdict (``drifted`` False), never an error or a NaN.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, TypeAlias

from ..core import InvalidValueError, NotFoundError, did_you_mean
from ._drift_reference import (
    CategoricalReference,
    ColumnKind,
    ColumnReference,
    DriftReference,
    NumericReference,
    as_array,
    as_table,
    category_values,
    is_numeric_type,
    numeric_values,
    plain,
    prepare_reference,
    require_libraries,
    sorted_value_counts,
)
from ._drift_stats import (
    FEW_NUMERIC_VALUES,
    SMALL_REFERENCE_ROWS,
    DriftMethod,
    MethodSpec,
    default_method,
    method_spec,
    run_test,
    union_size,
)

ColumnStatus: TypeAlias = Literal["tested", "missing", "no_current_values", "no_reference_values"]
DEFAULT_DRIFT_SHARE = 0.5


@dataclass(frozen=True)
class ColumnDrift:
    """The drift test of one column.

    Attributes:
        column: The column.
        kind: ``numeric`` or ``categorical``.
        method: The test that ran (``None`` when none could).
        statistic: KS D, chi-square, z, normed W1, PSI or Jensen-Shannon distance. A
            category only the current window holds makes chi-square ``inf`` (p-value 0).
        p_value: For ``ks``, ``chisquare`` and ``z``; ``None`` for distances.
        threshold: What the p-value (tests) or the statistic (distances) is held to.
        drifted: Tests: ``p_value < threshold`` (``<=`` for ``ks``); distances:
            ``statistic >= threshold``. False when no test ran.
        n_reference: Non-null finite reference values.
        n_current: Non-null finite current values.
        null_rate: Current rows that are null or NaN, over the current rows (``None``
            for a missing column or an empty window).
        out_of_range_rate: Numeric: current values (infinities included) outside
            ``[reference min, reference max]``; categorical: current values of a category
            the reference never held; over the current non-null values.
        status: ``tested``, ``missing`` (not in the current table), ``no_current_values``
            or ``no_reference_values`` (every value null, NaN or infinite).
        raw_statistic: For ``wasserstein``, W1 in the column's own units (not normed).
    """

    column: str
    kind: ColumnKind
    method: DriftMethod | None
    statistic: float | None
    p_value: float | None
    threshold: float | None
    drifted: bool
    n_reference: int
    n_current: int
    null_rate: float | None
    out_of_range_rate: float | None
    status: ColumnStatus = "tested"
    raw_statistic: float | None = None


@dataclass(frozen=True)
class DriftReport:
    """Drift of every compared column, and of the dataset.

    Attributes:
        columns: One :class:`ColumnDrift` per reference column, in the reference's order.
        drift_share: The share of drifted columns at which the dataset drifts.
        n_tested: Columns a test ran on.
        n_drifted: Columns that drifted.
        share_drifted: ``n_drifted / n_tested`` (0 when nothing was tested).
        dataset_drifted: ``n_tested > 0 and share_drifted >= drift_share``.
    """

    columns: tuple[ColumnDrift, ...]
    drift_share: float
    n_tested: int
    n_drifted: int
    share_drifted: float
    dataset_drifted: bool

    def __getitem__(self, column: str) -> ColumnDrift:
        for result in self.columns:
            if result.column == column:
                return result
        names = [r.column for r in self.columns]
        raise NotFoundError(
            f"The drift report has no column {column!r}.{did_you_mean(column, names)}",
            hint=f"Columns: {', '.join(names) or '(none)'}.",
        )

    @property
    def drifted_columns(self) -> list[str]:
        return [r.column for r in self.columns if r.drifted]

    def to_dicts(self) -> list[dict[str, Any]]:
        """One plain dict per column (the fields of :class:`ColumnDrift`)."""
        return [asdict(r) for r in self.columns]


def prepare_current(reference: ColumnReference, column: Any) -> ColumnReference:
    """The current column in the reference's form, its type checked against it.

    Raises:
        InvalidValueError: The current column's type cannot be compared with the
            reference's (strings against numbers, say).
    """
    import numpy as np
    import pyarrow as pa

    array = plain(as_array(column))
    name = reference.name
    if isinstance(reference, NumericReference):
        if pa.types.is_null(array.type):
            array = array.cast(pa.float64())
        if not (is_numeric_type(array.type) or pa.types.is_boolean(array.type)):
            raise InvalidValueError(
                f"Column {name!r} is numeric in the reference but {array.type} in the "
                "current data.",
                hint="Log the column with the type it had in training.",
            )
        values, n_null, n_infinite = numeric_values(array)
        values = np.sort(values)
        is_integer = pa.types.is_integer(array.type) and array.null_count == 0
        return NumericReference(name, values, len(array), n_null, n_infinite, is_integer)
    want = reference.categories.type
    if array.type != want:
        try:
            array = array.cast(want)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise InvalidValueError(
                f"Column {name!r} holds {want} categories in the reference but "
                f"{array.type} values in the current data, which do not convert.",
                hint="Log the column with the type it had in training.",
            ) from None
    values, n_null = category_values(array)
    categories, counts = sorted_value_counts(values)
    return CategoricalReference(name, categories, counts, len(array), n_null)


def _out_of_range_rate(reference: ColumnReference, current: ColumnReference) -> float | None:
    import numpy as np
    import pyarrow.compute as pc

    if not reference.n_values:
        return None
    if isinstance(reference, NumericReference):
        assert isinstance(current, NumericReference)
        n_seen = current.n_values + current.n_infinite
        if not n_seen:
            return None
        below = int(np.searchsorted(current.values, reference.values[0], side="left"))
        above = current.n_values - int(
            np.searchsorted(current.values, reference.values[-1], side="right")
        )
        return (below + above + current.n_infinite) / n_seen
    assert isinstance(current, CategoricalReference)
    if not current.n_values:
        return None
    unseen = ~pc.is_in(current.categories, value_set=reference.categories).to_numpy(
        zero_copy_only=False
    )
    return float(current.counts[unseen].sum()) / current.n_values


def _check_threshold(value: object, spec: MethodSpec, column: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
        or (spec.uses_p_value and value > 1)
    ):
        bound = "in [0, 1] (a p-value)" if spec.uses_p_value else "a number >= 0"
        raise InvalidValueError(
            f"The drift threshold of column {column!r} ({spec.name}) must be {bound}. "
            f"Got {value!r}.",
            hint=f"The default for {spec.name} is {spec.default_threshold}.",
        )
    return float(value)


def resolve_method(
    reference: ColumnReference, current: ColumnReference, method: str | None
) -> MethodSpec:
    """``method`` checked against the column's kind, or Evidently's default choice."""
    if method is not None:
        spec = method_spec(method, column=reference.name)
        if reference.kind not in spec.kinds:
            fits = [name for name, s in _methods_for(reference.kind)]
            raise InvalidValueError(
                f"Drift method {spec.name!r} does not apply to {reference.kind} column "
                f"{reference.name!r}.",
                hint=f"For {reference.kind} columns use one of: {', '.join(fits)}.",
            )
        return spec
    n_unique = reference.n_unique
    small = reference.n_values <= SMALL_REFERENCE_ROWS
    needs_union = (reference.kind == "numeric" and n_unique <= FEW_NUMERIC_VALUES) or (
        reference.kind == "categorical" and small
    )
    if needs_union:
        n_unique = union_size(reference, current)
    return method_spec(default_method(reference.kind, reference.n_values, n_unique))


def _methods_for(kind: ColumnKind) -> list[tuple[str, MethodSpec]]:
    from ._drift_stats import METHODS

    return [(name, spec) for name, spec in METHODS.items() if kind in spec.kinds]


def column_drift(
    reference: ColumnReference,
    current: Any,
    *,
    method: str | None = None,
    threshold: float | None = None,
) -> ColumnDrift:
    """Test one column of a current window against its prepared reference.

    Args:
        reference: The column's prepared reference (``prepare_reference(...)[name]``).
        current: The current values: a pyarrow or numpy array, or a list; ``None`` for a
            column missing from the current data.
        method: ``ks``, ``chisquare``, ``z``, ``wasserstein``, ``psi`` or
            ``jensenshannon`` (default: Evidently's choice for the column).
        threshold: The method's threshold (default: its own, 0.05 for tests and 0.1 for
            distances).

    Returns:
        The :class:`ColumnDrift`.

    Raises:
        InvalidValueError: Unknown method (with the closest name), a method that does not
            fit the column's kind, a threshold out of range, or a current column whose
            type does not match the reference's.
    """
    require_libraries()
    if method is not None:
        method_spec(method, column=reference.name)
    base: dict[str, Any] = {
        "column": reference.name,
        "kind": reference.kind,
        "n_reference": reference.n_values,
    }
    if current is None:
        return ColumnDrift(
            **base, method=None, statistic=None, p_value=None, threshold=None,
            drifted=False, n_current=0, null_rate=None, out_of_range_rate=None,
            status="missing",
        )  # fmt: skip
    prepared = prepare_current(reference, current)
    base |= {
        "n_current": prepared.n_values,
        "null_rate": prepared.n_null / prepared.n_rows if prepared.n_rows else None,
        "out_of_range_rate": _out_of_range_rate(reference, prepared),
    }
    status: ColumnStatus | None = None
    if not reference.n_values:
        status = "no_reference_values"
    elif not prepared.n_values:
        status = "no_current_values"
    if status is not None:
        return ColumnDrift(
            **base, method=None, statistic=None, p_value=None, threshold=None,
            drifted=False, status=status,
        )  # fmt: skip
    spec = resolve_method(reference, prepared, method)
    limit = spec.default_threshold if threshold is None else threshold
    limit = _check_threshold(limit, spec, reference.name)
    outcome = run_test(spec.name, reference, prepared)
    return ColumnDrift(
        **base,
        method=spec.name,
        statistic=outcome.statistic,
        p_value=outcome.p_value,
        threshold=limit,
        drifted=spec.is_drift(outcome.statistic, outcome.p_value, limit),
        raw_statistic=outcome.raw,
    )


def _check_columns(given: Mapping[str, object] | None, names: Sequence[str], what: str) -> None:
    for column in given or {}:
        if column not in names:
            raise NotFoundError(
                f"{what} names column {column!r}, which the drift reference does not "
                f"hold.{did_you_mean(column, names)}",
                hint=f"Columns: {', '.join(names) or '(none)'}.",
            )


def detect_drift(
    reference: DriftReference | Any,
    current: Any,
    *,
    columns: Sequence[str] | None = None,
    method: str | None = None,
    methods: Mapping[str, str] | None = None,
    threshold: float | None = None,
    thresholds: Mapping[str, float] | None = None,
    drift_share: float = DEFAULT_DRIFT_SHARE,
) -> DriftReport:
    """Compare a current window with the reference, column by column.

    Args:
        reference: A :class:`DriftReference` (prepared once), or reference data to
            prepare now (anything :func:`prepare_reference` takes).
        current: The window: a pyarrow Table or RecordBatch, a pandas DataFrame, or a
            mapping of column name to array. Columns the reference lacks are ignored.
        columns: Reference columns to compare (default: all).
        method: One method for every column (it must fit every column's kind).
        methods: A method per column, over ``method``.
        threshold: One threshold for every column (held to p-values for tests and to the
            statistic for distances, as Evidently's ``threshold`` is).
        thresholds: A threshold per column, over ``threshold``.
        drift_share: The share of drifted columns from which the dataset drifts.

    Returns:
        The :class:`DriftReport`.

    Raises:
        InvalidValueError: An unknown method (with the closest name), a method that does
            not fit a column, a threshold or ``drift_share`` out of range, or a current
            column whose type does not match the reference's.
        NotFoundError: ``columns``, ``methods`` or ``thresholds`` name a column the
            reference does not hold.
    """
    require_libraries()
    if not isinstance(reference, DriftReference):
        reference = prepare_reference(reference)
    if (
        isinstance(drift_share, bool)
        or not isinstance(drift_share, int | float)
        or not 0 < drift_share <= 1
    ):
        raise InvalidValueError(
            f"drift_share must be in (0, 1]: the share of drifted columns at which the "
            f"dataset drifts. Got {drift_share!r}.",
            hint=f"The default is {DEFAULT_DRIFT_SHARE}.",
        )
    names = reference.names
    _check_columns(dict.fromkeys(columns or ()), names, "columns")
    _check_columns(methods, names, "methods")
    _check_columns(thresholds, names, "thresholds")
    for name, chosen in [(None, method), *(methods or {}).items()]:
        if chosen is not None:
            method_spec(chosen, column=name)
    table = as_table(current, "current")
    present = set(table.column_names)
    results = []
    for name in names if columns is None else columns:
        ref = reference.columns[name]
        results.append(
            column_drift(
                ref,
                table.column(name) if name in present else None,
                method=(methods or {}).get(name, method),
                threshold=(thresholds or {}).get(name, threshold),
            )
        )
    tested = [r for r in results if r.status == "tested"]
    n_drifted = sum(r.drifted for r in tested)
    share = n_drifted / len(tested) if tested else 0.0
    return DriftReport(
        columns=tuple(results),
        drift_share=float(drift_share),
        n_tested=len(tested),
        n_drifted=n_drifted,
        share_drifted=share,
        dataset_drifted=bool(tested) and share >= drift_share,
    )
