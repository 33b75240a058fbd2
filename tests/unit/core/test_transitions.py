"""The claim and model-version state machines, the reverse lookups the store's guards are
built from, and the event types every emitter uses."""

from __future__ import annotations

import re

import pytest

from conveyor.core import (
    ALIASABLE,
    CLAIM_STATES,
    CLAIM_TRANSITIONS,
    EVENT_PREFIX,
    MODEL_VERSION_EVENT_TYPES,
    MODEL_VERSION_STATES,
    MODEL_VERSION_TRANSITIONS,
    RUN_TRANSITIONS,
    STEP_TRANSITIONS,
    can_move,
    sources,
)
from conveyor.core import _event_types as event_types

# What the store accepts as an event type (``store.events.append_event``).
STORE_EVENT_TYPE = re.compile(r"io\.conveyor\.[a-z_]+(\.[a-z_]+)+")


def test_a_firing_is_decided_once() -> None:
    assert set(CLAIM_TRANSITIONS) == set(CLAIM_STATES)
    for final in ("started", "coalesced", "failed"):
        assert CLAIM_TRANSITIONS[final] == frozenset()  # type: ignore[index]
    assert can_move(CLAIM_TRANSITIONS, "claimed", "claimed")  # a takeover
    assert not can_move(CLAIM_TRANSITIONS, "started", "claimed")


def test_a_failed_model_version_is_never_served_again() -> None:
    assert set(MODEL_VERSION_TRANSITIONS) == set(MODEL_VERSION_STATES)
    assert not can_move(MODEL_VERSION_TRANSITIONS, "failed", "ready")
    assert can_move(MODEL_VERSION_TRANSITIONS, "archived", "ready")  # restored
    assert ALIASABLE == {"ready"}


@pytest.mark.parametrize(
    ("transitions", "target", "expected"),
    [
        (RUN_TRANSITIONS, "running", ["queued", "failed"]),
        (RUN_TRANSITIONS, "queued", []),
        (STEP_TRANSITIONS, "pending", ["running", "failed", "upstream_failed", "cancelled"]),
        (STEP_TRANSITIONS, "skipped", ["pending"]),
        (CLAIM_TRANSITIONS, "started", ["claimed"]),
    ],
)
def test_sources_lists_who_may_move_to_a_state_in_a_stable_order(
    transitions: dict[str, frozenset[str]], target: str, expected: list[str]
) -> None:
    assert sources(transitions, target) == expected
    assert all(can_move(transitions, s, target) for s in expected)


def test_can_move_refuses_unknown_states() -> None:
    assert not can_move(RUN_TRANSITIONS, "exploded", "running")
    assert not can_move(RUN_TRANSITIONS, "queued", "exploded")


def test_every_model_version_state_but_the_first_has_its_event() -> None:
    assert set(MODEL_VERSION_EVENT_TYPES) == set(MODEL_VERSION_STATES)
    for status, type_ in MODEL_VERSION_EVENT_TYPES.items():
        assert type_ == f"io.conveyor.model_version.{status}"


def test_every_event_type_is_one_the_store_accepts_and_is_spelled_once() -> None:
    constants = {
        name: value
        for name, value in vars(event_types).items()
        if name.isupper() and isinstance(value, str) and name != "EVENT_PREFIX"
    }
    assert sorted(constants) == sorted(
        n for n in event_types.__all__ if not n.endswith("_TYPES") and n != "EVENT_PREFIX"
    )
    for name, value in constants.items():
        assert value.startswith(EVENT_PREFIX), name
        assert STORE_EVENT_TYPE.fullmatch(value), name
    assert len(set(constants.values())) == len(constants)
