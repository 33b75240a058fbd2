"""Profiles: mergeable per-column statistics of a dataset snapshot, kept as JSON.

A :class:`ColumnProfile` holds exact counts, min, max, mean and variance (count/mean/M2,
merged with Chan et al.'s parallel formula), a KLL quantile sketch, a KMV distinct-count
sketch and, for categories, exact counts that degrade to a Misra-Gries summary past a cap
(see ``_sketch``). Profiles of two batches merge into the profile of both, within the
sketches' stated errors; :class:`~conveyor.data.Profiler` builds them batch by batch.

``to_dict()`` gives strict JSON with a ``format`` key; ``from_dict`` reads every format so
far and says what is wrong with anything else (see ``_profile_format``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ..core import InvalidValueError, NotFoundError, did_you_mean
from . import _sketch as sk
from ._profile_format import (
    HAS_COUNTS,
    HAS_SKETCH,
    PROFILE_FORMAT,
    ColumnKind,
    check_format,
    column_fields,
    field_of,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

CategoryValue = str | bool
# The quantiles a summary and a diff show.
SUMMARY_QUANTILES: tuple[tuple[str, float], ...] = (
    ("p5", 0.05),
    ("p25", 0.25),
    ("p50", 0.5),
    ("p75", 0.75),
    ("p95", 0.95),
)
# z for a one-sided 99% bound, matching the confidence of KLL's normalized rank error.
_Z99 = 2.576


@dataclass(frozen=True)
class ColumnProfile:
    """Mergeable statistics of one column; build with ``Profiler``, not by hand.

    Attributes:
        name: The column's name.
        kind: ``numeric`` (ints, floats, decimals), ``temporal`` (dates, times, timestamps,
            durations: statistics in their integer epoch units, named by ``arrow_type``),
            ``categorical`` (strings and dictionary-encoded values, kept as strings),
            ``boolean``, or ``other`` (counts only).
        arrow_type: The Arrow type as a string (``"int64"``, ``"timestamp[us, tz=UTC]"``).
        n_rows: Rows seen. ``n_null``: null rows. ``n_nan``: NaN rows of a float column,
            counted apart from nulls and left out of every other statistic.
        min, max: Exact extremes of the values (ints stay ints); ``None`` with no values.
        mean, m2: Exact mean and sum of squared deviations from it (variance = m2 / n).
        quantile_sketch: Serialized KLL doubles sketch (numeric and temporal).
        sampling_variance: What sampling large batches added to the sketch's rank count
            variance (0 when every value was sketched); see ``rank_error``.
        distinct_sketch: KMV sketch, the sorted bottom-``distinct_k`` 64-bit value hashes.
        values, counts: Categories most frequent first, with counts (lower bounds when
            ``count_error`` > 0), at most ``max_categories`` of them.
        count_error: Largest possible undercount of any category (0 while counts are exact).
    """

    name: str
    kind: ColumnKind
    arrow_type: str
    n_rows: int = 0
    n_null: int = 0
    n_nan: int = 0
    min: int | float | None = None
    max: int | float | None = None
    mean: float | None = None
    m2: float = 0.0
    quantile_sketch: bytes | None = None
    sampling_variance: int = 0
    distinct_sketch: bytes | None = None
    distinct_k: int = sk.DEFAULT_DISTINCT_K
    values: tuple[CategoryValue, ...] = ()
    counts: tuple[int, ...] = ()
    count_error: int = 0
    max_categories: int = 1000

    def __post_init__(self) -> None:
        # One NaN object for every NaN statistic (infinite values make mean and m2 NaN):
        # equality compares fields as tuples, which match identical objects, so a profile
        # read back from JSON equals the one written.
        for name in ("min", "max", "mean", "m2"):
            value = getattr(self, name)
            if isinstance(value, float) and math.isnan(value):
                object.__setattr__(self, name, math.nan)

    # ------------------------------------------------------------------ plain numbers ---

    @property
    def n_values(self) -> int:
        """Rows with a value: neither null nor NaN."""
        return self.n_rows - self.n_null - self.n_nan

    @property
    def null_rate(self) -> float:
        """Share of rows that are null (0.0 with no rows)."""
        return self.n_null / self.n_rows if self.n_rows else 0.0

    @property
    def nan_rate(self) -> float:
        """Share of rows that are NaN (floats only)."""
        return self.n_nan / self.n_rows if self.n_rows else 0.0

    @property
    def variance(self) -> float | None:
        """Population variance (ddof=0) of the values; ``None`` with no values."""
        return self.m2 / self.n_values if self.mean is not None and self.n_values else None

    @property
    def std(self) -> float | None:
        """Population standard deviation (ddof=0); ``None`` with no values."""
        variance = self.variance
        return math.sqrt(variance) if variance is not None and variance >= 0 else variance

    # -------------------------------------------------------------------- distinct -------

    @property
    def distinct_exact(self) -> bool:
        """True when :attr:`distinct_estimate` is an exact count."""
        if self.kind in HAS_COUNTS and self.count_error == 0:
            return True
        return self.distinct_sketch is not None and len(self._hashes) < self.distinct_k

    @property
    def distinct_estimate(self) -> int | None:
        """Distinct values: exact below ``distinct_k`` (or while category counts are exact),
        else within ``distinct_error`` relative standard error. ``None`` for ``other``."""
        if self.kind in HAS_COUNTS and self.count_error == 0:
            return len(self.values)
        if self.distinct_sketch is None:
            return None
        return round(sk.kmv_estimate(self._hashes, self.distinct_k))

    @property
    def distinct_error(self) -> float:
        """Relative standard error of :attr:`distinct_estimate`: ``1/sqrt(k-2)``, 0 if exact."""
        return 0.0 if self.distinct_exact else sk.kmv_relative_error(self.distinct_k)

    @cached_property
    def _hashes(self) -> npt.NDArray[np.uint64]:
        return sk.kmv_from_bytes(self.distinct_sketch or b"", "distinct")

    # -------------------------------------------------------------------- quantiles ------

    @property
    def rank_error(self) -> float:
        """Bound on the normalized rank error of quantiles and CDFs, at 99% confidence.

        KLL's own ``normalized_rank_error`` plus 2.576 standard deviations of the error that
        sampling large batches added (none unless a batch was sampled). While the sketch
        holds every value (up to ``k`` values), one value: ``1 / n_values``.
        """
        if self.quantile_sketch is None or self.n_values == 0:
            return 0.0
        if not self._kll.is_estimation_mode() and not self.sampling_variance:
            # The sketch holds every value: CDFs are exact, and a quantile whose rank lands
            # on the boundary between two values (in floating point) may be either one.
            return 1.0 / self.n_values
        error = float(self._kll.normalized_rank_error(False))
        if self.sampling_variance and self.n_values:
            # Each draw's rank indicator has variance at most 1/4: std of the rank count is
            # sqrt(variance / 4); normalized by the values it stands for.
            error += _Z99 * math.sqrt(self.sampling_variance / 4.0) / self.n_values
        return error

    @cached_property
    def _kll(self) -> Any:
        # Callers check first: numeric and temporal columns with values always have one.
        return sk.kll_from_bytes(self.quantile_sketch or b"")

    def quantile(self, q: float) -> float:
        """The value at normalized rank ``q`` in [0, 1] (0 and 1 give the exact min and max);
        NaN with no values. Its true rank is within :attr:`rank_error` of ``q``."""
        return self.quantiles([q])[0]

    def quantiles(self, qs: Sequence[float]) -> list[float]:
        """:meth:`quantile` for each of ``qs``."""
        self._needs_sketch("quantiles")
        for q in qs:
            if not 0.0 <= q <= 1.0:
                raise InvalidValueError(
                    f"A quantile of column {self.name!r} must be in [0, 1]. Got {q!r}."
                )
        if self.n_values == 0:
            return [math.nan] * len(qs)
        lo, hi = float(self.min), float(self.max)  # type: ignore[arg-type]
        inner = [q for q in qs if 0.0 < q < 1.0]
        found = iter(self._kll.get_quantiles(inner) if inner else [])
        return [lo if q == 0.0 else hi if q == 1.0 else float(next(found)) for q in qs]

    def cdf(self, points: Sequence[float], *, strict: bool = False) -> list[float]:
        """Share of values ``<= p`` (``< p`` when ``strict``) for each point; NaN with no
        values. Exact outside [min, max]; elsewhere within :attr:`rank_error`."""
        import numpy as np

        self._needs_sketch("CDF")
        if self.n_values == 0:
            return [math.nan] * len(points)
        asked = np.asarray(points, dtype=np.float64)
        if np.isnan(asked).any():
            raise InvalidValueError(f"CDF points of column {self.name!r} must not be NaN.")
        split, where = np.unique(asked, return_inverse=True)
        # get_cdf returns one share per split point, then the total (1.0).
        shares = np.asarray(self._kll.get_cdf(split.tolist(), inclusive=not strict)[:-1])
        lo, hi = float(self.min), float(self.max)  # type: ignore[arg-type]
        shares = np.where(split < lo, 0.0, shares)
        shares = np.where(split > hi, 1.0, shares)
        shares = np.where((split == lo) & strict, 0.0, shares)
        shares = np.where((split == hi) & (not strict), 1.0, shares)
        return [float(s) for s in shares[where]]

    def histogram(self, n_bins: int = 20) -> tuple[list[float], list[int]]:
        """Equal-width bins from min to max, counted from the sketch's CDF.

        Returns:
            ``(edges, counts)``: ``n_bins + 1`` edges (the outer two the exact min and max;
            inner ones spread over the finite range) and counts summing to ``n_values``.
            Bins are closed on the left, the last also on the right. One bin when all values
            are equal; ``([], [])`` with no values.
        """
        import numpy as np

        self._needs_sketch("histogram")
        if not isinstance(n_bins, int) or n_bins < 1:
            raise InvalidValueError(f"A histogram needs n_bins >= 1. Got {n_bins!r}.")
        if self.n_values == 0:
            return [], []
        lo, hi = float(self.min), float(self.max)  # type: ignore[arg-type]
        if lo == hi:
            return [lo, hi], [self.n_values]
        inner_lo, inner_hi = lo, hi
        if not (math.isfinite(lo) and math.isfinite(hi)):
            # Infinite extremes: spread the inner edges over the finite values the sketch has.
            grid = np.asarray(self.quantiles(np.linspace(0.0, 1.0, 201).tolist()))
            finite = grid[np.isfinite(grid)]
            inner_lo, inner_hi = (finite.min(), finite.max()) if len(finite) else (0.0, 0.0)
        inner = np.linspace(inner_lo, inner_hi, n_bins + 1)[1:-1]
        below = self.cdf(inner.tolist(), strict=True) if n_bins > 1 else []
        shares = np.diff(np.concatenate(([0.0], below, [1.0])))
        return [lo, *inner.tolist(), hi], _round_to_total(shares, self.n_values)

    # ------------------------------------------------------------------- categories ------

    def top(self, k: int = 10) -> list[tuple[CategoryValue, int]]:
        """The ``k`` most frequent categories with counts (ties by value); ``[]`` for
        columns without categories. Counts are lower bounds by at most ``count_error``."""
        return list(zip(self.values[:k], self.counts[:k], strict=True))

    @property
    def counts_exact(self) -> bool:
        """True while every category is counted exactly."""
        return self.count_error == 0

    # ----------------------------------------------------------------------- merge -------

    def merge(self, other: ColumnProfile) -> ColumnProfile:
        """The profile of both columns' rows (exact counts and moments; sketches merged)."""
        if other.name != self.name or other.kind != self.kind:
            raise InvalidValueError(
                f"Cannot merge the profile of column {self.name!r} ({self.kind}) with that of "
                f"column {other.name!r} ({other.kind}): merged profiles need the same column "
                "name and kind.",
                hint="Profile each schema separately, or cast the column to one type first.",
            )
        merged = replace(
            self,
            arrow_type=_merge_types(self.arrow_type, other.arrow_type),
            n_rows=self.n_rows + other.n_rows,
            n_null=self.n_null + other.n_null,
            n_nan=self.n_nan + other.n_nan,
        )
        if self.kind in HAS_SKETCH:
            merged = _merge_numbers(merged, self, other)
        if self.distinct_sketch is not None or other.distinct_sketch is not None:
            k = min(self.distinct_k, other.distinct_k)
            hashes = sk.kmv_merge(self._hashes, other._hashes, k)
            merged = replace(merged, distinct_sketch=sk.kmv_to_bytes(hashes), distinct_k=k)
        if self.kind in HAS_COUNTS:
            merged = _merge_categories(merged, self, other)
        return merged

    # ------------------------------------------------------------------------ JSON -------

    def to_dict(self) -> dict[str, Any]:
        """Strict-JSON form; ``from_dict`` reads it back to an equal profile."""
        data: dict[str, Any] = {
            "format": PROFILE_FORMAT,
            "name": self.name,
            "kind": self.kind,
            "arrow_type": self.arrow_type,
            "n_rows": self.n_rows,
            "n_null": self.n_null,
            "n_nan": self.n_nan,
        }
        if self.kind in HAS_SKETCH:
            data["numbers"] = {
                "min": sk.json_float(self.min),
                "max": sk.json_float(self.max),
                "mean": sk.json_float(self.mean),
                "m2": sk.json_float(self.m2),
                "sketch": None
                if self.quantile_sketch is None
                else sk.b64encode(self.quantile_sketch),
                "sampling_variance": self.sampling_variance,
            }
        if self.distinct_sketch is not None:
            data["distinct"] = {"k": self.distinct_k, "hashes": sk.b64encode(self.distinct_sketch)}
        if self.kind in HAS_COUNTS:
            data["categories"] = {
                "values": list(self.values),
                "counts": list(self.counts),
                "error": self.count_error,
                "capacity": self.max_categories,
            }
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnProfile:
        """Read :meth:`to_dict`'s output (any format up to the current one).

        Raises:
            InvalidValueError: ``data`` is not a column profile; the message says which field.
        """
        return cls(**column_fields(data))

    # --------------------------------------------------------------------- helpers -------

    def _needs_sketch(self, what: str) -> None:
        if self.kind not in HAS_SKETCH:
            raise self._no_distribution(what)

    def _no_distribution(self, what: str) -> InvalidValueError:
        return InvalidValueError(
            f"Column {self.name!r} is {self.kind} ({self.arrow_type}): it has no {what}; "
            "only numeric and temporal columns do.",
            hint="Use top() for the categories of a categorical or boolean column.",
        )


