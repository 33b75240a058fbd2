"""The drift tests, computed on prepared columns exactly as Evidently 0.7 defines them.

Every definition below was read in Evidently 0.7.23's source (paths relative to
``src/evidently/legacy/calculations/``):

- ``ks``: ``stattests/ks_stattest.py``: ``scipy.stats.ks_2samp`` p-value; drift when
  ``p <= threshold`` (the only test with ``<=``); default threshold 0.05.
- ``chisquare``: ``stattests/chisquare_stattest.py``: categories of both sides, expected
  counts ``reference count * n_current / n_reference``, ``scipy.stats.chisquare``; drift
  when ``p < threshold``; default threshold 0.05 (``StatTest.default_threshold``).
- ``z``: ``stattests/z_stattest.py``: the first of both sides' categories, sorted, against
  the rest; pooled two-proportion z, two-sided ``p = 2 (1 - Phi(|z|))``; ``p = 1`` when
  both sides hold the same single value; drift when ``p < threshold``; default 0.05.
- ``wasserstein``: ``stattests/wasserstein_distance_norm.py``: ``W1 / max(std, 0.001)``
  with ``std`` the reference's population standard deviation; drift when
  ``value >= threshold``; default 0.1.
- ``psi`` and ``jensenshannon``: ``stattests/psi.py``, ``stattests/jensenshannon.py`` and
  ``get_binned_data`` in ``stattests/utils.py``: a numeric column whose reference has more
  than 20 distinct values is binned by ``np.histogram_bin_edges(reference + current,
  "sturges")``, anything else by the categories of both sides; shares are counts over
  each side's size. PSI replaces a zero share by ``min nonzero share / 1e6`` when that
  minimum is at most 1e-4, else by 1e-4, then sums ``(r - c) * ln(r / c)``. Jensen-Shannon
  keeps the zeros and is ``scipy.spatial.distance.jensenshannon`` in natural log (so at
  most ``sqrt(ln 2)``, 0.833). Drift when ``value >= threshold``; default 0.1. The
  ``n_bins=30`` argument of both is never used.

Both sides are the non-null finite values (``data_drift.py``, ``get_one_column_drift``:
infinities become NaN, then NaN is dropped).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, NamedTuple, TypeAlias

from ..core import InvalidValueError, did_you_mean
from ._drift_reference import CategoricalReference, ColumnKind, ColumnReference, NumericReference

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

DriftMethod: TypeAlias = Literal["chisquare", "jensenshannon", "ks", "psi", "wasserstein", "z"]
# get_binned_data: a numeric reference with more distinct values than this is binned.
BINNED_ABOVE_N_UNIQUE = 20
# registry.py, _get_default_stattest: the size that switches tests to distances, and the
# distinct count (both sides together) under which a numeric column is read as categories.
SMALL_REFERENCE_ROWS = 1000
FEW_NUMERIC_VALUES = 5
# scipy.stats.ks_2samp: the exact p-value up to this many values a side.
KS_EXACT_MAX_N = 10_000
WASSERSTEIN_MIN_NORM = 0.001


@dataclass(frozen=True)
class MethodSpec:
    """What one drift method is.

    Attributes:
        name: Evidently's name for it.
        title: Evidently's display name.
        kinds: The column kinds a user may choose it for (the default choice also gives
            ``chisquare`` and ``z`` to numeric columns with few values, as Evidently does).
        default_threshold: Its threshold unless one is given.
        uses_p_value: The threshold applies to a p-value (else to the statistic).
        inclusive: Drift at ``p == threshold`` (``ks`` only); distances always drift at
            ``statistic == threshold``.
    """

    name: DriftMethod
    title: str
    kinds: tuple[ColumnKind, ...]
    default_threshold: float
    uses_p_value: bool
    inclusive: bool = False

    def is_drift(self, statistic: float, p_value: float | None, threshold: float) -> bool:
        if self.uses_p_value:
            assert p_value is not None
            return p_value <= threshold if self.inclusive else p_value < threshold
        return statistic >= threshold


METHODS: dict[DriftMethod, MethodSpec] = {
    "chisquare": MethodSpec("chisquare", "chi-square p_value", ("categorical",), 0.05, True),
    "jensenshannon": MethodSpec(
        "jensenshannon", "Jensen-Shannon distance", ("categorical", "numeric"), 0.1, False
    ),
    "ks": MethodSpec("ks", "K-S p_value", ("numeric",), 0.05, True, inclusive=True),
    "psi": MethodSpec("psi", "PSI", ("categorical", "numeric"), 0.1, False),
    "wasserstein": MethodSpec(
        "wasserstein", "Wasserstein distance (normed)", ("numeric",), 0.1, False
    ),
    "z": MethodSpec("z", "Z-test p_value", ("categorical",), 0.05, True),
}


class Outcome(NamedTuple):
    """One test's figures: the statistic, its p-value (``None`` for distances), and for
    ``wasserstein`` the raw W1 in the column's units."""

    statistic: float
    p_value: float | None
    raw: float | None = None


