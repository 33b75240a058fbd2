"""The states each entity moves through, and the only moves the store allows.

One place for every status set: the store's CHECK constraints, its guarded transitions
(RELIABILITY rule 6), the runner's decisions and the CLI all read these.

    run           queued ─▶ running ─▶ succeeded | failed | cancelled
                  failed ─▶ running (resume), queued ─▶ cancelled
    step run      pending ─▶ running ─▶ succeeded | failed | pending (retry)
                  pending ─▶ succeeded (cache hit) | skipped | upstream_failed | cancelled
                  failed ─▶ running | pending; upstream_failed | cancelled ─▶ pending (resume)
    step attempt  running ─▶ succeeded | failed | superseded
    model version ready ─▶ failed | archived, failed ─▶ archived, archived ─▶ ready;
                  an alias points only at a ready version
    trigger claim claimed ─▶ started | coalesced | failed, claimed ─▶ claimed (takeover)
    tuning trial  running ─▶ complete | pruned | failed; running ─▶ failed (attempt lost)
    alert delivery sending ─▶ sent | failed; sending ─▶ sending (a lapsed claim taken over);
                  suppressed from the start (a duplicate, or over the rate limit)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal, TypeVar, get_args

__all__ = [
    "ALERT_DELIVERY_STATES",
    "ALIASABLE",
    "ATTEMPT_STATES",
    "CLAIM_STATES",
    "CLAIM_TRANSITIONS",
    "MODEL_VERSION_STATES",
    "MODEL_VERSION_TRANSITIONS",
    "RUN_FINISHED",
    "RUN_STATES",
    "RUN_TRANSITIONS",
    "STEP_DONE",
    "STEP_NOT_RUN",
    "STEP_STATES",
    "STEP_TRANSITIONS",
    "STEP_UNSUCCESSFUL",
    "TRIAL_STATES",
    "AlertDeliveryStatus",
    "AttemptStatus",
    "ClaimStatus",
    "ModelVersionStatus",
    "RunStatus",
    "StepStatus",
    "TrialStatus",
    "can_move",
    "sources",
]

RunStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
StepStatus = Literal[
    "pending", "running", "succeeded", "failed", "skipped", "upstream_failed", "cancelled"
]
AttemptStatus = Literal["running", "succeeded", "failed", "superseded"]
# What became of one firing of a trigger (a row of ``trigger_claims``).
ClaimStatus = Literal["claimed", "started", "coalesced", "failed"]
ModelVersionStatus = Literal["ready", "failed", "archived"]
# A tuning trial's state, as Optuna names its own (lower case).
TrialStatus = Literal["running", "complete", "pruned", "failed"]
# One alert on one channel: being sent (held by a claim with a lease), sent, given up on,
# or held back before sending.
AlertDeliveryStatus = Literal["sending", "sent", "failed", "suppressed"]

RUN_STATES: Final[tuple[RunStatus, ...]] = get_args(RunStatus)
STEP_STATES: Final[tuple[StepStatus, ...]] = get_args(StepStatus)
ATTEMPT_STATES: Final[tuple[AttemptStatus, ...]] = get_args(AttemptStatus)
CLAIM_STATES: Final[tuple[ClaimStatus, ...]] = get_args(ClaimStatus)
MODEL_VERSION_STATES: Final[tuple[ModelVersionStatus, ...]] = get_args(ModelVersionStatus)
TRIAL_STATES: Final[tuple[TrialStatus, ...]] = get_args(TrialStatus)
ALERT_DELIVERY_STATES: Final[tuple[AlertDeliveryStatus, ...]] = get_args(AlertDeliveryStatus)

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


# A failed version (its evaluation or warm-up failed) is never served again; an archived one
# may be restored. An alias may point only at a ready version.
MODEL_VERSION_TRANSITIONS: Final[Mapping[ModelVersionStatus, frozenset[ModelVersionStatus]]] = {
    "ready": frozenset({"failed", "archived"}),
    "failed": frozenset({"archived"}),
    "archived": frozenset({"ready"}),
}
ALIASABLE: Final[frozenset[ModelVersionStatus]] = frozenset({"ready"})


S = TypeVar("S", bound=str)


def can_move(transitions: Mapping[S, frozenset[S]], source: str, target: str) -> bool:
    """Whether ``source -> target`` is one of the legal moves in ``transitions``."""
    return any(s == source and target in targets for s, targets in transitions.items())


def sources(transitions: Mapping[S, frozenset[S]], to: str) -> list[S]:
    """The statuses that may move to ``to`` in ``transitions``, in a stable order."""
    return [s for s, targets in transitions.items() if to in targets]
