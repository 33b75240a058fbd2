"""Registry storage: dense versions, compare-and-set alias moves, history, deployments."""

from __future__ import annotations

import pytest

from conveyor import store as st
from conveyor.core import ConflictError, InvalidNameError, InvalidValueError, NotFoundError

pytestmark = pytest.mark.integration


@pytest.fixture
def churn(store: st.Store) -> list[st.ModelVersionRecord]:
    return [st.register_model_version(store, "churn") for _ in range(3)]


def test_versions_are_dense_per_model(store: st.Store) -> None:
    run = st.create_run(store, "train")
    art = st.record_artifact(store, "a" * 64, 1)
    v1 = st.register_model_version(
        store,
        "churn",
        run_id=run.id,
        artifact_id=art.id,
        flavor="sklearn",
        signature={"inputs": []},
        metrics={"auc": 0.9},
        params={"C": 1},
        tags={"t": 1},
        description="first",
    )
    v2 = st.register_model_version(store, "churn")
    other = st.register_model_version(store, "fraud")
    assert (v1.version, v2.version, other.version) == (1, 2, 1)
    assert (v1.run_id, v1.artifact_id, v1.flavor, v1.status) == (run.id, art.id, "sklearn", "ready")
    assert v1.metrics == {"auc": 0.9} and v1.params == {"C": 1} and v1.description == "first"
    assert st.get_model(store, "churn").last_version == 2
    assert [m.name for m in st.list_models(store)] == ["churn", "fraud"]
    assert [v.version for v in st.list_model_versions(store, "churn")] == [1, 2]
    assert st.get_model_version(store, "churn", 1) == v1
    registered = st.read_events(store, types=["io.conveyor.model_version.registered"])
    assert [e.subject for e in registered] == [
        "models/churn/versions/1",
        "models/churn/versions/2",
        "models/fraud/versions/1",
    ]


def test_bad_model_name(store: st.Store) -> None:
    with pytest.raises(InvalidNameError, match="model name"):
        st.register_model_version(store, "../churn")


def test_unknown_model_suggests_the_closest_name(
    store: st.Store, churn: list[st.ModelVersionRecord]
) -> None:
    with pytest.raises(NotFoundError, match="Did you mean 'churn'") as info:
        st.get_model(store, "chrun")
    assert "conveyor models list" in str(info.value)
    with pytest.raises(NotFoundError, match="Did you mean 'churn'"):
        st.list_model_versions(store, "churm")
    with pytest.raises(NotFoundError, match="no version 9"):
        st.get_model_version(store, "churn", 9)


def test_move_alias_resolve_and_history(
    store: st.Store, churn: list[st.ModelVersionRecord]
) -> None:
    first = st.move_alias(store, "churn", "champion", 1, reason="initial", actor="ci")
    assert (first.alias, first.from_version_id, first.to_version_id) == (
        "champion",
        None,
        churn[0].id,
    )
    assert st.resolve_alias(store, "churn", "champion") == churn[0]
    st.move_alias(store, "churn", "champion", 2)
    st.move_alias(store, "churn", "challenger", 3)
    assert st.resolve_alias(store, "churn", "champion").version == 2
    history = st.alias_history(store, "churn", "champion")
    assert [(h.from_version_id, h.to_version_id) for h in history] == [
        (None, churn[0].id),
        (churn[0].id, churn[1].id),
    ]
    assert (history[0].reason, history[0].actor) == ("initial", "ci")
    assert len(st.alias_history(store, "churn")) == 3
    moved = st.read_events(store, types=["io.conveyor.alias.moved"])
    assert [(e.data["alias"], e.data["from_version"], e.data["to_version"]) for e in moved] == [
        ("champion", None, 1),
        ("champion", 1, 2),
        ("challenger", None, 3),
    ]


