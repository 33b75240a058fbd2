"""Trigger kinds and deployment strategies are domain rules, checked by the services of
``conveyor.automate`` and ``conveyor.serve.runtime`` before anything reaches the store."""

from __future__ import annotations

import pytest

from conveyor import store as st
from conveyor.automate import TRIGGER_KINDS, check_trigger_kind, get_trigger, set_trigger
from conveyor.core import InvalidNameError, InvalidValueError, NotFoundError
from conveyor.serve.runtime import STRATEGIES, check_strategy, list_deployments, set_deployment
from support.projects import MakeProject

pytestmark = pytest.mark.integration


def test_every_trigger_kind_is_accepted_and_a_near_miss_is_named() -> None:
    assert TRIGGER_KINDS == ("schedule", "new_data", "drift", "decay", "manual", "webhook")
    assert [check_trigger_kind(k) for k in TRIGGER_KINDS] == list(TRIGGER_KINDS)
    with pytest.raises(InvalidValueError, match="Got 'shedule'. Did you mean 'schedule'") as info:
        check_trigger_kind("shedule")
    assert info.value.kind == "shedule" and "event that should start" in str(info.value)


def test_every_strategy_is_accepted_and_a_near_miss_is_named() -> None:
    assert STRATEGIES == ("replace", "canary", "shadow")
    assert [check_strategy(s) for s in STRATEGIES] == list(STRATEGIES)
    with pytest.raises(InvalidValueError, match="Got 'canery'. Did you mean 'canary'"):
        check_strategy("canery")
    with pytest.raises(InvalidValueError, match="'replace', 'canary' or 'shadow'. Got 'blue-g"):
        check_strategy("blue-green")


def test_set_trigger_stores_a_checked_kind_and_writes_nothing_for_a_bad_one(
    make_project: MakeProject,
) -> None:
    ws = make_project("")
    with pytest.raises(InvalidValueError, match="Did you mean 'drift'"):
        set_trigger(ws, "on-drift", kind="drfit", pipeline="train")
    with pytest.raises(NotFoundError):
        get_trigger(ws, "on-drift")  # the bad call wrote nothing
    made = set_trigger(ws, "on-drift", kind="drift", pipeline="train", config={"level": "drift"})
    assert (made.kind, made.pipeline, made.config, made.enabled) == (
        "drift",
        "train",
        {"level": "drift"},
        True,
    )
    again = set_trigger(ws, "on-drift", kind="decay", pipeline="train", enabled=False)
    assert again.id == made.id and (again.kind, again.enabled) == ("decay", False)
    assert get_trigger(ws, "on-drift") == again
    with pytest.raises(InvalidNameError, match="trigger name"):
        set_trigger(ws, "a b", kind="manual", pipeline="train")


def test_set_deployment_stores_a_checked_strategy_and_writes_nothing_for_a_bad_one(
    make_project: MakeProject,
) -> None:
    ws = make_project("")
    artifact = st.record_artifact(ws.store, "a" * 64, 1, kind="file")
    st.register_model_version(ws.store, "churn", artifact_id=artifact.id)
    with pytest.raises(InvalidValueError, match="Did you mean 'shadow'"):
        set_deployment(ws, "churn-api", model="churn", strategy="shadw")
    assert list_deployments(ws) == []
    made = set_deployment(ws, "churn-api", model="churn", strategy="shadow")
    assert (made.alias, made.strategy) == ("champion", "shadow")
    assert [d.name for d in list_deployments(ws)] == ["churn-api"]
    with pytest.raises(NotFoundError, match="Did you mean 'churn'"):
        set_deployment(ws, "other", model="chrun")
