"""The state machines are closed (every move lands on a known state) and say what we mean."""

from __future__ import annotations

import pytest

from conveyor.core import (
    RUN_EVENT_TYPES,
    RUN_FINISHED,
    RUN_STATES,
    RUN_TRANSITIONS,
    STEP_DONE,
    STEP_NOT_RUN,
    STEP_STATES,
    STEP_TRANSITIONS,
    STEP_UNSUCCESSFUL,
    can_move,
)


@pytest.mark.parametrize(
    ("transitions", "states"),
    [(RUN_TRANSITIONS, RUN_STATES), (STEP_TRANSITIONS, STEP_STATES)],
)
def test_every_state_has_moves_and_every_move_lands_on_a_state(
    transitions: dict[str, frozenset[str]], states: tuple[str, ...]
) -> None:
    assert set(transitions) == set(states)
    for targets in transitions.values():
        assert targets <= set(states)


def test_finished_runs_stay_finished_except_a_failed_run_resumed() -> None:
    for status in RUN_FINISHED - {"failed"}:
        assert RUN_TRANSITIONS[status] == frozenset()
    assert RUN_TRANSITIONS["failed"] == {"running"}
    assert not can_move(RUN_TRANSITIONS, "succeeded", "running")


def test_a_failed_step_is_never_relabelled() -> None:
    for label in STEP_NOT_RUN:
        assert not can_move(STEP_TRANSITIONS, "failed", label)
    assert can_move(STEP_TRANSITIONS, "failed", "pending")  # resume


def test_step_sets_nest() -> None:
    assert STEP_NOT_RUN < STEP_DONE and STEP_UNSUCCESSFUL < STEP_DONE
    assert "succeeded" in STEP_DONE and "succeeded" not in STEP_UNSUCCESSFUL


def test_every_run_state_has_its_event_type() -> None:
    assert set(RUN_EVENT_TYPES) == set(RUN_STATES)
    assert all(t.startswith("io.conveyor.run.") for t in RUN_EVENT_TYPES.values())


def test_event_types_are_spelled_only_in_core() -> None:
    """Emitters use core's constants: no string (or f-string) in ``src`` outside
    ``core/_event_types.py`` is itself an event type."""
    import ast
    import re
    from pathlib import Path

    import conveyor

    whole = re.compile(r"io\.conveyor\.[a-z_]+\.[a-z_]+")
    offenders = []
    for path in Path(conveyor.__file__).parent.rglob("*.py"):
        if path.name == "_event_types.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if whole.fullmatch(node.value):
                    offenders.append(f"{path.name}:{node.lineno}")
            elif isinstance(node, ast.JoinedStr) and node.values:
                head = node.values[0]
                if isinstance(head, ast.Constant) and str(head.value).startswith("io.conveyor."):
                    offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []
