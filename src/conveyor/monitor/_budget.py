"""The false-alarm budget: how often a monitor that runs every window may cry wolf.

A test run every window on every feature raises false alarms at a predictable rate
(hourly windows x 20 features at alpha 0.05 is about 15 a day). A monitor here states the
mean number of windows between false alarms it accepts (its *expected run time*, ERT, as
alibi-detect's online detectors take it) for each level, and meets it by construction:

- **calibrated p-values**: each feature's statistic is ranked among its own values on
  windows resampled from the reference data (:func:`empirical_p_values`), not compared
  with a textbook constant;
- **multiple testing**: a window is *flagged* when any feature's p-value is at most the
  Šidák level ``1 - (1 - p) ** (1 / m)`` for ``m`` features, so a stationary window is
  flagged with probability at most ``p`` (exactly ``p`` for independent features);
- **persistence**: an alarm needs ``k`` flagged windows among the last ``n``;
- **cooldown**: after an alarm the monitor is silent for ``cooldown`` windows, then starts
  counting afresh.

Alarms are then a renewal process: the mean time between false alarms is ``cooldown``
plus the mean time for ``k`` of ``n`` flags to gather from nothing, which
:func:`expected_run_time` computes exactly (a linear solve over the last ``n`` windows'
flags). :func:`window_level` inverts it: the per-window flag probability ``p`` whose ERT
is the budget. Windows are assumed independent, which non-overlapping windows of a
stationary stream are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core import InvalidValueError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

# The largest persistence window n: the exact solve has 2**n states.
MAX_PERSISTENCE = 12


def _check_policy(k: int, n: int, cooldown: int) -> None:
    if not (isinstance(n, int) and 1 <= n <= MAX_PERSISTENCE):
        raise InvalidValueError(
            f"Persistence needs n between 1 and {MAX_PERSISTENCE} windows. Got n={n!r}."
        )
    if not (isinstance(k, int) and 1 <= k <= n):
        raise InvalidValueError(
            f"Persistence needs k flagged windows out of n={n}, with 1 <= k <= n. Got k={k!r}.",
            hint="For example k=2, n=3: two of the last three windows.",
        )
    if not (isinstance(cooldown, int) and cooldown >= 0):
        raise InvalidValueError(
            f"The cooldown must be a whole number of windows >= 0. Got {cooldown!r}."
        )


def expected_run_time(p: float, k: int, n: int, cooldown: int = 0) -> float:
    """Mean number of windows between false alarms, when each window is flagged
    independently with probability ``p`` and an alarm needs ``k`` flags among the last
    ``n`` windows (counted from the end of the previous alarm's ``cooldown``).
    """
    import numpy as np

    _check_policy(k, n, cooldown)
    if not 0.0 < p <= 1.0:
        if p == 0.0:
            return math.inf
        raise InvalidValueError(f"A flag probability must be in (0, 1]. Got {p!r}.")
    # States: the flags of the last n windows as a bit mask (newest in bit 0), among those
    # with fewer than k flags; a transition that makes k flags is the alarm (absorbing).
    size = 1 << n
    masks = np.arange(size)
    counts = np.array([bin(m).count("1") for m in range(size)])
    live = counts < k
    index = -np.ones(size, dtype=np.int64)
    index[live] = np.arange(int(live.sum()))
    q = np.zeros((int(live.sum()), int(live.sum())))
    for flag, prob in ((0, 1.0 - p), (1, p)):
        nxt = ((masks << 1) | flag) & (size - 1)
        rows = index[live]
        targets = index[nxt[live]]
        keep = targets >= 0
        np.add.at(q, (rows[keep], targets[keep]), prob)
    # t = 1 + Q t: the expected windows to absorption from each state, from the empty one.
    t = np.linalg.solve(np.eye(q.shape[0]) - q, np.ones(q.shape[0]))
    return float(cooldown + t[index[0]])


def window_level(ert: float, k: int, n: int, cooldown: int = 0) -> float:
    """The per-window flag probability whose :func:`expected_run_time` is ``ert``.

    Raises:
        InvalidValueError: ``ert`` is not reachable: at most ``cooldown + k`` windows
            separate alarms that fire as soon as they may.
    """
    _check_policy(k, n, cooldown)
    floor = expected_run_time(1.0, k, n, cooldown)
    if not (isinstance(ert, int | float) and math.isfinite(ert) and ert > floor):
        raise InvalidValueError(
            f"A false-alarm budget of one per {ert!r} windows cannot be met with k={k}, "
            f"n={n}, cooldown={cooldown}: alarms are at least {floor:g} windows apart.",
            hint=f"Give a budget above {floor:g} windows.",
        )
    lo, hi = 0.0, 1.0
    # ERT falls as p rises; 60 halvings resolve p far below any budget's needs.
    for _ in range(60):
        mid = (lo + hi) / 2
        if expected_run_time(mid, k, n, cooldown) > ert:
            lo = mid
        else:
            hi = mid
    return lo


def feature_level(p: float, n_features: int) -> float:
    """The per-feature level (Šidák) at which ``n_features`` independent tests flag a
    window with probability ``p``; with dependent features the window's rate is lower."""
    if n_features < 1:
        raise InvalidValueError(f"A monitor needs at least one feature. Got {n_features}.")
    return float(1.0 - (1.0 - p) ** (1.0 / n_features))


def draws_needed(level: float, *, minimum: int = 500, maximum: int = 20_000) -> int:
    """How many resampled windows resolve a p-value of ``level``: ten draws beyond it, so
    the smallest p-value a rank can give (1 / (B + 1)) is a tenth of ``level``."""
    return int(min(maximum, max(minimum, math.ceil(10.0 / level))))


def empirical_p_values(
    statistics: npt.ArrayLike, null_draws: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """Each statistic's p-value among its own null draws: ``(1 + #{null >= s}) / (B + 1)``.

    Args:
        statistics: One statistic per feature, shape ``(m,)`` (larger means more drift).
        null_draws: Shape ``(B, m)``: the statistic on ``B`` windows resampled from the
            reference. A NaN statistic (nothing to compare) gets p-value 1.
    """
    import numpy as np

    stats = np.asarray(statistics, dtype=np.float64)
    null = np.sort(np.asarray(null_draws, dtype=np.float64), axis=0)
    if null.ndim != 2 or null.shape[1] != stats.shape[0]:
        raise InvalidValueError(
            f"Null draws must have one column per statistic: got shape {null.shape} for "
            f"{stats.shape[0]} statistics."
        )
    n_draws = null.shape[0]
    # Rows of the sorted draws at or above each statistic, per column.
    at_or_above = np.array(
        [n_draws - np.searchsorted(null[:, j], stats[j], side="left") for j in range(len(stats))],
        dtype=np.float64,
    )
    p = (1.0 + at_or_above) / (n_draws + 1.0)
    p[np.isnan(stats)] = 1.0
    return np.asarray(p, dtype=np.float64)


@dataclass(frozen=True)
class AlarmLevel:
    """One alarm level of a monitor: its name, budget and persistence.

    Attributes:
        name: ``warning`` or ``drift``.
        ert: Mean windows between false alarms on stationary data (the budget).
        k: Flagged windows needed...
        n: ...among the last ``n``.
        cooldown: Silent windows after an alarm.
    """

    name: str
    ert: float
    k: int
    n: int
    cooldown: int = 0

    def __post_init__(self) -> None:
        window_level(self.ert, self.k, self.n, self.cooldown)  # validates

    @property
    def window_p(self) -> float:
        """The probability that a stationary window is flagged at this level."""
        return window_level(self.ert, self.k, self.n, self.cooldown)

    def feature_p(self, n_features: int) -> float:
        """The p-value at or below which one of ``n_features`` features flags a window."""
        return feature_level(self.window_p, n_features)

    def advance(self, state: dict[str, Any] | None, flagged: bool) -> tuple[bool, dict[str, Any]]:
        """Take one window's flag; return whether it raises an alarm and the new state.

        The state (``{"flags": [...], "cooldown": c}``, newest flag last) is JSON-ready, so
        a monitor carries it from one run to the next in the store.
        """
        flags = list((state or {}).get("flags", []))
        cooldown = int((state or {}).get("cooldown", 0))
        if cooldown > 0:
            return False, {"flags": [], "cooldown": cooldown - 1}
        flags = (flags + [bool(flagged)])[-self.n :]
        if sum(flags) >= self.k:
            return True, {"flags": [], "cooldown": self.cooldown}
        return False, {"flags": flags, "cooldown": 0}

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.name,
            "ert_windows": self.ert,
            "k": self.k,
            "n": self.n,
            "cooldown": self.cooldown,
            "window_p": self.window_p,
        }
