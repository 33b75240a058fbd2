"""Compare two profiles from their sketches alone: drift and skew statistics, and diffs.

Every statistic here reads only the two profiles (no raw data), so snapshots, prediction
windows and training sets compare at the cost of a few sketch queries:

- :func:`psi` and :func:`jensen_shannon` over shared bins: the reference's deciles for
  numbers (each side's share from its own CDF), categories plus an ``other`` bucket for
  categorical and boolean columns;
- :func:`ks_statistic` and :func:`wasserstein` for numbers, each returned with the error
  it inherits from the sketches;
- :func:`compare_profiles`: added, removed and retyped columns and, per shared column,
  null rates, quantile and mean shifts, new and vanished categories, the biggest category
  share changes, PSI, JS and KS (``conveyor data diff`` and the skew check).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, NamedTuple

from ..core import InvalidValueError, NotFoundError, did_you_mean
from . import _sketch as sk
from ._profile import SUMMARY_QUANTILES, CategoryValue, ColumnProfile, TableProfile

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

# Added to every bin share (then renormalised) before PSI takes logs, so a bin empty on one
# side costs at most share * ln(share / 1e-4) (0.69 for a 10% bin) instead of infinity.
PSI_EPSILON = 1e-4
N_CATEGORY_CHANGES = 10
N_LISTED_CATEGORIES = 20


class SketchEstimate(NamedTuple):
    """A statistic computed from sketches and a bound on its error (99% confidence).

    Attributes:
        value: The estimate.
        error: ``|value - exact value on the raw data|`` is at most this.
    """

    value: float
    error: float


def _check_pair(reference: ColumnProfile, current: ColumnProfile, what: str) -> None:
    if reference.kind != current.kind:
        raise InvalidValueError(
            f"Cannot compute {what} between column {reference.name!r} ({reference.kind}) "
            f"and column {current.name!r} ({current.kind}): the kinds differ."
        )
    if reference.kind == "other":
        raise InvalidValueError(
            f"Column {reference.name!r} is {reference.arrow_type}: it has no distribution "
            f"to compute {what} on."
        )
    for side, profile in (("reference", reference), ("current", current)):
        if profile.n_values == 0:
            raise InvalidValueError(
                f"Cannot compute {what} for column {profile.name!r}: the {side} profile has "
                "no values (every row is null or NaN)."
            )


def _is_numeric(profile: ColumnProfile) -> bool:
    return profile.kind in ("numeric", "temporal")


def _needs_numbers(reference: ColumnProfile, current: ColumnProfile, what: str) -> None:
    _check_pair(reference, current, what)
    if not _is_numeric(reference):
        raise InvalidValueError(
            f"{what} needs numeric or temporal columns; column {reference.name!r} is "
            f"{reference.kind}.",
            hint="Use psi() or jensen_shannon() for categories.",
        )


def binned_shares(
    reference: ColumnProfile, current: ColumnProfile, n_bins: int = 10
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Both sides' shares over common bins (see the module docstring)."""
    import numpy as np

    if not isinstance(n_bins, int) or n_bins < 2:
        raise InvalidValueError(f"Binning needs n_bins >= 2. Got {n_bins!r}.")
    if _is_numeric(reference):
        # Edges at the reference's quantiles; ties (few distinct values) merge bins.
        edges = sorted(set(reference.quantiles([i / n_bins for i in range(1, n_bins)])))
        ref = np.diff(np.concatenate(([0.0], reference.cdf(edges), [1.0])))
        cur = np.diff(np.concatenate(([0.0], current.cdf(edges), [1.0])))
        return np.clip(ref, 0.0, 1.0), np.clip(cur, 0.0, 1.0)
    ref_counts = dict(zip(reference.values, reference.counts, strict=True))
    cur_counts = dict(zip(current.values, current.counts, strict=True))
    categories = list(ref_counts) + [v for v in cur_counts if v not in ref_counts]
    ref = np.array([ref_counts.get(c, 0) for c in categories], dtype=np.float64)
    cur = np.array([cur_counts.get(c, 0) for c in categories], dtype=np.float64)
    ref /= reference.n_values
    cur /= current.n_values
    # 'other': mass no listed category holds (only once counts have degraded).
    ref = np.append(ref, max(0.0, 1.0 - ref.sum()))
    cur = np.append(cur, max(0.0, 1.0 - cur.sum()))
    return ref, cur


