"""What the runner decides, apart from doing it: pure functions of what it knows.

Whether a step may start, why one did not run, whether a failed attempt is retried and
when, what a fan-out's items add up to, how the run ends, and how to acquire a run to
resume. No store, no executor, no clock of their own: ``_runner.py`` reads the state,
asks here, and does the I/O. So every rule is unit-tested without a store.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from ..core import STEP_DONE, STEP_NOT_RUN, STEP_UNSUCCESSFUL

Verdict = Literal["wait", "go", "skipped", "upstream_failed", "cancelled"]

# The status sets live in core (one place for the store, the runner and the CLI).
TERMINAL = STEP_DONE
NOT_RUN = STEP_NOT_RUN
FAILED = STEP_UNSUCCESSFUL
# A thread-mode attempt past its time-out is given this much longer to return on its own
# before the runner abandons it (a thread cannot be killed).
TIMEOUT_GRACE = 0.5


def readiness(upstream: Mapping[str, str], *, fail_fast_tripped: bool = False) -> Verdict:
    """May a step start, given its upstream steps' statuses (name to status)?

    A failure upstream wins over everything; then fail-fast and cancellation; a step waits
    while any upstream step is unfinished; a skipped upstream skips it. ``go`` still has to
    pass the step's condition, if it has one (:func:`condition_holds`).
    """
    statuses = upstream.values()
    if any(s in ("failed", "upstream_failed") for s in statuses):
        return "upstream_failed"
    if fail_fast_tripped or any(s == "cancelled" for s in statuses):
        return "cancelled"
    if not all(s in TERMINAL for s in statuses):
        return "wait"
    if any(s == "skipped" for s in statuses):
        return "skipped"
    return "go"


def condition_holds(value: object, *, negate: bool) -> bool:
    """A ``when=`` condition: the value's truth, or its opposite for ``~ref``."""
    return bool(value) != negate


def skip_reason(
    verdict: Verdict, upstream: Mapping[str, str], condition: tuple[str, bool] | None = None
) -> str:
    """Why a step did not run, naming the upstream step that decided it.

    Args:
        verdict: ``skipped``, ``upstream_failed`` or ``cancelled``.
        upstream: Upstream step name to status.
        condition: ``(reference as text, negate)`` of the step's condition, if any.
    """
    causes, word = {
        "skipped": ({"skipped"}, "was skipped"),
        "upstream_failed": ({"failed", "upstream_failed"}, "failed"),
        "cancelled": ({"cancelled"}, "was cancelled"),
    }[verdict]
    culprits = [name for name in sorted(upstream) if upstream[name] in causes]
    if culprits:
        return f"upstream step {culprits[0]!r} {word}"
    if verdict == "skipped" and condition is not None:
        ref, negate = condition
        return f"condition {'~' if negate else ''}{ref} was false"
    return "cancelled by fail_fast after a failure"


def will_retry(attempt: int, base_attempt: int, retries: int, *, final: bool = False) -> bool:
    """Is a failed ``attempt`` retried? ``retries`` more tries than the first, counted from
    ``base_attempt`` (the attempts made before this runner took the run over)."""
    return not final and attempt - base_attempt < retries + 1


def gather(children: Sequence[tuple[str, str, str | None]]) -> tuple[str, str | None]:
    """What a fan-out's items add up to: ``(status, error)``.

    ``children`` are ``(name, status, error)``. ``wait`` while any item is unfinished;
    ``failed`` with the count and the first failure if any item did not succeed.
    """
    if not all(status in TERMINAL for _, status, _ in children):
        return "wait", None
    failed = [(name, error) for name, status, error in children if status != "succeeded"]
    if failed:
        name, error = failed[0]
        return "failed", f"{len(failed)} of {len(children)} items failed; first: {name}: {error}"
    return "succeeded", None


def unfinished(statuses: Mapping[str, str]) -> list[str]:
    """The steps not in a final state."""
    return [name for name, status in statuses.items() if status not in TERMINAL]


def run_outcome(
    statuses: Mapping[str, str], errors: Mapping[str, str]
) -> tuple[Literal["succeeded", "failed"], str | None]:
    """How a run ends once every step is final: ``(status, error)``.

    The error names the first step that failed by itself, else the first that did not run.
    """
    failed = [name for name, status in statuses.items() if status in FAILED]
    if not failed:
        return "succeeded", None
    first = next((n for n in failed if statuses[n] == "failed"), failed[0])
    error = f"step {first!r} {statuses[first]}: {errors.get(first, '')}".strip().rstrip(":")
    return "failed", error


def timed_out(deadline: float | None, now: float) -> bool:
    """Has an attempt with this deadline run past it (and its grace)?"""
    return deadline is not None and now >= deadline + TIMEOUT_GRACE


def next_wakeup(now: float, times: Iterable[float]) -> float | None:
    """Seconds until the earliest of ``times`` (retry times, deadlines), or None for none."""
    earliest = min(times, default=math.inf)
    return None if earliest == math.inf else max(0.0, earliest - now)


@dataclass(frozen=True)
class Acquisition:
    """How to acquire a run to resume it.

    Attributes:
        take_over_from: ``(owner, attempt)`` of a holder to replace whatever its lease (a
            compare-and-set), or None to acquire only a run nobody holds.
        wait: Seconds to wait first: the holder's lease is live and it may be stuck.
    """

    take_over_from: tuple[str | None, int] | None = None
    wait: float = 0.0


def plan_acquisition(
    status: str,
    holder: str | None,
    attempt: int,
    lease_expires_at: int | None,
    *,
    now_ms: int,
    force: bool,
    holder_dead: bool,
    lease: float,
) -> Acquisition:
    """Decide how to acquire a run seen as ``(status, holder, attempt, lease_expires_at)``.

    A running run is taken over from its holder when it is known dead (or ``force``); a
    holder that may be alive but stuck (stopped, partitioned) is waited out once, bounded
    by our own ``lease``: a holder that is really alive renews, and acquiring then fails.
    """
    if status != "running":
        return Acquisition()
    if force or holder_dead:
        return Acquisition(take_over_from=(holder, attempt))
    remaining = ((lease_expires_at or 0) - now_ms) / 1000
    if remaining <= 0:
        return Acquisition()
    # A little past the expiry: the holder's clock and ours are both in milliseconds.
    return Acquisition(wait=min(remaining + 0.2, lease + 1))


def lost_to_another(seen: tuple[str | None, int], now: tuple[str | None, int]) -> bool:
    """Did another runner acquire the run since we saw its holder ``seen``?

    Both are ``(owner, attempt)``: an attempt past the one we saw means someone acquired it
    after our look; the same one means the holder we saw is still there.
    """
    return now[1] > seen[1]
