"""State names and the legal moves between them, defined once for every layer.

A status column's values are a ``Literal`` here; the store's CHECK constraints and its
guarded ``UPDATE ... WHERE status IN (...)`` statements are derived from these, so no
module keeps its own copy of the strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

ClaimStatus = Literal["claimed", "started", "coalesced", "failed"]
"""What became of one firing of a trigger (a row of ``trigger_claims``)."""

# ``claimed -> claimed`` is a takeover: another controller re-claims a firing whose holder's
# lease lapsed. The other three are final: a firing starts one run, or is coalesced into a
# run already in flight, or is given up; none of them may be undone.
CLAIM_TRANSITIONS: Mapping[ClaimStatus, frozenset[ClaimStatus]] = {
    "claimed": frozenset({"claimed", "started", "coalesced", "failed"}),
    "started": frozenset(),
    "coalesced": frozenset(),
    "failed": frozenset(),
}


def claim_sources(to: ClaimStatus) -> list[ClaimStatus]:
    """The statuses a claim may move to ``to`` from, in a stable order."""
    return [s for s, targets in CLAIM_TRANSITIONS.items() if to in targets]