def psi(
    reference: ColumnProfile,
    current: ColumnProfile,
    *,
    n_bins: int = 10,
    epsilon: float = PSI_EPSILON,
) -> float:
    """Population stability index ``sum((c - r) * ln(c / r))`` over common bins.

    Numbers: ``n_bins`` bins at the reference's quantiles (deciles by default), each side's
    share from its own sketch's CDF. Categories: one bin per category either side lists,
    plus ``other``. ``epsilon`` is added to every share (then renormalised) so an empty bin
    gives a large but finite value. Common reading: < 0.1 stable, 0.1-0.25 moderate shift,
    > 0.25 major shift.

    Raises:
        InvalidValueError: the columns differ in kind, have no distribution, a side has no
            values, or ``epsilon`` is not in (0, 1).
    """
    import numpy as np

    _check_pair(reference, current, "PSI")
    if not 0.0 < epsilon < 1.0:
        raise InvalidValueError(
            f"PSI's epsilon must be in (0, 1) so empty bins stay finite. Got {epsilon!r}.",
            hint=f"The default is {PSI_EPSILON}.",
        )
    ref, cur = binned_shares(reference, current, n_bins)
    ref = (ref + epsilon) / (1.0 + epsilon * len(ref))
    cur = (cur + epsilon) / (1.0 + epsilon * len(cur))
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def jensen_shannon(reference: ColumnProfile, current: ColumnProfile, *, n_bins: int = 10) -> float:
    """Jensen-Shannon distance (square root of the base-2 divergence), in [0, 1].

    Same bins as :func:`psi`; equal to ``scipy.spatial.distance.jensenshannon(r, c, base=2)``
    on those shares. 0 for equal distributions, 1 for disjoint ones.
    """
    import numpy as np

    _check_pair(reference, current, "the Jensen-Shannon distance")
    ref, cur = binned_shares(reference, current, n_bins)
    ref, cur = ref / ref.sum(), cur / cur.sum()
    mid = (ref + cur) / 2.0

    def kl(p: npt.NDArray[np.float64]) -> float:
        held = p > 0
        return float(np.sum(p[held] * np.log2(p[held] / mid[held])))

    divergence = (kl(ref) + kl(cur)) / 2.0
    return math.sqrt(min(1.0, max(0.0, divergence)))


def _grid_points(profile: ColumnProfile, n_grid: int) -> list[float]:
    import numpy as np

    return profile.quantiles(np.linspace(0.0, 1.0, n_grid + 1).tolist())


def ks_statistic(
    reference: ColumnProfile, current: ColumnProfile, *, n_grid: int = 1024
) -> SketchEstimate:
    """Two-sample Kolmogorov-Smirnov statistic: the largest gap between the two CDFs.

    Evaluated at the union of both sketches' quantiles on an ``n_grid`` rank grid, at each
    point and just below it. Error: each sketch's ``rank_error`` plus ``2 / n_grid`` for
    the gaps between grid points.
    """
    import numpy as np

    _needs_numbers(reference, current, "The KS statistic")
    points = np.unique(
        np.concatenate((_grid_points(reference, n_grid), _grid_points(current, n_grid)))
    ).tolist()
    gap = 0.0
    for strict in (False, True):
        ref = np.asarray(reference.cdf(points, strict=strict))
        cur = np.asarray(current.cdf(points, strict=strict))
        gap = max(gap, float(np.max(np.abs(ref - cur))))
    return SketchEstimate(gap, reference.rank_error + current.rank_error + 2.0 / n_grid)