def _merge_types(a: str, b: str) -> str:
    if a == b:
        return a
    parts = sorted(set(a.split(" | ")) | set(b.split(" | ")))
    return " | ".join(parts)


def _merge_numbers(merged: ColumnProfile, a: ColumnProfile, b: ColumnProfile) -> ColumnProfile:
    if b.mean is None:
        mean, m2 = a.mean, a.m2
    elif a.mean is None:
        mean, m2 = b.mean, b.m2
    else:
        mean, m2 = chan(a.n_values, a.mean, a.m2, b.n_values, b.mean, b.m2)
    sketch = a.quantile_sketch or b.quantile_sketch
    if a.quantile_sketch is not None and b.quantile_sketch is not None:
        kll = sk.kll_from_bytes(a.quantile_sketch)
        kll.merge(b._kll)
        sketch = kll.serialize()
    return replace(
        merged,
        min=_pick(min, a.min, b.min),
        max=_pick(max, a.max, b.max),
        mean=mean,
        m2=m2,
        quantile_sketch=sketch,
        sampling_variance=a.sampling_variance + b.sampling_variance,
    )


def chan(
    n_a: int, mean_a: float, m2_a: float, n_b: int, mean_b: float, m2_b: float
) -> tuple[float, float]:
    """Mean and M2 of two parts from theirs (Chan, Golub, LeVeque 1979)."""
    n = n_a + n_b
    delta = mean_b - mean_a
    if not math.isfinite(delta):
        return mean_a + mean_b, m2_a + m2_b  # an infinite part: the sums say inf or NaN
    return mean_a + delta * n_b / n, m2_a + m2_b + delta * delta * n_a * n_b / n