def method_spec(method: str, *, column: str | None = None) -> MethodSpec:
    """The spec of ``method``; an unknown name raises with the closest known one."""
    try:
        return METHODS[method]  # type: ignore[index]
    except (KeyError, TypeError):
        where = f" for column {column!r}" if column is not None else ""
        raise InvalidValueError(
            f"Unknown drift method {method!r}{where}.{did_you_mean(str(method), METHODS)}",
            hint=f"Known methods: {', '.join(METHODS)}.",
        ) from None


def default_method(kind: ColumnKind, n_reference: int, n_unique: int) -> DriftMethod:
    """Evidently 0.7's default test (``stattests/registry.py``, ``_get_default_stattest``).

    Args:
        kind: The column's kind.
        n_reference: Non-null finite reference values.
        n_unique: Distinct values of reference and current together.

    Returns:
        Up to 1,000 reference values: ``ks`` for a numeric column with more than 5
        distinct values, else ``chisquare`` past 2 distinct values and ``z`` up to 2
        (categorical columns alike). Past 1,000: ``wasserstein`` for numeric columns with
        more than 5 distinct values, ``jensenshannon`` for the rest.
    """
    few = kind == "categorical" or n_unique <= FEW_NUMERIC_VALUES
    if n_reference <= SMALL_REFERENCE_ROWS:
        if not few:
            return "ks"
        return "chisquare" if n_unique > 2 else "z"
    return "jensenshannon" if few else "wasserstein"


# ---------------------------------------------------------------------- numeric ----------