def wasserstein(
    reference: ColumnProfile, current: ColumnProfile, *, n_grid: int = 1000
) -> SketchEstimate:
    """First Wasserstein (earth mover's) distance, in the columns' units.

    ``W1 = integral over u in (0, 1) of |Q_ref(u) - Q_cur(u)|``, approximated by the mean
    over ``n_grid`` midpoints ``u = (i + 0.5) / n_grid`` of the sketches' quantiles. Error:
    a rank error ``e`` moves ``Q(u)`` within ``[Q(u - e), Q(u + e)]``, so each side adds the
    mean of ``Q(u + e) - Q(u - e)`` over the grid; the midpoint rule adds at most
    ``(range_ref + range_cur) / n_grid``. Infinite values make it infinite.
    """
    import numpy as np

    _needs_numbers(reference, current, "The Wasserstein distance")
    grid = (np.arange(n_grid) + 0.5) / n_grid
    ref = np.asarray(reference.quantiles(grid.tolist()))
    cur = np.asarray(current.quantiles(grid.tolist()))
    with np.errstate(invalid="ignore"):
        value = float(np.mean(np.abs(ref - cur)))
        error = 0.0
        for profile in (reference, current):
            spread = float(profile.max) - float(profile.min)  # type: ignore[arg-type]
            error += spread / n_grid
            if profile.rank_error:
                up = profile.quantiles(np.clip(grid + profile.rank_error, 0, 1).tolist())
                down = profile.quantiles(np.clip(grid - profile.rank_error, 0, 1).tolist())
                error += float(np.mean(np.asarray(up) - np.asarray(down)))
    return SketchEstimate(value, error if math.isfinite(error) else math.inf)


# ------------------------------------------------------------------------------ diffs -----


@dataclass(frozen=True)
class ColumnDiff:
    """How one column present in both profiles changed.

    Attributes:
        name: The column.
        reference_type, current_type: Arrow types.
        kind: The current kind. ``comparable`` is False when the kinds differ, the column
            is ``other``, or a side has no values: then only null rates are compared.
        null_rate: ``(reference, current)``; likewise ``nan_rate`` and ``mean``.
        quantiles: ``{"p5": (reference, current), ... "p95": ...}`` for numbers.
        psi, jensen_shannon: Drift over common bins (see :func:`psi`); ``ks`` for numbers.
        new_categories, vanished_categories: ``(value, count)`` listed by one side only,
            the most frequent first (at most 20).
        share_changes: ``(value, reference share, current share)``, largest change first.
        categories_exact: Both sides count categories exactly (else "new" and "vanished"
            mean "not among the tracked heavy hitters").
    """

    name: str
    kind: str
    reference_type: str
    current_type: str
    comparable: bool
    null_rate: tuple[float, float]
    nan_rate: tuple[float, float]
    mean: tuple[float | None, float | None] = (None, None)
    quantiles: dict[str, tuple[float, float]] = field(default_factory=dict)
    psi: float | None = None
    jensen_shannon: float | None = None
    ks: SketchEstimate | None = None
    new_categories: tuple[tuple[CategoryValue, int], ...] = ()
    vanished_categories: tuple[tuple[CategoryValue, int], ...] = ()
    share_changes: tuple[tuple[CategoryValue, float, float], ...] = ()
    categories_exact: bool = True

    @property
    def mean_shift(self) -> float | None:
        """Current mean minus reference mean."""
        before, after = self.mean
        return None if before is None or after is None else after - before

    def to_dict(self) -> dict[str, Any]:
        """Strict-JSON form."""
        pair = _json_pair
        return {
            "name": self.name,
            "kind": self.kind,
            "reference_type": self.reference_type,
            "current_type": self.current_type,
            "comparable": self.comparable,
            "null_rate": list(self.null_rate),
            "nan_rate": list(self.nan_rate),
            "mean": pair(self.mean),
            "mean_shift": sk.json_float(self.mean_shift),
            "quantiles": {label: pair(values) for label, values in self.quantiles.items()},
            "psi": sk.json_float(self.psi),
            "jensen_shannon": sk.json_float(self.jensen_shannon),
            "ks": None if self.ks is None else {"value": self.ks.value, "error": self.ks.error},
            "new_categories": [list(item) for item in self.new_categories],
            "vanished_categories": [list(item) for item in self.vanished_categories],
            "share_changes": [list(item) for item in self.share_changes],
            "categories_exact": self.categories_exact,
        }


def _json_pair(values: tuple[float | None, float | None]) -> list[Any]:
    return [sk.json_float(v) for v in values]