def _pick(choose: Any, a: int | float | None, b: int | float | None) -> int | float | None:
    if a is None:
        return b
    if b is None:
        return a
    return choose(a, b)  # type: ignore[no-any-return]


def _merge_categories(merged: ColumnProfile, a: ColumnProfile, b: ColumnProfile) -> ColumnProfile:
    import numpy as np
    import pyarrow as pa

    value_type = pa.bool_() if a.kind == "boolean" else pa.large_string()
    values = pa.array([*a.values, *b.values], type=value_type)
    counts = np.array([*a.counts, *b.counts], dtype=np.int64)
    capacity = min(a.max_categories, b.max_categories)
    values, counts, cut = sk.merge_counts(values, counts, capacity)
    ordered, ordered_counts = sk.sort_counts(values, counts)
    return replace(
        merged,
        values=tuple(ordered),
        counts=tuple(ordered_counts),
        count_error=a.count_error + b.count_error + cut,
        max_categories=capacity,
    )


def _round_to_total(shares: npt.NDArray[np.float64], total: int) -> list[int]:
    """Largest-remainder rounding of ``shares * total`` to ints that sum to ``total``."""
    import numpy as np

    raw = np.clip(shares, 0.0, None) * total
    counts = np.floor(raw).astype(np.int64)
    short = total - int(counts.sum())
    if short > 0:
        counts[np.argsort(-(raw - counts), kind="stable")[:short]] += 1
    return [int(c) for c in counts]