def merged_cdfs(
    reference: npt.NDArray[np.float64], current: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """``(x, F_ref(x), F_cur(x))`` at every distinct value ``x`` of both sorted samples,
    each CDF right-continuous (the share of values ``<= x``).

    A stable sort of two sorted runs is a linear merge (timsort), so this costs no more
    than one pass; ties are resolved by keeping the last position of each distinct value.
    """
    import numpy as np

    n, m = reference.size, current.size
    both = np.concatenate((reference, current))
    order = np.argsort(both, kind="stable")
    merged = both[order]
    in_reference = np.cumsum(order < n)
    last = np.empty(merged.size, dtype=bool)
    np.not_equal(merged[1:], merged[:-1], out=last[:-1])
    last[-1] = True
    if last.all():  # no ties (continuous data): every position is its value's last
        return merged, in_reference / n, (np.arange(1, merged.size + 1) - in_reference) / m
    ends = np.flatnonzero(last)
    from_reference = in_reference[ends]
    from_current = ends + 1 - from_reference
    return merged[ends], from_reference / n, from_current / m


def ks(reference: NumericReference, current: NumericReference) -> Outcome:
    """Two-sample KS statistic and ``scipy.stats.ks_2samp``'s two-sided p-value."""
    import numpy as np

    _, f_ref, f_cur = merged_cdfs(reference.values, current.values)
    statistic = float(np.max(np.abs(f_ref - f_cur)))
    return Outcome(statistic, ks_p_value(statistic, reference.values, current.values))


def ks_p_value(
    statistic: float, reference: npt.NDArray[np.float64], current: npt.NDArray[np.float64]
) -> float:
    """scipy's ``method="auto"``: exact up to 10,000 values a side (computed by
    ``ks_2samp`` itself), else Smirnov's ``kstwo.sf(d, round(n m / (n + m)))``."""
    import warnings

    from scipy import stats

    n, m = reference.size, current.size
    if max(n, m) <= KS_EXACT_MAX_N:
        with warnings.catch_warnings():
            # ks_2samp falls back to the asymptotic p-value itself when the exact one
            # fails, and says so with a RuntimeWarning; that fallback is its definition.
            warnings.simplefilter("ignore", RuntimeWarning)
            return float(stats.ks_2samp(reference, current).pvalue)
    big, small = max(n, m), min(n, m)
    en = big * small / (big + small)
    return float(min(max(stats.kstwo.sf(statistic, round(en)), 0.0), 1.0))


def wasserstein(reference: NumericReference, current: NumericReference) -> Outcome:
    """W1 normed by ``max(std(reference), 0.001)``; the raw W1 in ``raw``."""
    import numpy as np

    x, f_ref, f_cur = merged_cdfs(reference.values, current.values)
    raw = float(np.sum(np.abs(f_ref[:-1] - f_cur[:-1]) * np.diff(x)))
    return Outcome(raw / max(reference.std, WASSERSTEIN_MIN_NORM), None, raw)


def sturges_edges(
    low: float, high: float, n_values: int, is_integer: bool
) -> npt.NDArray[np.float64]:
    """``np.histogram_bin_edges(values, "sturges")`` from the values' extremes and count
    (numpy's own steps, including its width floor of 1 for integer data)."""
    import numpy as np

    first, last = low, high
    if first == last:
        first, last = first - 0.5, last + 0.5
    width = (high - low) / (np.log2(n_values) + 1.0)
    if width:
        if is_integer and width < 1:
            width = 1.0
        n_bins = int(np.ceil((last - first) / width))
    else:
        n_bins = 1
    return np.linspace(first, last, n_bins + 1, endpoint=True, dtype=np.float64)


def histogram_counts(
    sorted_values: npt.NDArray[np.float64], edges: npt.NDArray[np.float64]
) -> npt.NDArray[np.int64]:
    """``np.histogram(values, edges)[0]`` of sorted values (bins closed on the left, the
    last one on both sides)."""
    import numpy as np

    below = np.empty(edges.size, dtype=np.int64)
    below[:-1] = np.searchsorted(sorted_values, edges[:-1], side="left")
    below[-1] = np.searchsorted(sorted_values, edges[-1], side="right")
    return np.diff(below)


def uniques(sorted_values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    import numpy as np

    if not sorted_values.size:
        return sorted_values
    keep = np.empty(sorted_values.size, dtype=bool)
    keep[0] = True
    np.not_equal(sorted_values[1:], sorted_values[:-1], out=keep[1:])
    return sorted_values[keep]


# --------------------------------------------------------------------- categories --------


def aligned_counts(
    reference: ColumnReference, current: ColumnReference
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Both sides' counts over the union of their distinct values, sorted ascending."""
    import numpy as np

    if isinstance(reference, NumericReference) and isinstance(current, NumericReference):
        keys = np.union1d(uniques(reference.values), uniques(current.values))
        sides = [
            (np.searchsorted(values, keys, "right") - np.searchsorted(values, keys, "left"))
            for values in (reference.values, current.values)
        ]
        return sides[0].astype(np.float64), sides[1].astype(np.float64)
    assert isinstance(reference, CategoricalReference)
    assert isinstance(current, CategoricalReference)
    import pyarrow as pa
    import pyarrow.compute as pc

    keys = pc.unique(pa.concat_arrays([reference.categories, current.categories]))
    keys = keys.take(pc.sort_indices(keys))
    out = []
    for column in (reference, current):
        where = pc.index_in(keys, value_set=column.categories)
        found = where.is_valid().to_numpy(zero_copy_only=False)
        held = np.zeros(len(keys), dtype=np.float64)
        held[found] = column.counts[where.drop_null().to_numpy()]
        out.append(held)
    return out[0], out[1]


def union_size(reference: ColumnReference, current: ColumnReference) -> int:
    """Distinct values of both sides together."""
    return int(aligned_counts(reference, current)[0].size)


def chisquare(reference: ColumnReference, current: ColumnReference) -> Outcome:
    """Pearson's chi-square of the current counts against the reference's, scaled to the
    current size; a category only the current side holds makes it infinite (p = 0)."""
    import numpy as np
    from scipy import stats

    ref, cur = aligned_counts(reference, current)
    if ref.size < 2:  # one shared value: scipy would give NaN (0 degrees of freedom)
        return Outcome(0.0, 1.0)
    expected = ref * (current.n_values / reference.n_values)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = (cur - expected) ** 2 / expected
    statistic = float(np.sum(terms))
    return Outcome(statistic, float(stats.chi2.sf(statistic, ref.size - 1)))


def z_test(reference: ColumnReference, current: ColumnReference) -> Outcome:
    """Pooled two-proportion z-test of "not the first value" (values sorted)."""
    from scipy import special

    ref, cur = aligned_counts(reference, current)
    if ref.size == 1:  # both sides hold one and the same value
        return Outcome(0.0, 1.0)
    n1, n2 = float(ref.sum()), float(cur.sum())
    p1 = (n1 - ref[0]) / n1
    p2 = (n2 - cur[0]) / n2
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
    return Outcome(float(z), float(2.0 * special.ndtr(-abs(z))))


# ------------------------------------------------------------------- binned shares -------


def fill_zeros(shares: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Evidently's ``feel_zeroes`` along the last axis: zeros become ``min nonzero / 1e6``
    when that minimum is at most 1e-4, else 1e-4."""
    import numpy as np

    smallest = np.min(np.where(shares > 0, shares, np.inf), axis=-1, keepdims=True)
    fill = np.where(smallest <= 1e-4, smallest / 10**6, 1e-4)
    return np.where(shares == 0, fill, shares)


def binned_shares(
    reference: ColumnReference, current: ColumnReference
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Each side's shares over Evidently's bins (see the module docstring)."""
    if (
        isinstance(reference, NumericReference)
        and isinstance(current, NumericReference)
        and reference.n_unique > BINNED_ABOVE_N_UNIQUE
    ):
        low = min(float(reference.values[0]), float(current.values[0]))
        high = max(float(reference.values[-1]), float(current.values[-1]))
        edges = sturges_edges(
            low,
            high,
            reference.n_values + current.n_values,
            reference.is_integer and current.is_integer,
        )
        ref = histogram_counts(reference.values, edges) / reference.n_values
        cur = histogram_counts(current.values, edges) / current.n_values
        return ref, cur
    ref, cur = aligned_counts(reference, current)
    return ref / reference.n_values, cur / current.n_values


def psi(reference: ColumnReference, current: ColumnReference) -> Outcome:
    """Population stability index ``sum((r - c) ln(r / c))`` with Evidently's zero fill."""
    import numpy as np

    ref, cur = binned_shares(reference, current)
    ref, cur = fill_zeros(ref), fill_zeros(cur)
    return Outcome(float(np.sum((ref - cur) * np.log(ref / cur))), None)


def jensen_shannon(reference: ColumnReference, current: ColumnReference) -> Outcome:
    """Jensen-Shannon distance in natural log over Evidently's bins, zeros kept."""
    from scipy.spatial import distance

    ref, cur = binned_shares(reference, current)
    return Outcome(float(distance.jensenshannon(ref, cur)), None)


def run_test(method: DriftMethod, reference: ColumnReference, current: ColumnReference) -> Outcome:
    """The ``method``'s figures for two prepared columns of one kind, both with values."""
    if method == "ks":
        assert isinstance(reference, NumericReference)
        assert isinstance(current, NumericReference)
        return ks(reference, current)
    if method == "wasserstein":
        assert isinstance(reference, NumericReference)
        assert isinstance(current, NumericReference)
        return wasserstein(reference, current)
    if method == "chisquare":
        return chisquare(reference, current)
    if method == "z":
        return z_test(reference, current)
    if method == "psi":
        return psi(reference, current)
    return jensen_shannon(reference, current)
