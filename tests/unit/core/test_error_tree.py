"""The error tree: drawn in ``core/_errors.py``'s docstring, and that drawing is the truth;
every error carries its hint and fields, and is caught by the builtin callers expect."""

from __future__ import annotations

import builtins
import re

import pytest

from conveyor.core import _errors
from conveyor.core._errors import (
    ConflictError,
    ConveyorError,
    InvalidNameError,
    InvalidValueError,
    NotFoundError,
    StaleAttemptError,
    StepFailedError,
    StepTimeoutError,
    StoreError,
    StoreUnavailableError,
)

_NODE = re.compile(r"(?P<indent>[ │]*)(?:[├└]── )?(?P<name>\w+)(?:\((?P<mixins>[\w, ]+)\))?")


def drawn_tree() -> dict[str, tuple[str | None, tuple[str, ...]]]:
    """Each class in the docstring's tree: its drawn parent and builtin mix-ins."""
    doc = _errors.__doc__ or ""
    lines = [line[4:] for line in doc.splitlines() if line.startswith("    ") and line.strip()]
    drawn: dict[str, tuple[str | None, tuple[str, ...]]] = {}
    stack: list[str] = []  # the open ancestors, one per depth
    for line in lines:
        match = _NODE.match(line)
        assert match is not None, line
        depth = (len(match["indent"]) + (4 if "──" in line else 0)) // 4
        del stack[depth:]
        mixins = tuple(m.strip() for m in (match["mixins"] or "").split(",") if m.strip())
        drawn[match["name"]] = (stack[-1] if stack else None, mixins)
        stack.append(match["name"])
    return drawn


def test_the_drawn_tree_names_every_exported_error_once() -> None:
    assert sorted(drawn_tree()) == sorted(_errors.__all__)


@pytest.mark.parametrize("name", sorted(_errors.__all__))
def test_each_error_derives_from_what_the_tree_draws(name: str) -> None:
    parent, mixins = drawn_tree()[name]
    cls = getattr(_errors, name)
    expected = (Exception,) if parent is None else (getattr(_errors, parent),)
    expected += tuple(getattr(builtins, m) for m in mixins)
    assert cls.__bases__ == expected


def test_the_message_ends_with_the_hint_and_fields_become_attributes() -> None:
    exc = NotFoundError("No run 42 in project 'churn'.", hint="List runs with: x", run_id=42)
    assert str(exc) == "No run 42 in project 'churn'. List runs with: x"
    assert (exc.message, exc.hint, exc.run_id, exc.fields) == (  # type: ignore[attr-defined]
        "No run 42 in project 'churn'.",
        "List runs with: x",
        42,
        {"run_id": 42},
    )
    bare = ConveyorError("Something failed.")
    assert str(bare) == "Something failed." and bare.hint is None and bare.fields == {}


def test_a_hint_set_later_shows_in_the_message() -> None:
    """The runner adds the resume command to a store error raised deep below it."""
    exc = StoreUnavailableError("The metadata store failed during step commit.")
    exc.hint = "When the store is back, resume with: conveyor runs resume 7"
    assert str(exc).endswith("resume with: conveyor runs resume 7")


@pytest.mark.parametrize(
    ("error", "builtin"),
    [
        (NotFoundError("x"), LookupError),
        (InvalidNameError("x"), ValueError),
        (InvalidValueError("x"), ValueError),
        (StepTimeoutError("x"), TimeoutError),
        (_errors.ArtifactStoreFullError("x"), OSError),
        (_errors.StepContextError("x"), RuntimeError),
    ],
)
def test_callers_catch_errors_by_the_builtin_they_expect(
    error: ConveyorError, builtin: type[Exception]
) -> None:
    with pytest.raises(builtin):
        raise error


def test_narrower_errors_are_caught_by_their_family() -> None:
    with pytest.raises(ConflictError):
        raise StaleAttemptError("attempt 1 may no longer commit")
    with pytest.raises(StepFailedError):
        raise StepTimeoutError("timed out after 0.3s")
    with pytest.raises(StoreError):
        raise StoreUnavailableError("gave up after bounded retries")


def test_every_error_exits_non_zero_from_the_cli() -> None:
    for name in _errors.__all__:
        assert getattr(_errors, name).exit_code != 0, name
