"""ADWIN: a sequential detector of a change in the mean of a stream (Bifet & Gavaldà 2007).

The monitor feeds it the per-prediction correctness stream (1 = correct, 0 = wrong) in the
order labels were joined, so a fall in the window's mean is a fall in live accuracy.

How it works. ADWIN keeps a window ``W`` of the most recent values, compressed into an
exponential histogram: level ``i`` holds up to ``max_buckets`` buckets of ``2**i`` values
(each bucket keeps its sum and its sum of squared deviations), so a window of ``n`` values
takes ``O(max_buckets * log2 n)`` numbers. Every ``clock`` values it tries each bucket
boundary as a cut ``W = W0 . W1`` (``W0`` older) and declares a change when, for some cut
with both sides holding at least ``min_window_length`` values,

    |mean(W0) - mean(W1)| > sqrt(2 * var(W) * L / m) + 2 * L / (3 * m),
    L = ln(2 * ln(|W|) / delta),   1 / m = 1 / (n0 - mwl + 1) + 1 / (n1 - mwl + 1).

It then drops the oldest bucket and tests again until no cut holds: what was dropped is the
old regime (``mean_before``), what stays is the new one (``mean_after``). ``delta`` bounds
the chance of a false detection at each check; the measured false-alarm rate and detection
delays are in ``docs/monitoring.md`` (*Live performance*). The test, the bucket scheme and
the defaults (``delta=0.002``, ``clock=32``, ``max_buckets=5``, ``min_window_length=5``,
``grace_period=10``) are River's ``drift.ADWIN``, whose first detections this reproduces
to the index (``tests/unit/monitor/test_adwin.py``).

The state is a small dict of numbers (:meth:`ADWIN.to_dict`), so the monitor carries a
detector across windows and processes and resumes where it stopped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from ..core import InvalidValueError, did_you_mean

__all__ = ["ADWIN", "Change"]

AlarmOn = Literal["decrease", "increase", "both"]
_ALARM_ON: tuple[AlarmOn, ...] = ("decrease", "increase", "both")
_STATE_VERSION = 1
_STATE_KEYS = frozenset(
    {"version", "params", "n_seen", "width", "total", "variance", "n_detections", "buckets"}
)


@dataclass(frozen=True)
class Change:
    """One change ADWIN found.

    Attributes:
        index: Position in the stream (0-based, counting every value the detector was ever
            given, across windows and restarts from :meth:`ADWIN.from_dict`) of the value at
            whose check the change was found.
        mean_before: Mean of the values dropped from the window: the old regime.
        mean_after: Mean of the window that remains: the new regime.
        n_before: Number of values dropped.
        n_after: Number of values kept (the window's width after the cut).
        is_drop: Whether the mean went down (for a correctness stream: accuracy fell).
        is_alarm: Whether this change raises an alarm: by default only a drop does; a rise
            is reported, not alarmed.
    """

    index: int
    mean_before: float
    mean_after: float
    n_before: int
    n_after: int
    is_drop: bool
    is_alarm: bool

    @property
    def start_index(self) -> int:
        """Where the new regime starts, as far as ADWIN can tell: the oldest value kept."""
        return self.index - self.n_after + 1

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "start_index": self.start_index}


class ADWIN:
    """Adaptive windowing change detector on a stream of numbers (usually 0/1 correctness).

    Args:
        delta: Confidence parameter of the cut test: smaller means fewer false detections
            and later true ones. Between 0 and 1; River's and the paper's default 0.002.
        clock: Test for a change every ``clock`` values (1 tests at every value; 32 costs
            at most 31 values of extra delay for a test 32 times cheaper).
        max_buckets: Buckets kept per level of the histogram before the two oldest merge
            (more is a finer choice of cut points, at more memory and time per test).
        min_window_length: Neither side of a cut may hold fewer values than this.
        grace_period: No test before the window holds more than this many values.
        alarm_on: Which direction of change raises an alarm: ``"decrease"`` (accuracy fell,
            the default), ``"increase"`` (a loss or error rate rose) or ``"both"``. Every
            change is reported either way.

    Raises:
        InvalidValueError: A parameter is out of range.

    Example:
        >>> detector = ADWIN()
        >>> changes = detector.update_many([1] * 2000 + [0] * 200)
        >>> changes[0].index, changes[0].is_drop, changes[0].mean_before
        (2015, True, 1.0)
    """

    def __init__(
        self,
        delta: float = 0.002,
        *,
        clock: int = 32,
        max_buckets: int = 5,
        min_window_length: int = 5,
        grace_period: int = 10,
        alarm_on: AlarmOn = "decrease",
    ) -> None:
        if not isinstance(delta, int | float) or isinstance(delta, bool) or not 0 < delta < 1:
            raise InvalidValueError(
                f"delta must be a number between 0 and 1 (exclusive). Got {delta!r}.",
                hint="The usual value is 0.002; smaller values give fewer false alarms.",
                value=delta,
            )
        for name, value, low in (
            ("clock", clock, 1),
            ("max_buckets", max_buckets, 2),
            ("min_window_length", min_window_length, 1),
            ("grace_period", grace_period, 0),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise InvalidValueError(
                    f"{name} must be an integer >= {low}. Got {value!r}.", value=value
                )
        if alarm_on not in _ALARM_ON:
            raise InvalidValueError(
                f"alarm_on must be one of {', '.join(map(repr, _ALARM_ON))}. "
                f"Got {alarm_on!r}." + did_you_mean(str(alarm_on), _ALARM_ON),
                value=alarm_on,
            )
        self.delta = float(delta)
        self.clock = clock
        self.max_buckets = max_buckets
        self.min_window_length = min_window_length
        self.grace_period = grace_period
        self.alarm_on: AlarmOn = alarm_on
        self.n_seen_ = 0
        self.width_ = 0
        self.total_ = 0.0
        self.variance_ = 0.0  # sum of squared deviations from the window's mean
        self.n_detections_ = 0
        # Level i: the sums and the sums of squared deviations of its buckets of 2**i
        # values, oldest first.
        self._totals: list[list[float]] = [[]]
        self._variances: list[list[float]] = [[]]

    @property
    def mean_(self) -> float | None:
        """Mean of the current window (``None`` before the first value)."""
        return self.total_ / self.width_ if self.width_ else None

    @property
    def n_buckets_(self) -> int:
        return sum(len(level) for level in self._totals)

    def update(self, value: float) -> Change | None:
        """Add one value; return the change found at this value, if any."""
        changes = self.update_many([value])
        return changes[0] if changes else None

    def update_many(self, values: Iterable[float] | Any) -> list[Change]:
        """Add values in stream order; return the changes found, oldest first.

        Exactly the same as calling :meth:`update` on each value, about twice as fast.

        Args:
            values: Finite numbers (booleans count as 0/1): a list or a 1-D array.

        Raises:
            InvalidValueError: A value is missing, not a number or not finite. Nothing is
                added then.
        """
        items = _as_floats(values)
        changes: list[Change] = []
        # Locals: this loop is the per-value cost of monitoring.
        totals0, variances0 = self._totals[0], self._variances[0]
        max_buckets, clock, grace = self.max_buckets, self.clock, self.grace_period
        width, total, variance, n_seen = self.width_, self.total_, self.variance_, self.n_seen_
        for x in items:
            # The window's sum of squared deviations, updated as in Welford's method.
            if width:
                gap = x - total / width
                variance += width * gap * gap / (width + 1)
            width += 1
            total += x
            totals0.append(x)
            variances0.append(0.0)
            if len(totals0) > max_buckets:
                self._merge(0)
            n_seen += 1
            if n_seen % clock == 0 and width > grace:
                self.width_, self.total_, self.variance_ = width, total, variance
                self.n_seen_ = n_seen
                change = self._detect()
                if change is not None:
                    changes.append(change)
                    width, total, variance = self.width_, self.total_, self.variance_
                    totals0, variances0 = self._totals[0], self._variances[0]
        self.width_, self.total_, self.variance_, self.n_seen_ = width, total, variance, n_seen
        return changes

    def _merge(self, level: int) -> None:
        """Merge the two oldest buckets of ``level`` into one of the next level, cascading."""
        totals, variances = self._totals, self._variances
        while len(totals[level]) > self.max_buckets:
            if level + 1 == len(totals):
                totals.append([])
                variances.append([])
            size = 1 << level
            first, second = totals[level][0], totals[level][1]
            gap = (first - second) / size
            # Two halves of ``size`` values each: the parallel-variance formula.
            merged_variance = variances[level][0] + variances[level][1] + size * 0.5 * gap * gap
            del totals[level][:2]
            del variances[level][:2]
            totals[level + 1].append(first + second)
            variances[level + 1].append(merged_variance)
            level += 1

    def _detect(self) -> Change | None:
        """Drop the oldest bucket while some cut holds; the dropped part is the old regime."""
        n_dropped, dropped_total = 0, 0.0
        while self._has_cut():
            size, bucket_total = self._drop_oldest()
            n_dropped += size
            dropped_total += bucket_total
        if not n_dropped:
            return None
        self.n_detections_ += 1
        mean_before = dropped_total / n_dropped
        mean_after = self.total_ / self.width_
        is_drop = mean_after < mean_before
        return Change(
            index=self.n_seen_ - 1,
            mean_before=mean_before,
            mean_after=mean_after,
            n_before=n_dropped,
            n_after=self.width_,
            is_drop=is_drop,
            is_alarm=self.alarm_on == "both" or is_drop == (self.alarm_on == "decrease"),
        )

    def _has_cut(self) -> bool:
        width = self.width_
        mwl = self.min_window_length
        if width < 2 * mwl:
            return False
        log_term = math.log(2.0 * math.log(width) / self.delta)
        two_var_log = 2.0 * (self.variance_ / width) * log_term
        bias = 2.0 / 3.0 * log_term
        n0, n1, u0, u1 = 0, width, 0.0, self.total_
        # Cuts from the oldest bucket to the newest; W1 must keep ``mwl`` values.
        for level in range(len(self._totals) - 1, -1, -1):
            size = 1 << level
            for bucket_total in self._totals[level]:
                n0 += size
                n1 -= size
                u0 += bucket_total
                u1 -= bucket_total
                if n1 < mwl:
                    return False
                if n0 < mwl:
                    continue
                m_inverse = 1.0 / (n0 - mwl + 1) + 1.0 / (n1 - mwl + 1)
                excess = abs(u0 / n0 - u1 / n1) - bias * m_inverse
                # |gap| > sqrt(a) + b  <=>  |gap| - b > 0 and (|gap| - b)^2 > a
                if excess > 0 and excess * excess > two_var_log * m_inverse:
                    return True
        return False

    def _drop_oldest(self) -> tuple[int, float]:
        top = len(self._totals) - 1
        size = 1 << top
        bucket_total = self._totals[top].pop(0)
        bucket_variance = self._variances[top].pop(0)
        if not self._totals[top] and top > 0:
            self._totals.pop()
            self._variances.pop()
        self.width_ -= size
        self.total_ -= bucket_total
        gap = bucket_total / size - self.total_ / self.width_
        self.variance_ -= bucket_variance + size * self.width_ * gap * gap / (size + self.width_)
        return size, bucket_total

    # --- state ----------------------------------------------------------------------------

    def get_params(self) -> dict[str, Any]:
        return {
            "delta": self.delta,
            "clock": self.clock,
            "max_buckets": self.max_buckets,
            "min_window_length": self.min_window_length,
            "grace_period": self.grace_period,
            "alarm_on": self.alarm_on,
        }

    def to_dict(self) -> dict[str, Any]:
        """The parameters and the whole state as plain numbers and lists (JSON-ready).

        About ``2 * max_buckets * log2(width)`` floats: under 2 KB of JSON for a window of a
        million values.
        """
        return {
            "version": _STATE_VERSION,
            "params": self.get_params(),
            "n_seen": self.n_seen_,
            "width": self.width_,
            "total": self.total_,
            "variance": self.variance_,
            "n_detections": self.n_detections_,
            "buckets": [
                [list(totals), list(variances)]
                for totals, variances in zip(self._totals, self._variances, strict=True)
            ],
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> ADWIN:
        """A detector that resumes exactly where the one that wrote ``state`` stopped.

        Raises:
            InvalidValueError: ``state`` is not what :meth:`to_dict` writes.
        """
        hint = "Pass the dict ADWIN.to_dict() returned, unchanged."
        if not isinstance(state, Mapping) or set(state) != _STATE_KEYS:
            keys = sorted(state) if isinstance(state, Mapping) else type(state).__name__
            raise InvalidValueError(
                f"An ADWIN state must have the keys {sorted(_STATE_KEYS)}. Got {keys}.",
                hint=hint,
            )
        if state["version"] != _STATE_VERSION:
            raise InvalidValueError(
                f"This ADWIN state has version {state['version']!r}; this conveyor reads "
                f"version {_STATE_VERSION}.",
                hint="Start a new detector (ADWIN()) and feed it the labelled stream again.",
            )
        params = state["params"]
        if not isinstance(params, Mapping):
            raise InvalidValueError("An ADWIN state's 'params' must be a dict.", hint=hint)
        detector = cls(**params)
        try:
            buckets = [(_floats(t), _floats(v)) for t, v in state["buckets"]]
            detector.n_seen_ = _count(state["n_seen"])
            detector.width_ = _count(state["width"])
            detector.n_detections_ = _count(state["n_detections"])
            detector.total_ = float(state["total"])
            detector.variance_ = float(state["variance"])
        except (TypeError, ValueError) as exc:
            raise InvalidValueError(f"An ADWIN state is malformed: {exc}.", hint=hint) from None
        sizes = sum(len(t) << level for level, (t, _) in enumerate(buckets))
        if (
            not buckets
            or any(len(t) != len(v) or len(t) > detector.max_buckets for t, v in buckets)
            or sizes != detector.width_
        ):
            raise InvalidValueError(
                f"An ADWIN state's buckets do not add up to its width ({state['width']!r}).",
                hint=hint,
            )
        detector._totals = [t for t, _ in buckets]
        detector._variances = [v for _, v in buckets]
        return detector

    def __repr__(self) -> str:
        return (
            f"ADWIN(delta={self.delta}, clock={self.clock}, width={self.width_}, "
            f"mean={self.mean_}, n_seen={self.n_seen_}, n_detections={self.n_detections_})"
        )


def _as_floats(values: Any) -> list[float]:
    import numpy as np

    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidValueError(
            "ADWIN takes numbers (1 = correct, 0 = wrong for a correctness stream). Got "
            f"values that are not numbers: {_preview(values)}.",
            hint="Compare predictions with labels first: (predicted == label).astype(int).",
        ) from None
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim != 1:
        raise InvalidValueError(
            f"ADWIN takes a 1-D sequence of values. Got an array of shape {array.shape}."
        )
    bad = ~np.isfinite(array)
    if bad.any():
        raise InvalidValueError(
            f"ADWIN takes finite numbers. Got {int(bad.sum()):,} missing or infinite value(s) "
            f"out of {len(array):,}, the first at position {int(np.argmax(bad))}.",
            hint="Feed only labelled predictions: drop the rows whose label has not arrived.",
        )
    result: list[float] = array.tolist()
    return result


def _preview(values: Any) -> str:
    try:
        return repr(list(values)[:5])
    except TypeError:
        return repr(values)


def _floats(values: Any) -> list[float]:
    result = [float(v) for v in values]
    if not all(math.isfinite(v) for v in result):
        raise ValueError("a bucket holds a value that is not finite")
    return result


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"expected a non-negative integer, got {value!r}")
    return value
