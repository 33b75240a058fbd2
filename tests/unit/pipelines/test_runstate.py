"""What a runner knows about its run: the slots it rebuilds from the store (fan-out items
included), the result it hands back, and the heartbeat that keeps its claim."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conveyor import store as st
from conveyor.core import ConflictError, NotFoundError, StaleAttemptError, StepFailedError
from conveyor.pipelines import pipeline, step
from conveyor.pipelines._runstate import Heartbeat, RunResult, slots_for
from support.waits import wait_for


@step
def items() -> list[int]:
    return [1, 2]


@step
def square(x: int) -> int:
    return x * x


@step
def total(xs: list[int]) -> int:
    return sum(xs)


@pipeline
def fan() -> None:
    total(square.map(items()))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[st.Store]:
    with st.open_store(f"sqlite:///{tmp_path}/conveyor.db", project="test") as opened:
        yield opened


def test_slots_are_rebuilt_with_the_fan_out_items_of_an_earlier_attempt(store: st.Store) -> None:
    graph = fan.build()
    run = st.start_run(store, "fan", "runner-1")
    names = [*graph.order(), "square[1]", "square[0]", "gone[0]"]
    records = st.add_step_runs(store, run.id, names)
    st.start_attempt(store, records[-3].id, "runner-1")  # square[1] ran once already
    slots = slots_for(graph, st.get_step_runs(store, run.id))
    assert list(slots) == ["items", "square", "total", "square[1]", "square[0]"]
    item = slots["square[1]"]
    assert (item.parent, item.item_index, item.node.name) == ("square", 1, "square")
    assert item.base_attempt == 1 and slots["square[0]"].base_attempt == 0
    assert slots["square"].parent is None and not slots["square"].expanded
    assert "gone[0]" not in slots  # an item of no step of this pipeline


def result(store: st.Store, statuses: dict[str, str], **kwargs: Any) -> RunResult:
    run = st.create_run(store, "fan")
    if any(s != "succeeded" for s in statuses.values()):
        run = st.transition_run(store, run.id, "failed", expected=["running"])
    else:
        run = st.transition_run(store, run.id, "succeeded", expected=["running"])
    return RunResult(run, statuses, kwargs.pop("errors", {}), **kwargs)


def test_outputs_come_from_memory_or_from_the_loader(store: st.Store) -> None:
    loaded: list[str] = []

    def loader(name: str) -> Any:
        loaded.append(name)
        return 14

    done = result(
        store,
        {"items": "succeeded", "total": "succeeded"},
        _values={"items": [1, 2]},
        _loader=loader,
    )
    assert done.succeeded and done.raise_for_status() is done
    assert done.output("items") == [1, 2] and loaded == []
    assert done.output("total") == 14 and loaded == ["total"]


def test_an_output_that_cannot_be_had_says_why(store: st.Store) -> None:
    failed = result(
        store,
        {"items": "succeeded", "square": "upstream_failed"},
        _loader=lambda name: pytest.fail("nothing to load"),
    )
    with pytest.raises(
        NotFoundError, match="'square' of run .* has no output: it is upstream_failed"
    ):
        failed.output("square")
    with pytest.raises(NotFoundError, match="has no step 'itmes'. Did you mean 'items'"):
        failed.output("itmes")
    no_loader = result(store, {"items": "succeeded"})
    with pytest.raises(NotFoundError, match="has no output: it is succeeded") as info:
        no_loader.output("items")
    assert f"conveyor runs logs {no_loader.run.id} items" in str(info.value.hint)


def test_a_failed_run_raises_naming_the_step_that_failed_first(store: st.Store) -> None:
    failed = result(
        store,
        {"items": "succeeded", "square": "upstream_failed", "total": "failed"},
        errors={"square": "upstream step 'total' failed", "total": "ValueError: empty"},
    )
    with pytest.raises(StepFailedError) as info:
        failed.raise_for_status()
    run_id = failed.run.id
    assert info.value.message == (
        f"Run {run_id} of pipeline 'fan' failed at step 'total': ValueError: empty."
    )
    assert info.value.hint == (
        f"See the logs with: conveyor runs logs {run_id} total; "
        f"retry what failed with: conveyor runs resume {run_id}"
    )
    assert (info.value.run_id, info.value.step) == (run_id, "total")  # type: ignore[attr-defined]


def test_a_run_that_failed_without_a_failed_step_names_what_it_has(store: st.Store) -> None:
    cancelled = result(store, {"items": "cancelled"}, errors={"items": "interrupted"})
    with pytest.raises(StepFailedError) as info:
        cancelled.raise_for_status()
    assert info.value.message.endswith("failed at step 'items': interrupted.")
    bare = result(store, {"items": "cancelled"})
    with pytest.raises(StepFailedError) as info:
        bare.raise_for_status()
    assert info.value.message == f"Run {bare.run.id} of pipeline 'fan' failed."
    assert info.value.hint is not None and "runs logs" in info.value.hint
    assert info.value.step is None  # type: ignore[attr-defined]


def test_the_heartbeat_renews_the_claim_until_it_is_taken_over(store: st.Store) -> None:
    run = st.start_run(store, "fan", "runner-1", lease=0.6)
    first = run.lease_expires_at or 0
    beat = Heartbeat(store, run.id, "runner-1", run.attempt, lease=0.6).start()
    try:
        wait_for(
            lambda: (st.get_run(store, run.id).lease_expires_at or 0) > first, what="a renewal"
        )
        assert not beat.lost.done()
        st.acquire_run(store, run.id, "runner-2", take_over_from=("runner-1", run.attempt))
        lost = beat.lost.result(timeout=10)
        assert isinstance(lost, StaleAttemptError)
        assert f"Run {run.id}'s claim (attempt 1) was taken over" in str(lost)
        wait_for(lambda: not beat._thread.is_alive(), what="the heartbeat to end")
    finally:
        beat.stop()
    assert st.get_run(store, run.id).lease_owner == "runner-2"


def test_a_stopped_heartbeat_renews_no_more(store: st.Store) -> None:
    run = st.start_run(store, "fan", "runner-1", lease=0.6)
    beat = Heartbeat(store, run.id, "runner-1", run.attempt, lease=0.6).start()
    beat.stop()
    assert not beat._thread.is_alive()
    stopped_at = st.get_run(store, run.id).lease_expires_at
    # Its lease now lapses: another runner may acquire the run once it has.
    again = wait_for(lambda: _acquire(store, run.id), what="the lease to lapse")
    assert again.lease_owner == "runner-2" and stopped_at is not None


def _acquire(store: st.Store, run_id: int) -> st.RunRecord | None:
    try:
        return st.acquire_run(store, run_id, "runner-2")
    except ConflictError:  # still held
        return None