@dataclass(frozen=True)
class ProfileDiff:
    """What changed from a reference profile to a current one.

    Attributes:
        n_rows: ``(reference, current)``.
        added, removed: Columns only in the current / only in the reference profile.
        retyped: ``(name, reference type, current type)`` for columns whose type changed.
        columns: A :class:`ColumnDiff` per column in both, in the current profile's order.
    """

    n_rows: tuple[int, int]
    added: tuple[str, ...]
    removed: tuple[str, ...]
    retyped: tuple[tuple[str, str, str], ...]
    columns: tuple[ColumnDiff, ...]

    def __getitem__(self, name: str) -> ColumnDiff:
        for column in self.columns:
            if column.name == name:
                return column
        names = [c.name for c in self.columns]
        raise NotFoundError(
            f"The diff has no column {name!r} in both profiles; it has {names}."
            f"{did_you_mean(name, names)}"
        )

    def to_dict(self) -> dict[str, Any]:
        """Strict-JSON form."""
        return {
            "n_rows": list(self.n_rows),
            "added": list(self.added),
            "removed": list(self.removed),
            "retyped": [list(item) for item in self.retyped],
            "columns": [c.to_dict() for c in self.columns],
        }


def compare_profiles(reference: TableProfile, current: TableProfile) -> ProfileDiff:
    """Diff two table profiles (``conveyor data diff A B``; the skew check reads its PSI/JS)."""
    ref_names = set(reference.names)
    cur_names = set(current.names)
    shared = [name for name in current.names if name in ref_names]
    return ProfileDiff(
        n_rows=(reference.n_rows, current.n_rows),
        added=tuple(n for n in current.names if n not in ref_names),
        removed=tuple(n for n in reference.names if n not in cur_names),
        retyped=tuple(
            (n, reference[n].arrow_type, current[n].arrow_type)
            for n in shared
            if reference[n].arrow_type != current[n].arrow_type
        ),
        columns=tuple(compare_columns(reference[n], current[n]) for n in shared),
    )


def compare_columns(reference: ColumnProfile, current: ColumnProfile) -> ColumnDiff:
    """:class:`ColumnDiff` of two profiles of one column."""
    comparable = (
        reference.kind == current.kind
        and reference.kind != "other"
        and reference.n_values > 0
        and current.n_values > 0
    )
    diff = ColumnDiff(
        name=current.name,
        kind=current.kind,
        reference_type=reference.arrow_type,
        current_type=current.arrow_type,
        comparable=comparable,
        null_rate=(reference.null_rate, current.null_rate),
        nan_rate=(reference.nan_rate, current.nan_rate),
    )
    if not comparable:
        return diff
    drift: dict[str, Any] = {
        "psi": psi(reference, current),
        "jensen_shannon": jensen_shannon(reference, current),
    }
    if _is_numeric(reference):
        labels = [label for label, _ in SUMMARY_QUANTILES]
        qs = [q for _, q in SUMMARY_QUANTILES]
        before, after = reference.quantiles(qs), current.quantiles(qs)
        drift |= {
            "mean": (reference.mean, current.mean),
            "quantiles": dict(zip(labels, zip(before, after, strict=True), strict=True)),
            "ks": ks_statistic(reference, current),
        }
    else:
        drift |= _category_changes(reference, current)
    return replace(diff, **drift)


def _category_changes(reference: ColumnProfile, current: ColumnProfile) -> dict[str, Any]:
    ref_counts = dict(zip(reference.values, reference.counts, strict=True))
    cur_counts = dict(zip(current.values, current.counts, strict=True))
    shares = [
        (
            value,
            ref_counts.get(value, 0) / reference.n_values,
            cur_counts.get(value, 0) / current.n_values,
        )
        for value in list(ref_counts) + [v for v in cur_counts if v not in ref_counts]
    ]
    shares.sort(key=lambda item: (-abs(item[2] - item[1]), str(item[0])))
    return {
        # Dicts keep the profiles' order: most frequent first.
        "new_categories": _only_in(cur_counts, ref_counts),
        "vanished_categories": _only_in(ref_counts, cur_counts),
        "share_changes": tuple(shares[:N_CATEGORY_CHANGES]),
        "categories_exact": reference.counts_exact and current.counts_exact,
    }


def _only_in(
    counts: dict[CategoryValue, int], other: dict[CategoryValue, int]
) -> tuple[tuple[CategoryValue, int], ...]:
    return tuple((v, c) for v, c in counts.items() if v not in other)[:N_LISTED_CATEGORIES]
