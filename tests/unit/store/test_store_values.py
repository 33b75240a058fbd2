"""Bad values get ``InvalidValueError`` (issue 2.5): the value, what was expected, and a
did-you-mean where there is a set of choices; never ``InvalidNameError`` or ``ConflictError``."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from typing import Any

import pytest

from conveyor import store as st
from conveyor.core import ConflictError, InvalidNameError, InvalidValueError


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


CASES: list[tuple[str, Callable[[st.Store], Any], str]] = [
    ("run status", lambda s: st.create_run(s, "p", status="queud"), "Did you mean 'queued'"),
    (
        "mark status",
        lambda s: st.mark_steps(s, st.create_run(s, "p").id, ["a"], "skiped"),
        "Did you mean 'skipped'",
    ),
    (
        "artifact kind",
        lambda s: st.record_artifact(s, digest("x"), 1, kind="fil"),
        "Did you mean 'file'",
    ),
    ("metric value", lambda s: st.log_metric(s, st.create_run(s, "p").id, "loss", "1"), "'1'"),
    ("event type", lambda s: st.emit_event(s, "io.conveyor.Run"), "Got 'io.conveyor.Run'"),
    (
        "JSON param",
        lambda s: st.create_run(s, "p", params={"lr": math.nan}),
        "Only JSON values",
    ),
]


@pytest.mark.parametrize(("what", "call", "says"), CASES, ids=[c[0] for c in CASES])
def test_bad_values_are_invalid_value_errors(
    sqlite_store: st.Store, what: str, call: Callable[[st.Store], Any], says: str
) -> None:
    with pytest.raises(InvalidValueError, match=says) as info:
        call(sqlite_store)
    assert not isinstance(info.value, InvalidNameError | ConflictError), what
    assert isinstance(info.value, ValueError)