def test_move_alias_compare_and_set(store: st.Store, churn: list[st.ModelVersionRecord]) -> None:
    st.move_alias(store, "churn", "champion", 1, expected_version=0)
    n_events = len(st.read_events(store))
    with pytest.raises(ConflictError, match="points at version 1, not 0"):
        st.move_alias(store, "churn", "champion", 2, expected_version=0)
    with pytest.raises(ConflictError, match="points at version 1, not 3"):
        st.move_alias(store, "churn", "champion", 2, expected_version=3)
    with pytest.raises(ConflictError, match="points at version none, not 1"):
        st.move_alias(store, "churn", "staging", 2, expected_version=1)
    # Losers changed nothing: no move, no history, no event.
    assert st.resolve_alias(store, "churn", "champion").version == 1
    assert len(st.alias_history(store, "churn")) == 1
    assert len(st.read_events(store)) == n_events
    st.move_alias(store, "churn", "champion", 2, expected_version=1)
    assert st.resolve_alias(store, "churn", "champion").version == 2


def test_move_alias_to_missing_things(store: st.Store, churn: list[st.ModelVersionRecord]) -> None:
    with pytest.raises(NotFoundError, match="no version 7"):
        st.move_alias(store, "churn", "champion", 7)
    with pytest.raises(NotFoundError, match="Did you mean 'churn'"):
        st.move_alias(store, "chun", "champion", 1)
    with pytest.raises(InvalidNameError, match="alias"):
        st.move_alias(store, "churn", "champ ion", 1)
    assert st.alias_history(store, "churn") == []


def test_unknown_alias_suggests_the_closest(
    store: st.Store, churn: list[st.ModelVersionRecord]
) -> None:
    st.move_alias(store, "churn", "champion", 1)
    with pytest.raises(NotFoundError, match="no alias 'champoin'. Did you mean 'champion'"):
        st.resolve_alias(store, "churn", "champoin")
    with pytest.raises(NotFoundError, match="no alias 'zzz'"):
        st.resolve_alias(store, "churn", "zzz")


def test_deployments(store: st.Store, churn: list[st.ModelVersionRecord]) -> None:
    dep = st.upsert_deployment(store, "churn-api", model="churn", config={"workers": 2})
    assert (dep.alias, dep.strategy, dep.status, dep.config) == (
        "champion",
        "replace",
        "pending",
        {"workers": 2},
    )
    again = st.upsert_deployment(
        store, "churn-api", model="churn", alias="challenger", strategy="canary"
    )
    assert again.id == dep.id and (again.alias, again.strategy) == ("challenger", "canary")
    assert [d.name for d in st.list_deployments(store)] == ["churn-api"]
    assert len(st.read_events(store, types=["io.conveyor.deployment.updated"])) == 2
    with pytest.raises(NotFoundError, match="Did you mean 'churn'"):
        st.upsert_deployment(store, "x", model="chunr")


# -- parents, aliases, the signing key and evaluations ------------------------------------

HEX_A, HEX_B = "a" * 64, "b" * 64


def test_a_version_records_its_parent(store: st.Store, churn: list[st.ModelVersionRecord]) -> None:
    child = st.register_model_version(store, "churn", parent_version=2)
    assert (child.version, child.parent_version_id) == (4, churn[1].id)
    assert st.get_model_version(store, "churn", 4).parent_version_id == churn[1].id
    with pytest.raises(NotFoundError, match="no version 9"):
        st.register_model_version(store, "churn", parent_version=9)
    with pytest.raises(NotFoundError, match="No model 'fresh'"):
        st.register_model_version(store, "fresh", parent_version=1)  # no model, no parent
    assert st.get_model(store, "churn").last_version == 4  # the failed ones took no number


def test_list_aliases(store: st.Store, churn: list[st.ModelVersionRecord]) -> None:
    assert st.list_aliases(store, "churn") == {}
    st.move_alias(store, "churn", "champion", 1)
    st.move_alias(store, "churn", "challenger", 3)
    st.move_alias(store, "churn", "champion", 2)
    assert st.list_aliases(store, "churn") == {"challenger": 3, "champion": 2}
    with pytest.raises(NotFoundError, match="Did you mean 'churn'"):
        st.list_aliases(store, "chrun")


def test_the_signing_key_is_made_once_per_project(store_url: str) -> None:
    with (
        st.open_store(store_url, project="a") as a,
        st.open_store(store_url, project="a") as a_again,
        st.open_store(store_url, project="b") as b,
    ):
        first = st.signing_key(a)
        assert len(first) == 32
        assert st.signing_key(a) == st.signing_key(a_again) == first
        assert st.signing_key(b) != first