# -------------------------------------------------------------------------- tables --------


@dataclass(frozen=True)
class TableProfile:
    """Profiles of every column of a table, in the table's column order.

    Attributes:
        n_rows: Rows profiled.
        columns: One :class:`ColumnProfile` per column.
    """

    n_rows: int
    columns: tuple[ColumnProfile, ...] = ()

    @property
    def names(self) -> list[str]:
        """Column names in order."""
        return [c.name for c in self.columns]

    def __getitem__(self, name: str) -> ColumnProfile:
        for column in self.columns:
            if column.name == name:
                return column
        raise NotFoundError(
            f"The profile has no column {name!r}; it has {self.names}."
            f"{did_you_mean(name, self.names)}"
        )

    def __contains__(self, name: object) -> bool:
        return any(c.name == name for c in self.columns)

    def __iter__(self) -> Iterator[ColumnProfile]:
        return iter(self.columns)

    def merge(self, other: TableProfile) -> TableProfile:
        """The profile of both tables' rows; both must have the same column names."""
        if sorted(self.names) != sorted(other.names):
            only_self = sorted(set(self.names) - set(other.names))
            only_other = sorted(set(other.names) - set(self.names))
            raise InvalidValueError(
                "Cannot merge table profiles with different columns: only in the first "
                f"{only_self}, only in the second {only_other}.",
                hint="Merge profiles of batches with one schema.",
            )
        return TableProfile(
            n_rows=self.n_rows + other.n_rows,
            columns=tuple(c.merge(other[c.name]) for c in self.columns),
        )

    def to_dict(self) -> dict[str, Any]:
        """Strict-JSON form with a ``format`` key."""
        return {
            "format": PROFILE_FORMAT,
            "n_rows": self.n_rows,
            "columns": [c.to_dict() for c in self.columns],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TableProfile:
        """Read :meth:`to_dict`'s output.

        Raises:
            InvalidValueError: ``data`` is not a table profile; the message says what is wrong.
        """
        check_format(data, "table profile")
        n_rows = field_of(data, "n_rows", int, "table profile")
        columns = tuple(
            ColumnProfile.from_dict(c) for c in field_of(data, "columns", list, "table profile")
        )
        for column in columns:
            if column.n_rows != n_rows:
                raise InvalidValueError(
                    f"Column {column.name!r} of the table profile counts {column.n_rows} rows; "
                    f"the table counts {n_rows}."
                )
        if len({c.name for c in columns}) != len(columns):
            names = [c.name for c in columns]
            raise InvalidValueError(f"The table profile names a column twice: {names}.")
        return cls(n_rows=n_rows, columns=columns)

    def summary(self, *, n_top: int = 10, n_bins: int = 20) -> dict[str, Any]:
        """A compact strict-JSON summary for display (``conveyor data show``).

        Per column: name, kind, type, null rate (and NaN rate), distinct; for numbers and
        times min, p5, p25, p50, p75, p95, max, mean, std and a histogram; for categories the
        ``n_top`` most frequent with counts.
        """
        return {"n_rows": self.n_rows, "columns": [summarize(c, n_top, n_bins) for c in self]}


def summarize(column: ColumnProfile, n_top: int = 10, n_bins: int = 20) -> dict[str, Any]:
    """One column of :meth:`TableProfile.summary`."""
    out: dict[str, Any] = {
        "name": column.name,
        "kind": column.kind,
        "type": column.arrow_type,
        "null_rate": column.null_rate,
        "nan_rate": column.nan_rate,
        "distinct": column.distinct_estimate,
        "distinct_exact": column.distinct_exact,
    }
    if column.kind in HAS_SKETCH:
        quantiles: list[float | None] = [None] * len(SUMMARY_QUANTILES)
        if column.n_values:
            quantiles = list(column.quantiles([q for _, q in SUMMARY_QUANTILES]))
        edges, counts = column.histogram(n_bins)
        out |= {
            "min": sk.json_float(column.min),
            **{
                label: sk.json_float(v)
                for (label, _), v in zip(SUMMARY_QUANTILES, quantiles, strict=True)
            },
            "max": sk.json_float(column.max),
            "mean": sk.json_float(column.mean),
            "std": sk.json_float(column.std),
            "rank_error": column.rank_error,
            "histogram": {"edges": [sk.json_float(e) for e in edges], "counts": counts},
        }
    if column.kind in HAS_COUNTS:
        out |= {
            "top": [[v, c] for v, c in column.top(n_top)],
            "top_exact": column.counts_exact,
        }
    return out
