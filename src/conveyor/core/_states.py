"""The states each entity moves through, and the only moves the store allows.

One place for every status set: the store's CHECK constraints, its guarded transitions
(RELIABILITY rule 6), the runner's decisions and the CLI all read these.

    run           queued ─▶ running ─▶ succeeded | failed | cancelled
                  failed ─▶ running (resume), queued ─▶ cancelled
    step run      pending ─▶ running ─▶ succeeded | failed | pending (retry)
                  pending ─▶ succeeded (cache hit) | skipped | upstream_failed | cancelled
                  failed ─▶ running | pending; upstream_failed | cancelled ─▶ pending (resume)
    step attempt  running ─▶ succeeded | failed | superseded
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal, get_args

__all__ = [
    "ATTEMPT_STATES",
    "RUN_FINISHED",
    "RUN_STATES",
    "RUN_TRANSITIONS",
    "STEP_DONE",
    "STEP_NOT_RUN",
    "STEP_STATES",
    "STEP_TRANSITIONS",
    "STEP_UNSUCCESSFUL",
    "AttemptStatus",
    "RunStatus",
    "StepStatus",
    "can_move",
]

RunStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
StepStatus = Literal[
    "pending", "running", "succeeded", "failed", "skipped", "upstream_failed", "cancelled"
]
AttemptStatus = Literal["running", "succeeded", "failed", "superseded"]

RUN_STATES: Final[tuple[RunStatus, ...]] = get_args(RunStatus)
STEP_STATES: Final[tuple[StepStatus, ...]] = get_args(StepStatus)
ATTEMPT_STATES: Final[tuple[AttemptStatus, ...]] = get_args(AttemptStatus)

RUN_FINISHED: Final[frozenset[RunStatus]] = frozenset({"succeeded", "failed", "cancelled"})
# A step in one of these will not change again in this run attempt.
STEP_DONE: Final[frozenset[StepStatus]] = frozenset(
    {"succeeded", "failed", "skipped", "upstream_failed", "cancelled"}
)
# Done, but not successfully: the run fails and a resume runs these again.
STEP_UNSUCCESSFUL: Final[frozenset[StepStatus]] = frozenset(
    {"failed", "upstream_failed", "cancelled"}
)
# What the runner may mark a step that it decides not to run.
STEP_NOT_RUN: Final[frozenset[StepStatus]] = frozenset({"skipped", "upstream_failed", "cancelled"})

RUN_TRANSITIONS: Final[Mapping[RunStatus, frozenset[RunStatus]]] = {
    "queued": frozenset({"running", "cancelled"}),
    "running": frozenset({"succeeded", "failed", "cancelled"}),
    "failed": frozenset({"running"}),
    "succeeded": frozenset(),
    "cancelled": frozenset(),
}
STEP_TRANSITIONS: Final[Mapping[StepStatus, frozenset[StepStatus]]] = {
    "pending": frozenset({"running", "succeeded", *STEP_NOT_RUN}),
    "running": frozenset({"succeeded", "failed", "pending", "running"}),
    # A failed step stays failed in this run attempt (never relabelled cancelled): only a
    # resume moves it back to pending, or starts it again.
    "failed": frozenset({"running", "pending"}),
    "upstream_failed": frozenset({"pending"}),
    "cancelled": frozenset({"pending"}),
    "skipped": frozenset(),
    "succeeded": frozenset(),
}


def can_move(transitions: Mapping[str, frozenset[str]], source: str, target: str) -> bool:
    """Whether ``source -> target`` is one of the legal moves in ``transitions``."""
    return target in transitions.get(source, frozenset())