def test_racing_first_callers_get_one_key(store_url: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with st.open_store(store_url, project="race", busy_timeout=30.0) as store:
        with ThreadPoolExecutor(8) as pool:
            keys = set(pool.map(lambda _: st.signing_key(store), range(16)))
        assert len(keys) == 1


def test_record_get_and_list_evaluations(
    store: st.Store, churn: list[st.ModelVersionRecord]
) -> None:
    run = st.create_run(store, "evaluate")
    (step,) = st.add_step_runs(store, run.id, ["evaluate"])
    first = st.record_evaluation(
        store,
        "churn",
        2,
        baseline_version=1,
        step_run_id=step.id,
        passed=True,
        report={"auc": 0.91, "gates": [{"name": "auc", "passed": True}]},
        digest=HEX_A,
        signature=HEX_B,
    )
    assert (first.model, first.version, first.model_version_id) == ("churn", 2, churn[1].id)
    assert (first.baseline_version, first.baseline_version_id) == (1, churn[0].id)
    assert (first.step_run_id, first.passed, first.digest, first.signature) == (
        step.id,
        True,
        HEX_A,
        HEX_B,
    )
    assert first.report == {"auc": 0.91, "gates": [{"name": "auc", "passed": True}]}
    second = st.record_evaluation(
        store, "churn", 3, passed=False, report={}, digest=HEX_B, signature=HEX_A
    )
    assert (second.baseline_version, second.step_run_id, second.passed) == (None, None, False)
    assert st.get_evaluation(store, first.id) == first
    assert st.list_evaluations(store, "churn") == [first, second]
    assert st.list_evaluations(store, "churn", 3) == [second]
    assert st.list_evaluations(store, "churn", 1) == []


def test_bad_evaluations_are_refused_and_write_nothing(
    store: st.Store, churn: list[st.ModelVersionRecord]
) -> None:
    good = {"passed": True, "report": {}, "digest": HEX_A, "signature": HEX_B}
    with pytest.raises(NotFoundError, match="no version 7"):
        st.record_evaluation(store, "churn", 7, **good)  # type: ignore[arg-type]
    with pytest.raises(NotFoundError, match="no version 9"):
        st.record_evaluation(store, "churn", 1, baseline_version=9, **good)  # type: ignore[arg-type]
    with pytest.raises(NotFoundError, match="No step run 999"):
        st.record_evaluation(store, "churn", 1, step_run_id=999, **good)  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="digest must be 64 lowercase hex"):
        st.record_evaluation(
            store, "churn", 1, passed=True, report={}, digest="sha256:x", signature=HEX_B
        )
    with pytest.raises(InvalidValueError, match="signature must be 64 lowercase hex"):
        st.record_evaluation(
            store, "churn", 1, passed=True, report={}, digest=HEX_A, signature=HEX_B.upper()
        )
    assert st.list_evaluations(store, "churn") == []
    with pytest.raises(NotFoundError, match="No evaluation 1 in project 'test'"):
        st.get_evaluation(store, 1)


def test_an_alias_move_names_the_evaluation_that_allowed_it(
    store: st.Store, churn: list[st.ModelVersionRecord]
) -> None:
    of_two = st.record_evaluation(
        store, "churn", 2, passed=True, report={}, digest=HEX_A, signature=HEX_B
    )
    moved = st.move_alias(store, "churn", "champion", 2, evaluation_id=of_two.id)
    (event,) = st.read_events(store, types=["io.conveyor.alias.moved"])
    assert event.data["evaluation_id"] == of_two.id
    assert event.data["history_id"] == moved.id
    # An evaluation of another version (or none at all) cannot allow a move.
    with pytest.raises(NotFoundError, match=f"No evaluation {of_two.id} of version 3"):
        st.move_alias(store, "churn", "champion", 3, evaluation_id=of_two.id)
    with pytest.raises(NotFoundError, match="No evaluation 999"):
        st.move_alias(store, "churn", "champion", 3, evaluation_id=999)
    assert st.resolve_alias(store, "churn", "champion").version == 2
    assert len(st.alias_history(store, "churn")) == 1
    plain = st.move_alias(store, "churn", "challenger", 3)
    last = st.read_events(store, types=["io.conveyor.alias.moved"])[-1]
    assert (last.data["evaluation_id"], last.data["history_id"]) == (None, plain.id)
