"""What a drift statistic looks like when nothing drifted, drawn from the reference itself.

:func:`null_statistics` draws ``window_rows`` reference rows without replacement, many
times, and computes the column's statistic between each draw (as the current window) and
the rest of the reference (as the reference): the distribution a threshold set from the
reference's own data reads its quantiles from. A draw is never compared with the whole
reference, which holds the draw itself.

No row loop and no approximation. With ``n`` reference values sorted, a draw ``W`` of ``w``
of them and the rest ``R``, the empirical CDFs satisfy ``F_W - F_R = n / (n - w) * (F_W -
F_ref)`` (because ``n F_ref = w F_W + (n - w) F_R``), so:

- **KS**: ``sup |F_W - F_ref|`` is reached at a drawn value, from the sorted positions
  ``p_1 < ... < p_w`` of the draw: ``max_k max(k / w - hi(p_k) / n, lo(p_k) / n - (k - 1) /
  w)``, with ``lo``/``hi`` the first/past-the-last index of ``p_k``'s value (ties);
- **W1**: ``W1(W, ref) = integral of |Q_W(u) - Q_ref(u)| du``; on the k-th step of ``Q_W``
  (the value at ``p_k``) the integral of ``|x - Q_ref|`` is a difference of prefix sums
  of the sorted reference, so each draw costs ``O(w)``; the normalising standard deviation
  of ``R`` comes from the reference's sums minus the draw's;
- **binned and categorical tests**: ``W ∪ R`` is the whole reference, so Evidently's bins
  (Sturges' edges over both sides) and categories are the reference's: each draw's counts
  are one ``bincount``, the rest's are the reference's counts minus them.

The results equal the direct computation on each split up to floating-point rounding
(``tests/unit/monitor/test_drift_null.py`` measures the difference: below 1e-9).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core import InvalidValueError
from ._drift_reference import (
    CategoricalReference,
    ColumnReference,
    NumericReference,
    require_libraries,
)
from ._drift_stats import (
    BINNED_ABOVE_N_UNIQUE,
    KS_EXACT_MAX_N,
    METHODS,
    WASSERSTEIN_MIN_NORM,
    DriftMethod,
    MethodSpec,
    default_method,
    fill_zeros,
    histogram_counts,
    method_spec,
    sturges_edges,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

# Cells (draws x window rows) computed at once: bounds the temporaries near 100 MB.
_CHUNK_CELLS = 1 << 20


@dataclass(frozen=True, eq=False)
class NullDistribution:
    """A drift statistic's values under no drift.

    Attributes:
        column: The column.
        method: The statistic's method.
        window_rows: Rows of each draw (the current window's size).
        n_reference: Reference values the draws came from.
        statistics: One value per draw (KS D, chi-square, z, normed W1, PSI or JS).
        p_values: One per draw for ``ks``, ``chisquare`` and ``z``; ``None`` for distances.
        raw_statistics: For ``wasserstein``, W1 in the column's units; else ``None``.
    """

    column: str
    method: DriftMethod
    window_rows: int
    n_reference: int
    statistics: npt.NDArray[np.float64]
    p_values: npt.NDArray[np.float64] | None
    raw_statistics: npt.NDArray[np.float64] | None = None

    def quantile(self, q: float) -> float:
        """The ``q`` quantile of the statistics (``q`` in [0, 1]), e.g. the distance a
        window reaches once in ``1 / (1 - q)`` without drift."""
        import numpy as np

        if isinstance(q, bool) or not isinstance(q, int | float) or not 0 <= q <= 1:
            raise InvalidValueError(f"A quantile must be in [0, 1]. Got {q!r}.")
        return float(np.quantile(self.statistics, q))

    def threshold(self, false_alarm_rate: float) -> float:
        """The threshold, in the method's own terms (a p-value for ``ks``, ``chisquare``
        and ``z``, the statistic for distances), at which at most ``false_alarm_rate`` of
        the draws drift under the method's rule (``p <= t`` for ``ks``, ``p < t`` for the
        other tests, ``statistic >= t`` for distances).

        Raises:
            InvalidValueError: ``false_alarm_rate`` is not in [0, 1).
        """
        import numpy as np

        rate = false_alarm_rate
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate < 1:
            raise InvalidValueError(
                f"A false-alarm rate must be in [0, 1). Got {false_alarm_rate!r}.",
                hint="0.001 means one window in a thousand drifts with nothing changed.",
            )
        spec = METHODS[self.method]
        allowed = int(np.floor(rate * self.statistics.size))  # draws that may drift
        if spec.uses_p_value:
            assert self.p_values is not None
            at = float(np.sort(self.p_values)[allowed])
            # p < at holds for at most `allowed` draws; "<=" needs the value just below.
            return max(0.0, float(np.nextafter(at, -np.inf))) if spec.inclusive else at
        ordered = np.sort(self.statistics)
        return float(np.nextafter(ordered[ordered.size - 1 - allowed], np.inf))


def _positive_int(value: object, what: str, hint: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidValueError(f"{what} must be a whole number >= 1. Got {value!r}.", hint=hint)
    return value


def draw_positions(
    rng: np.random.Generator, n: int, window_rows: int, n_draws: int
) -> npt.NDArray[np.int64]:
    """``(n_draws, window_rows)`` distinct positions in ``range(n)`` per row, each row a
    uniform sample without replacement, sorted ascending."""
    import numpy as np

    if window_rows * 4 > n:
        # Dense draws: the first window_rows of a random order, in blocks of draws.
        rows = []
        per_block = max(1, (1 << 24) // n)
        for start in range(0, n_draws, per_block):
            keys = rng.random((min(per_block, n_draws - start), n))
            rows.append(np.sort(np.argpartition(keys, window_rows - 1, axis=1)[:, :window_rows]))
        return np.concatenate(rows).astype(np.int64)
    # Sparse draws: draw with replacement, then redraw repeats until none is left. Every
    # step treats all n positions alike, so the result is uniform over the subsets.
    positions = np.sort(rng.integers(0, n, size=(n_draws, window_rows)), axis=1)
    while True:
        repeated = positions[:, 1:] == positions[:, :-1]
        if not repeated.any():
            return positions
        positions[:, 1:][repeated] = rng.integers(0, n, size=int(repeated.sum()))
        positions.sort(axis=1)


def null_statistics(
    reference: ColumnReference,
    window_rows: int,
    n_draws: int = 1000,
    random_state: int | np.random.Generator | None = None,
    *,
    method: str | None = None,
) -> NullDistribution:
    """The column's drift statistic between ``n_draws`` random windows of the reference
    and the rest of it: its distribution under no drift (see the module docstring).

    Args:
        reference: The column's prepared reference.
        window_rows: Rows per window: the size of the current windows to be checked.
        n_draws: Windows to draw.
        random_state: Seed or ``numpy.random.Generator``, for repeatable draws.
        method: The statistic (default: Evidently's choice for this reference).

    Returns:
        The :class:`NullDistribution`.

    Raises:
        InvalidValueError: ``window_rows`` leaves no rest (it must be below the
            reference's value count), ``n_draws`` is not a positive whole number, or
            ``method`` is unknown or does not fit the column.
    """
    require_libraries()
    import numpy as np

    n = reference.n_values
    _positive_int(n_draws, "n_draws", "1,000 draws resolve a 0.999 quantile roughly.")
    _positive_int(window_rows, "window_rows", "Give the size of the current windows.")
    if window_rows >= n:
        raise InvalidValueError(
            f"window_rows must be below the reference's {n:,} non-null values of column "
            f"{reference.name!r}, so that a rest is left to compare with. Got "
            f"{window_rows:,}.",
            hint="Use a larger reference, or smaller windows.",
        )
    if method is None:
        spec = method_spec(default_method(reference.kind, n, reference.n_unique))
    else:
        spec = method_spec(method, column=reference.name)
        if reference.kind not in spec.kinds:
            raise InvalidValueError(
                f"Drift method {spec.name!r} does not apply to {reference.kind} column "
                f"{reference.name!r}."
            )
    rng = np.random.default_rng(random_state)
    positions = draw_positions(rng, n, window_rows, n_draws)
    return statistics_for_draws(reference, spec, positions)


def statistics_for_draws(
    reference: ColumnReference, spec: MethodSpec, positions: npt.NDArray[np.int64]
) -> NullDistribution:
    """The statistic of each row of ``positions`` (sorted positions into the sorted
    reference values, or into the rows sorted by category) against the rest."""
    import numpy as np

    n_draws, w = positions.shape
    per_chunk = max(1, _CHUNK_CELLS // w)
    parts = [
        _chunk(reference, spec, positions[start : start + per_chunk])
        for start in range(0, n_draws, per_chunk)
    ]
    stats = np.concatenate([p[0] for p in parts])
    p_values = None
    if spec.name == "ks":
        assert isinstance(reference, NumericReference)
        p_values = _ks_p_values(reference, positions, stats)
    elif spec.uses_p_value:
        p_values = np.concatenate([p[1] for p in parts])
    raw = np.concatenate([p[2] for p in parts]) if spec.name == "wasserstein" else None
    return NullDistribution(
        column=reference.name,
        method=spec.name,
        window_rows=w,
        n_reference=reference.n_values,
        statistics=stats,
        p_values=p_values,
        raw_statistics=raw,
    )


Arrays = tuple[Any, Any, Any]


def _chunk(reference: ColumnReference, spec: MethodSpec, positions: Any) -> Arrays:
    if spec.name == "ks":
        assert isinstance(reference, NumericReference)
        return _ks(reference, positions), None, None
    if spec.name == "wasserstein":
        assert isinstance(reference, NumericReference)
        return _wasserstein(reference, positions)
    if (
        isinstance(reference, NumericReference)
        and spec.name in ("psi", "jensenshannon")
        and reference.n_unique > BINNED_ABOVE_N_UNIQUE
    ):
        return _binned(reference, spec, positions)
    codes, counts = _codes(reference)
    drawn = _bincount_rows(codes[positions], counts.size)
    return _counted(spec, counts, drawn)


def _ks(reference: NumericReference, positions: Any) -> Any:
    import numpy as np

    r, n = reference.values, reference.n_values
    w = positions.shape[1]
    if reference.n_unique == n:  # no ties: a value's first index is its position
        lo = positions / n
        hi = (positions + 1) / n
    else:
        lo = np.searchsorted(r, r, side="left")[positions] / n
        hi = np.searchsorted(r, r, side="right")[positions] / n
    k = np.arange(1, w + 1) / w
    gap = np.maximum((k - hi).max(axis=1), (lo - (k - 1 / w)).max(axis=1))
    return gap * (n / (n - w))


def _ks_p_values(reference: NumericReference, positions: Any, stats: Any) -> Any:
    import numpy as np
    from scipy import stats as sps

    from ._drift_stats import ks_p_value

    n, w = reference.n_values, positions.shape[1]
    if max(w, n - w) > KS_EXACT_MAX_N:
        big, small = max(w, n - w), min(w, n - w)
        p = sps.kstwo.sf(stats, round(big * small / (big + small)))
        return np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    # The exact p-value depends on D alone: one ks_2samp per distinct D.
    rounded = np.round(stats, 12)
    distinct, first = np.unique(rounded, return_index=True)
    p_of = np.empty(distinct.size)
    for i, row in enumerate(first):
        drawn = np.zeros(n, dtype=bool)
        drawn[positions[row]] = True
        values = reference.values
        p_of[i] = ks_p_value(float(stats[row]), values[~drawn], values[drawn])
    return p_of[np.searchsorted(distinct, rounded)]


def _wasserstein(reference: NumericReference, positions: Any) -> Arrays:
    import numpy as np

    n, w = reference.n_values, positions.shape[1]
    shift = float(np.mean(reference.values))
    r = reference.values - shift  # centred: the prefix sums below lose less to rounding
    prefix = np.concatenate(([0.0], np.cumsum(r)))
    p = positions
    x = r[p]

    def area(t: Any) -> Any:
        # integral over [0, t] (in reference-index units) of |x - r[ceil(s) - 1]| ds
        whole = np.minimum(np.floor(t).astype(np.int64), n)
        part = t - whole
        below = whole * x - prefix[whole]  # rows before `whole`, all <= x when whole <= p
        split = (p * x - prefix[p]) + (prefix[whole] - prefix[p]) - (whole - p) * x
        summed = np.where(whole <= p, below, split)
        return summed + part * np.abs(x - r[np.minimum(whole, n - 1)])

    k = np.arange(1, w + 1, dtype=np.float64)
    within = area(k * n / w) - area((k - 1) * n / w)
    raw = within.sum(axis=1) / n * (n / (n - w))
    rest = n - w
    sum_rest = prefix[-1] - x.sum(axis=1)
    squares_rest = float(np.sum(r * r)) - (x * x).sum(axis=1)
    std = np.sqrt(np.maximum(squares_rest / rest - (sum_rest / rest) ** 2, 0.0))
    return raw / np.maximum(std, WASSERSTEIN_MIN_NORM), None, raw


def _codes(reference: ColumnReference) -> tuple[Any, Any]:
    """Each (sorted) reference row's category index, and the categories' counts."""
    import numpy as np

    if isinstance(reference, CategoricalReference):
        counts = reference.counts
        return np.repeat(np.arange(counts.size), counts), counts
    r = reference.values
    new = np.empty(r.size, dtype=bool)
    new[0] = True
    np.not_equal(r[1:], r[:-1], out=new[1:])
    codes = np.cumsum(new) - 1
    return codes, np.bincount(codes)


def _bincount_rows(codes: Any, n_bins: int) -> Any:
    import numpy as np

    n_rows = codes.shape[0]
    offset = (np.arange(n_rows) * n_bins)[:, None]
    return np.bincount((codes + offset).ravel(), minlength=n_rows * n_bins).reshape(n_rows, n_bins)


def _binned(reference: NumericReference, spec: MethodSpec, positions: Any) -> Arrays:
    import numpy as np

    n, w = reference.n_values, positions.shape[1]
    edges = sturges_edges(reference.values[0], reference.values[-1], n, reference.is_integer)
    counts = histogram_counts(reference.values, edges)
    bin_of = np.repeat(np.arange(counts.size), counts)
    drawn = _bincount_rows(bin_of[positions], counts.size)
    binned = _counted(spec, counts, drawn)
    if n_unique_rest_may_fall(reference, w):
        # Evidently bins only when the reference side (here the rest) has more than 20
        # distinct values; the rest may lose some of them to the draw.
        codes, value_counts = _codes(reference)
        by_value = _bincount_rows(codes[positions], value_counts.size)
        kept = ((value_counts - by_value) > 0).sum(axis=1)
        as_categories = _counted(spec, value_counts, by_value)[0]
        return np.where(kept <= BINNED_ABOVE_N_UNIQUE, as_categories, binned[0]), None, None
    return binned


def n_unique_rest_may_fall(reference: NumericReference, window_rows: int) -> bool:
    """A draw can leave the rest with 20 distinct values or fewer."""
    return reference.n_unique - window_rows <= BINNED_ABOVE_N_UNIQUE


def _counted(spec: MethodSpec, counts: Any, drawn: Any) -> Arrays:
    """The statistic per row from counts: the rest (``counts - drawn``) is the reference
    side and the draw the current side, over the reference's categories or bins."""
    import numpy as np
    from scipy import special
    from scipy import stats as sps
    from scipy.spatial import distance

    rest = counts[None, :] - drawn
    n_rest = rest.sum(axis=1, keepdims=True).astype(np.float64)
    w = drawn.sum(axis=1, keepdims=True).astype(np.float64)
    if spec.name == "chisquare":
        k = counts.size
        if k < 2:
            ones = np.ones(drawn.shape[0])
            return ones * 0.0, ones, None
        expected = rest * (w / n_rest)
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = (drawn - expected) ** 2 / expected
        chi = terms.sum(axis=1)
        return chi, sps.chi2.sf(chi, k - 1), None
    if spec.name == "z":
        if counts.size < 2:
            ones = np.ones(drawn.shape[0])
            return ones * 0.0, ones, None
        n1, n2 = n_rest[:, 0], w[:, 0]
        p1 = (n1 - rest[:, 0]) / n1
        p2 = (n2 - drawn[:, 0]) / n2
        pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
        z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
        return z, 2.0 * special.ndtr(-np.abs(z)), None
    ref_share, cur_share = rest / n_rest, drawn / w
    if spec.name == "psi":
        ref_share, cur_share = fill_zeros(ref_share), fill_zeros(cur_share)
        return np.sum((ref_share - cur_share) * np.log(ref_share / cur_share), axis=1), None, None
    return distance.jensenshannon(ref_share, cur_share, axis=1), None, None
