"""The states each entity moves through, and the only moves the store allows.

One place for every status set: the store's CHECK constraints, its guarded transitions
(RELIABILITY rule 6), the runner's decisions and the CLI all read these.

    run           queued ─▶ running ─▶ succeeded | failed | cancelled
                  failed ─▶ running (resume), queued ─▶ cancelled
    step run      pending ─▶ running ─▶ succeeded | failed | pending (retry)
                  pending ─▶ succeeded (cache hit) | skipped | upstream_failed | cancelled
                  failed ─▶ running | pending; upstream_failed | cancelled ─▶ pending (resume)
    step attempt  running ─▶ succeeded | failed | superseded
    trigger claim claimed ─▶ started | coalesced | failed, claimed ─▶ claimed (takeover)
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
    "CLAIM_STATES",
    "CLAIM_TRANSITIONS",
    "ClaimStatus",
    "RunStatus",
    "StepStatus",
    "can_move",
    "claim_sources",
]

RunStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
StepStatus = Literal[
    "pending", "running", "succeeded", "failed", "skipped", "upstream_failed", "cancelled"
]
AttemptStatus = Literal["running", "succeeded", "failed", "superseded"]
# What became of one firing of a trigger (a row of ``trigger_claims``).
ClaimStatus = Literal["claimed", "started", "coalesced", "failed"]

RUN_STATES: Final[tuple[RunStatus, ...]] = get_args(RunStatus)
STEP_STATES: Final[tuple[StepStatus, ...]] = get_args(StepStatus)
ATTEMPT_STATES: Final[tuple[AttemptStatus, ...]] = get_args(AttemptStatus)
CLAIM_STATES: Final[tuple[ClaimStatus, ...]] = get_args(ClaimStatus)

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

# ``claimed -> claimed`` is a takeover: another controller re-claims a firing whose holder's
# lease lapsed before it started the firing's run. The other three are final: a firing
# starts one run, or is coalesced into a run already in flight, or is given up.
CLAIM_TRANSITIONS: Final[Mapping[ClaimStatus, frozenset[ClaimStatus]]] = {
    "claimed": frozenset({"claimed", "started", "coalesced", "failed"}),
    "started": frozenset(),
    "coalesced": frozenset(),
    "failed": frozenset(),
}


def can_move(transitions: Mapping[str, frozenset[str]], source: str, target: str) -> bool:
    """Whether ``source -> target`` is one of the legal moves in ``transitions``."""
    return target in transitions.get(source, frozenset())


def claim_sources(to: ClaimStatus) -> list[ClaimStatus]:
    """The statuses a trigger claim may move to ``to`` from, in a stable order."""
    return [s for s, targets in CLAIM_TRANSITIONS.items() if to in targets]
