"""Signed evaluations and the promotion policy on a real store: only a version with a
passed, verifying evaluation of itself becomes the champion; a forced promotion says why;
an evaluation edited in the database allows nothing; rollbacks go back and say why."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sklearn.linear_model import LogisticRegression
from sqlalchemy import update

from conveyor import store as st
from conveyor.core import (
    ConflictError,
    InvalidValueError,
    NotFoundError,
    PromotionRefusedError,
    SignatureMismatchError,
)
from conveyor.registry import (
    alias_history,
    get_model,
    list_evaluations,
    promote,
    record_evaluation,
    register_model,
    rollback,
    verify_evaluation,
)
from conveyor.store.registry import _tables as registry_tables
from conveyor.workspace import Workspace
from support.models import frame
from support.projects import MakeProject

pytestmark = pytest.mark.integration
REPORT = {"gates": [{"metric": "roc_auc", "value": 0.82, "threshold": 0.7, "passed": True}]}


@pytest.fixture
def ws(make_project: MakeProject) -> Workspace:
    """A project with three versions of ``churn``."""
    workspace = make_project("")
    X, y = frame()
    for c in (0.1, 1.0, 10.0):
        register_model(workspace, "churn", LogisticRegression(C=c).fit(X, y))
    return workspace


def edit_evaluation(ws: Workspace, evaluation_id: int, **values: Any) -> None:
    """Change an evaluation's row behind the store's back, as someone with database
    access could."""
    table = registry_tables.evaluations
    ws.store.transact(
        lambda conn: conn.execute(update(table).where(table.c.id == evaluation_id).values(**values))
    )


def test_an_evaluation_is_stored_signed_and_verified(ws: Workspace) -> None:
    evaluation_id = record_evaluation(ws, "churn", 2, REPORT, passed=True, baseline_version=1)
    record = verify_evaluation(ws, evaluation_id)
    assert (record.model, record.version, record.baseline_version, record.passed) == (
        "churn",
        2,
        1,
        True,
    )
    assert record.report == REPORT and len(record.digest) == len(record.signature) == 64
    assert [e.id for e in list_evaluations(ws, "churn", 2)] == [evaluation_id]


def test_each_evaluation_emits_its_verdict_as_an_event(ws: Workspace) -> None:
    passed = record_evaluation(ws, "churn", 2, REPORT, passed=True, baseline_version=1)
    report = {
        "gates": [
            {"name": "roc_auc >= 0.7", "passed": False, "reason": "0.64 is below 0.7"},
            {"name": "roc_auc superiority", "passed": True, "reason": "better"},
        ]
    }
    failed = record_evaluation(ws, "churn", 3, report, passed=False)
    events = st.read_events(ws.store, types=["io.conveyor.evaluation.*"])
    assert [(e.type, e.subject, e.data["evaluation_id"]) for e in events] == [
        ("io.conveyor.evaluation.passed", "models/churn/versions/2", passed),
        ("io.conveyor.evaluation.failed", "models/churn/versions/3", failed),
    ]
    assert events[0].data["baseline_version"] == 1 and events[0].data["passed"] is True
    assert events[0].data["failed_gates"] == []
    assert events[1].data["failed_gates"] == [
        {"name": "roc_auc >= 0.7", "reason": "0.64 is below 0.7"}
    ]


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"report": {"gates": []}}, "does not hash to its recorded digest"),
        ({"passed": False}, "signature does not match"),
        ({"digest": "0" * 64}, "does not hash to its recorded digest"),
        ({"signature": "0" * 64}, "signature does not match"),
    ],
)
def test_an_evaluation_edited_in_the_database_allows_nothing(
    ws: Workspace, change: dict[str, Any], fragment: str
) -> None:
    evaluation_id = record_evaluation(ws, "churn", 2, REPORT, passed=True)
    edit_evaluation(ws, evaluation_id, **change)
    with pytest.raises(SignatureMismatchError, match=fragment):
        verify_evaluation(ws, evaluation_id)
    with pytest.raises(SignatureMismatchError):
        promote(ws, "churn", 2, evaluation_id=evaluation_id)
    with pytest.raises(SignatureMismatchError):
        promote(ws, "churn", 2)  # the newest evaluation, the edited one
    assert st.list_aliases(ws.store, "churn") == {}


def test_a_failed_evaluation_that_is_flipped_to_passed_does_not_verify(ws: Workspace) -> None:
    evaluation_id = record_evaluation(ws, "churn", 3, REPORT, passed=False)
    edit_evaluation(ws, evaluation_id, passed=True)
    with pytest.raises(SignatureMismatchError, match="signature does not match"):
        promote(ws, "churn", 3)


def test_only_a_passed_evaluation_of_that_version_makes_the_champion(ws: Workspace) -> None:
    with pytest.raises(PromotionRefusedError, match="it has no evaluation") as info:
        promote(ws, "churn", 2)
    assert "conveyor models promote churn 2 --force" in str(info.value)
    failed = record_evaluation(ws, "churn", 2, REPORT, passed=False)
    with pytest.raises(PromotionRefusedError, match=f"its evaluation {failed} did not pass"):
        promote(ws, "churn", 2)
    passed_3 = record_evaluation(ws, "churn", 3, REPORT, passed=True)
    with pytest.raises(InvalidValueError, match="is of models:/churn/3, not of models:/churn/2"):
        promote(ws, "churn", 2, evaluation_id=passed_3)
    with pytest.raises(NotFoundError, match="No evaluation 999"):
        promote(ws, "churn", 2, evaluation_id=999)
    assert st.list_aliases(ws.store, "churn") == {}

    move = promote(ws, "churn", 3, actor="ci")  # its newest evaluation passed
    assert (move.alias, move.from_version, move.to_version, move.evaluation_id) == (
        "champion",
        None,
        3,
        passed_3,
    )
    assert (move.reason, move.actor) == (f"evaluation {passed_3} passed", "ci")
    assert get_model(ws, "churn@champion").version == 3
    (event,) = st.read_events(ws.store, types=["io.conveyor.alias.moved"])
    assert (event.data["evaluation_id"], event.data["to_version"]) == (passed_3, 3)

    # A newer failed evaluation of a version supersedes its older pass.
    passed_2 = record_evaluation(ws, "churn", 2, REPORT, passed=True)
    record_evaluation(ws, "churn", 2, REPORT, passed=False)
    with pytest.raises(PromotionRefusedError, match="did not pass"):
        promote(ws, "churn", 2)
    assert promote(ws, "churn", 2, evaluation_id=passed_2).to_version == 2


def test_a_forced_promotion_records_its_reason(ws: Workspace) -> None:
    move = promote(ws, "churn", 1, force_reason="  the champion crashes on load ", actor="oncall")
    assert move.reason == "forced: the champion crashes on load"
    (history,) = alias_history(ws, "churn", "champion")
    assert (history.reason, history.actor, history.evaluation_id) == (
        "forced: the champion crashes on load",
        "oncall",
        None,
    )
    (event,) = st.read_events(ws.store, types=["io.conveyor.alias.moved"])
    assert event.data["reason"] == "forced: the champion crashes on load"
    failed = record_evaluation(ws, "churn", 2, REPORT, passed=False)
    forced = promote(ws, "churn", 2, evaluation_id=failed, force_reason="known regression")
    assert forced.reason == f"forced: known regression (evaluation {failed} failed)"
    assert forced.evaluation_id == failed
    for empty in ("", "   "):
        with pytest.raises(InvalidValueError, match="needs a reason"):
            promote(ws, "churn", 3, force_reason=empty)


def test_other_aliases_move_freely(ws: Workspace) -> None:
    move = promote(ws, "churn", 3, "challenger")
    assert (move.alias, move.reason, move.evaluation_id) == ("challenger", "", None)
    assert st.list_aliases(ws.store, "churn") == {"challenger": 3}


@pytest.mark.parametrize(
    ("settings", "alias", "guarded"),
    [
        ({"CONVEYOR_REGISTRY_REQUIRE_EVALUATION": "false"}, "champion", False),
        ({"CONVEYOR_REGISTRY_CHAMPION_ALIAS": "production"}, "production", True),
        ({"CONVEYOR_REGISTRY_CHAMPION_ALIAS": "production"}, "champion", False),
    ],
)
def test_the_policy_comes_from_the_settings(
    ws: Workspace, settings: dict[str, str], alias: str, guarded: bool
) -> None:
    env = {"CONVEYOR_STORE": ws.config.store.url, **settings}
    with Workspace.open(ws.config.root, env=env) as other:
        if guarded:
            with pytest.raises(PromotionRefusedError, match=f"may not become {alias!r}"):
                promote(other, "churn", 1, alias)
        else:
            assert promote(other, "churn", 1, alias).to_version == 1
        if alias == "production":  # the default alias is the configured one
            with pytest.raises(PromotionRefusedError, match="may not become 'production'"):
                promote(other, "churn", 1)


def test_compare_and_set_promotions(ws: Workspace) -> None:
    promote(ws, "churn", 1, force_reason="first", expected_version=0)
    with pytest.raises(ConflictError, match="points at version 1, not 0"):
        promote(ws, "churn", 2, force_reason="second", expected_version=0)
    assert promote(ws, "churn", 2, force_reason="second", expected_version=1).to_version == 2


def test_rollback_goes_back_and_says_why(ws: Workspace) -> None:
    with pytest.raises(NotFoundError, match="no alias 'champion'"):
        rollback(ws, "churn", reason="x")
    promote(ws, "churn", 1, force_reason="start")
    with pytest.raises(InvalidValueError, match="has had no other target"):
        rollback(ws, "churn", reason="nothing before")
    evaluation = record_evaluation(ws, "churn", 2, REPORT, passed=True)
    promote(ws, "churn", 2)
    back = rollback(ws, "churn", reason="error rate doubled", actor="oncall")
    assert (back.from_version, back.to_version, back.reason) == (
        2,
        1,
        "rollback: error rate doubled",
    )
    assert get_model(ws, "churn@champion").version == 1
    undo = rollback(ws, "churn", reason="false alarm")  # a second rollback undoes the first
    assert (undo.from_version, undo.to_version) == (1, 2)
    chosen = rollback(ws, "churn", to_version=3, reason="jump")
    assert chosen.to_version == 3
    with pytest.raises(InvalidValueError, match="already points at version 3"):
        rollback(ws, "churn", to_version=3, reason="again")
    with pytest.raises(InvalidValueError, match="needs a reason"):
        rollback(ws, "churn", reason=" ")
    history = alias_history(ws, "churn", "champion")
    assert [(h.from_version, h.to_version) for h in history] == [
        (None, 1),
        (1, 2),
        (2, 1),
        (1, 2),
        (2, 3),
    ]
    assert [h.evaluation_id for h in history] == [None, evaluation, None, None, None]


def test_a_rollback_loses_to_a_move_made_meanwhile(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    promote(ws, "churn", 1, force_reason="start")
    promote(ws, "churn", 2, force_reason="next")
    real: Callable[..., Any] = st.alias_history

    def read_then_race(*args: Any, **kwargs: Any) -> Any:
        found = real(*args, **kwargs)
        promote(ws, "churn", 3, force_reason="someone else")  # lands between read and move
        return found

    monkeypatch.setattr(st, "alias_history", read_then_race)
    with pytest.raises(ConflictError, match="points at version 3, not 2"):
        rollback(ws, "churn", reason="too late")
    monkeypatch.undo()
    assert get_model(ws, "churn@champion").version == 3
